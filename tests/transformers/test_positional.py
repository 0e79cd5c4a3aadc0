"""Sinusoidal and learned positions."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.transformers.positional import (
    LearnedPositionalEmbedding,
    SinusoidalPositionalEncoding,
    relative_shift,
    sinusoidal_encoding,
)


def test_table_matches_the_paper_formula_entry_by_entry():
    table = sinusoidal_encoding(20, 8)
    for pos in (0, 3, 19):
        for i in range(4):
            angle = pos / 10000 ** (2 * i / 8)
            assert table[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-5)
            assert table[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-5)


def test_table_values_are_bounded_and_rows_distinct():
    table = sinusoidal_encoding(100, 16)
    assert table.abs().max() <= 1.0
    distances = torch.cdist(table, table) + torch.eye(100)
    assert distances.min() > 1e-3


@given(pos=st.integers(0, 200), k=st.integers(-50, 50), half=st.integers(1, 16))
def test_shift_by_k_is_one_fixed_rotation(pos, k, half):
    d = 2 * half
    if pos + k < 0:
        k = -pos
    table = sinusoidal_encoding(pos + max(k, 0) + 1, d)
    torch.testing.assert_close(
        relative_shift(k, d) @ table[pos], table[pos + k], atol=1e-4, rtol=1e-4
    )


@given(a=st.integers(0, 100), b=st.integers(0, 100), k=st.integers(0, 30))
def test_dot_product_depends_only_on_the_offset(a, b, k):
    table = sinusoidal_encoding(140, 32)
    torch.testing.assert_close(table[a] @ table[a + k], table[b] @ table[b + k], atol=1e-4, rtol=0)


def test_modules_add_positions_to_embeddings():
    x = torch.randn(2, 5, 8)
    fixed = SinusoidalPositionalEncoding(8, max_len=10)
    torch.testing.assert_close(fixed(x), x + sinusoidal_encoding(5, 8))
    assert "table" not in fixed.state_dict()  # a fixed buffer, not a parameter
    learned = LearnedPositionalEmbedding(8, max_len=10)
    torch.testing.assert_close(learned(x), x + learned.embedding.weight[:5])
    assert learned.embedding.weight.requires_grad


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="d_model must be even"):
        sinusoidal_encoding(4, 7)
    with pytest.raises(ValueError, match="length must be > 0"):
        sinusoidal_encoding(0, 8)
    with pytest.raises(ValueError, match="more than max_len=4"):
        SinusoidalPositionalEncoding(8, max_len=4)(torch.randn(1, 5, 8))
    with pytest.raises(ValueError, match="x must have size 8 in dimension 2"):
        LearnedPositionalEmbedding(8, max_len=4)(torch.randn(1, 3, 6))
    with pytest.raises(ValueError, match="more than max_len=4"):
        LearnedPositionalEmbedding(8, max_len=4)(torch.randn(1, 5, 8))


def test_modules_follow_their_dtype_and_reject_another():
    x = torch.randn(2, 5, 8, dtype=torch.float64)
    fixed = SinusoidalPositionalEncoding(8, max_len=10).double()
    torch.testing.assert_close(fixed(x), x + sinusoidal_encoding(5, 8).double())
    learned = LearnedPositionalEmbedding(8, max_len=10)
    # float64 into a float32 module was silently promoted; float16 silently became float32
    with pytest.raises(TypeError, match="x must have dtype torch.float32, got torch.float64"):
        learned(x)
    with pytest.raises(TypeError, match="x must have dtype torch.float32, got torch.float16"):
        SinusoidalPositionalEncoding(8, max_len=10)(x.half())
    assert learned.double()(x).dtype == torch.float64
    assert fixed(x[:0]).shape == (0, 5, 8) and fixed(x[:, :0]).shape == (2, 0, 8)
