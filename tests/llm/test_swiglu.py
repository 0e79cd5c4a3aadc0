"""SwiGLU: the 2/3 rule, the formula, and bad input."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.llm.swiglu import SwiGLU, swiglu_hidden


def _relu_mlp(dim: int) -> nn.Sequential:
    """The GPT-style feed-forward block with hidden size 4 * dim, without biases."""
    return nn.Sequential(
        nn.Linear(dim, 4 * dim, bias=False), nn.ReLU(), nn.Linear(4 * dim, dim, bias=False)
    )


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_swiglu_hidden_known_values():
    assert [swiglu_hidden(d) for d in (512, 768, 4096)] == [1368, 2048, 10928]
    assert swiglu_hidden(4096, multiple_of=256) == 11008  # Llama 7B's hidden size


@settings(max_examples=60, deadline=None)
@given(dim=st.integers(1, 8192), multiple_of=st.sampled_from([1, 8, 64]))
def test_swiglu_hidden_is_two_thirds_of_4d_rounded_up(dim, multiple_of):
    hidden = swiglu_hidden(dim, multiple_of)
    assert hidden % multiple_of == 0
    assert 8 * dim / 3 - 1 < hidden < 8 * dim / 3 + multiple_of


@pytest.mark.parametrize("dim", [64, 128, 512, 768, 1024, 4096])
def test_parameter_count_within_a_few_percent_of_the_relu_mlp(dim):
    with torch.device("meta"):  # shapes only: no memory, no random initialisation
        swiglu, mlp = SwiGLU(dim), _relu_mlp(dim)
    assert _count(mlp) == 8 * dim * dim
    assert _count(swiglu) == 3 * dim * swiglu_hidden(dim)
    assert abs(_count(swiglu) / _count(mlp) - 1) < 0.04
    if dim >= 512:
        assert abs(_count(swiglu) / _count(mlp) - 1) < 0.005


def test_layers_are_bias_free_with_the_agreed_shapes():
    block = SwiGLU(6, hidden=10)
    assert block.gate.weight.shape == block.up.weight.shape == (10, 6)
    assert block.down.weight.shape == (6, 10)
    assert all(layer.bias is None for layer in (block.gate, block.up, block.down))
    assert SwiGLU(6).hidden == swiglu_hidden(6)


@settings(max_examples=40, deadline=None)
@given(
    lead=st.lists(st.integers(0, 3), max_size=2),
    dim=st.integers(1, 12),
    hidden=st.integers(1, 20),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 2**16),
)
def test_swiglu_equals_the_formula_with_the_same_weights(lead, dim, hidden, dtype, seed):
    torch.manual_seed(seed)
    block = SwiGLU(dim, hidden).to(dtype)
    x = torch.randn(*lead, dim, dtype=dtype, requires_grad=True)
    w_gate, w_up, w_down = block.gate.weight, block.up.weight, block.down.weight
    expected = (F.silu(x @ w_gate.T) * (x @ w_up.T)) @ w_down.T
    out = block(x)
    assert out.shape == x.shape and out.dtype == dtype
    torch.testing.assert_close(out, expected)
    sigmoid_form = ((x @ w_gate.T) * torch.sigmoid(x @ w_gate.T) * (x @ w_up.T)) @ w_down.T
    torch.testing.assert_close(out, sigmoid_form)  # silu(z) = z * sigmoid(z)
    grads = torch.autograd.grad(out.sum(), (x, w_gate, w_up, w_down))
    grads_expected = torch.autograd.grad(expected.sum(), (x, w_gate, w_up, w_down))
    for a, b in zip(grads, grads_expected):
        torch.testing.assert_close(a, b)


def test_a_closed_gate_blocks_the_unit():
    block = SwiGLU(4, hidden=3)
    with torch.no_grad():
        block.gate.weight.zero_()  # silu(0) = 0: every hidden unit is shut
    assert (block(torch.randn(5, 4)) == 0).all()


@pytest.mark.parametrize(
    ("call", "error", "words"),
    [
        (lambda: SwiGLU(0), ValueError, "dim"),
        (lambda: SwiGLU(4.0), TypeError, "dim"),
        (lambda: SwiGLU(True), TypeError, "dim"),
        (lambda: SwiGLU(4, hidden=0), ValueError, "hidden"),
        (lambda: SwiGLU(4, hidden=2.5), TypeError, "hidden"),
        (lambda: swiglu_hidden(-3), ValueError, "dim"),
        (lambda: swiglu_hidden(8, multiple_of=0), ValueError, "multiple_of"),
        (lambda: SwiGLU(4)(torch.randn(2, 5)), ValueError, "x"),
        (lambda: SwiGLU(4)(torch.ones(2, 4, dtype=torch.int64)), TypeError, "x"),
        (lambda: SwiGLU(4)(torch.randn(2, 4, dtype=torch.float64)), TypeError, "x"),
        (lambda: SwiGLU(4)([[1.0, 2.0, 3.0, 4.0]]), TypeError, "x"),
    ],
)
def test_bad_input_names_the_argument(call, error, words):
    with pytest.raises(error, match=words):
        call()
