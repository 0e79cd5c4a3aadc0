"""LeNet-5, the first convolutional network trained end to end, and a small modern CNN.

LeNet-5 (LeCun et al., 1998) read 32×32 grey digits with two convolution +
sub-sampling stages and three fully connected layers. :class:`LeNet5` keeps
that layout with today's usual simplifications (full connections between
C1 and C3, average pooling without trainable coefficients, a linear output
layer instead of radial basis functions). :class:`DigitsCNN` is the same
idea sized for 8×8 digits, with ReLU, batch norm, max pooling and dropout.
"""

from __future__ import annotations

import torch
from torch import nn

from snippets.common.checks import check_dim, check_positive, check_tensor


class LeNet5(nn.Module):
    """LeNet-5: conv 5×5 → pool → conv 5×5 → pool → conv 5×5 → FC 84 → FC classes.

    Layer names follow the paper: C1 (6 maps, 28×28), S2 (6 maps, 14×14),
    C3 (16 maps, 10×10), S4 (16 maps, 5×5), C5 (120 maps, 1×1), F6 (84 units).

    Shapes:
        input ``[N, 1, 32, 32]`` → logits ``[N, classes]``.
    """

    def __init__(self, classes: int = 10) -> None:
        super().__init__()
        check_positive(classes, "classes")
        self.features = nn.Sequential(
            nn.Conv2d(1, 6, kernel_size=5),  # C1: [N, 6, 28, 28]
            nn.Tanh(),
            nn.AvgPool2d(2),  # S2: [N, 6, 14, 14]
            nn.Conv2d(6, 16, kernel_size=5),  # C3: [N, 16, 10, 10]
            nn.Tanh(),
            nn.AvgPool2d(2),  # S4: [N, 16, 5, 5]
            nn.Conv2d(16, 120, kernel_size=5),  # C5: [N, 120, 1, 1]
            nn.Tanh(),
        )
        self.classifier = nn.Sequential(
            nn.Flatten(),  # [N, 120]
            nn.Linear(120, 84),  # F6
            nn.Tanh(),
            nn.Linear(84, classes),  # output layer: one logit per class
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        if tuple(x.shape[1:]) != (1, 32, 32):
            raise ValueError(f"x must be [N, 1, 32, 32], got {tuple(x.shape)}")
        return self.classifier(self.features(x))


class DigitsCNN(nn.Module):
    """A small CNN for 8×8 digits: two conv blocks, then a linear classifier.

    Each block is conv 3×3 (padding 1, size kept) → batch norm → ReLU →
    conv 3×3 → batch norm → ReLU → max-pool 2×2 (size halved), so
    8×8 → 4×4 → 2×2. Dropout before the last layer.

    Shapes:
        input ``[N, 1, 8, 8]`` → logits ``[N, classes]``.
    """

    def __init__(
        self, channels: tuple[int, int] = (32, 64), classes: int = 10, dropout: float = 0.3
    ) -> None:
        super().__init__()
        if len(channels) != 2:
            raise ValueError(f"channels must hold two widths, got {channels!r}")
        for c in channels:
            check_positive(c, "channels")
        check_positive(classes, "classes")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {dropout}")
        c1, c2 = channels
        self.features = nn.Sequential(
            _conv_bn_relu(1, c1),
            _conv_bn_relu(c1, c1),
            nn.MaxPool2d(2),  # [N, c1, 4, 4]
            _conv_bn_relu(c1, c2),
            _conv_bn_relu(c2, c2),
            nn.MaxPool2d(2),  # [N, c2, 2, 2]
        )
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(c2 * 2 * 2, classes)
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        check_dim(x, "x", 1, 1)
        if tuple(x.shape[2:]) != (8, 8):
            raise ValueError(f"x must be [N, 1, 8, 8], got {tuple(x.shape)}")
        return self.classifier(self.features(x))


def _conv_bn_relu(c_in: int, c_out: int) -> nn.Sequential:
    """Conv 3×3 (padding 1, no bias: batch norm adds one) → BatchNorm → ReLU."""
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU()
    )
