"""Attention from scratch against PyTorch's functional and module versions."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.transformers.attention import (
    MultiHeadAttention,
    causal_mask,
    padding_mask,
    scaled_dot_product_attention,
    to_additive,
)


def _qkv(n=2, h=3, length=5, source=7, e=8, ev=4):
    return torch.randn(n, h, length, e), torch.randn(n, h, source, e), torch.randn(n, h, source, ev)


def test_sdpa_matches_torch_without_mask():
    q, k, v = _qkv()
    out, weights = scaled_dot_product_attention(q, k, v)
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, k, v))
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3, 5))


def test_sdpa_matches_torch_with_boolean_and_additive_masks():
    q, k, v = _qkv()
    allowed = torch.rand(5, 7) > 0.3
    allowed[:, 0] = True  # every query keeps one key
    expected = F.scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, attn_mask=allowed)[0], expected
    )
    additive = to_additive(~allowed)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, attn_mask=additive)[0], expected
    )
    bias = torch.randn(5, 7)  # any float mask is added to the scores
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, attn_mask=bias)[0],
        F.scaled_dot_product_attention(q, k, v, attn_mask=bias),
    )


def test_sdpa_causal_flag_and_scale_match_torch():
    q, k, v = _qkv(source=5)
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, is_causal=True)[0],
        F.scaled_dot_product_attention(q, k, v, is_causal=True),
    )
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v, scale=0.5)[0],
        F.scaled_dot_product_attention(q, k, v, scale=0.5),
    )


def test_sdpa_gradients_match_torch():
    q, k, v = (t.requires_grad_() for t in _qkv())
    scaled_dot_product_attention(q, k, v)[0].sum().backward()
    ours = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    F.scaled_dot_product_attention(q, k, v).sum().backward()
    for mine, theirs in zip(ours, (q.grad, k.grad, v.grad)):
        torch.testing.assert_close(mine, theirs)


def test_fully_masked_row_gives_zeros_not_nan():
    q, k, v = _qkv()
    allowed = torch.ones(5, 7, dtype=torch.bool)
    allowed[2] = False
    out, weights = scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    assert not out.isnan().any()
    assert (weights[..., 2, :] == 0).all()


@settings(max_examples=25)
@given(
    length=st.integers(2, 8),
    t=st.integers(0, 7),
    seed=st.integers(0, 1000),
)
def test_causal_output_ignores_the_future(length, t, seed):
    t = min(t, length - 1)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 2, length, 4, generator=gen)
    changed = x.clone()
    changed[..., t + 1 :, :] = torch.randn(changed[..., t + 1 :, :].shape, generator=gen)
    before = scaled_dot_product_attention(x, x, x, is_causal=True)[0]
    after = scaled_dot_product_attention(changed, changed, changed, is_causal=True)[0]
    torch.testing.assert_close(before[..., : t + 1, :], after[..., : t + 1, :])


@settings(max_examples=25)
@given(lengths=st.lists(st.integers(1, 6), min_size=1, max_size=4), seed=st.integers(0, 1000))
def test_padded_keys_get_zero_weight(lengths, seed):
    torch.manual_seed(seed)
    source = max(lengths) + 1
    ids = torch.zeros(len(lengths), source, dtype=torch.int64)
    for row, n in enumerate(lengths):
        ids[row, :n] = torch.randint(1, 9, (n,))
    pad = padding_mask(ids)
    mha = MultiHeadAttention(8, 2).eval()
    x = torch.randn(len(lengths), source, 8)
    _, weights = mha(x, x, x, key_padding_mask=pad, average_attn_weights=False)
    assert (weights.masked_select(pad[:, None, None, :].expand_as(weights)) == 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones_like(weights.sum(-1)))


@pytest.mark.parametrize("bias", [True, False])
def test_multi_head_matches_torch_with_copied_weights(bias):
    reference = nn.MultiheadAttention(16, 4, batch_first=True, bias=bias).eval()
    ours = MultiHeadAttention(16, 4, bias=bias).eval()
    ours.load_state_dict(reference.state_dict())
    query, memory = torch.randn(3, 5, 16), torch.randn(3, 6, 16)
    pad = torch.zeros(3, 6, dtype=torch.bool)
    pad[1, 4:] = True
    mask = torch.rand(5, 6) > 0.8
    mask[:, 0] = False
    expected = reference(query, memory, memory, key_padding_mask=pad, attn_mask=mask)
    got = ours(query, memory, memory, key_padding_mask=pad, attn_mask=mask)
    torch.testing.assert_close(got[0], expected[0])
    torch.testing.assert_close(got[1], expected[1])
    per_head = reference(query, memory, memory, average_attn_weights=False)[1]
    torch.testing.assert_close(ours(query, memory, memory, average_attn_weights=False)[1], per_head)


def test_multi_head_float_mask_and_per_head_mask_match_torch():
    reference = nn.MultiheadAttention(8, 2, batch_first=True).eval()
    ours = MultiHeadAttention(8, 2).eval()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 4, 8)
    float_mask = torch.randn(4, 4)
    torch.testing.assert_close(
        ours(x, x, x, attn_mask=float_mask)[0], reference(x, x, x, attn_mask=float_mask)[0]
    )
    per_head = torch.rand(2 * 2, 4, 4) > 0.7
    per_head[..., 0] = False
    torch.testing.assert_close(
        ours(x, x, x, attn_mask=per_head)[0], reference(x, x, x, attn_mask=per_head)[0]
    )
    causal = causal_mask(4)
    torch.testing.assert_close(
        ours(x, x, x, is_causal=True)[0], reference(x, x, x, attn_mask=causal, is_causal=True)[0]
    )


def test_causal_mask_matches_torch_square_subsequent_mask():
    expected = nn.Transformer.generate_square_subsequent_mask(5)
    torch.testing.assert_close(to_additive(causal_mask(5)), expected)


def test_padding_mask_marks_pad_positions():
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    assert padding_mask(ids).tolist() == [[False, False, True], [False, True, True]]


def test_bad_inputs_are_named():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="key must have size 8"):
        scaled_dot_product_attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match="value must have size 7"):
        scaled_dot_product_attention(q, k, v[..., :3, :])
    with pytest.raises(TypeError, match="query must have a floating-point dtype"):
        scaled_dot_product_attention(q.long(), k, v)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(5, 7), is_causal=True)
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="query must have 3 dimensions"):
        MultiHeadAttention(8, 2)(torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8))
    with pytest.raises(ValueError, match="size must be > 0"):
        causal_mask(0)
    with pytest.raises(TypeError, match="ids must have dtype"):
        padding_mask(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="mask must have dtype torch.bool"):
        to_additive(torch.zeros(2, 2))
