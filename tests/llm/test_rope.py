"""Rotary position embeddings: both layouts, the complex reference and the relative property."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.llm.rope import (
    apply_rope,
    halves_to_pairs_permutation,
    rope_angles,
    rotate_complex,
)

HEAD_DIMS = st.integers(1, 16).map(lambda h: 2 * h)


def test_rope_angles_shape_and_frequencies():
    angles = rope_angles(8, torch.tensor([0, 1, 3]), base=10000.0)
    assert angles.shape == (3, 4) and angles.dtype == torch.float64
    frequencies = torch.tensor([1.0, 0.1, 0.01, 0.001], dtype=torch.float64)
    torch.testing.assert_close(angles[1], frequencies)
    torch.testing.assert_close(angles[2], 3 * frequencies)
    assert angles[0].eq(0).all()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_pairs_layout_equals_complex_rotation(dtype):
    x = torch.randn(2, 3, 7, 16, dtype=dtype)
    positions = torch.tensor([0, 1, 2, 5, 10, 100, 4095])
    out = apply_rope(x, positions, layout="pairs")
    assert out.dtype == dtype and out.shape == x.shape
    torch.testing.assert_close(out, rotate_complex(x, positions))


def test_one_pair_by_hand():
    """Pair (1, 0) at position 3 turns by 3 radians in both layouts and in complex form."""
    x = torch.tensor([[1.0, 0.0]], dtype=torch.float64)
    expected = torch.tensor([[3.0]], dtype=torch.float64)
    expected = torch.cat((expected.cos(), expected.sin()), dim=-1)
    for out in (
        rotate_complex(x, torch.tensor([3])),
        apply_rope(x, torch.tensor([3]), layout="pairs"),
        apply_rope(x, torch.tensor([3]), layout="halves"),
    ):
        torch.testing.assert_close(out, expected)


@settings(max_examples=40, deadline=None)
@given(head_dim=HEAD_DIMS, seed=st.integers(0, 2**16), length=st.integers(1, 6))
def test_halves_equals_pairs_after_permutation_and_back(head_dim, seed, length):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(2, length, head_dim, generator=gen, dtype=torch.float64)
    positions = torch.randint(0, 5000, (length,), generator=gen)
    perm = halves_to_pairs_permutation(head_dim)
    assert sorted(perm.tolist()) == list(range(head_dim))
    halves = apply_rope(x, positions, layout="halves")
    pairs = apply_rope(x[..., perm], positions, layout="pairs")
    torch.testing.assert_close(halves[..., perm], pairs)
    back = perm.argsort()
    torch.testing.assert_close(pairs[..., back], halves)
    torch.testing.assert_close(halves[..., perm], rotate_complex(x[..., perm], positions))


def test_permutation_on_head_dim_8():
    assert halves_to_pairs_permutation(8).tolist() == [0, 4, 1, 5, 2, 6, 3, 7]


def test_permuting_projection_rows_converts_a_model():
    """Reordering each head's output rows of a q projection turns halves into pairs."""
    heads, head_dim, dim, length = 2, 8, 16, 5
    weight = torch.randn(heads * head_dim, dim, dtype=torch.float64)
    x = torch.randn(length, dim, dtype=torch.float64)
    positions = torch.arange(length)
    perm = halves_to_pairs_permutation(head_dim)
    permuted = weight.view(heads, head_dim, dim)[:, perm].reshape(heads * head_dim, dim)
    q_halves = (x @ weight.T).view(length, heads, head_dim).transpose(0, 1)
    q_pairs = (x @ permuted.T).view(length, heads, head_dim).transpose(0, 1)
    k = torch.randn(heads, length, head_dim, dtype=torch.float64)
    rotated_halves = apply_rope(q_halves, positions, layout="halves")
    rotated_pairs = apply_rope(q_pairs, positions, layout="pairs")
    k_halves = apply_rope(k, positions, layout="halves")
    k_pairs = apply_rope(k[..., perm], positions, layout="pairs")
    torch.testing.assert_close(rotated_halves @ k_halves.mT, rotated_pairs @ k_pairs.mT)


