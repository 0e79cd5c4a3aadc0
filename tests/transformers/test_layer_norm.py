"""LayerNorm from scratch against torch.nn.functional.layer_norm and nn.LayerNorm."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from snippets.transformers.layer_norm import LayerNorm, layer_norm

TOLERANCE = {torch.float32: (1e-5, 1e-4), torch.float64: (1e-10, 1e-9)}  # (atol, rtol)


def _error(value: torch.Tensor, reference: torch.Tensor) -> float:
    """Largest absolute difference (0 for empty tensors)."""
    return (value.double() - reference).abs().max().item() if reference.numel() else 0.0


def _size(reference: torch.Tensor) -> float:
    return reference.abs().max().item() if reference.numel() else 0.0


@st.composite
def cases(draw):
    """Leading (batch, time) dims of size 0-3, 1-2 normalized dims of size 0-6, a dtype, a seed."""
    lead = tuple(draw(st.lists(st.integers(0, 3), max_size=2)))
    normalized = tuple(draw(st.lists(st.integers(0, 6), min_size=1, max_size=2)))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    affine = draw(st.sampled_from(["none", "weight", "both"]))
    eps = draw(st.sampled_from([1e-5, 1e-3, 0.5]))
    return lead, normalized, dtype, affine, eps, draw(st.integers(0, 2**16))


@given(cases())
def test_layer_norm_and_its_gradients_match_torch(case):
    """Output and gradients for input, weight and bias agree with F.layer_norm.

    In float64 the two must agree closely. In float32 both are compared with
    a float64 reference: a token whose spread is tiny against its mean (one
    feature, or values like 3 ± 0.01) loses digits in *any* float32
    implementation, PyTorch's included, so ours must be as accurate as
    PyTorch's (within a factor 2) plus the usual tolerance.
    """
    lead, normalized, dtype, affine, eps, seed = case
    g = torch.Generator().manual_seed(seed)
    scale = 10 ** torch.randint(-2, 3, (), generator=g).item()  # values from 0.01 to 100
    x = torch.randn(lead + normalized, generator=g, dtype=dtype) * scale + 3
    weight = torch.randn(normalized, generator=g, dtype=dtype)
    bias = torch.randn(normalized, generator=g, dtype=dtype)
    w = weight if affine in ("weight", "both") else None
    b = bias if affine == "both" else None
    # a random upstream gradient, not all ones: sum(y) has a zero gradient with respect to x,
    # which would hide a wrong backward pass
    upstream = torch.randn(lead + normalized, generator=g, dtype=torch.float64)

    def run(norm, dtype):
        """Output and gradients (x, then weight and bias when given) computed in ``dtype``."""
        leaves = [t.detach().to(dtype).clone().requires_grad_() for t in (x, w, b) if t is not None]
        out = norm(leaves[0], normalized, *(leaves[1:] + [None] * (3 - len(leaves))), eps)
        (out * upstream.to(dtype)).sum().backward()
        return [out.detach()] + [t.grad for t in leaves]

    ours, theirs = run(layer_norm, dtype), run(F.layer_norm, dtype)
    reference = run(F.layer_norm, torch.float64)
    assert ours[0].dtype == dtype and ours[0].shape == x.shape
    atol, rtol = TOLERANCE[dtype]
    names = ["output", "x.grad", "weight.grad", "bias.grad"]
    for name, mine, torch_value, exact in zip(names, ours, theirs, reference):
        allowed = 2 * _error(torch_value, exact) + atol + rtol * _size(exact)
        assert _error(mine, exact) <= allowed, (name, _error(mine, exact), allowed)


def test_module_matches_nn_layer_norm_and_loads_its_state_dict_both_ways():
    torch_norm = nn.LayerNorm((3, 4))
    with torch.no_grad():  # move off the identity so a skipped affine step would show
        torch_norm.weight.normal_()
        torch_norm.bias.normal_()
    ours = LayerNorm((3, 4))
    assert set(ours.state_dict()) == set(torch_norm.state_dict()) == {"weight", "bias"}
    ours.load_state_dict(torch_norm.state_dict())
    x = torch.randn(2, 5, 3, 4)
    upstream = torch.randn(2, 5, 3, 4)
    (ours(x) * upstream).sum().backward()
    (torch_norm(x) * upstream).sum().backward()
    torch.testing.assert_close(ours(x), torch_norm(x))
    torch.testing.assert_close(ours.weight.grad, torch_norm.weight.grad)
    torch.testing.assert_close(ours.bias.grad, torch_norm.bias.grad)
    back = nn.LayerNorm((3, 4))
    back.load_state_dict(ours.state_dict())
    torch.testing.assert_close(back(x), torch_norm(x))


def test_module_defaults_and_options_mirror_torch():
    ours, theirs = LayerNorm(8), nn.LayerNorm(8)
    assert ours.normalized_shape == theirs.normalized_shape == (8,)
    assert ours.eps == theirs.eps
    torch.testing.assert_close(ours.weight, torch.ones(8))
    torch.testing.assert_close(ours.bias, torch.zeros(8))
    plain = LayerNorm(8, elementwise_affine=False)
    assert plain.weight is None and plain.bias is None and list(plain.parameters()) == []
    no_bias = LayerNorm(8, bias=False).state_dict()
    assert set(no_bias) == set(nn.LayerNorm(8, bias=False).state_dict()) == {"weight"}
    x = torch.randn(4, 8)
    torch.testing.assert_close(plain(x), F.layer_norm(x, (8,)))
    doubled = LayerNorm(8, dtype=torch.float64)
    assert doubled.weight.dtype == torch.float64
    assert "eps=1e-05" in repr(ours)


def test_half_precision_is_normalized_in_float32():
    x = torch.randn(4, 16) * 50 + 1000  # a large mean: float16 arithmetic alone loses it
    ours = layer_norm(x.half(), 16)
    assert ours.dtype == torch.float16
    torch.testing.assert_close(ours.float(), F.layer_norm(x, (16,)), atol=1e-2, rtol=1e-2)


def test_every_token_is_standardized_before_the_affine_step():
    x = torch.randn(3, 7, 32, dtype=torch.float64) * 4 + torch.randn(3, 7, 1, dtype=torch.float64)
    y = layer_norm(x, 32, eps=1e-12)
    # every token (batch item, position) has its own mean 0 and biased variance 1
    torch.testing.assert_close(y.mean(-1), torch.zeros(3, 7, dtype=torch.float64))
    torch.testing.assert_close(y.var(-1, unbiased=False), torch.ones(3, 7, dtype=torch.float64))
    weight, bias = torch.full((32,), 2.0, dtype=torch.float64), torch.full((32,), -1.0).double()
    affine = layer_norm(x, 32, weight, bias, eps=1e-12)
    torch.testing.assert_close(affine, 2 * y - 1)  # then gamma scales and beta shifts


def test_a_token_ignores_other_tokens_other_batch_items_and_the_sequence_length():
    x = torch.randn(4, 6, 16)
    y = layer_norm(x, 16)
    changed = x.clone()
    changed[1:] = torch.randn(3, 6, 16) * 100  # other batch items
    changed[0, 1:] = torch.randn(5, 16) * 100  # other tokens of the same sequence
    torch.testing.assert_close(layer_norm(changed, 16)[0, 0], y[0, 0])
    shorter = layer_norm(x[:1, :2], 16)  # one sequence, two tokens
    torch.testing.assert_close(shorter, y[:1, :2])
    # BatchNorm, for contrast, mixes the batch: the same token comes out different
    batch_norm = nn.BatchNorm1d(16)
    assert not torch.allclose(batch_norm(x[:, 0]), batch_norm(changed[:, 0]))


def test_constant_token_gives_the_bias():
    x = torch.full((2, 5), 3.0)  # variance 0: eps keeps the division finite
    bias = torch.arange(5.0)
    torch.testing.assert_close(layer_norm(x, 5, torch.ones(5), bias), bias.expand(2, 5))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": torch.randn(2, 3, 5), "normalized_shape": 4}, ValueError, r"x must end in .*\(4,\)"),
        ({"x": torch.randn(2, 5), "normalized_shape": (3, 5)}, ValueError, "x must end in"),
        ({"x": torch.randn(5), "normalized_shape": (2, 5)}, ValueError, "x must end in"),
        ({"x": torch.ones(2, 5, dtype=torch.int64)}, TypeError, "x must have a floating-point"),
        ({"x": [1.0, 2.0]}, TypeError, "x must be a torch.Tensor"),
        ({"normalized_shape": ()}, ValueError, "normalized_shape must name at least one"),
        ({"normalized_shape": 5.0}, TypeError, "normalized_shape must be an int"),
        ({"normalized_shape": (5.0,)}, TypeError, "normalized_shape must hold ints"),
        ({"normalized_shape": (-5,)}, ValueError, "normalized_shape must hold sizes"),
        ({"weight": torch.ones(4)}, ValueError, r"weight must have shape .*\(5,\)"),
        ({"bias": torch.ones(5, 1)}, ValueError, "bias must have shape"),
        ({"weight": torch.ones(5, dtype=torch.float64)}, TypeError, "weight must have the dtype"),
        ({"bias": torch.ones(5, dtype=torch.int64)}, TypeError, "bias must have a floating"),
        ({"eps": 0.0}, ValueError, "eps must be > 0"),
        ({"eps": -1e-5}, ValueError, "eps must be > 0"),
        ({"eps": float("nan")}, ValueError, "eps must be a number, got nan"),
        ({"eps": float("inf")}, ValueError, "eps must be finite"),
        ({"eps": "1e-5"}, TypeError, "eps must be a number"),
    ],
)
def test_bad_arguments_raise_errors_naming_them(kwargs, error, match):
    arguments = {"x": torch.randn(2, 5), "normalized_shape": 5, **kwargs}
    with pytest.raises(error, match=match):
        layer_norm(**arguments)


def test_module_checks_its_arguments():
    with pytest.raises(ValueError, match="eps must be > 0"):
        LayerNorm(8, eps=0.0)
    with pytest.raises(ValueError, match="eps must be a number, got nan"):
        LayerNorm(8, eps=float("nan"))
    with pytest.raises(TypeError, match="normalized_shape must be an int"):
        LayerNorm("8")
    with pytest.raises(ValueError, match=r"x must end in normalized_shape \(8,\)"):
        LayerNorm(8)(torch.randn(2, 7))
