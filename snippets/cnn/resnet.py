"""Residual networks: blocks that learn a correction to their input.

A residual block computes ``relu(x + F(x))``: the layers ``F`` only have to
learn what to *add* to the input, and the identity path lets gradients
reach early layers undiminished, which made networks of 100+ layers
trainable (He et al., 2016). Deeper networks use the :class:`Bottleneck`
block: a 1×1 convolution narrows the channels, a 3×3 one works on the narrow
map, a second 1×1 widens it again by a factor of 4. :func:`resnet18`,
:func:`resnet50` and :func:`resnet101` follow torchvision's layout
(11,689,512, 25,557,032 and 44,549,160 parameters with 1000 classes) and its
module names (``conv1``, ``bn1``, ``layer1`` … ``layer4``, ``downsample``,
``fc``), so torchvision's weight files load into them unchanged;
:class:`ResNet` with small widths serves the digits examples.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor


class BasicBlock(nn.Module):
    """Two 3×3 convolutions with batch norm, plus a shortcut: ``relu(F(x) + shortcut(x))``.

    The shortcut is the identity when the shape is unchanged, otherwise a
    1×1 convolution with ``stride`` and batch norm (a *projection*), in the
    attribute ``downsample`` (torchvision's name). ``zero_init=True`` starts
    the last batch norm's scale at 0, so the block begins as the identity
    (followed by ReLU).

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
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))  # F(x)
        return torch.relu(out + self.downsample(x))  # add the input back


class Bottleneck(nn.Module):
    """1×1 (narrow) → 3×3 → 1×1 (widen ×4), each with batch norm, plus a shortcut.

    ``width`` is the narrow width; the block outputs ``expansion * width``
    channels. The 3×3 convolution carries the ``stride`` (torchvision's
    "ResNet v1.5"). The shortcut (``downsample``) is the identity when the
    shape is unchanged, otherwise a 1×1 convolution with ``stride`` and batch
    norm. ``zero_init=True`` starts the last batch norm's scale at 0.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, expansion * width, H / stride, W / stride]`` (rounded up).
    """

    expansion = 4

    def __init__(self, c_in: int, width: int, stride: int = 1, zero_init: bool = False) -> None:
        super().__init__()
        check_positive(c_in, "c_in")
        check_positive(width, "width")
        check_positive(stride, "stride")
        c_out = width * self.expansion
        self.conv1 = nn.Conv2d(c_in, width, 1, bias=False)  # narrow
        self.bn1 = nn.BatchNorm2d(width)
        self.conv2 = nn.Conv2d(width, width, 3, stride, 1, bias=False)  # work at low width
        self.bn2 = nn.BatchNorm2d(width)
        self.conv3 = nn.Conv2d(width, c_out, 1, bias=False)  # widen again
        self.bn3 = nn.BatchNorm2d(c_out)
        if zero_init:
            nn.init.zeros_(self.bn3.weight)
        self.downsample: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.downsample = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = torch.relu(self.bn1(self.conv1(x)))
        out = torch.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))  # F(x)
        return torch.relu(out + self.downsample(x))


class ResNet(nn.Module):
    """Stem → stages of :class:`BasicBlock` → global average pool → linear.

    Stage ``i`` holds ``blocks[i]`` blocks of width ``widths[i]``; every stage
    after the first halves the resolution in its first block. With
    ``block="bottleneck"`` the stages are made of :class:`Bottleneck` blocks and
    output ``4 * widths[i]`` channels. The ImageNet
    stem is a 7×7 stride-2 convolution and a 3×3 stride-2 max pool
    (``stem="imagenet"``); small images use one 3×3 convolution
    (``stem="small"``, no pool).

    The modules carry torchvision's names: the stem is ``conv1``, ``bn1``,
    ``relu``, ``maxpool``; the stages ``layer1``, ``layer2``, … (the list
    ``stages``); then ``avgpool`` and ``fc``.

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
        block: str = "basic",
    ) -> None:
        super().__init__()
        if block not in ("basic", "bottleneck"):
            raise ValueError(f"block must be one of ('basic', 'bottleneck'), got {block!r}")
        unit = BasicBlock if block == "basic" else Bottleneck
        grow = 1 if block == "basic" else Bottleneck.expansion
        if len(blocks) != len(widths) or not blocks:
            raise ValueError(
                f"blocks and widths must be non-empty and of equal length, got {list(blocks)} "
                f"and {list(widths)}"
            )
        for value in (*blocks, *widths):
            check_positive(value, "blocks and widths")
        check_positive(classes, "classes")
        if stem not in ("imagenet", "small"):
            raise ValueError(f"stem must be one of ('imagenet', 'small'), got {stem!r}")
        kernel, step, padding = (7, 2, 3) if stem == "imagenet" else (3, 1, 1)
        self.conv1 = nn.Conv2d(in_channels, widths[0], kernel, step, padding, bias=False)
        self.bn1 = nn.BatchNorm2d(widths[0])
        self.relu = nn.ReLU()
        self.maxpool = nn.MaxPool2d(3, 2, 1) if stem == "imagenet" else nn.Identity()
        c_in = widths[0]
        for i, (n, width) in enumerate(zip(blocks, widths)):
            stride = 1 if i == 0 else 2
            stage = [unit(c_in, width, stride, zero_init)]
            stage += [unit(width * grow, width, 1, zero_init) for _ in range(n - 1)]
            self.add_module(f"layer{i + 1}", nn.Sequential(*stage))
            c_in = width * grow
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.fc = nn.Linear(c_in, classes)
        self.in_channels = in_channels
        self.num_stages = len(blocks)

    @property
    def stages(self) -> list[nn.Sequential]:
        """The stages ``layer1``, ``layer2``, … in order."""
        return [getattr(self, f"layer{i + 1}") for i in range(self.num_stages)]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels, got {x.shape[1]}")
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))  # the stem
        for stage in self.stages:
            x = stage(x)
        return self.fc(self.avgpool(x).flatten(1))


def resnet18(classes: int = 1000) -> ResNet:
    """ResNet-18: four stages of two basic blocks, widths 64 to 512.

    Shapes:
        ``[N, 3, 224, 224]`` → ``[N, 512, 7, 7]`` before pooling → ``[N, classes]``.
    """
    return ResNet((2, 2, 2, 2), (64, 128, 256, 512), classes)


def resnet50(classes: int = 1000) -> ResNet:
    """ResNet-50: bottleneck stages of 3, 4, 6, 3 blocks, widths 64 to 512 (outputs 256 to 2048).

    Shapes:
        ``[N, 3, 224, 224]`` → ``[N, 2048, 7, 7]`` before pooling → ``[N, classes]``.
    """
    return ResNet((3, 4, 6, 3), (64, 128, 256, 512), classes, block="bottleneck")


def resnet101(classes: int = 1000) -> ResNet:
    """ResNet-101: like :func:`resnet50` with 23 blocks in the third stage.

    Shapes:
        ``[N, 3, 224, 224]`` → ``[N, 2048, 7, 7]`` before pooling → ``[N, classes]``.
    """
    return ResNet((3, 4, 23, 3), (64, 128, 256, 512), classes, block="bottleneck")
