"""Tests of the augmented-digits generators in ``snippets.cnn.data``."""

import pytest
import torch

from snippets.cnn.data import augmented_digits, random_affine
from snippets.common.data import digits


def _blob(size=32, sigma=3.0):
    r = torch.arange(size, dtype=torch.float32) - (size - 1) / 2
    return torch.exp(-(r[:, None] ** 2 + r[None, :] ** 2) / (2 * sigma**2))[None, None]


def test_random_affine_without_warp_is_identity():
    x = torch.rand(5, 1, 12, 12)
    out = random_affine(x, max_rotation=0.0, max_shift=0.0, scale=(1.0, 1.0))
    torch.testing.assert_close(out, x)


def test_random_affine_zoom_enlarges_and_rotation_keeps_mass():
    blob = _blob()
    zoomed = random_affine(blob, max_rotation=0.0, max_shift=0.0, scale=(2.0, 2.0))
    assert zoomed.sum() / blob.sum() == pytest.approx(4.0, rel=0.02)  # area grows by 2²
    rotated = random_affine(blob.repeat(20, 1, 1, 1), max_rotation=180.0, max_shift=0.0)
    mass = rotated.sum(dim=(1, 2, 3)) / blob.sum()
    assert mass.min() > 0.75 and mass.max() < 1.25  # zoom 0.9–1.1 changes area by ≤ 21 %


def test_random_affine_shift_moves_the_centre():
    blob = _blob(size=32).repeat(200, 1, 1, 1)
    moved = random_affine(blob, max_rotation=0.0, max_shift=0.25, scale=(1.0, 1.0), seed=3)
    grid = torch.arange(32, dtype=torch.float32)
    centre_x = (moved.sum(dim=2)[:, 0] * grid).sum(1) / moved.sum(dim=(1, 2, 3))
    offset = centre_x - 15.5
    assert offset.abs().max() <= 0.25 * 32 + 0.5  # at most a quarter of the width
    assert offset.abs().max() > 0.2 * 32  # and the full range is used


def test_random_affine_is_seeded_and_per_image():
    x = digits().x_train[:4]
    a, b = random_affine(x, seed=1), random_affine(x, seed=1)
    torch.testing.assert_close(a, b)
    assert not torch.equal(a, random_affine(x, seed=2))
    same = random_affine(x[:1].repeat(3, 1, 1, 1), seed=1)
    assert not torch.equal(same[0], same[1])  # each image gets its own warp


def test_random_affine_bad_input():
    with pytest.raises(ValueError, match="images must have 4 dimensions"):
        random_affine(torch.rand(8, 8))
    with pytest.raises(ValueError, match="max_shift must be >= 0"):
        random_affine(torch.rand(1, 1, 8, 8), max_shift=-0.1)
    with pytest.raises(ValueError, match="scale must be"):
        random_affine(torch.rand(1, 1, 8, 8), scale=(1.2, 0.8))


def test_augmented_digits_shapes_labels_and_determinism():
    split = augmented_digits(size=12, copies=2, seed=0)
    base = digits()
    assert split.x_train.shape == (2 * 1347, 1, 12, 12) and split.x_test.shape == (450, 1, 12, 12)
    torch.testing.assert_close(split.y_train, base.y_train.repeat(2))
    torch.testing.assert_close(split.y_test, base.y_test)
    assert split.x_train.min() >= 0.0 and split.x_train.max() <= 1.0
    assert not torch.equal(split.x_train[:1347], split.x_train[1347:])  # copies differ
    torch.testing.assert_close(augmented_digits(size=12, copies=2, seed=0).x_test, split.x_test)


def test_augmented_digits_bad_input():
    with pytest.raises(ValueError, match="size must be an int >= 8, got 4"):
        augmented_digits(size=4)
    with pytest.raises(ValueError, match="copies must be > 0"):
        augmented_digits(copies=0)
