"""Inception networks: several filter sizes side by side, concatenated.

An Inception module runs a 1×1, a 3×3 and a 5×5 convolution and a max pool
on the same input and concatenates their outputs along the channels, so the
next layer can pick the scale that fits. 1×1 convolutions first *reduce*
the channels the expensive branches see (Szegedy et al., 2015). GoogLeNet
stacks nine of them; two auxiliary classifiers on intermediate layers add
gradient during training. Inception-v3 (Szegedy et al., 2016) *factorizes*
the convolutions: a 5×5 becomes two 3×3, an n×n becomes 1×n then n×1.

:func:`googlenet` and :func:`inception_v3` follow torchvision's layouts
(6,624,904 parameters without the auxiliary heads, and 27,161,264 with the
auxiliary head, for 1000 classes). torchvision's GoogLeNet uses a 3×3
kernel in the branch the paper gives a 5×5 (``big_kernel=3``); the paper's
5×5 is the default of :class:`InceptionModule`. Every layer is a
:class:`ConvBN` with torchvision's ``conv`` / ``bn`` names, and Inception-v3's
branches carry torchvision's names; the networks group their modules by
stage (``stages``, ``grid35`` …) where torchvision lists them one by one,
and :func:`snippets.cnn.pretrained_names.from_torchvision` renames its keys.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_positive, check_tensor

IntPair = int | tuple[int, int]


class ConvBN(nn.Sequential):
    """Convolution (no bias) → batch norm (eps 0.001) → ReLU: every layer of both networks.

    The parts are named ``conv``, ``bn`` and ``relu``, as in torchvision's
    ``BasicConv2d``, so the weights are ``conv.weight`` and ``bn.*``.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, c_out, H', W']`` as for :class:`torch.nn.Conv2d`.
    """

    def __init__(
        self, c_in: int, c_out: int, kernel: IntPair, stride: int = 1, padding: IntPair = 0
    ) -> None:
        check_positive(c_in, "c_in")
        check_positive(c_out, "c_out")
        super().__init__(
            OrderedDict(
                conv=nn.Conv2d(c_in, c_out, kernel, stride, padding, bias=False),
                bn=nn.BatchNorm2d(c_out, eps=0.001),
                relu=nn.ReLU(inplace=True),
            )
        )


class InceptionModule(nn.Module):
    """GoogLeNet's module: four parallel branches concatenated along the channels.

    1. 1×1 convolution to ``c1`` channels;
    2. 1×1 reduction to ``r3`` channels → 3×3 convolution to ``c3``;
    3. 1×1 reduction to ``r5`` channels → ``big_kernel``×``big_kernel``
       convolution to ``c5`` (5 in the paper, 3 in torchvision);
    4. 3×3 max pool (stride 1) → 1×1 projection to ``pool_proj``.

    Every branch keeps the size, so the output has
    ``c1 + c3 + c5 + pool_proj`` channels (the attribute ``out_channels``).

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, c1 + c3 + c5 + pool_proj, H, W]``.
    """

    def __init__(
        self,
        c_in: int,
        c1: int,
        r3: int,
        c3: int,
        r5: int,
        c5: int,
        pool_proj: int,
        big_kernel: int = 5,
    ) -> None:
        super().__init__()
        if big_kernel not in (3, 5):
            raise ValueError(f"big_kernel must be 3 or 5, got {big_kernel!r}")
        self.branch1 = ConvBN(c_in, c1, 1)
        self.branch3 = nn.Sequential(ConvBN(c_in, r3, 1), ConvBN(r3, c3, 3, padding=1))
        self.branch5 = nn.Sequential(
            ConvBN(c_in, r5, 1), ConvBN(r5, c5, big_kernel, padding=big_kernel // 2)
        )
        self.branch_pool = nn.Sequential(
            nn.MaxPool2d(3, stride=1, padding=1, ceil_mode=True), ConvBN(c_in, pool_proj, 1)
        )
        self.out_channels = c1 + c3 + c5 + pool_proj

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        branches = (self.branch1, self.branch3, self.branch5, self.branch_pool)
        return torch.cat([branch(x) for branch in branches], dim=1)


class AuxHead(nn.Module):
    """GoogLeNet's auxiliary classifier: pool to 4×4 → 1×1 conv (128) → FC 1024 → FC.

    Shapes:
        ``[N, c_in, H, W]`` → logits ``[N, classes]``.
    """

    def __init__(self, c_in: int, classes: int, hidden: int = 1024, dropout: float = 0.7) -> None:
        super().__init__()
        self.conv = ConvBN(c_in, 128, 1)
        self.fc1 = nn.Linear(128 * 4 * 4, hidden)
        self.fc2 = nn.Linear(hidden, classes)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv(F.adaptive_avg_pool2d(x, 4)).flatten(1)
        return self.fc2(self.dropout(torch.relu(self.fc1(x))))


class ModuleSpec(NamedTuple):
    """Widths of one :class:`InceptionModule` (Table 1 of the GoogLeNet paper)."""

    c1: int
    r3: int
    c3: int
    r5: int
    c5: int
    pool_proj: int


#: The nine modules of GoogLeNet: 3a, 3b | 4a–4e | 5a, 5b (``|`` = max pool).
GOOGLENET_MODULES: tuple[tuple[ModuleSpec, ...], ...] = (
    (ModuleSpec(64, 96, 128, 16, 32, 32), ModuleSpec(128, 128, 192, 32, 96, 64)),
    (
        ModuleSpec(192, 96, 208, 16, 48, 64),
        ModuleSpec(160, 112, 224, 24, 64, 64),
        ModuleSpec(128, 128, 256, 24, 64, 64),
        ModuleSpec(112, 144, 288, 32, 64, 64),
        ModuleSpec(256, 160, 320, 32, 128, 128),
    ),
    (ModuleSpec(256, 160, 320, 32, 128, 128), ModuleSpec(384, 192, 384, 48, 128, 128)),
)


class GoogLeNet(nn.Module):
    """Stem → three groups of :class:`InceptionModule` separated by max pools → pool → linear.

    ``groups`` lists the modules' widths per group (default: the paper's
    nine); ``width`` scales every channel count; ``stem="imagenet"`` is the
    paper's 7×7/2 convolution, pool, 1×1 and 3×3 convolutions and pool (÷8),
    ``stem="small"`` one 3×3 convolution for small images. With
    ``aux_heads=True`` two :class:`AuxHead` classifiers read the outputs of
    the second and the fourth module of the middle group; in training mode
    the forward then returns ``(logits, aux1, aux2)``.

    Shapes:
        ``[N, in_channels, H, W]`` → logits ``[N, classes]``.
    """

    def __init__(
        self,
        classes: int = 1000,
        in_channels: int = 3,
        groups: Sequence[Sequence[ModuleSpec]] = GOOGLENET_MODULES,
        width: float = 1.0,
        stem: str = "imagenet",
        aux_heads: bool = False,
        big_kernel: int = 5,
        dropout: float = 0.2,
    ) -> None:
        super().__init__()
        check_positive(classes, "classes")
        check_positive(width, "width")
        if len(groups) != 3 or any(len(g) == 0 for g in groups):
            raise ValueError(f"groups must hold three non-empty groups, got {len(groups)}")
        if aux_heads and len(groups[1]) < 4:
            raise ValueError("aux_heads needs at least four modules in the middle group")

        def w(c: int) -> int:
            return max(1, round(c * width))

        c0, c_stem = w(64), w(192)
        if stem == "imagenet":
            self.stem = nn.Sequential(
                ConvBN(in_channels, c0, 7, stride=2, padding=3),
                nn.MaxPool2d(3, 2, ceil_mode=True),
                ConvBN(c0, c0, 1),
                ConvBN(c0, c_stem, 3, padding=1),
                nn.MaxPool2d(3, 2, ceil_mode=True),
            )
        elif stem == "small":
            self.stem = ConvBN(in_channels, c_stem, 3, padding=1)
        else:
            raise ValueError(f"stem must be one of ('imagenet', 'small'), got {stem!r}")
        stages, c_in = [], c_stem
        for i, group in enumerate(groups):
            modules: list[nn.Module] = []
            if i > 0:  # torchvision: a 3×3/2 pool before group 4, a 2×2/2 pool before group 5
                modules.append(nn.MaxPool2d(3 if i == 1 else 2, 2, ceil_mode=True))
            for spec in group:
                module = InceptionModule(c_in, *(w(c) for c in spec), big_kernel=big_kernel)
                modules.append(module)
                c_in = module.out_channels
            stages.append(nn.Sequential(*modules))
        self.stages = nn.ModuleList(stages)
        self.aux1 = self.aux2 = None
        if aux_heads:  # on the outputs of 4a and 4d ([1] and [4]: index 0 is the pool)
            self.aux1 = AuxHead(self.stages[1][1].out_channels, classes)
            self.aux2 = AuxHead(self.stages[1][4].out_channels, classes)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(c_in, classes)
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, ...]:
        check_tensor(x, "x", ndim=4, floating=True)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels, got {x.shape[1]}")
        x = self.stages[0](self.stem(x))
        aux = []
        for i, module in enumerate(self.stages[1]):
            x = module(x)
            if self.training and self.aux1 is not None and i in (1, 4):
                aux.append((self.aux1 if i == 1 else self.aux2)(x))
        x = self.stages[2](x)
        logits = self.fc(self.dropout(self.pool(x).flatten(1)))
        return (logits, *aux) if aux else logits


def googlenet(classes: int = 1000, aux_heads: bool = False) -> GoogLeNet:
    """GoogLeNet as torchvision builds it (3×3 in the "5×5" branch).

    Shapes:
        ``[N, 3, 224, 224]`` → ``[N, 1024, 7, 7]`` after the modules → ``[N, classes]``.
    """
    return GoogLeNet(classes, aux_heads=aux_heads, big_kernel=3)


# ---------------------------------------------------------------- Inception-v3


class InceptionA(nn.Module):
    """35×35 module: 1×1 | 1×1 → 5×5 | 1×1 → 3×3 → 3×3 (a factorized 5×5) | avg pool → 1×1.

    The branches carry torchvision's names (``branch1x1``, ``branch5x5``,
    ``branch3x3dbl``, ``branch_pool``); each is a chain of :class:`ConvBN`.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, 224 + pool_features, H, W]``.
    """

    def __init__(self, c_in: int, pool_features: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(c_in, 64, 1)
        self.branch5x5 = nn.Sequential(ConvBN(c_in, 48, 1), ConvBN(48, 64, 5, padding=2))
        self.branch3x3dbl = nn.Sequential(
            ConvBN(c_in, 64, 1), ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, padding=1)
        )
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, 1, 1), ConvBN(c_in, pool_features, 1))
        self.out_channels = 64 + 64 + 96 + pool_features

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = (self.branch1x1, self.branch5x5, self.branch3x3dbl, self.branch_pool)
        return torch.cat([branch(x) for branch in parts], 1)


class InceptionB(nn.Module):
    """Grid reduction 35 → 17: 3×3/2 | 1×1 → 3×3 → 3×3/2 | max pool 3×3/2, concatenated.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, 384 + 96 + c_in, (H - 3) // 2 + 1, (W - 3) // 2 + 1]``.
    """

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = ConvBN(c_in, 384, 3, stride=2)
        self.branch3x3dbl = nn.Sequential(
            ConvBN(c_in, 64, 1), ConvBN(64, 96, 3, padding=1), ConvBN(96, 96, 3, stride=2)
        )
        self.pool = nn.MaxPool2d(3, 2)
        self.out_channels = 384 + 96 + c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch3x3dbl(x), self.pool(x)], 1)


def _factorized(c_in: int, c_out: int, n: int, first: str) -> nn.Sequential:
    """An n×n convolution split into 1×n and n×1 (in the order ``first`` = "row" or "column")."""
    row = ((1, n), (0, n // 2))
    column = ((n, 1), (n // 2, 0))
    a, b = (row, column) if first == "row" else (column, row)
    return nn.Sequential(
        ConvBN(c_in, c_out, a[0], padding=a[1]), ConvBN(c_out, c_out, b[0], padding=b[1])
    )


class InceptionC(nn.Module):
    """17×17 module with 7×7 convolutions factorized into 1×7 and 7×1, ``c7`` channels inside.

    1×1 | 1×1 → 1×7 → 7×1 | 1×1 → 7×1 → 1×7 → 7×1 → 1×7 | avg pool → 1×1;
    192 channels each.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, 768, H, W]``.
    """

    def __init__(self, c_in: int, c7: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(c_in, 192, 1)
        self.branch7x7 = nn.Sequential(
            ConvBN(c_in, c7, 1),
            ConvBN(c7, c7, (1, 7), padding=(0, 3)),
            ConvBN(c7, 192, (7, 1), padding=(3, 0)),
        )
        self.branch7x7dbl = nn.Sequential(
            ConvBN(c_in, c7, 1),
            *_factorized(c7, c7, 7, "column"),
            ConvBN(c7, c7, (7, 1), padding=(3, 0)),
            ConvBN(c7, 192, (1, 7), padding=(0, 3)),
        )
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, 1, 1), ConvBN(c_in, 192, 1))
        self.out_channels = 4 * 192

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = (self.branch1x1, self.branch7x7, self.branch7x7dbl, self.branch_pool)
        return torch.cat([branch(x) for branch in parts], 1)


class InceptionD(nn.Module):
    """Grid reduction 17 → 8: 1×1 → 3×3/2 | 1×1 → 1×7 → 7×1 → 3×3/2 | max pool 3×3/2.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, 320 + 192 + c_in, (H - 3) // 2 + 1, (W - 3) // 2 + 1]``.
    """

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch3x3 = nn.Sequential(ConvBN(c_in, 192, 1), ConvBN(192, 320, 3, stride=2))
        self.branch7x7x3 = nn.Sequential(
            ConvBN(c_in, 192, 1), *_factorized(192, 192, 7, "row"), ConvBN(192, 192, 3, stride=2)
        )
        self.pool = nn.MaxPool2d(3, 2)
        self.out_channels = 320 + 192 + c_in

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.branch3x3(x), self.branch7x7x3(x), self.pool(x)], 1)


class _SplitConv(nn.Module):
    """A 1×3 and a 3×1 convolution side by side on the same input, concatenated."""

    def __init__(self, c: int) -> None:
        super().__init__()
        self.row = ConvBN(c, c, (1, 3), padding=(0, 1))
        self.column = ConvBN(c, c, (3, 1), padding=(1, 0))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([self.row(x), self.column(x)], 1)


class InceptionE(nn.Module):
    """8×8 module with expanded filter banks: 1×3 and 3×1 side by side instead of in a row.

    1×1 (320) | 1×1 → [1×3, 3×1] (768) | 1×1 → 3×3 → [1×3, 3×1] (768) |
    avg pool → 1×1 (192).

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, 2048, H, W]``.
    """

    def __init__(self, c_in: int) -> None:
        super().__init__()
        self.branch1x1 = ConvBN(c_in, 320, 1)
        self.branch3x3 = nn.Sequential(ConvBN(c_in, 384, 1), _SplitConv(384))
        self.branch3x3dbl = nn.Sequential(
            ConvBN(c_in, 448, 1), ConvBN(448, 384, 3, padding=1), _SplitConv(384)
        )
        self.branch_pool = nn.Sequential(nn.AvgPool2d(3, 1, 1), ConvBN(c_in, 192, 1))
        self.out_channels = 320 + 768 + 768 + 192

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        parts = (self.branch1x1, self.branch3x3, self.branch3x3dbl, self.branch_pool)
        return torch.cat([branch(x) for branch in parts], 1)


class InceptionAux(nn.Module):
    """Inception-v3's auxiliary classifier on the 17×17 map.

    5×5/3 average pool → 1×1 conv (128) → 5×5 conv (768) → global pool → linear.

    Shapes:
        ``[N, c_in, 17, 17]`` → logits ``[N, classes]``.
    """

    def __init__(self, c_in: int, classes: int) -> None:
        super().__init__()
        self.pool = nn.AvgPool2d(5, 3)
        self.conv0 = ConvBN(c_in, 128, 1)
        self.conv1 = ConvBN(128, 768, 5)
        self.fc = nn.Linear(768, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv1(self.conv0(self.pool(x)))
        return self.fc(F.adaptive_avg_pool2d(x, 1).flatten(1))


class InceptionV3(nn.Module):
    """Inception-v3: a stem of plain convolutions, then modules A ×3, B, C ×4, D, E ×2.

    For a 299×299 input the grid goes 35×35 (A) → 17×17 (C) → 8×8 (E). With
    ``aux_head=True`` an :class:`InceptionAux` reads the last 17×17 map; in
    training mode the forward then returns ``(logits, aux)``.

    Shapes:
        ``[N, 3, 299, 299]`` → ``[N, 2048, 8, 8]`` after the modules → ``[N, classes]``.
    """

    def __init__(self, classes: int = 1000, aux_head: bool = True, dropout: float = 0.5) -> None:
        super().__init__()
        check_positive(classes, "classes")
        self.stem = nn.Sequential(
            ConvBN(3, 32, 3, stride=2),
            ConvBN(32, 32, 3),
            ConvBN(32, 64, 3, padding=1),
            nn.MaxPool2d(3, 2),
            ConvBN(64, 80, 1),
            ConvBN(80, 192, 3),
            nn.MaxPool2d(3, 2),
        )
        self.grid35 = nn.Sequential(InceptionA(192, 32), InceptionA(256, 64), InceptionA(288, 64))
        self.grid17 = nn.Sequential(
            InceptionB(288),
            InceptionC(768, 128),
            InceptionC(768, 160),
            InceptionC(768, 160),
            InceptionC(768, 192),
        )
        self.aux = InceptionAux(768, classes) if aux_head else None
        self.grid8 = nn.Sequential(InceptionD(768), InceptionE(1280), InceptionE(2048))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.dropout = nn.Dropout(dropout)
        self.fc = nn.Linear(2048, classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor | tuple[torch.Tensor, torch.Tensor]:
        check_tensor(x, "x", ndim=4, floating=True)
        if x.shape[1] != 3:
            raise ValueError(f"x must have 3 channels, got {x.shape[1]}")
        x = self.grid17(self.grid35(self.stem(x)))
        aux = self.aux(x) if self.training and self.aux is not None else None
        logits = self.fc(self.dropout(self.pool(self.grid8(x)).flatten(1)))
        return (logits, aux) if aux is not None else logits


def inception_v3(classes: int = 1000, aux_head: bool = True) -> InceptionV3:
    """Inception-v3 as torchvision builds it (with its auxiliary head by default).

    Shapes:
        ``[N, 3, 299, 299]`` → ``[N, classes]``.
    """
    return InceptionV3(classes, aux_head)
