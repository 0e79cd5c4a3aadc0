"""Attention from scratch against PyTorch's functional and module versions."""

from __future__ import annotations

import warnings

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from snippets.transformers.attention import (
    MultiHeadAttention,
    attention_cost,
    causal_mask,
    check_attention_masks,
    padding_mask,
    scaled_dot_product_attention,
    to_additive,
    use_fused_attention,
)

DTYPES = st.sampled_from([torch.float32, torch.float64])


def _qkv(n=2, h=3, length=5, source=7, e=8, ev=4):
    return torch.randn(n, h, length, e), torch.randn(n, h, source, e), torch.randn(n, h, source, ev)


def _torch_weights(q, k, attn_mask=None, is_causal=False, scale=None):
    """PyTorch's attention weights: its output when the values are the identity matrix."""
    source = k.shape[-2]
    eye = torch.eye(source, dtype=q.dtype).expand(*k.shape[:-2], source, source)
    return F.scaled_dot_product_attention(
        q, k, eye, attn_mask=attn_mask, is_causal=is_causal, scale=scale
    )


@st.composite
def sdpa_cases(draw):
    """Random shapes (batch and lengths down to 0 and 1), dtypes, masks and scales."""
    n, h = draw(st.integers(0, 3)), draw(st.integers(1, 3))
    length, source = draw(st.integers(0, 5)), draw(st.integers(0, 6))
    e, ev = draw(st.integers(1, 8)), draw(st.integers(1, 5))
    dtype = draw(DTYPES)
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    q = torch.randn(n, h, length, e, generator=gen, dtype=dtype)
    k = torch.randn(n, h, source, e, generator=gen, dtype=dtype)
    v = torch.randn(n, h, source, ev, generator=gen, dtype=dtype)
    kind = draw(st.sampled_from(["none", "causal", "bool", "bool per head", "float", "-inf"]))
    mask, is_causal = None, False
    if kind == "causal":
        is_causal = True
    elif kind == "bool":  # [L, S], shared by the batch and the heads
        mask = torch.rand(length, source, generator=gen) > 0.4
    elif kind == "bool per head":  # [N, H, L, S]
        mask = torch.rand(n, h, length, source, generator=gen) > 0.4
    elif kind == "float":  # any float mask is added to the scores
        mask = torch.randn(n, 1, length, source, generator=gen, dtype=dtype)
    elif kind == "-inf":  # additive: 0 allowed, -inf blocked (whole rows may be blocked)
        mask = to_additive(torch.rand(length, source, generator=gen) > 0.5, dtype)
    scale = draw(st.sampled_from([None, 0.3, 2.0]))
    return q, k, v, mask, is_causal, scale


@settings(max_examples=80, deadline=None)
@given(case=sdpa_cases())
def test_sdpa_matches_torch_on_random_shapes_masks_and_dtypes(case):
    q, k, v, mask, is_causal, scale = case
    out, weights = scaled_dot_product_attention(q, k, v, mask, is_causal, scale)
    expected = F.scaled_dot_product_attention(q, k, v, mask, is_causal=is_causal, scale=scale)
    assert out.dtype == expected.dtype and weights.shape == (*q.shape[:-1], k.shape[-2])
    torch.testing.assert_close(out, expected)
    torch.testing.assert_close(weights, _torch_weights(q, k, mask, is_causal, scale))


def test_sdpa_broadcasts_leading_dimensions_like_torch():
    q = torch.randn(2, 3, 4, 8)
    k, v = torch.randn(1, 3, 5, 8), torch.randn(3, 5, 6)  # one key/value set for the batch
    torch.testing.assert_close(
        scaled_dot_product_attention(q, k, v)[0], F.scaled_dot_product_attention(q, k, v)
    )


