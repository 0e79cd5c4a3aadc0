"""MobileNetV2 and V3: inverted residuals built from depthwise separable convolutions.

A *depthwise* convolution filters every channel on its own (``groups`` equal
to the channels); a 1×1 *pointwise* convolution then mixes the channels.
Together they cost a fraction of a full convolution. MobileNetV2's
*inverted residual* (Sandler et al., 2018) widens a thin input with a 1×1
convolution (``expand`` times), filters it depthwise, and projects it back
to a thin output with a *linear* 1×1 convolution (no ReLU: a linear
bottleneck loses no information), adding the input when the shape allows.
MobileNetV3 (Howard et al., 2019) adds squeeze-and-excitation (Hu et al.,
2018) in some blocks and the hard-swish activation
``x · relu6(x + 3) / 6``. :func:`mobilenet_v2` and
:func:`mobilenet_v3_large` follow torchvision's layouts (3,504,872 and
5,483,032 parameters with 1000 classes). MobileNetV3 also has torchvision's
module names; for MobileNetV2, whose blocks torchvision builds differently,
:func:`snippets.cnn.pretrained_names.from_torchvision` renames its keys.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from snippets.cnn.efficientnet import make_divisible
from snippets.common.checks import check_choice, check_positive, check_tensor


class HardSwish(nn.Module):
    """``x · relu6(x + 3) / 6``: a piecewise-polynomial swish, cheap on phones.

    Shapes:
        any → the same.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.clamp(x + 3, 0, 6) / 6


def hard_sigmoid(x: torch.Tensor) -> torch.Tensor:
    """``relu6(x + 3) / 6``: a straight-line sigmoid between -3 and 3."""
    return torch.clamp(x + 3, 0, 6) / 6


def activation(name: str) -> nn.Module:
    """``"relu6"``, ``"relu"`` or ``"hswish"`` (:class:`HardSwish`) as a module."""
    check_choice(name, "activation", ("relu6", "relu", "hswish"))
    return {"relu6": nn.ReLU6, "relu": nn.ReLU, "hswish": HardSwish}[name]()


def conv_bn(
    c_in: int,
    c_out: int,
    kernel: int = 1,
    stride: int = 1,
    groups: int = 1,
    act: str | None = "relu6",
    eps: float = 1e-5,
) -> nn.Sequential:
    """Conv (no bias, "same" padding) → batch norm → activation (``None``: linear).

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, c_out, H / stride, W / stride]`` (rounded up).
    """
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out, eps=eps),
    ]
    if act is not None:
        layers.append(activation(act))
    return nn.Sequential(*layers)


