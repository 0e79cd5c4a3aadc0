import math

import pytest
import torch
from torch import nn

from snippets.neural_networks.initialization import (
    activation_stats,
    kaiming_normal_,
    xavier_uniform_,
)


def test_xavier_matches_torch_with_the_same_generator():
    a, b = torch.empty(30, 50), torch.empty(30, 50)
    xavier_uniform_(a, gain=1.5, generator=torch.Generator().manual_seed(3))
    nn.init.xavier_uniform_(b, gain=1.5, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)


def test_kaiming_matches_torch_with_the_same_generator():
    a, b = torch.empty(30, 50), torch.empty(30, 50)
    kaiming_normal_(a, generator=torch.Generator().manual_seed(3))
    nn.init.kaiming_normal_(b, nonlinearity="relu", generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(a, b)


def test_variances_follow_the_formulas():
    w = torch.empty(400, 600)
    xavier_uniform_(w)
    assert w.var().item() == pytest.approx(2 / (400 + 600), rel=0.03)
    assert w.abs().max().item() <= math.sqrt(6 / 1000)
    kaiming_normal_(w)
    assert w.var().item() == pytest.approx(2 / 600, rel=0.03)


def test_activation_stats_vanish_explode_or_stay():
    # a deep ReLU net keeps its scale with Kaiming, loses it with tiny weights
    size = {"width": 64, "samples": 128}
    kaiming = activation_stats("kaiming", "relu", depth=20, **size)
    assert 0.3 < kaiming[-1] < 3.0
    assert activation_stats("small", "relu", depth=20, **size)[-1] < 1e-10
    assert activation_stats("large", "relu", depth=5, **size)[-1] > 1e3
    # tanh with Xavier keeps a usable spread; with N(0, 1) it saturates near ±1
    assert activation_stats("xavier", "tanh", depth=20, **size)[-1] > 0.1
    assert activation_stats("large", "tanh", depth=5, **size)[-1] > 0.9
    assert len(kaiming) == 20


def test_bad_input():
    with pytest.raises(ValueError, match="weight must have 2 dimensions"):
        xavier_uniform_(torch.empty(3))
    with pytest.raises(ValueError, match="gain must be > 0"):
        xavier_uniform_(torch.empty(2, 2), gain=0.0)
    with pytest.raises(TypeError, match="floating-point"):
        kaiming_normal_(torch.empty(2, 2, dtype=torch.int64))
    with pytest.raises(ValueError, match="init must be one of"):
        activation_stats("orthogonal", "relu")
    with pytest.raises(ValueError, match="activation must be one of"):
        activation_stats("xavier", "gelu")
    with pytest.raises(ValueError, match="depth must be > 0"):
        activation_stats("xavier", "tanh", depth=0)