def test_sdpa_gradients_match_torch():
    q, k, v = (t.double().requires_grad_() for t in _qkv())
    allowed = torch.rand(5, 7) > 0.3
    scaled_dot_product_attention(q, k, v, allowed)[0].sum().backward()
    ours = [t.grad.clone() for t in (q, k, v)]
    for t in (q, k, v):
        t.grad = None
    F.scaled_dot_product_attention(q, k, v, allowed).sum().backward()
    for mine, theirs in zip(ours, (q.grad, k.grad, v.grad)):
        torch.testing.assert_close(mine, theirs)


def test_fully_masked_row_gives_zeros_not_nan_and_leaves_the_others():
    q, k, v = _qkv()
    allowed = torch.ones(5, 7, dtype=torch.bool)
    allowed[2] = False
    out, weights = scaled_dot_product_attention(q, k, v, attn_mask=allowed)
    assert not out.isnan().any()
    assert (weights[..., 2, :] == 0).all() and (out[..., 2, :] == 0).all()
    torch.testing.assert_close(weights.sum(-1)[..., [0, 1, 3, 4]], torch.ones(2, 3, 4))
    nan_query = q.clone()
    nan_query[0, 0, 0, 0] = float("nan")  # a NaN elsewhere must stay visible, not be zeroed
    assert (
        scaled_dot_product_attention(nan_query, k, v, attn_mask=allowed)[0][0, 0, 0].isnan().all()
    )


@settings(max_examples=25, deadline=None)
@given(length=st.integers(2, 8), t=st.integers(0, 7), seed=st.integers(0, 1000))
def test_causal_output_ignores_the_future(length, t, seed):
    t = min(t, length - 1)
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(1, 2, length, 4, generator=gen)
    changed = x.clone()
    changed[..., t + 1 :, :] = torch.randn(changed[..., t + 1 :, :].shape, generator=gen)
    before = scaled_dot_product_attention(x, x, x, is_causal=True)[0]
    after = scaled_dot_product_attention(changed, changed, changed, is_causal=True)[0]
    torch.testing.assert_close(before[..., : t + 1, :], after[..., : t + 1, :])


@settings(max_examples=25, deadline=None)
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


@st.composite
def mha_cases(draw):
    """A module configuration, inputs and masks in every form nn.MultiheadAttention takes."""
    heads, head_dim = draw(st.integers(1, 3)), draw(st.integers(1, 4))
    n, length = draw(st.integers(0, 3)), draw(st.integers(1, 5))
    self_attention = draw(st.booleans())
    source = length if self_attention else draw(st.integers(1, 6))
    dtype = draw(DTYPES)
    gen = torch.Generator().manual_seed(draw(st.integers(0, 2**16)))
    e = heads * head_dim
    query = torch.randn(n, length, e, generator=gen, dtype=dtype)
    memory = query if self_attention else torch.randn(n, source, e, generator=gen, dtype=dtype)
    kind = draw(st.sampled_from(["none", "causal", "bool", "float", "bool per head", "-inf"]))
    attn_mask, is_causal = None, False
    if kind == "causal":
        is_causal = True
    elif kind == "bool":
        attn_mask = torch.rand(length, source, generator=gen) > 0.7
    elif kind == "float":
        attn_mask = torch.randn(length, source, generator=gen, dtype=dtype)
    elif kind == "bool per head":
        attn_mask = torch.rand(n * heads, length, source, generator=gen) > 0.7
    elif kind == "-inf":
        attn_mask = to_additive(torch.rand(length, source, generator=gen) > 0.7, dtype)
    padding = draw(st.sampled_from(["none", "bool", "float"]))
    key_padding_mask = None
    if padding != "none":
        key_padding_mask = torch.rand(n, source, generator=gen) > 0.7
        if padding == "float":
            key_padding_mask = to_additive(key_padding_mask, dtype)
    return dict(
        heads=heads,
        bias=draw(st.booleans()),
        query=query,
        memory=memory,
        attn_mask=attn_mask,
        is_causal=is_causal,
        key_padding_mask=key_padding_mask,
        need_weights=draw(st.booleans()),
        average=draw(st.booleans()),
    )


