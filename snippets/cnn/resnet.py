"""Residual networks: blocks that learn a correction to their input.

A residual block computes ``relu(x + F(x))``: the layers ``F`` only have to
learn what to *add* to the input, and the identity path lets gradients
reach early layers undiminished, which made networks of 100+ layers
trainable (He et al., 2016). :func:`resnet18` follows torchvision's layout
(11,689,512 parameters with 1000 classes); :class:`ResNet` with small
widths serves the digits examples.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm, plus a shortcut: ``relu(F(x) + shortcut(x))``.

    The shortcut is the identity when the shape is unchanged, otherwise a
    1×1 convolution with ``stride`` and batch norm (a *projection*).
    ``zero_init=True`` starts the last batch norm's scale at 0, so the
    block begins as the identity (followed by ReLU).

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, c_out, H / stride, W / stride]`` (rounded up).
    """

    def __init__(self, c_in: int, c_out: int, stride: int = 1, zero_init: bool = False) -> None:
        super().__init__()
        check_positive(c_in, "c_in")
        check_positive(c_out, "c_out")
        check_positive(stride, "stride")
        self.conv1 = nn.Conv2d(c_in, c_out, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(c_out)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(c_out)
        if zero_init:
            nn.init.zeros_(self.bn2.weight)
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))  # F(x)
        return torch.relu(out + self.shortcut(x))  # add the input back


class ResNet(nn.Module):
    """Stem → stages of :class:`BasicBlock` → global average pool → linear.

    Stage ``i`` holds ``blocks[i]`` blocks of width ``widths[i]``; every stage
    after the first halves the resolution in its first block. The ImageNet
    stem is a 7×7 stride-2 convolution and a 3×3 stride-2 max pool
    (``stem="imagenet"``); small images use one 3×3 convolution
    (``stem="small"``).

    Shapes:
        ``[N, in_channels, H, W]`` → logits ``[N, classes]``.
    """

    def __init__(
        self,
        blocks: Sequence[int] = (2, 2, 2, 2),
        widths: Sequence[int] = (64, 128, 256, 512),
        classes: int = 1000,
        in_channels: int = 3,
        stem: str = "imagenet",
        zero_init: bool = False,
    ) -> None:
        super().__init__()
        if len(blocks) != len(widths) or not blocks:
            raise ValueError(
                f"blocks and widths must be non-empty and of equal length, got {list(blocks)} "
                f"and {list(widths)}"
            )
        for value in (*blocks, *widths):
            check_positive(value, "blocks and widths")
        check_positive(classes, "classes")
        if stem == "imagenet":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, widths[0], 7, 2, 3, bias=False),
                nn.BatchNorm2d(widths[0]),
                nn.ReLU(),
                nn.MaxPool2d(3, 2, 1),
            )
        elif stem == "small":
            self.stem = nn.Sequential(
                nn.Conv2d(in_channels, widths[0], 3, 1, 1, bias=False),
                nn.BatchNorm2d(widths[0]),
                nn.ReLU(),
            )
        else:
            raise ValueError(f"stem must be one of ('imagenet', 'small'), got {stem!r}")
        stages, c_in = [], widths[0]
        for i, (n, width) in enumerate(zip(blocks, widths)):
            stride = 1 if i == 0 else 2
            stage = [BasicBlock(c_in, width, stride, zero_init)]
            stage += [BasicBlock(width, width, 1, zero_init) for _ in range(n - 1)]
            stages.append(nn.Sequential(*stage))
            c_in = width
        self.stages = nn.Sequential(*stages)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, classes)
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels, got {x.shape[1]}")
        return self.fc(self.pool(self.stages(self.stem(x))).flatten(1))


def resnet18(classes: int = 1000) -> ResNet:
    """ResNet-18: four stages of two basic blocks, widths 64 to 512.

    Shapes:
        ``[N, 3, 224, 224]`` → ``[N, 512, 7, 7]`` before pooling → ``[N, classes]``.
    """
    return ResNet((2, 2, 2, 2), (64, 128, 256, 512), classes)
