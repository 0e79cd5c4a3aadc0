"""Data for the generative chapter: 2-D distributions whose shape is easy to check."""

from __future__ import annotations

import torch

from snippets.common.checks import check_positive


def gaussian_ring(
    n: int = 1000,
    modes: int = 8,
    radius: float = 2.0,
    std: float = 0.05,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Points from ``modes`` equal Gaussians placed evenly on a circle.

    The classic test of mode collapse for GANs: a generator that covers the
    data puts samples near every one of the ``modes`` centres. Mode ``k`` is
    centred at ``radius * (cos 2πk/modes, sin 2πk/modes)`` with standard
    deviation ``std`` along both axes.

    Shapes:
        points ``[n, 2]`` (float32) and the mode of each point ``[n]`` (int64).

    Raises:
        ValueError: if ``n``, ``modes`` or ``radius`` is not positive, or
            ``std`` is negative.
    """
    check_positive(n, "n")
    check_positive(modes, "modes")
    check_positive(radius, "radius")
    check_positive(std, "std", allow_zero=True)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(modes, (n,), generator=generator)
    points = ring_centers(modes, radius)[labels] + std * torch.randn(n, 2, generator=generator)
    return points, labels


def ring_centers(modes: int = 8, radius: float = 2.0) -> torch.Tensor:
    """The ``[modes, 2]`` centres used by :func:`gaussian_ring`."""
    check_positive(modes, "modes")
    angles = torch.arange(modes, dtype=torch.float64) * (2 * torch.pi / modes)
    return (radius * torch.stack([angles.cos(), angles.sin()], dim=1)).float()


def swiss_roll_2d(n: int = 1000, noise: float = 0.05, seed: int = 0) -> torch.Tensor:
    """A 2-D swiss roll: a spiral ``r(θ) = θ`` for ``θ`` in ``[1.5π, 4.5π]``.

    Points are scaled by 1/5 so they lie in about ``[-2.9, 2.9]²`` with a
    standard deviation near 1.3 per axis, the scale a diffusion model's unit
    Gaussian noise expects; then Gaussian noise of standard deviation
    ``noise`` is added.

    Shapes:
        ``[n, 2]`` (float32).

    Raises:
        ValueError: if ``n`` is not positive or ``noise`` is negative.
    """
    check_positive(n, "n")
    check_positive(noise, "noise", allow_zero=True)
    generator = torch.Generator().manual_seed(seed)
    theta = torch.pi * (1.5 + 3.0 * torch.rand(n, generator=generator))
    points = torch.stack([theta * theta.cos(), theta * theta.sin()], dim=1) / 5.0
    return points + noise * torch.randn(n, 2, generator=generator)