def _blocked(case) -> torch.Tensor:
    """[N, H, L, S]: True where a query may not read a key, from every mask of the case."""
    n, length, _ = case["query"].shape
    source, heads = case["memory"].shape[1], case["heads"]
    blocked = torch.zeros(n, heads, length, source, dtype=torch.bool)
    mask = case["attn_mask"]
    if case["is_causal"]:
        blocked |= torch.ones(length, source, dtype=torch.bool).triu(1)
    elif mask is not None:
        mask = mask if mask.dtype == torch.bool else mask == float("-inf")
        blocked |= mask.reshape(-1, heads, length, source) if mask.ndim == 3 else mask
    if case["key_padding_mask"] is not None:
        padded = case["key_padding_mask"]
        padded = padded if padded.dtype == torch.bool else padded == float("-inf")
        blocked |= padded[:, None, None, :]
    return blocked


@settings(max_examples=80, deadline=None)
@given(case=mha_cases())
def test_multi_head_matches_torch_on_random_shapes_masks_and_dtypes(case):
    dtype, e = case["query"].dtype, case["query"].shape[-1]
    reference = nn.MultiheadAttention(e, case["heads"], bias=case["bias"], batch_first=True)
    reference = reference.to(dtype).eval()
    ours = MultiHeadAttention(e, case["heads"], bias=case["bias"]).to(dtype).eval()
    ours.load_state_dict(reference.state_dict())
    query, memory = case["query"], case["memory"]
    masks = dict(key_padding_mask=case["key_padding_mask"], attn_mask=case["attn_mask"])
    if case["is_causal"]:  # PyTorch's module needs the mask itself; is_causal is only a hint
        masks["attn_mask"] = torch.ones(query.shape[1], memory.shape[1], dtype=torch.bool).triu(1)
    flags = dict(need_weights=case["need_weights"], average_attn_weights=case["average"])
    out, weights = ours(
        query, memory, memory, **flags, key_padding_mask=case["key_padding_mask"],
        attn_mask=case["attn_mask"], is_causal=case["is_causal"],
    )  # fmt: skip
    assert out.dtype == dtype and out.shape == query.shape
    with warnings.catch_warnings():  # PyTorch warns when a bool and a float mask are mixed
        warnings.simplefilter("ignore")
        try:
            expected = reference(query, memory, memory, **masks, need_weights=False)[0]
            _, expected_weights = reference(query, memory, memory, **masks, **flags)
        except RuntimeError:  # PyTorch cannot reshape some masks of an empty batch
            assert len(query) == 0 and any(m is not None for m in masks.values())
            return
    torch.testing.assert_close(out, expected)
    if not case["need_weights"]:
        assert weights is None
        return
    # PyTorch's weights are NaN for a query whose keys are all blocked; ours are 0
    empty = _blocked(case).all(dim=-1)  # [N, H, L]
    per_head = empty.any(dim=1) if case["average"] else empty
    row_ok = ~(per_head[..., None].expand_as(weights))
    torch.testing.assert_close(weights[row_ok], expected_weights[row_ok])
    per_head_weights = ours(query, memory, memory, **masks, average_attn_weights=False)[1]
    assert (per_head_weights[empty] == 0).all()


def test_multi_head_matches_torch_with_key_value_from_another_sequence():
    reference = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    ours = MultiHeadAttention(16, 4).eval()
    ours.load_state_dict(reference.state_dict())
    query, key, value = torch.randn(3, 5, 16), torch.randn(3, 6, 16), torch.randn(3, 6, 16)
    torch.testing.assert_close(ours(query, key, value)[0], reference(query, key, value)[0])


@pytest.mark.parametrize("need_weights", [True, False])
def test_multi_head_dropout_matches_torch_in_training_mode(need_weights):
    reference = nn.MultiheadAttention(16, 4, dropout=0.3, batch_first=True).train()
    ours = MultiHeadAttention(16, 4, dropout=0.3).train()
    ours.load_state_dict(reference.state_dict())
    query, memory = torch.randn(3, 5, 16), torch.randn(3, 6, 16)
    torch.manual_seed(1)  # the same random stream draws the same dropout mask
    expected = reference(query, memory, memory, need_weights=need_weights)
    torch.manual_seed(1)
    got = ours(query, memory, memory, need_weights=need_weights)
    torch.testing.assert_close(got[0], expected[0])
    if need_weights:
        torch.testing.assert_close(got[1], expected[1])
    assert not torch.allclose(got[0], ours.eval()(query, memory, memory)[0])


