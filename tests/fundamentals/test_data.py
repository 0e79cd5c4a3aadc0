"""Tests of ``snippets.fundamentals.data``."""

import pytest
import torch

from snippets.fundamentals.data import linear_data


def test_linear_data_follows_the_line():
    x, y = linear_data(n=2000, weight=3.0, bias=0.5, noise=0.0)
    torch.testing.assert_close(y, 3.0 * x + 0.5)
    x1, y1 = linear_data(seed=4)
    x2, y2 = linear_data(seed=4)
    torch.testing.assert_close(y1, y2)
    assert x1.shape == (100, 1)


def test_linear_data_bad_input():
    with pytest.raises(ValueError, match="n must be > 0"):
        linear_data(n=0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        linear_data(noise=-1.0)