@pytest.mark.parametrize("layout", ["halves", "pairs"])
def test_norms_preserved_and_position_zero_is_identity(layout):
    x = torch.randn(3, 4, 6, 32, dtype=torch.float64)
    positions = torch.tensor([0, 7, 300, 123456, 1, 2])
    out = apply_rope(x, positions, layout=layout)
    torch.testing.assert_close(out.norm(dim=-1), x.norm(dim=-1))
    torch.testing.assert_close(out[..., 0, :], x[..., 0, :], rtol=0, atol=0)


@pytest.mark.parametrize("layout", ["halves", "pairs"])
def test_low_precision_keeps_dtype(layout):
    x = torch.randn(2, 4, 8, dtype=torch.bfloat16)
    out = apply_rope(x, torch.arange(4), layout=layout)
    assert out.dtype == torch.bfloat16
    expected = apply_rope(x.double(), torch.arange(4), layout=layout)
    torch.testing.assert_close(out.double(), expected, rtol=2e-2, atol=2e-2)


@settings(max_examples=80, deadline=None)
@given(
    head_dim=HEAD_DIMS,
    i=st.integers(0, 2000),
    j=st.integers(0, 2000),
    shift=st.integers(-2000, 2000),
    seed=st.integers(0, 2**16),
    layout=st.sampled_from(["halves", "pairs"]),
    base=st.sampled_from([10000.0, 500000.0, 10.0]),
)
def test_score_depends_only_on_offset(head_dim, i, j, shift, seed, layout, base):
    gen = torch.Generator().manual_seed(seed)
    q, k = torch.randn(2, 1, head_dim, generator=gen, dtype=torch.float64)
    shift = max(shift, -min(i, j))  # positions stay >= 0

    def score(m, n):
        rq = apply_rope(q, torch.tensor([m]), base, layout)
        rk = apply_rope(k, torch.tensor([n]), base, layout)
        return (rq * rk).sum()

    torch.testing.assert_close(score(i + shift, j + shift), score(i, j), rtol=1e-9, atol=1e-9)


def test_score_at_equal_positions_is_the_plain_dot_product():
    q, k = torch.randn(2, 1, 16, dtype=torch.float64)
    for m in (0, 5, 999):
        p = torch.tensor([m])
        torch.testing.assert_close((apply_rope(q, p) * apply_rope(k, p)).sum(), (q * k).sum())


def test_bad_inputs_are_named():
    x = torch.randn(2, 5, 8)
    positions = torch.arange(5)
    with pytest.raises(ValueError, match="head_dim"):
        apply_rope(torch.randn(2, 5, 7), positions)
    with pytest.raises(ValueError, match="head_dim"):
        rope_angles(7, positions)
    with pytest.raises(ValueError, match="head_dim"):
        halves_to_pairs_permutation(5)
    with pytest.raises(TypeError, match="head_dim"):
        halves_to_pairs_permutation(4.0)
    with pytest.raises(TypeError, match="positions"):
        apply_rope(x, torch.arange(5.0))
    with pytest.raises(ValueError, match="positions"):
        apply_rope(x, torch.arange(5)[None])
    with pytest.raises(TypeError, match="positions"):
        apply_rope(x, [0, 1, 2, 3, 4])
    with pytest.raises(ValueError, match="positions has 4, x has 5"):
        apply_rope(x, torch.arange(4))
    with pytest.raises(ValueError, match="layout"):
        apply_rope(x, positions, layout="interleaved")
    with pytest.raises(TypeError, match="x"):
        apply_rope(torch.ones(2, 5, 8, dtype=torch.int64), positions)
    with pytest.raises(ValueError, match="x"):
        apply_rope(torch.randn(8), positions)
    with pytest.raises(ValueError, match="base"):
        apply_rope(x, positions, base=0.0)
    with pytest.raises(TypeError, match="x"):
        rotate_complex(x.half(), positions)
    with pytest.raises(ValueError, match="positions has 4, x has 5"):
        rotate_complex(x, torch.arange(4))
