"""AlexNet, the network that won ImageNet 2012 and started the deep-learning boom.

Five convolutional layers and three fully connected ones, ReLU instead of
tanh, overlapping max pooling and dropout (Krizhevsky, Sutskever and Hinton,
2012). The layer sizes here follow torchvision's single-GPU version (64, 192,
384, 256, 256 filters), which has 61,100,840 parameters for 1000 classes; the
paper's two-GPU original used 96, 256, 384, 384, 256.
"""

from __future__ import annotations

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor


class AlexNet(nn.Module):
    """AlexNet for 224×224 RGB images.

    Spatial sizes for a 224×224 input: conv1 (11×11, stride 4) → 55,
    pool → 27, conv2 → 27, pool → 13, conv3–5 → 13, pool → 6. An adaptive
    pooling layer fixes the grid at 6×6 so other input sizes work too.

    Shapes:
        ``[N, 3, H, W]`` (H, W ≥ 63) → features ``[N, 256, 6, 6]`` →
        logits ``[N, classes]``.
    """

    def __init__(self, classes: int = 1000, dropout: float = 0.5) -> None:
        super().__init__()
        check_positive(classes, "classes")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),  # [N, 64, 55, 55]
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # overlapping pooling: [N, 64, 27, 27]
            nn.Conv2d(64, 192, kernel_size=5, padding=2),  # [N, 192, 27, 27]
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # [N, 192, 13, 13]
            nn.Conv2d(192, 384, kernel_size=3, padding=1),  # [N, 384, 13, 13]
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),  # [N, 256, 13, 13]
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),  # [N, 256, 13, 13]
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),  # [N, 256, 6, 6]
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, classes),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        if x.shape[1] != 3:
            raise ValueError(f"x must have 3 channels (RGB), got {x.shape[1]}")
        if min(x.shape[2:]) < 63:
            raise ValueError(f"x must be at least 63×63 pixels, got {tuple(x.shape[2:])}")
        features = self.avgpool(self.features(x))  # [N, 256, 6, 6]
        return self.classifier(torch.flatten(features, 1))  # [N, 9216] → [N, classes]