def test_attention_dropout_zeroes_weights_and_rescales_the_rest():
    torch.manual_seed(0)
    mha = MultiHeadAttention(8, 2, dropout=0.25)
    x = torch.randn(4, 6, 8)
    clean = mha.eval()(x, x, x, average_attn_weights=False)[1]
    torch.manual_seed(3)
    dropped = mha.train()(x, x, x, average_attn_weights=False)[1]
    kept = dropped != 0
    assert 0.6 < kept.float().mean() < 0.9  # about 1 - p of the links survive
    torch.testing.assert_close(dropped[kept], clean[kept] / 0.75)
    torch.manual_seed(3)  # the output is made from exactly those weights
    out = mha(x, x, x)[0]
    v = F.linear(x, mha.in_proj_weight[16:], mha.in_proj_bias[16:])
    v = v.reshape(4, 6, 2, 4).transpose(1, 2)
    merged = (dropped @ v).transpose(1, 2).reshape(4, 6, 8)
    torch.testing.assert_close(out, mha.out_proj(merged))


def test_causal_mask_matches_torch_square_subsequent_mask():
    for size in (0, 1, 5):
        expected = nn.Transformer.generate_square_subsequent_mask(size)
        torch.testing.assert_close(to_additive(causal_mask(size)), expected)


def test_padding_mask_marks_pad_positions():
    ids = torch.tensor([[5, 6, 0], [7, 0, 0]])
    assert padding_mask(ids).tolist() == [[False, False, True], [False, True, True]]


def test_sdpa_bad_inputs_are_named():
    q, k, v = _qkv()
    with pytest.raises(ValueError, match="key must have the feature size of query, 8"):
        scaled_dot_product_attention(q, k[..., :4], v)
    with pytest.raises(ValueError, match="value must have as many positions as key, 7"):
        scaled_dot_product_attention(q, k, v[..., :3, :])
    with pytest.raises(ValueError, match="broadcastable leading"):
        scaled_dot_product_attention(q, k[:1].expand(3, -1, -1, -1), v[:1].expand(3, -1, -1, -1))
    with pytest.raises(TypeError, match="query must have a floating-point dtype"):
        scaled_dot_product_attention(q.long(), k, v)
    with pytest.raises(TypeError, match="key must have the dtype of query, torch.float32"):
        scaled_dot_product_attention(q, k.double(), v)
    with pytest.raises(ValueError, match="either attn_mask or is_causal"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(5, 7), is_causal=True)
    with pytest.raises(ValueError, match=r"attn_mask must broadcast to .* \(2, 3, 5, 7\)"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(5, 6, dtype=torch.bool))
    with pytest.raises(ValueError, match="attn_mask must broadcast"):  # would grow the output
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(4, 2, 3, 5, 7))
    with pytest.raises(TypeError, match="attn_mask must have dtype torch.bool or"):
        scaled_dot_product_attention(q, k, v, attn_mask=torch.ones(5, 7, dtype=torch.float64))
    with pytest.raises(ValueError, match="size must be >= 0"):
        causal_mask(-1)
    with pytest.raises(TypeError, match="ids must have dtype"):
        padding_mask(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="mask must have dtype torch.bool"):
        to_additive(torch.zeros(2, 2))


