import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.neural_networks.activations import (
    ACTIVATIONS,
    gelu,
    leaky_relu,
    log_softmax,
    relu,
    sigmoid,
    softmax,
    softmax_naive,
    tanh,
)

REFERENCE = {
    "sigmoid": torch.sigmoid,
    "tanh": torch.tanh,
    "relu": F.relu,
    "leaky_relu": F.leaky_relu,  # default negative_slope 0.01, as ours
    "gelu": F.gelu,  # default approximate="none": the exact erf form
}


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_activation_matches_torch(name):
    x = torch.linspace(-30, 30, 2001, dtype=torch.float64)
    f, _ = ACTIVATIONS[name]
    torch.testing.assert_close(f(x), REFERENCE[name](x))


@pytest.mark.parametrize("name", list(ACTIVATIONS))
def test_derivative_matches_autograd(name):
    # avoid x = 0 exactly, where ReLU-like functions have a kink
    x = (torch.linspace(-6, 6, 1000, dtype=torch.float64) + 1e-3).requires_grad_(True)
    f, f_grad = ACTIVATIONS[name]
    REFERENCE[name](x).sum().backward()
    torch.testing.assert_close(f_grad(x.detach()), x.grad)


def test_relu_grad_at_zero_is_zero_like_torch():
    x = torch.zeros(3, requires_grad=True)
    F.relu(x).sum().backward()
    torch.testing.assert_close(ACTIVATIONS["relu"][1](x.detach()), x.grad)


def test_sigmoid_does_not_overflow():
    x = torch.tensor([-1000.0, 1000.0])
    torch.testing.assert_close(sigmoid(x), torch.tensor([0.0, 1.0]))


@given(
    st.lists(st.floats(-50, 50, allow_nan=False), min_size=1, max_size=20),
    st.floats(-1000, 1000, allow_nan=False),
)
def test_softmax_is_shift_invariant_and_sums_to_one(values, shift):
    x = torch.tensor(values, dtype=torch.float64)
    p = softmax(x)
    torch.testing.assert_close(p.sum(), torch.tensor(1.0, dtype=torch.float64))
    torch.testing.assert_close(softmax(x + shift), p)
    torch.testing.assert_close(p, torch.softmax(x, dim=-1))
    torch.testing.assert_close(log_softmax(x), torch.log_softmax(x, dim=-1))


def test_naive_softmax_overflows_where_stable_does_not():
    x = torch.tensor([[1000.0, 999.0, 0.0], [1.0, 2.0, 3.0]])
    naive = softmax_naive(x, dim=1)
    assert torch.isnan(naive[0]).any()  # exp(1000) = inf, inf / inf = nan
    stable = softmax(x, dim=1)
    assert torch.isfinite(stable).all()
    torch.testing.assert_close(stable, torch.softmax(x, dim=1))
    torch.testing.assert_close(naive[1], stable[1])  # small scores: both agree


def test_log_softmax_stays_finite_where_log_of_softmax_does_not():
    x = torch.tensor([0.0, 200.0])
    assert torch.isinf(torch.log(softmax(x))[0])  # e^-200 underflows to 0 in float32
    out = log_softmax(x)
    torch.testing.assert_close(out, torch.log_softmax(x, dim=0))
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("fn", [sigmoid, tanh, relu, gelu, softmax, log_softmax, softmax_naive])
def test_bad_input(fn):
    with pytest.raises(TypeError, match="x must be a torch.Tensor"):
        fn([1.0, 2.0])
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        fn(torch.tensor([1, 2]))


def test_leaky_relu_bad_slope():
    with pytest.raises(ValueError, match="slope must be >= 0"):
        leaky_relu(torch.zeros(2), slope=-0.1)
    with pytest.raises(ValueError, match="slope must be >= 0"):
        ACTIVATIONS["leaky_relu"][1](torch.zeros(2), -0.1)
    torch.testing.assert_close(
        leaky_relu(torch.tensor([-2.0, 3.0]), 0.2), F.leaky_relu(torch.tensor([-2.0, 3.0]), 0.2)
    )


@settings(max_examples=40, deadline=None)
@given(
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=4),
    data=st.data(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_softmax_and_log_softmax_match_torch_on_any_shape(shape, data, dtype, seed):
    """Any rank, any dimension (negative too), empty tensors, both dtypes."""
    dim = data.draw(st.integers(-len(shape), len(shape) - 1))
    x = torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 20
    ours, theirs = softmax(x, dim=dim), torch.softmax(x, dim=dim)
    assert ours.dtype == dtype and ours.shape == theirs.shape
    torch.testing.assert_close(ours, theirs)
    torch.testing.assert_close(log_softmax(x, dim=dim), torch.log_softmax(x, dim=dim))
