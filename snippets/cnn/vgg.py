"""VGG: only 3×3 convolutions, stacked deep (Simonyan and Zisserman, 2015).

A VGG network is a list of numbers and ``"M"``: each number is a 3×3
convolution (padding 1, so the size is kept) with that many output channels
and a ReLU, each ``"M"`` a 2×2 max pool that halves the resolution. Two
stacked 3×3 layers see a 5×5 window, three see 7×7, with fewer weights
than one large kernel and a non-linearity between them. :func:`vgg16` and
:func:`vgg19` follow torchvision's layout (138,357,544 and 143,667,240
parameters with 1000 classes); ``width`` and a small ``hidden`` size build
the same network for the digits. torchvision keeps the layers in one flat
list (``features.0``, ``features.2``, …) where :class:`VGG` groups them
into blocks; :func:`snippets.cnn.pretrained_names.from_torchvision` renames
its keys.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor

#: Layer lists of the paper's configurations D (16 layers) and E (19 layers).
CONFIGS: dict[str, tuple[int | str, ...]] = {
    "vgg16": (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
              512, 512, 512, "M"),
    "vgg19": (64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M",
              512, 512, 512, 512, "M"),
}  # fmt: skip


class VGGBlock(nn.Module):
    """``layers`` 3×3 convolutions with ReLU, then a 2×2 max pool: VGG's unit.

    Every convolution keeps the size (padding 1); the pool halves it. With
    ``batch_norm=True`` a batch norm follows each convolution (the "_bn"
    variants), and the convolution drops its bias.

    Shapes:
        ``[N, c_in, H, W]`` → ``[N, c_out, H // 2, W // 2]``.
    """

    def __init__(self, c_in: int, c_out: int, layers: int, batch_norm: bool = False) -> None:
        super().__init__()
        check_positive(c_in, "c_in")
        check_positive(c_out, "c_out")
        check_positive(layers, "layers")
        parts: list[nn.Module] = []
        for i in range(layers):
            source = c_in if i == 0 else c_out
            parts.append(nn.Conv2d(source, c_out, 3, padding=1, bias=not batch_norm))
            if batch_norm:
                parts.append(nn.BatchNorm2d(c_out))
            parts.append(nn.ReLU(inplace=True))
        self.convs = nn.Sequential(*parts)
        self.pool = nn.MaxPool2d(2, 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.convs(x))


class VGG(nn.Module):
    """Blocks of 3×3 convolutions → adaptive average pool → three linear layers.

    ``config`` lists channel counts and ``"M"`` (pool); consecutive
    convolutions before an ``"M"`` form one :class:`VGGBlock`. ``width``
    scales every channel count (rounded, at least 1); ``hidden`` is the size
    of the two hidden linear layers (4096 in the paper) and ``pool_size``
    the side of the map handed to them (7 for 224×224 inputs).

    Shapes:
        ``[N, in_channels, H, W]`` → logits ``[N, classes]``.
    """

    def __init__(
        self,
        config: Sequence[int | str] = CONFIGS["vgg16"],
        classes: int = 1000,
        in_channels: int = 3,
        width: float = 1.0,
        hidden: int = 4096,
        pool_size: int = 7,
        dropout: float = 0.5,
        batch_norm: bool = False,
    ) -> None:
        super().__init__()
        check_positive(classes, "classes")
        check_positive(in_channels, "in_channels")
        check_positive(width, "width")
        check_positive(hidden, "hidden")
        check_positive(pool_size, "pool_size")
        if not config or config[-1] != "M" or config[0] == "M":
            raise ValueError(
                f"config must start with a channel count and end with 'M', got {list(config)}"
            )
        blocks, c_in, run = [], in_channels, []
        for item in config:
            if item == "M":
                if not run or any(c != run[0] for c in run):
                    raise ValueError(f"each block needs equal channel counts, got {run}")
                c_out = max(1, round(run[0] * width))
                blocks.append(VGGBlock(c_in, c_out, len(run), batch_norm))
                c_in, run = c_out, []
            else:
                check_positive(item, "config entries")
                run.append(item)
        self.features = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d(pool_size)
        self.classifier = nn.Sequential(
            nn.Linear(c_in * pool_size * pool_size, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, hidden),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(hidden, classes),
        )
        self.in_channels = in_channels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        if x.shape[1] != self.in_channels:
            raise ValueError(f"x must have {self.in_channels} channels, got {x.shape[1]}")
        return self.classifier(self.pool(self.features(x)).flatten(1))


def vgg16(classes: int = 1000) -> VGG:
    """VGG-16 (configuration D): 13 convolutions in five blocks, three linear layers.

    Shapes:
        ``[N, 3, 224, 224]`` → ``[N, 512, 7, 7]`` after the blocks → ``[N, classes]``.
    """
    return VGG(CONFIGS["vgg16"], classes)


def vgg19(classes: int = 1000) -> VGG:
    """VGG-19 (configuration E): 16 convolutions in five blocks, three linear layers.

    Shapes:
        ``[N, 3, 224, 224]`` → ``[N, 512, 7, 7]`` after the blocks → ``[N, classes]``.
    """
    return VGG(CONFIGS["vgg19"], classes)
