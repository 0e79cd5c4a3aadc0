"""Data for the neural-networks chapter: tasks a straight line cannot solve."""

from __future__ import annotations

import torch

from snippets.common.checks import check_positive, check_tensor
from snippets.common.data import Split


def two_moons(
    n: int = 1000, noise: float = 0.2, test_fraction: float = 0.25, seed: int = 0
) -> Split:
    """Two interleaving half circles in the plane, one class each (scikit-learn's ``make_moons``).

    No straight line separates the classes, so a model without a
    non-linearity cannot classify them well.

    Shapes:
        ``x`` ``[N, 2]`` (float32), ``y`` ``[N]`` (int64, 0 or 1); the first
        ``round(n * test_fraction)`` shuffled points form the test set.

    Raises:
        ValueError: if ``n`` is not positive, ``noise`` is negative or
            ``test_fraction`` is not strictly between 0 and 1.
    """

    check_positive(n, "n")
    check_positive(noise, "noise", allow_zero=True)
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    # imported here, as for the digits: scikit-learn takes about a second to import,
    # and most code that imports this module never draws the moons
    from sklearn.datasets import make_moons

    points, labels = make_moons(n_samples=n, noise=noise, shuffle=True, random_state=seed)
    x = torch.tensor(points, dtype=torch.float32)
    y = torch.tensor(labels, dtype=torch.int64)
    n_test = round(n * test_fraction)
    return Split(x[n_test:], y[n_test:], x[:n_test], y[:n_test])


def wavy_target(x: torch.Tensor) -> torch.Tensor:
    """The noiseless curve behind :func:`wavy_data`: ``sin(3x) + 0.3 x²``.

    Shapes:
        any shape in, the same shape out.
    """
    check_tensor(x, "x", floating=True)
    return torch.sin(3 * x) + 0.3 * x**2


def wavy_data(n: int = 200, noise: float = 0.1, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A non-linear 1-D regression task: :func:`wavy_target` plus Gaussian noise.

    ``x`` is uniform in ``[−2, 2]``; ``y = sin(3x) + 0.3 x² + noise · ε``.

    Shapes:
        ``x`` and ``y`` are both ``[n, 1]`` (float32).

    Raises:
        ValueError: if ``n`` is not positive or ``noise`` is negative.
    """
    check_positive(n, "n")
    check_positive(noise, "noise", allow_zero=True)
    generator = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=generator) * 4 - 2
    y = wavy_target(x) + noise * torch.randn(n, 1, generator=generator)
    return x, y
