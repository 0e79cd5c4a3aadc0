import pytest
import torch

from snippets.fundamentals.data import linear_data
from snippets.fundamentals.linear_regression import fit_line, least_squares


def test_first_step_uses_the_hand_derived_gradient():
    x, y = linear_data(n=50, seed=1)
    lr = 0.1
    fit = fit_line(x, y, lr=lr, epochs=1)
    # from w = b = 0: dL/dw = 2/N Σ (0 - y) x, dL/db = 2/N Σ (0 - y)
    grad_w = (2 * (-y) * x).mean().item()
    grad_b = (2 * (-y)).mean().item()
    assert fit.weight == pytest.approx(-lr * grad_w, rel=1e-5)
    assert fit.bias == pytest.approx(-lr * grad_b, rel=1e-5)
    assert fit.losses[0] == pytest.approx((y**2).mean().item())


def test_fit_reaches_least_squares():
    x, y = linear_data(n=200, weight=-1.5, bias=0.7, noise=0.2, seed=2)
    fit = fit_line(x, y, lr=0.5, epochs=200)
    w, b = least_squares(x, y)
    assert fit.weight == pytest.approx(w, abs=1e-4)
    assert fit.bias == pytest.approx(b, abs=1e-4)
    assert fit.losses[-1] <= fit.losses[0]


def test_least_squares_matches_numpy_polyfit():
    import numpy as np

    x, y = linear_data(n=80, seed=3)
    slope, intercept = np.polyfit(x.numpy().ravel(), y.numpy().ravel(), 1)
    w, b = least_squares(x, y)
    assert w == pytest.approx(slope, rel=1e-4) and b == pytest.approx(intercept, rel=1e-4)


def test_fit_is_deterministic():
    x, y = linear_data(seed=5)
    assert fit_line(x, y, epochs=10) == fit_line(x, y, epochs=10)


def test_bad_input():
    x, y = linear_data(n=10)
    with pytest.raises(ValueError, match=r"x and y must both be \[N, 1\]"):
        fit_line(x, y[:5])
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        fit_line(x.ravel(), y)
    with pytest.raises(ValueError, match="lr must be > 0"):
        fit_line(x, y, lr=0.0)
    with pytest.raises(ValueError, match="epochs must be > 0"):
        fit_line(x, y, epochs=0)
    with pytest.raises(TypeError, match="y must have a floating-point dtype"):
        least_squares(x, torch.ones(10, 1, dtype=torch.int64))