def depthwise_separable(c_in: int, c_out: int, kernel: int = 3, stride: int = 1) -> nn.Sequential:
    """A depthwise ``kernel``×``kernel`` convolution then a pointwise 1×1, without norms.

    The depthwise part has one ``kernel``×``kernel`` filter per input channel
    (``groups=c_in``); the pointwise part mixes channels. Weights:
    ``c_in · k² + c_in · c_out`` instead of ``c_in · c_out · k²``.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, c_out, H / stride, W / stride]`` (rounded up).
    """
    check_positive(c_in, "c_in")
    check_positive(c_out, "c_out")
    return nn.Sequential(
        nn.Conv2d(c_in, c_in, kernel, stride, kernel // 2, groups=c_in, bias=False),
        nn.Conv2d(c_in, c_out, 1, bias=False),
    )


class SqueezeExcite(nn.Module):
    """Squeeze-and-excitation with MobileNetV3's gates: ``x · hsigmoid(W2 relu(W1 mean(x)))``.

    Shapes:
        ``[N, C, H, W]`` → ``[N, C, H, W]``.
    """

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        check_positive(channels, "channels")
        check_positive(squeeze, "squeeze")
        self.fc1 = nn.Conv2d(channels, squeeze, 1)
        self.fc2 = nn.Conv2d(squeeze, channels, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean(dim=(2, 3), keepdim=True)  # squeeze: one number per channel
        scale = hard_sigmoid(self.fc2(torch.relu(self.fc1(scale))))  # excite: a gate in [0, 1]
        return x * scale


class InvertedResidual(nn.Module):
    """Expand 1×1 → depthwise k×k (``stride``) → [squeeze-excite] → linear project 1×1 (+ input).

    ``hidden`` is the expanded width (``expand · c_in`` in V2); the expansion
    convolution is left out when ``hidden == c_in``. The projection has no
    activation: the *linear bottleneck*. The input is added back when
    ``stride == 1`` and ``c_in == c_out`` (the attribute ``use_residual``). V2 blocks use
    ReLU6 and no squeeze-excite; V3 blocks choose ``act`` and ``se``, with
    batch norm ``eps=0.001``.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, c_out, H / stride, W / stride]`` (rounded up).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        hidden: int,
        kernel: int = 3,
        stride: int = 1,
        act: str = "relu6",
        se: bool = False,
        eps: float = 1e-5,
    ) -> None:
        super().__init__()
        check_positive(c_in, "c_in")
        check_positive(c_out, "c_out")
        check_positive(hidden, "hidden")
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride!r}")
        if kernel % 2 == 0 or kernel < 1:
            raise ValueError(f"kernel must be a positive odd number, got {kernel!r}")
        layers: list[nn.Module] = []
        if hidden != c_in:
            layers.append(conv_bn(c_in, hidden, 1, act=act, eps=eps))  # expand
        layers.append(conv_bn(hidden, hidden, kernel, stride, groups=hidden, act=act, eps=eps))
        if se:
            layers.append(SqueezeExcite(hidden, make_divisible(hidden // 4)))
        layers.append(conv_bn(hidden, c_out, 1, act=None, eps=eps))  # linear bottleneck
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        return x + out if self.use_residual else out


class V2Stage(NamedTuple):
    """A row of MobileNetV2's Table 2: expansion ``t``, width ``c``, repeats ``n``, stride ``s``."""

    t: int
    c: int
    n: int
    s: int


#: MobileNetV2's stages (Table 2 of the paper), after a 32-channel stem.
V2_STAGES = (
    V2Stage(1, 16, 1, 1),
    V2Stage(6, 24, 2, 2),
    V2Stage(6, 32, 3, 2),
    V2Stage(6, 64, 4, 2),
    V2Stage(6, 96, 3, 1),
    V2Stage(6, 160, 3, 2),
    V2Stage(6, 320, 1, 1),
)


class MobileNetV2(nn.Module):
    """Stem 3×3 → stages of :class:`InvertedResidual` → 1×1 head → pool → dropout → linear.

    ``width`` multiplies every channel count (rounded to multiples of 8 by
    :func:`~snippets.cnn.efficientnet.make_divisible`); the head keeps
    ``head_channels`` unless ``width > 1``. ``stem_stride=1`` suits small images.

    Shapes:
        ``[N, in_channels, H, W]`` → logits ``[N, classes]``.
    """

    def __init__(
        self,
        classes: int = 1000,
        width: float = 1.0,
        stages: Sequence[V2Stage] = V2_STAGES,
        in_channels: int = 3,
        stem_channels: int = 32,
        head_channels: int = 1280,
        stem_stride: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        check_positive(classes, "classes")
        check_positive(width, "width")
        if not stages:
            raise ValueError("stages must hold at least one V2Stage")
        c = make_divisible(stem_channels * width)
        head = make_divisible(head_channels * max(1.0, width))
        layers: list[nn.Module] = [conv_bn(in_channels, c, 3, stem_stride)]
        for t, channels, n, s in stages:
            c_out = make_divisible(channels * width)
            for i in range(n):
                layers.append(InvertedResidual(c, c_out, round(c * t), 3, s if i == 0 else 1))
                c = c_out
        layers.append(conv_bn(c, head, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(head, classes))
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels, got {x.shape[1]}")
        return self.classifier(self.pool(self.features(x)).flatten(1))


def mobilenet_v2(classes: int = 1000, width: float = 1.0) -> MobileNetV2:
    """MobileNetV2 with width multiplier ``width`` (1.0: 3,504,872 parameters at 1000 classes).

    Shapes:
        ``[N, 3, 224, 224]`` → ``[N, 1280, 7, 7]`` after the head → ``[N, classes]``.
    """
    return MobileNetV2(classes, width)


class V3Block(NamedTuple):
    """One row of MobileNetV3's Table 1: kernel, expanded width, output, SE, activation, stride."""

    kernel: int
    hidden: int
    c_out: int
    se: bool
    act: str
    stride: int


#: MobileNetV3-Large's blocks (Table 1 of the paper), after a 16-channel stem.
V3_LARGE = (
    V3Block(3, 16, 16, False, "relu", 1),
    V3Block(3, 64, 24, False, "relu", 2),
    V3Block(3, 72, 24, False, "relu", 1),
    V3Block(5, 72, 40, True, "relu", 2),
    V3Block(5, 120, 40, True, "relu", 1),
    V3Block(5, 120, 40, True, "relu", 1),
    V3Block(3, 240, 80, False, "hswish", 2),
    V3Block(3, 200, 80, False, "hswish", 1),
    V3Block(3, 184, 80, False, "hswish", 1),
    V3Block(3, 184, 80, False, "hswish", 1),
    V3Block(3, 480, 112, True, "hswish", 1),
    V3Block(3, 672, 112, True, "hswish", 1),
    V3Block(5, 672, 160, True, "hswish", 2),
    V3Block(5, 960, 160, True, "hswish", 1),
    V3Block(5, 960, 160, True, "hswish", 1),
)


class MobileNetV3(nn.Module):
    """Stem (hard-swish) → :class:`InvertedResidual` blocks → 1×1 conv (6×) → pool → MLP head.

    ``width`` multiplies every channel count (rounded to multiples of 8); the
    head is a 1×1 convolution to six times the last width, global pooling,
    a linear layer to ``head_channels`` with hard-swish, dropout and the
    classifier. ``stem_stride=1`` suits small images.

    Shapes:
        ``[N, in_channels, H, W]`` → logits ``[N, classes]``.
    """

    def __init__(
        self,
        classes: int = 1000,
        width: float = 1.0,
        blocks: Sequence[V3Block] = V3_LARGE,
        in_channels: int = 3,
        stem_channels: int = 16,
        head_channels: int = 1280,
        stem_stride: int = 2,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        check_positive(classes, "classes")
        check_positive(width, "width")
        if not blocks:
            raise ValueError("blocks must hold at least one V3Block")
        eps = 0.001
        c = make_divisible(stem_channels * width)
        layers: list[nn.Module] = [conv_bn(in_channels, c, 3, stem_stride, act="hswish", eps=eps)]
        for b in blocks:
            c_out, hidden = make_divisible(b.c_out * width), make_divisible(b.hidden * width)
            layers.append(InvertedResidual(c, c_out, hidden, b.kernel, b.stride, b.act, b.se, eps))
            c = c_out
        layers.append(conv_bn(c, 6 * c, 1, act="hswish", eps=eps))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(
            nn.Linear(6 * c, head_channels),
            HardSwish(),
            nn.Dropout(dropout),
            nn.Linear(head_channels, classes),
        )
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels, got {x.shape[1]}")
        return self.classifier(self.pool(self.features(x)).flatten(1))


def mobilenet_v3_large(classes: int = 1000) -> MobileNetV3:
    """MobileNetV3-Large as torchvision builds it (5,483,032 parameters at 1000 classes).

    Shapes:
        ``[N, 3, 224, 224]`` → ``[N, 960, 7, 7]`` after the features → ``[N, classes]``.
    """
    return MobileNetV3(classes)
