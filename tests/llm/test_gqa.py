"""Grouped-query attention against PyTorch's GQA kernel, multi-head attention and a KV cache."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.llm.gqa import GroupedQueryAttention, kv_cache_bytes
from snippets.llm.rope import apply_rope


def _split(t, n, length, heads, head_dim):
    return t.view(n, length, heads, head_dim).transpose(1, 2)


def _reference(m, x, causal=True, rotate=None):
    """The same projections, attended by F.scaled_dot_product_attention(enable_gqa=True)."""
    n, length, _ = x.shape
    q = _split(m.q(x), n, length, m.heads, m.head_dim)
    k = _split(m.k(x), n, length, m.kv_heads, m.head_dim)
    v = _split(m.v(x), n, length, m.kv_heads, m.head_dim)
    if rotate is not None:
        q, k = rotate(q), rotate(k)
    out = F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
    return m.out(out.transpose(1, 2).reshape(n, length, m.dim)), k, v


@st.composite
def gqa_cases(draw, odd_head_dim=True):
    kv_heads, group = draw(st.integers(1, 3)), draw(st.integers(1, 3))
    head_dim = draw(st.integers(1, 4)) if odd_head_dim else 2 * draw(st.integers(1, 3))
    heads = kv_heads * group
    n, length = draw(st.integers(1, 3)), draw(st.integers(1, 6))
    dtype = draw(st.sampled_from([torch.float32, torch.float64]))
    seed = draw(st.integers(0, 2**16))
    return n, length, heads, kv_heads, head_dim, dtype, seed


def _model_and_input(case, rope=False):
    n, length, heads, kv_heads, head_dim, dtype, seed = case
    torch.manual_seed(seed)
    m = GroupedQueryAttention(heads * head_dim, heads, kv_heads, rope=rope).to(dtype)
    return m, torch.randn(n, length, heads * head_dim, dtype=dtype)


@settings(max_examples=60, deadline=None)
@given(case=gqa_cases(), causal=st.booleans())
def test_matches_torch_sdpa_with_enable_gqa(case, causal):
    m, x = _model_and_input(case)
    out, (k, v) = m(x, causal=causal)
    expected, k_ref, v_ref = _reference(m, x, causal=causal)
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(k, k_ref)
    torch.testing.assert_close(v, v_ref)


@settings(max_examples=30, deadline=None)
@given(case=gqa_cases(odd_head_dim=False))
def test_rope_matches_torch_sdpa_with_rope_applied_by_hand(case):
    m, x = _model_and_input(case, rope=True)
    positions = torch.arange(x.shape[1])
    out, (k, _) = m(x)
    expected, k_ref, _ = _reference(m, x, rotate=lambda t: apply_rope(t, positions))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(k, k_ref)  # the cache holds rotated keys


def test_rope_uses_the_positions_given():
    torch.manual_seed(0)
    m = GroupedQueryAttention(16, 4, 2)
    x = torch.randn(2, 3, 16)
    positions = torch.tensor([5, 9, 11])
    out, (k, _) = m(x, positions=positions)
    expected, k_ref, _ = _reference(m, x, rotate=lambda t: apply_rope(t, positions))
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(k, k_ref)
    assert not torch.allclose(out, m(x)[0])  # other positions, other output


@pytest.mark.parametrize("causal", [True, False])
def test_equal_heads_is_torch_multi_head_attention(causal):
    torch.manual_seed(0)
    dim, heads, n, length = 12, 3, 2, 5
    m = GroupedQueryAttention(dim, heads, kv_heads=heads, rope=False)
    mha = nn.MultiheadAttention(dim, heads, bias=False, batch_first=True)
    with torch.no_grad():
        mha.in_proj_weight.copy_(torch.cat([m.q.weight, m.k.weight, m.v.weight]))
        mha.out_proj.weight.copy_(m.out.weight)
    x = torch.randn(n, length, dim)
    mask = torch.ones(length, length, dtype=torch.bool).triu(diagonal=1) if causal else None
    expected, _ = mha(x, x, x, attn_mask=mask, need_weights=False)
    torch.testing.assert_close(m(x, causal=causal)[0], expected)


def test_one_kv_head_is_multi_query_attention():
    torch.manual_seed(0)
    dim, heads, n, length = 16, 4, 2, 5
    m = GroupedQueryAttention(dim, heads, kv_heads=1, rope=False)
    assert m.k.weight.shape == m.v.weight.shape == (dim // heads, dim)  # one head of keys
    x = torch.randn(n, length, dim)
    out, (k, v) = m(x)
    assert k.shape == v.shape == (n, 1, length, dim // heads)
    # every query head reads the same single key/value head (broadcast over the heads)
    q = _split(m.q(x), n, length, heads, dim // heads)
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(out, m.out(expected.transpose(1, 2).reshape(n, length, dim)))


@settings(max_examples=40, deadline=None)
@given(case=gqa_cases(odd_head_dim=False), rope=st.booleans(), data=st.data())
def test_one_token_at_a_time_with_the_cache_equals_all_at_once(case, rope, data):
    m, x = _model_and_input(case, rope=rope)
    full, (k_full, v_full) = m(x)
    length = x.shape[1]
    cuts = sorted(data.draw(st.sets(st.integers(1, length - 1))) if length > 1 else set())
    pieces, past = [], None
    for start, stop in zip([0, *cuts], [*cuts, length]):  # chunks; single tokens included
        out, past = m(x[:, start:stop], past=past)
        pieces.append(out)
    torch.testing.assert_close(torch.cat(pieces, dim=1), full)
    torch.testing.assert_close(past[0], k_full)
    torch.testing.assert_close(past[1], v_full)


def test_token_by_token_decoding_equals_all_at_once():
    torch.manual_seed(0)
    m = GroupedQueryAttention(32, 8, 2, rope=False)
    x = torch.randn(2, 7, 32)
    full, (k_full, v_full) = m(x)
    past, steps = None, []
    for t in range(x.shape[1]):
        out, past = m(x[:, t : t + 1], past=past)
        assert past[0].shape == (2, 2, t + 1, 4)
        steps.append(out)
    torch.testing.assert_close(torch.cat(steps, dim=1), full)
    torch.testing.assert_close(past, (k_full, v_full))


def test_causal_output_ignores_later_tokens_also_after_a_past():
    torch.manual_seed(0)
    m = GroupedQueryAttention(16, 4, 2, rope=False)
    _, past = m(torch.randn(1, 3, 16))
    x = torch.randn(1, 4, 16)
    changed = x.clone()
    changed[:, 2:] = torch.randn(1, 2, 16)
    a, b = m(x, past=past)[0], m(changed, past=past)[0]
    torch.testing.assert_close(a[:, :2], b[:, :2])
    assert not torch.allclose(a[:, 2:], b[:, 2:])
    # without the causal mask every query reads every key, later ones included
    assert not torch.allclose(m(x, causal=False)[0][:, :2], m(changed, causal=False)[0][:, :2])


def test_gradients_match_torch_sdpa():
    torch.manual_seed(0)
    m = GroupedQueryAttention(24, 6, 3, rope=False).double()
    x = torch.randn(2, 5, 24, dtype=torch.float64, requires_grad=True)
    m(x)[0].square().sum().backward()
    grads = [x.grad.clone()] + [p.grad.clone() for p in m.parameters()]
    x.grad = None
    m.zero_grad()
    _reference(m, x)[0].square().sum().backward()
    for got, want in zip(grads, [x.grad] + [p.grad for p in m.parameters()]):
        torch.testing.assert_close(got, want)


def test_parameter_counts_shrink_with_fewer_kv_heads():
    def count(kv_heads):
        return sum(p.numel() for p in GroupedQueryAttention(64, 8, kv_heads).parameters())

    assert count(8) == 4 * 64 * 64  # multi-head: four dim × dim matrices
    assert count(2) == 2 * 64 * 64 + 2 * 64 * 16
    assert count(1) == 2 * 64 * 64 + 2 * 64 * 8


@pytest.mark.parametrize(
    ("args", "error", "match"),
    [
        ((16, 4, 3), ValueError, "heads must be divisible by kv_heads"),
        ((18, 4, 2), ValueError, "dim must be divisible by heads"),
        ((0, 4, 2), ValueError, "dim must be > 0"),
        ((16, 4, 0), ValueError, "kv_heads must be > 0"),
        ((16.0, 4, 2), TypeError, "dim must be an int"),
        ((12, 4, 2), ValueError, "even head_dim"),
    ],
)
def test_bad_constructor_arguments_are_named(args, error, match):
    with pytest.raises(error, match=match):
        GroupedQueryAttention(*args)


def _past(n=2, kv_heads=2, s=3, head_dim=4, dtype=torch.float32):
    return torch.randn(n, kv_heads, s, head_dim, dtype=dtype), torch.randn(
        n, kv_heads, s, head_dim, dtype=dtype
    )


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"x": torch.randn(5, 16)}, ValueError, "x must have 3 dimensions"),
        ({"x": torch.randn(2, 5, 12)}, ValueError, r"x must be \[N, T, dim\] with dim = 16"),
        ({"x": [[1.0]]}, TypeError, "x must be a torch.Tensor"),
        ({"x": torch.randn(2, 5, 16).double()}, TypeError, "x must have the parameters' dtype"),
        ({"past": _past(n=3)}, ValueError, r"past\[0\] \(k\) must have shape"),
        ({"past": _past(kv_heads=4)}, ValueError, r"past\[0\] \(k\) must have shape"),
        ({"past": _past(head_dim=2)}, ValueError, r"past\[0\] \(k\) must have shape"),
        ({"past": (_past()[0], _past(s=4)[1])}, ValueError, r"past\[1\] \(v\) must have shape"),
        ({"past": _past()[0]}, TypeError, "past must be a"),
        ({"past": (_past()[0], None)}, TypeError, r"past\[1\] \(v\) must be a torch.Tensor"),
        ({"past": _past(dtype=torch.float64)}, TypeError, r"past\[0\] \(k\) must have the"),
        ({"positions": torch.arange(4)}, ValueError, "positions must have one entry per token"),
        ({"positions": torch.arange(5.0)}, TypeError, "positions must be an integer tensor"),
        ({"positions": torch.arange(5)[None]}, ValueError, "positions must have 1 dimension,"),
    ],
)
def test_bad_forward_inputs_are_named(kwargs, error, match):
    m = GroupedQueryAttention(16, 4, 2, rope=False)
    kwargs = {"x": torch.randn(2, 5, 16), **kwargs}
    with pytest.raises(error, match=match):
        m(**kwargs)


def test_kv_cache_bytes_against_a_hand_count():
    # Llama-2-7B-like: 32 layers, 32 heads of 128, 4096 tokens, fp16 (2 bytes)
    per_token_per_layer = 2 * 32 * 128 * 2  # a key and a value of 32·128 numbers, 2 bytes each
    assert per_token_per_layer == 16384
    assert kv_cache_bytes(32, 32, 128, 4096) == 32 * 4096 * per_token_per_layer == 2 * 2**30
    assert kv_cache_bytes(32, 8, 128, 4096) == 2**30 // 2  # GQA-8: a quarter
    assert kv_cache_bytes(32, 1, 128, 4096) == 2**30 // 16  # MQA: 1/32
    assert kv_cache_bytes(1, 1, 1, 1, batch=3, bytes_per_number=4) == 2 * 3 * 4
    assert kv_cache_bytes(32, 8, 128, 0) == 0


def test_kv_cache_bytes_is_the_size_of_the_cache_the_module_returns():
    m = GroupedQueryAttention(32, 8, 2, rope=False).half()
    _, (k, v) = m(torch.randn(3, 5, 32).half(), causal=False)
    held = k.numel() * k.element_size() + v.numel() * v.element_size()
    assert held == kv_cache_bytes(1, 2, 4, 5, batch=3, bytes_per_number=2)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"layers": 0}, ValueError, "layers must be > 0"),
        ({"length": -1}, ValueError, "length must be >= 0"),
        ({"head_dim": 1.5}, TypeError, "head_dim must be an int"),
        ({"batch": True}, TypeError, "batch must be an int"),
    ],
)
def test_kv_cache_bytes_bad_arguments(kwargs, error, match):
    args = {"layers": 2, "kv_heads": 2, "head_dim": 4, "length": 8, **kwargs}
    with pytest.raises(error, match=match):
        kv_cache_bytes(**args)


@settings(max_examples=30, deadline=None)
@given(case=gqa_cases(odd_head_dim=False), causal=st.booleans(), past_len=st.integers(0, 3))
def test_fused_path_equals_from_scratch_outputs_cache_and_gradients(case, causal, past_len):
    scratch, x = _model_and_input(case, rope=True)
    fused = GroupedQueryAttention(scratch.dim, scratch.heads, scratch.kv_heads, fused=True)
    fused = fused.to(x.dtype)
    fused.load_state_dict(scratch.state_dict())
    n, dtype = x.shape[0], x.dtype
    past = tuple(
        torch.randn(n, scratch.kv_heads, past_len, scratch.head_dim, dtype=dtype) for _ in "kv"
    )
    past = past if past_len else None
    x1, x2 = x.clone().requires_grad_(), x.clone().requires_grad_()
    out, (k, v) = scratch(x1, past=past, causal=causal)
    got, (k2, v2) = fused(x2, past=past, causal=causal)
    torch.testing.assert_close(got, out)
    torch.testing.assert_close((k2, v2), (k, v))
    out.square().sum().backward()
    got.square().sum().backward()
    torch.testing.assert_close(x2.grad, x1.grad)
    torch.testing.assert_close(fused.q.weight.grad, scratch.q.weight.grad)
