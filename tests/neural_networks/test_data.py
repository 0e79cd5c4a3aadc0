"""Tests of ``snippets.neural_networks.data``."""

import pytest
import torch

from snippets.neural_networks.data import two_moons, wavy_data, wavy_target


def test_two_moons_split_shapes_and_seed():

    split = two_moons(n=400, noise=0.1, test_fraction=0.25, seed=3)
    assert split.x_train.shape == (300, 2) and split.x_test.shape == (100, 2)
    assert split.y_train.dtype == torch.int64 and set(split.y_train.tolist()) == {0, 1}
    torch.testing.assert_close(two_moons(n=400, seed=3).x_test, two_moons(n=400, seed=3).x_test)
    assert not torch.equal(two_moons(seed=1).x_test, two_moons(seed=2).x_test)
    with pytest.raises(ValueError, match="test_fraction"):
        two_moons(test_fraction=1.0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        two_moons(noise=-0.1)


def test_two_moons_without_noise_lie_on_the_half_circles():

    split = two_moons(n=200, noise=0.0)
    x = torch.cat([split.x_train, split.x_test])
    y = torch.cat([split.y_train, split.y_test])
    centre = torch.where(y.unsqueeze(1) == 0, torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.5]))
    torch.testing.assert_close((x - centre).norm(dim=1), torch.ones(200))


def test_wavy_data_follows_its_target():

    x, y = wavy_data(n=500, noise=0.0, seed=1)
    assert x.shape == y.shape == (500, 1)
    assert -2.0 <= x.min() and x.max() <= 2.0
    torch.testing.assert_close(y, torch.sin(3 * x) + 0.3 * x**2)
    torch.testing.assert_close(wavy_target(torch.zeros(1)), torch.zeros(1))
    _, noisy = wavy_data(n=4000, noise=0.5, seed=1)
    x4, _ = wavy_data(n=4000, noise=0.5, seed=1)
    assert abs((noisy - wavy_target(x4)).std().item() - 0.5) < 0.03
    with pytest.raises(ValueError, match="n must be > 0"):
        wavy_data(n=0)
