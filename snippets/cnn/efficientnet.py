"""EfficientNet: MBConv blocks, squeeze-and-excitation and compound scaling.

EfficientNet-B0 (Tan and Le, 2019) stacks *MBConv* blocks: a 1×1 convolution
that widens the channels, a cheap depthwise convolution, a
squeeze-and-excitation gate that re-weights the channels, and a 1×1
convolution that narrows them again, with a residual connection around the
block. Bigger EfficientNets scale depth, width and resolution together by
one coefficient ("compound scaling"). The layer layout here follows
torchvision's, so :func:`efficientnet_b0` has its 5,288,548 parameters.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from snippets.common.checks import check_choice, check_positive, check_tensor


class Stage(NamedTuple):
    """One stage of MBConv blocks: ``layers`` blocks with the same settings.

    Only the first block of a stage changes the stride and channel count.
    """

    expand: int  # expansion ratio of the 1×1 convolution
    kernel: int  # kernel size of the depthwise convolution
    stride: int  # stride of the first block
    in_channels: int
    out_channels: int
    layers: int


#: The seven stages of EfficientNet-B0 (Table 1 of the paper).
B0_STAGES: tuple[Stage, ...] = (
    Stage(1, 3, 1, 32, 16, 1),
    Stage(6, 3, 2, 16, 24, 2),
    Stage(6, 5, 2, 24, 40, 2),
    Stage(6, 3, 2, 40, 80, 3),
    Stage(6, 5, 1, 80, 112, 3),
    Stage(6, 5, 2, 112, 192, 4),
    Stage(6, 3, 1, 192, 320, 1),
)


def make_divisible(value: float, divisor: int = 8) -> int:
    """Round a channel count to a multiple of ``divisor``, losing at most 10 %.

    Hardware runs channel counts that are multiples of 8 faster; scaled
    widths such as ``32 * 1.1 = 35.2`` become 32 or 40.

    >>> make_divisible(35.2), make_divisible(44.8), make_divisible(3)
    (32, 48, 8)

    Raises:
        ValueError: if ``value`` or ``divisor`` is not positive.
    """
    check_positive(value, "value")
    check_positive(divisor, "divisor")
    rounded = max(divisor, int(value + divisor / 2) // divisor * divisor)
    if rounded < 0.9 * value:  # rounding down must not remove more than 10 %
        rounded += divisor
    return rounded


def compound_scaling(
    phi: float, alpha: float = 1.2, beta: float = 1.1, gamma: float = 1.15
) -> tuple[float, float, float]:
    """Depth, width and resolution multipliers ``(alpha**phi, beta**phi, gamma**phi)``.

    The paper's grid search found ``alpha = 1.2``, ``beta = 1.1``,
    ``gamma = 1.15`` under ``alpha * beta**2 * gamma**2 ≈ 2``: the FLOPs of a
    convolutional network grow linearly with depth and quadratically with
    width and resolution, so each step of ``phi`` about doubles them.

    Raises:
        ValueError: if ``phi`` is negative or a base is not positive.
    """
    check_positive(phi, "phi", allow_zero=True)
    for value, name in ((alpha, "alpha"), (beta, "beta"), (gamma, "gamma")):
        check_positive(value, name)
    return alpha**phi, beta**phi, gamma**phi


class SqueezeExcitation(nn.Module):
    """Channel attention: pool each channel to one number, then gate it.

    ``s = sigmoid(W2 · silu(W1 · mean_{h,w} x))`` and the output is ``x * s``
    channel by channel; ``W1`` squeezes ``channels`` to ``squeeze`` numbers,
    ``W2`` expands them back.

    Shapes:
        ``[N, C, H, W]`` → ``[N, C, H, W]``.
    """

    def __init__(self, channels: int, squeeze: int) -> None:
        super().__init__()
        check_positive(channels, "channels")
        check_positive(squeeze, "squeeze")
        self.fc1 = nn.Conv2d(channels, squeeze, 1)  # a 1×1 conv is a linear layer per pixel
        self.fc2 = nn.Conv2d(squeeze, channels, 1)
        self.activation = nn.SiLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        scale = x.mean(dim=(2, 3), keepdim=True)  # squeeze: [N, C, 1, 1]
        scale = torch.sigmoid(self.fc2(self.activation(self.fc1(scale))))  # excite
        return x * scale


def drop_path(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Stochastic depth: drop a residual branch for whole samples with probability ``p``.

    In training each sample's branch is kept with probability ``1 - p`` and
    then divided by ``1 - p``, so its expected value is unchanged; in
    evaluation the branch passes through untouched.

    Shapes:
        ``[N, ...]`` → ``[N, ...]``.

    Raises:
        ValueError: if ``p`` is not in ``[0, 1)``.
    """
    if not 0.0 <= p < 1.0:
        raise ValueError(f"p must be in [0, 1), got {p}")
    if not training or p == 0.0:
        return x
    keep = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), device=x.device, dtype=x.dtype)
    return x * keep.bernoulli_(1.0 - p) / (1.0 - p)


