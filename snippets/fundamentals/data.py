"""Data for the fundamentals chapter: noisy points on a line."""

from __future__ import annotations

import torch

from snippets.common.checks import check_positive


def linear_data(
    n: int = 100,
    weight: float = 2.0,
    bias: float = -1.0,
    noise: float = 0.3,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points on a line plus Gaussian noise: ``y = weight * x + bias + noise * ε``.

    Shapes:
        ``x`` and ``y`` are both ``[n, 1]``, ``x`` uniform in ``[-1, 1]``.

    Raises:
        ValueError: if ``n`` is not positive or ``noise`` is negative.
    """
    check_positive(n, "n")
    check_positive(noise, "noise", allow_zero=True)
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=generator) * 2 - 1
    y = weight * x + bias + noise * torch.randn(n, 1, generator=generator)
    return x, y
