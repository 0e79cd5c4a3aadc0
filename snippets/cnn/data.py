"""Data for the CNN chapter: digits up-sampled and randomly warped."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from snippets.common.checks import check_positive, check_tensor
from snippets.common.data import Split, digits


def random_affine(
    images: torch.Tensor,
    max_rotation: float = 15.0,
    max_shift: float = 0.1,
    scale: tuple[float, float] = (0.9, 1.1),
    seed: int = 0,
) -> torch.Tensor:
    """Warp every image by its own random rotation, scaling and shift.

    Angles are uniform in ``±max_rotation`` degrees, zoom factors uniform in
    ``scale`` and shifts uniform in ``±max_shift`` of the image size. Pixels
    are resampled bilinearly; what comes in from outside the image is 0.

    Shapes:
        ``[N, C, H, W]`` → ``[N, C, H, W]``.

    Raises:
        ValueError: if ``images`` is not 4-D floating point, a range is negative,
            or ``scale`` is not an increasing pair of positive numbers.
    """

    check_tensor(images, "images", ndim=4, floating=True)
    check_positive(max_rotation, "max_rotation", allow_zero=True)
    check_positive(max_shift, "max_shift", allow_zero=True)
    if len(scale) != 2 or not 0 < scale[0] <= scale[1]:
        raise ValueError(f"scale must be (low, high) with 0 < low <= high, got {scale!r}")
    n = len(images)
    generator = torch.Generator().manual_seed(seed)

    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    angle = torch.deg2rad(uniform(-max_rotation, max_rotation))
    zoom = uniform(*scale)
    shift = torch.stack([uniform(-max_shift, max_shift), uniform(-max_shift, max_shift)], 1)
    # affine_grid maps output coordinates in [-1, 1] to input coordinates: the
    # inverse transform, so dividing by the zoom enlarges the digit.
    cos, sin = angle.cos() / zoom, angle.sin() / zoom
    theta = torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    theta = torch.cat([theta, 2 * shift.unsqueeze(2)], dim=2)  # [N, 2, 3]
    grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augmented_digits(
    size: int = 16,
    copies: int = 4,
    max_rotation: float = 15.0,
    max_shift: float = 0.1,
    scale: tuple[float, float] = (0.9, 1.1),
    seed: int = 0,
) -> Split:
    """Digits up-sampled to ``size × size`` and randomly warped: a harder digit task.

    Starts from :func:`~snippets.common.data.digits` (same fixed split), up-samples bilinearly, then
    applies :func:`random_affine`. The training set holds ``copies`` warped
    versions of every training image; the test set one warped version of
    every test image, drawn with a different seed, so no test image or
    transform is seen in training.

    Shapes:
        images ``[copies * 1347, 1, size, size]`` and ``[450, 1, size, size]``,
        values in ``[0, 1]``; labels ``[N]`` of dtype ``int64``.

    Raises:
        ValueError: if ``size`` is below 8 or ``copies`` is not positive.
    """

    if isinstance(size, bool) or not isinstance(size, int) or size < 8:
        raise ValueError(f"size must be an int >= 8, got {size!r}")
    check_positive(copies, "copies")
    base = digits(seed=0)

    def grow(x: torch.Tensor) -> torch.Tensor:
        return F.interpolate(x, size=(size, size), mode="bilinear", align_corners=False)

    warp = {"max_rotation": max_rotation, "max_shift": max_shift, "scale": scale}
    x_train = grow(base.x_train).repeat(copies, 1, 1, 1)
    x_train = random_affine(x_train, seed=seed, **warp).clamp(0, 1)
    x_test = random_affine(grow(base.x_test), seed=seed + 10_000, **warp).clamp(0, 1)
    return Split(x_train, base.y_train.repeat(copies), x_test, base.y_test)
