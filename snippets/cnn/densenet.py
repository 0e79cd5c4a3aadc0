"""DenseNet: every layer sees the feature maps of all the layers before it.

Inside a dense block, layer ``l`` receives the concatenation of the block's
input and the outputs of layers ``1 … l-1``, and adds ``growth`` new
channels of its own, so a block of ``L`` layers turns ``c_in`` channels into
``c_in + L · growth`` (Huang et al., 2017). Features are reused instead of
re-learned, which keeps each layer narrow. Between blocks a *transition*
(1×1 convolution, 2×2 average pool) halves the channels and the resolution.
:func:`densenet121` follows torchvision's layout (7,978,856 parameters
with 1000 classes) and its module names (``features.conv0``,
``features.denseblock1.denselayer1.norm1``, ``features.transition1.conv``,
``features.norm5``, ``classifier``), so torchvision's weight files load into
it once their older key spelling is updated
(:func:`snippets.cnn.pretrained_names.from_torchvision`).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor


class DenseLayer(nn.Sequential):
    """BN → ReLU → 1×1 conv (``bn_size · growth``) → BN → ReLU → 3×3 conv (``growth``).

    The 1×1 "bottleneck" keeps the 3×3 convolution cheap however many
    channels the layer receives. The layer returns only its ``growth`` new
    channels; :class:`DenseBlock` concatenates them to its input. The parts
    carry torchvision's names ``norm1``, ``relu1``, ``conv1``, ``norm2``,
    ``relu2``, ``conv2``.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, growth, H, W]``.
    """

    def __init__(self, c_in: int, growth: int, bn_size: int = 4) -> None:
        check_positive(c_in, "c_in")
        check_positive(growth, "growth")
        check_positive(bn_size, "bn_size")
        super().__init__(
            OrderedDict(
                norm1=nn.BatchNorm2d(c_in),
                relu1=nn.ReLU(inplace=True),
                conv1=nn.Conv2d(c_in, bn_size * growth, 1, bias=False),
                norm2=nn.BatchNorm2d(bn_size * growth),
                relu2=nn.ReLU(inplace=True),
                conv2=nn.Conv2d(bn_size * growth, growth, 3, padding=1, bias=False),
            )
        )


class DenseBlock(nn.Module):
    """``num_layers`` :class:`DenseLayer` s, each fed the concatenation of all earlier outputs.

    The layers are ``denselayer1``, ``denselayer2``, … (torchvision's names),
    in order in the list ``layers``.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, c_in + num_layers · growth, H, W]``
        (the attribute ``out_channels``).
    """

    def __init__(self, c_in: int, num_layers: int, growth: int, bn_size: int = 4) -> None:
        super().__init__()
        check_positive(num_layers, "num_layers")
        for i in range(num_layers):
            self.add_module(f"denselayer{i + 1}", DenseLayer(c_in + i * growth, growth, bn_size))
        self.out_channels = c_in + num_layers * growth

    @property
    def layers(self) -> list[DenseLayer]:
        """The dense layers in order."""
        return list(self.children())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = [x]
        for layer in self.layers:
            features.append(layer(torch.cat(features, dim=1)))  # sees everything so far
        return torch.cat(features, dim=1)


class Transition(nn.Sequential):
    """BN → ReLU → 1×1 conv (``c_out`` channels) → 2×2 average pool: between dense blocks.

    The parts are named ``norm``, ``relu``, ``conv``, ``pool`` (torchvision's names).

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, c_out, H // 2, W // 2]``.
    """

    def __init__(self, c_in: int, c_out: int) -> None:
        check_positive(c_in, "c_in")
        check_positive(c_out, "c_out")
        super().__init__(
            OrderedDict(
                norm=nn.BatchNorm2d(c_in),
                relu=nn.ReLU(inplace=True),
                conv=nn.Conv2d(c_in, c_out, 1, bias=False),
                pool=nn.AvgPool2d(2, 2),
            )
        )


class DenseNet(nn.Module):
    """Stem → dense blocks joined by transitions (each halving the channels) → BN → pool → linear.

    ``blocks`` gives the layers per block, ``growth`` the channels each layer
    adds, ``stem_channels`` the stem's width. ``stem="imagenet"`` is a 7×7/2
    convolution and a 3×3/2 max pool; ``stem="small"`` one 3×3 convolution.

    All layers but the classifier sit in ``features``, named as in
    torchvision: ``conv0``, ``norm0``, ``relu0``, ``pool0`` (the stem),
    ``denseblock1``, ``transition1``, …, and the final batch norm ``norm5``
    (so named for any number of blocks).

    Shapes:
        ``[N, in_channels, H, W]`` → logits ``[N, classes]``.
    """

    def __init__(
        self,
        blocks: Sequence[int] = (6, 12, 24, 16),
        growth: int = 32,
        stem_channels: int = 64,
        bn_size: int = 4,
        classes: int = 1000,
        in_channels: int = 3,
        stem: str = "imagenet",
    ) -> None:
        super().__init__()
        if not blocks:
            raise ValueError("blocks must hold at least one block size")
        check_positive(classes, "classes")
        check_positive(stem_channels, "stem_channels")
        parts: OrderedDict[str, nn.Module] = OrderedDict()
        if stem == "imagenet":
            parts["conv0"] = nn.Conv2d(in_channels, stem_channels, 7, 2, 3, bias=False)
            parts["norm0"] = nn.BatchNorm2d(stem_channels)
            parts["relu0"] = nn.ReLU(inplace=True)
            parts["pool0"] = nn.MaxPool2d(3, 2, 1)
        elif stem == "small":
            parts["conv0"] = nn.Conv2d(in_channels, stem_channels, 3, padding=1, bias=False)
        else:
            raise ValueError(f"stem must be one of ('imagenet', 'small'), got {stem!r}")
        c = stem_channels
        for i, num_layers in enumerate(blocks):
            block = DenseBlock(c, num_layers, growth, bn_size)
            parts[f"denseblock{i + 1}"] = block
            c = block.out_channels
            if i < len(blocks) - 1:
                parts[f"transition{i + 1}"] = Transition(c, c // 2)
                c //= 2
        parts["norm5"] = nn.BatchNorm2d(c)
        parts["relu5"] = nn.ReLU(inplace=True)
        self.features = nn.Sequential(parts)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Linear(c, classes)
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels, got {x.shape[1]}")
        return self.classifier(self.pool(self.features(x)).flatten(1))


def densenet121(classes: int = 1000) -> DenseNet:
    """DenseNet-121: blocks of 6, 12, 24, 16 layers, growth 32, stem 64 channels.

    Shapes:
        ``[N, 3, 224, 224]`` → ``[N, 1024, 7, 7]`` after the blocks → ``[N, classes]``.
    """
    return DenseNet((6, 12, 24, 16), 32, 64, 4, classes)