def conv_bn_act(
    c_in: int, c_out: int, kernel: int = 1, stride: int = 1, groups: int = 1, act: bool = True
) -> nn.Sequential:
    """Conv (no bias, "same" padding) → BatchNorm → SiLU (the last one optional)."""
    layers: list[nn.Module] = [
        nn.Conv2d(c_in, c_out, kernel, stride, (kernel - 1) // 2, groups=groups, bias=False),
        nn.BatchNorm2d(c_out),
    ]
    if act:
        layers.append(nn.SiLU())
    return nn.Sequential(*layers)


class MBConv(nn.Module):
    """Mobile inverted bottleneck with squeeze-and-excitation.

    expand 1×1 (skipped when ``expand == 1``) → depthwise k×k with
    ``stride`` → squeeze-and-excitation → project 1×1 (no activation), plus
    the input when the shape is unchanged (``stride == 1`` and
    ``c_in == c_out``), with stochastic depth on the branch.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, c_out, H / stride, W / stride]`` (rounded up).
    """

    def __init__(
        self,
        c_in: int,
        c_out: int,
        expand: int,
        kernel: int,
        stride: int,
        drop_prob: float = 0.0,
    ) -> None:
        super().__init__()
        for value, name in ((c_in, "c_in"), (c_out, "c_out"), (expand, "expand")):
            check_positive(value, name)
        if kernel % 2 == 0 or kernel < 1:
            raise ValueError(f"kernel must be a positive odd number, got {kernel}")
        if stride not in (1, 2):
            raise ValueError(f"stride must be 1 or 2, got {stride}")
        hidden = make_divisible(c_in * expand)
        layers: list[nn.Module] = []
        if hidden != c_in:
            layers.append(conv_bn_act(c_in, hidden, 1))  # expand
        layers += [
            conv_bn_act(hidden, hidden, kernel, stride, groups=hidden),  # depthwise
            SqueezeExcitation(hidden, max(1, c_in // 4)),
            conv_bn_act(hidden, c_out, 1, act=False),  # project, linear bottleneck
        ]
        self.block = nn.Sequential(*layers)
        self.use_residual = stride == 1 and c_in == c_out
        self.drop_prob = drop_prob

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.block(x)
        if self.use_residual:
            out = x + drop_path(out, self.drop_prob, self.training)
        return out


class EfficientNet(nn.Module):
    """Stem → stages of :class:`MBConv` → 1×1 head → global average pool → linear.

    ``width`` multiplies every channel count (rounded by
    :func:`make_divisible`), ``depth`` every stage's number of blocks
    (rounded up). The stochastic-depth rate grows linearly from 0 for the
    first of ``T`` blocks to ``stochastic_depth · (T − 1) / T`` for the last.

    Shapes:
        ``[N, in_channels, H, W]`` → logits ``[N, classes]``; any ``H, W``
        that survive the strides (the pooling is adaptive).
    """

    def __init__(
        self,
        stages: Sequence[Stage] = B0_STAGES,
        width: float = 1.0,
        depth: float = 1.0,
        classes: int = 1000,
        in_channels: int = 3,
        stem_stride: int = 2,
        head_channels: int | None = None,
        dropout: float = 0.2,
        stochastic_depth: float = 0.2,
    ) -> None:
        super().__init__()
        if not stages:
            raise ValueError("stages must hold at least one Stage, got none")
        check_positive(width, "width")
        check_positive(depth, "depth")
        check_positive(classes, "classes")
        if not 0.0 <= dropout < 1.0 or not 0.0 <= stochastic_depth < 1.0:
            raise ValueError(
                f"dropout and stochastic_depth must be in [0, 1), got {dropout}, {stochastic_depth}"
            )
        stem = make_divisible(stages[0].in_channels * width)
        layers: list[nn.Module] = [conv_bn_act(in_channels, stem, 3, stem_stride)]
        repeats = [math.ceil(s.layers * depth) for s in stages]
        total, index = sum(repeats), 0
        for stage, n in zip(stages, repeats):
            c_in = make_divisible(stage.in_channels * width)
            c_out = make_divisible(stage.out_channels * width)
            blocks = []
            for i in range(n):
                stride = stage.stride if i == 0 else 1  # only the first block resizes
                drop = stochastic_depth * index / total
                blocks.append(MBConv(c_in, c_out, stage.expand, stage.kernel, stride, drop))
                c_in, index = c_out, index + 1
            layers.append(nn.Sequential(*blocks))
        head = head_channels if head_channels is not None else 4 * c_in
        layers.append(conv_bn_act(c_in, head, 1))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(dropout), nn.Linear(head, classes))
        self.in_channels = in_channels
        _init_weights(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        if x.shape[1] != self.in_channels:
            raise ValueError(
                f"x must have {self.in_channels} channels, got {x.shape[1]} "
                f"(shape {tuple(x.shape)})"
            )
        return self.classifier(self.pool(self.features(x)).flatten(1))


class Variant(NamedTuple):
    """The coefficients of one released EfficientNet: how B0 is scaled to get it."""

    width: float  # multiplies every channel count
    depth: float  # multiplies every stage's number of blocks
    resolution: int  # input height and width in pixels
    dropout: float  # before the last linear layer


#: The released B0–B7: the compound-scaling coefficients rounded by hand
#: (torchvision's and the reference implementation's values).
VARIANTS: dict[str, Variant] = {
    "b0": Variant(1.0, 1.0, 224, 0.2),
    "b1": Variant(1.0, 1.1, 240, 0.2),
    "b2": Variant(1.1, 1.2, 260, 0.3),
    "b3": Variant(1.2, 1.4, 300, 0.3),
    "b4": Variant(1.4, 1.8, 380, 0.4),
    "b5": Variant(1.6, 2.2, 456, 0.4),
    "b6": Variant(1.8, 2.6, 528, 0.5),
    "b7": Variant(2.0, 3.1, 600, 0.5),
}


def efficientnet(name: str, classes: int = 1000) -> EfficientNet:
    """One of the released EfficientNets, ``"b0"`` to ``"b7"``, scaled from B0's stages.

    Shapes:
        ``[N, 3, r, r]`` with ``r = VARIANTS[name].resolution`` → logits
        ``[N, classes]`` (any size that survives the strides works).

    Raises:
        ValueError: if ``name`` is not one of :data:`VARIANTS`.
    """
    check_choice(name, "name", list(VARIANTS))
    v = VARIANTS[name]
    return EfficientNet(B0_STAGES, v.width, v.depth, classes=classes, dropout=v.dropout)


def efficientnet_b0(classes: int = 1000) -> EfficientNet:
    """EfficientNet-B0 for 224×224 RGB images: 5,288,548 parameters with 1000 classes.

    Shapes:
        ``[N, 3, 224, 224]`` → features ``[N, 1280, 7, 7]`` → logits ``[N, classes]``.
    """
    return EfficientNet(B0_STAGES, width=1.0, depth=1.0, classes=classes)


#: A three-stage EfficientNet for 16×16 grey digits: 16×16 → 8×8 (stem) → 4×4 → 2×2.
DIGIT_STAGES: tuple[Stage, ...] = (
    Stage(1, 3, 1, 16, 16, 1),
    Stage(4, 3, 2, 16, 24, 2),
    Stage(4, 5, 2, 24, 40, 2),
)


def efficientnet_digits(
    width: float = 1.0, depth: float = 1.0, classes: int = 10, dropout: float = 0.2
) -> EfficientNet:
    """A scaled-down EfficientNet for ``[N, 1, 16, 16]`` digits, about 50,000 parameters.

    The same blocks as B0 with fewer, narrower stages, expansion 4 instead
    of 6, and a 128-channel head; ``width`` and ``depth`` scale it like the
    B1–B7 family.

    Shapes:
        ``[N, 1, H, W]`` → logits ``[N, classes]``.
    """
    return EfficientNet(
        DIGIT_STAGES,
        width=width,
        depth=depth,
        classes=classes,
        in_channels=1,
        head_channels=make_divisible(128 * width),
        dropout=dropout,
        stochastic_depth=0.1,
    )


def _init_weights(model: nn.Module) -> None:
    """torchvision's initialisation: He-normal convolutions, BN at identity, small linear."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            bound = 1.0 / math.sqrt(m.out_features)
            nn.init.uniform_(m.weight, -bound, bound)
            nn.init.zeros_(m.bias)
