"""Tests of the 2-D data generators in ``snippets.generative.data``."""

import math

import pytest
import torch

from snippets.generative.data import gaussian_ring, ring_centers, swiss_roll_2d


def test_gaussian_ring_points_sit_on_their_modes():
    points, labels = gaussian_ring(4000, modes=8, radius=2.0, std=0.05, seed=0)
    assert points.shape == (4000, 2) and labels.shape == (4000,)
    centers = ring_centers(8, 2.0)
    torch.testing.assert_close(centers.norm(dim=1), torch.full((8,), 2.0))
    torch.testing.assert_close(centers[2], torch.tensor([0.0, 2.0]), atol=1e-6, rtol=0)
    offsets = points - centers[labels]
    assert abs(offsets.std().item() - 0.05) < 0.003
    counts = torch.bincount(labels, minlength=8)
    assert counts.min() > 400  # about 500 per mode
    again, _ = gaussian_ring(4000, seed=0)
    torch.testing.assert_close(points, again)
    assert not torch.equal(gaussian_ring(4000, seed=1)[0], points)


def test_swiss_roll_lies_on_the_spiral():
    points = swiss_roll_2d(3000, noise=0.0, seed=0)
    radius = points.norm(dim=1) * 5.0  # r(θ) = θ before the 1/5 scaling
    angle = torch.atan2(points[:, 1], points[:, 0])
    # θ ≡ angle (mod 2π), and θ = r on the spiral
    diff = torch.remainder(radius - angle, 2 * math.pi)
    assert torch.minimum(diff, 2 * math.pi - diff).max() < 1e-3
    assert radius.min() >= 1.5 * math.pi - 1e-4 and radius.max() <= 4.5 * math.pi + 1e-4
    torch.testing.assert_close(swiss_roll_2d(10, seed=3), swiss_roll_2d(10, seed=3))


@pytest.mark.parametrize(
    "call, message",
    [
        (lambda: gaussian_ring(0), "n must be > 0"),
        (lambda: gaussian_ring(10, std=-1.0), "std must be >= 0"),
        (lambda: ring_centers(0), "modes must be > 0"),
        (lambda: swiss_roll_2d(10, noise=-0.1), "noise must be >= 0"),
    ],
)
def test_generators_bad_input(call, message):
    with pytest.raises(ValueError, match=message):
        call()
