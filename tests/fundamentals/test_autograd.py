import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.fundamentals.autograd import (
    accumulated_gradient,
    double_until,
    graph_nodes,
    hand_gradient,
    stop_tracking,
)


def test_graph_nodes_kinds():
    nodes = graph_nodes(2.0)
    x, y, z = nodes["leaf x"], nodes["intermediate y"], nodes["root z"]
    assert x.is_leaf and x.grad_fn is None
    assert not y.is_leaf and type(y.grad_fn).__name__ == "PowBackward0"
    assert not z.is_leaf and type(z.grad_fn).__name__ == "SinBackward0"
    with pytest.warns(UserWarning, match="not a leaf"):
        assert y.grad is None  # intermediate gradients are not kept
    torch.testing.assert_close(x.grad, hand_gradient(torch.tensor(2.0)))


@given(st.floats(min_value=-4.0, max_value=4.0, allow_nan=False))
def test_autograd_matches_hand_gradient(value):
    x = torch.tensor(value, dtype=torch.float64, requires_grad=True)
    torch.sin(x**2).backward()
    torch.testing.assert_close(x.grad, hand_gradient(x.detach()))


def test_autograd_matches_finite_differences():
    x = torch.linspace(-2, 2, 9, dtype=torch.float64)
    eps = 1e-6
    numeric = (torch.sin((x + eps) ** 2) - torch.sin((x - eps) ** 2)) / (2 * eps)
    torch.testing.assert_close(hand_gradient(x), numeric)


def test_hand_gradient_bad_dtype():
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        hand_gradient(torch.tensor([1, 2]))


@pytest.mark.parametrize("passes", [1, 2, 5])
def test_gradients_accumulate(passes):
    # d(x³)/dx = 3x² = 12 at x = 2, added once per backward pass
    assert accumulated_gradient(2.0, passes).item() == pytest.approx(12.0 * passes)


def test_accumulated_gradient_bad_passes():
    with pytest.raises(ValueError, match="passes must be >= 1, got 0"):
        accumulated_gradient(1.0, 0)


def test_stop_tracking_three_ways():
    x = torch.tensor(3.0, requires_grad=True)
    results = stop_tracking(x)
    assert set(results) == {"detach()", "no_grad()", "requires_grad_(False)"}
    for value in results.values():
        assert not value.requires_grad and value.grad_fn is None
        assert value.item() == 9.0
    assert x.requires_grad  # the caller's tensor is untouched


def test_stop_tracking_bad_input():
    with pytest.raises(ValueError, match="x must have requires_grad=True"):
        stop_tracking(torch.tensor(1.0))


@given(st.floats(min_value=0.01, max_value=50.0), st.floats(min_value=1.0, max_value=1000.0))
def test_double_until_gradient_is_power_of_two(start, limit):
    x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    y, steps = double_until(x, limit)
    y.backward()
    assert abs(y.item()) > limit
    assert x.grad.item() == 2.0**steps


def test_double_until_bad_input():
    with pytest.raises(ValueError, match="x must be non-zero"):
        double_until(torch.tensor(0.0), 1.0)
    with pytest.raises(ValueError, match="limit must be > 0"):
        double_until(torch.tensor(1.0), 0.0)
    with pytest.raises(ValueError, match="x must have 0 dimensions"):
        double_until(torch.ones(2), 1.0)
