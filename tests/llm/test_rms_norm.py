"""RMSNorm from scratch against F.rms_norm and nn.RMSNorm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.llm.rms_norm import RMSNorm, rms_norm


@st.composite
def norm_cases(draw):
    """Random leading shapes (sizes 0 and 1 included), feature sizes, dtypes and eps."""
    lead = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3))
    dim = draw(st.integers(1, 16))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    eps = draw(st.sampled_from([1e-6, 1e-5, 0.1]))
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    scale = draw(st.sampled_from([1e-3, 1.0, 100.0]))
    x = scale * torch.randn(*lead, dim, generator=gen, dtype=dtype)
    weight = torch.randn(dim, generator=gen, dtype=dtype)
    return x, weight, eps


@settings(max_examples=80, deadline=None)
@given(case=norm_cases())
def test_rms_norm_matches_torch_forward_and_backward(case):
    x, weight, eps = case
    x, weight = x.requires_grad_(), weight.requires_grad_()
    ours = rms_norm(x, weight, eps)
    expected = F.rms_norm(x, (x.shape[-1],), weight, eps)
    assert ours.dtype == x.dtype and ours.shape == x.shape
    torch.testing.assert_close(ours, expected)
    grad_out = torch.randn_like(ours)
    mine = torch.autograd.grad(ours, (x, weight), grad_out)
    theirs = torch.autograd.grad(expected, (x, weight), grad_out)
    for a, b in zip(mine, theirs):
        torch.testing.assert_close(a, b)


def test_rms_norm_module_loads_into_nn_rmsnorm_and_back():
    torch.manual_seed(0)
    ours, theirs = RMSNorm(6, eps=1e-5), nn.RMSNorm(6, eps=1e-5)
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    torch.testing.assert_close(ours.weight, torch.ones(6))  # both start at ones
    with torch.no_grad():
        ours.weight.copy_(torch.randn(6))
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 3, 6)
    torch.testing.assert_close(ours(x), theirs(x))
    with torch.no_grad():
        theirs.weight.copy_(torch.randn(6))
    ours.load_state_dict(theirs.state_dict())
    torch.testing.assert_close(ours(x), theirs(x))
    ours(x).sum().backward()
    theirs(x).sum().backward()
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad)


def test_output_has_unit_rms_and_ignores_the_input_scale():
    x = torch.randn(5, 32, dtype=torch.float64)
    y = rms_norm(x, torch.ones(32, dtype=torch.float64), eps=1e-12)
    torch.testing.assert_close(y.pow(2).mean(-1).sqrt(), torch.ones(5, dtype=torch.float64))
    torch.testing.assert_close(rms_norm(7.0 * x, torch.ones(32, dtype=torch.float64), 1e-12), y)


def test_unlike_layer_norm_the_mean_is_kept():
    x = torch.tensor([[1.0, 2.0, 3.0, 4.0]])
    shifted = x + 10.0  # LayerNorm cannot see a shift; RMSNorm can
    ones = torch.ones(4)
    torch.testing.assert_close(F.layer_norm(x, (4,)), F.layer_norm(shifted, (4,)))
    assert not torch.allclose(rms_norm(x, ones), rms_norm(shifted, ones))


def test_empty_batch_and_zero_input():
    norm = RMSNorm(4)
    assert norm(torch.randn(0, 3, 4)).shape == (0, 3, 4)
    assert (norm(torch.zeros(2, 4)) == 0).all()  # eps keeps 0 / 0 away


X = torch.randn(2, 4)


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: rms_norm(torch.randn(2, 4), torch.ones(5)), ValueError, "weight"),
        (lambda: rms_norm(torch.randn(2, 4), torch.ones(2, 2)), ValueError, "weight"),
        (lambda: rms_norm(torch.ones(2, 4, dtype=torch.int64), torch.ones(4)), TypeError, "x"),
        (lambda: rms_norm(X, torch.ones(4, dtype=torch.int64)), TypeError, "weight"),
        (lambda: rms_norm(X, torch.ones(4, dtype=torch.float64)), TypeError, "weight"),
        (lambda: rms_norm([1.0, 2.0], torch.ones(2)), TypeError, "x"),
        (lambda: rms_norm(torch.tensor(1.0), torch.ones(1)), ValueError, "x"),
        (lambda: rms_norm(torch.randn(2, 4), torch.ones(4), eps=0.0), ValueError, "eps"),
        (lambda: rms_norm(torch.randn(2, 4), torch.ones(4), eps=-1e-6), ValueError, "eps"),
        (lambda: rms_norm(torch.randn(2, 4), torch.ones(4), eps=float("nan")), ValueError, "eps"),
        (lambda: RMSNorm(4, eps=float("nan")), ValueError, "eps"),
        (lambda: RMSNorm(0), ValueError, "dim"),
        (lambda: RMSNorm(4.0), TypeError, "dim"),
        (lambda: RMSNorm(4)(torch.randn(2, 3)), ValueError, "weight"),
    ],
)
def test_bad_input_names_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()