def test_multi_head_bad_inputs_are_named():
    mha = MultiHeadAttention(8, 2)
    x, memory = torch.randn(3, 4, 8), torch.randn(3, 5, 8)
    with pytest.raises(ValueError, match="embed_dim must be divisible by num_heads"):
        MultiHeadAttention(10, 3)
    with pytest.raises(ValueError, match="dropout must be <= 1"):
        MultiHeadAttention(8, 2, dropout=1.5)
    with pytest.raises(ValueError, match="query must have 3 dimensions"):
        mha(torch.randn(4, 8), torch.randn(4, 8), torch.randn(4, 8))
    # keys and values of another batch size: was accepted, mixing the samples up
    with pytest.raises(
        ValueError, match=r"key must have the batch size of query, 3, .*\(1, 5, 8\)"
    ):
        mha(x, memory[:1], memory[:1])
    with pytest.raises(ValueError, match="value must have the batch size of query, 3"):
        mha(x, memory, memory[:2])
    with pytest.raises(ValueError, match="value must have as many positions as key, 5"):
        mha(x, memory, memory[:, :4])
    with pytest.raises(ValueError, match="key must have size 8 in dimension 2"):
        mha(x, memory[..., :6], memory)
    with pytest.raises(TypeError, match="key must have the dtype of the module's parameters"):
        mha(x, memory.double(), memory)
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(N, S\) = \(3, 5\)"):
        mha(x, memory, memory, key_padding_mask=torch.zeros(3, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"key_padding_mask must have shape \(N, S\) = \(3, 5\)"):
        mha(x, memory, memory, key_padding_mask=torch.zeros(1, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(L, S\) = \(4, 5\)"):
        mha(x, memory, memory, attn_mask=torch.zeros(4, 4, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"attn_mask must have shape \(N·H, L, S\) = \(6, 4, 5\)"):
        mha(x, memory, memory, attn_mask=torch.zeros(2, 4, 5, dtype=torch.bool))
    with pytest.raises(TypeError, match="attn_mask must have dtype torch.bool or"):
        mha(x, memory, memory, attn_mask=torch.zeros(4, 5, dtype=torch.int64))
    with pytest.raises(TypeError, match="key_padding_mask must have dtype torch.bool or"):
        mha(x, memory, memory, key_padding_mask=torch.zeros(3, 5, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"src_mask must have shape \(L, S\) = \(4, 4\)"):
        check_attention_masks(
            torch.zeros(4, 5, dtype=torch.bool), None, batch=3, heads=2, length=4, source=4,
            dtype=torch.float32, names=("src_mask", "src_key_padding_mask"),
        )  # fmt: skip


def test_multi_head_works_under_autocast_like_torch():
    reference = nn.MultiheadAttention(16, 4, batch_first=True).eval()
    ours = MultiHeadAttention(16, 4).eval()
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(2, 5, 16)
    padding = to_additive(torch.tensor([[False] * 5, [False] * 3 + [True] * 2]))
    masks = dict(key_padding_mask=padding, attn_mask=torch.randn(5, 5))  # float32 masks
    with torch.autocast("cpu", dtype=torch.bfloat16):  # the projections run in bfloat16
        got = ours(x, x, x, **masks)[0]
        expected = reference(x, x, x, **masks, need_weights=False)[0]
    assert got.dtype == expected.dtype == torch.bfloat16
    torch.testing.assert_close(got, expected, atol=2e-2, rtol=2e-2)


@settings(max_examples=15, deadline=None)
@given(
    batch=st.integers(0, 3),
    length=st.integers(0, 9),
    heads=st.integers(1, 3),
    head_dim=st.integers(1, 5),
)
def test_attention_cost_equals_what_pytorch_counts_and_stores(batch, length, heads, head_dim):
    d = heads * head_dim
    layer = MultiHeadAttention(d, heads).double()
    x = torch.randn(batch, length, d, dtype=torch.float64)
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        _, weights = layer(x, x, x, average_attn_weights=False)
    counts = counter.get_flop_counts()["Global"]
    projections = sum(n for op, n in counts.items() if str(op).split(".")[-1] in ("addmm", "mm"))
    cost = attention_cost(length, batch=batch, heads=heads, head_dim=head_dim, bytes_per_number=8)
    assert counter.get_total_flops() == cost.attention_flops + cost.projection_flops
    assert projections == cost.projection_flops
    assert cost.scores == weights.nelement()
    assert cost.score_bytes == weights.nelement() * weights.element_size()


def test_attention_cost_grows_with_the_square_of_the_length():
    short, long = attention_cost(512, batch=4, heads=4, head_dim=32), attention_cost(1024, 4, 4, 32)
    assert long.scores == 4 * short.scores and long.attention_flops == 4 * short.attention_flops
    assert long.projection_flops == 2 * short.projection_flops
    d = 4 * 32  # attention overtakes the projections beyond T = 2d
    at = attention_cost(2 * d, 1, 4, 32)
    assert at.attention_flops == at.projection_flops


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"length": -1}, ValueError, "length"),
        ({"length": 4, "batch": -2}, ValueError, "batch"),
        ({"length": 4, "heads": 0}, ValueError, "heads"),
        ({"length": 4, "head_dim": 0}, ValueError, "head_dim"),
        ({"length": 4, "bytes_per_number": 0}, ValueError, "bytes_per_number"),
        ({"length": 4.0}, TypeError, "length"),
        ({"length": True}, TypeError, "length"),
        ({"length": 4, "heads": 2.5}, TypeError, "heads"),
    ],
)
def test_attention_cost_bad_arguments_are_named(kwargs, error, match):
    with pytest.raises(error, match=match):
        attention_cost(**kwargs)


@settings(max_examples=60, deadline=None)
@given(case=mha_cases())
def test_fused_path_equals_from_scratch_outputs_and_gradients(case):
    query, memory = case["query"], case["memory"]
    e = query.shape[-1]
    scratch = MultiHeadAttention(e, case["heads"], bias=case["bias"]).to(query.dtype).eval()
    fused = MultiHeadAttention(e, case["heads"], bias=case["bias"], fused=True).to(query.dtype)
    fused.load_state_dict(scratch.state_dict())
    fused.eval()
    masks = dict(
        key_padding_mask=case["key_padding_mask"],
        attn_mask=case["attn_mask"],
        is_causal=case["is_causal"],
    )
    q1, q2 = query.clone().requires_grad_(), query.clone().requires_grad_()
    m1 = q1 if memory is query else memory
    m2 = q2 if memory is query else memory
    out, _ = scratch(q1, m1, m1, **masks, need_weights=False)
    got, weights = fused(q2, m2, m2, **masks, need_weights=False)
    assert weights is None
    # the fused kernel returns NaN for a query whose keys are all blocked; ours gives 0
    ok = ~_blocked(case).all(dim=-1).any(dim=1)  # [N, L]: queries that read some key
    torch.testing.assert_close(got[ok], out[ok])
    out[ok].sum().backward()
    got[ok].sum().backward()
    grads = [(scratch.in_proj_weight, fused.in_proj_weight), (q1, q2)]
    if bool(ok.all()):  # a NaN row spreads NaN into the shared weights' gradients
        for a, b in grads:
            torch.testing.assert_close(b.grad, a.grad)


def test_fused_switch_keeps_gpt_outputs_and_weights_path():
    from snippets.transformers.gpt import GPT

    torch.manual_seed(0)
    model = GPT(vocab_size=13, context=9, d_model=16, nhead=4, num_layers=2, dropout=0.0)
    ids = torch.randint(0, 13, (3, 9))
    expected = model(ids)
    assert use_fused_attention(model) == 2
    assert all(layer.self_attn.fused for layer in model.blocks.layers)
    torch.testing.assert_close(model(ids), expected)
    mha = model.blocks.layers[0].self_attn
    x = torch.randn(2, 4, 16)
    _, weights = mha(x, x, x, need_weights=True)  # asking for weights takes the scratch path
    assert weights.shape == (2, 4, 4)
    assert use_fused_attention(model, False) == 2 and not mha.fused
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        use_fused_attention("gpt")
    with pytest.raises(TypeError, match="fused must be a bool"):
        use_fused_attention(model, 1)
