"""T5: relative position buckets, the bias they index, a layer written out, the counts."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.sequence_models.seq2seq import greedy_decode
from snippets.transformer_family.t5 import (
    T5,
    T5_SMALL,
    RelativePositionBias,
    T5Attention,
    T5Config,
    T5Layer,
    count_parameters,
    relative_position_bucket,
)

TINY = T5Config(
    vocab_size=20,
    d_model=16,
    num_layers=2,
    num_decoder_layers=2,
    num_heads=2,
    d_kv=8,
    d_ff=32,
    num_buckets=8,
    max_distance=16,
    dropout=0.0,
)


def _model() -> T5:
    torch.manual_seed(0)
    return T5(TINY).eval()


MODEL = _model()

# offset (key - query) -> bucket, worked out by hand for 32 buckets, max_distance 128.
# Encoder: 16 buckets a side, 0..7 exact, then 8 + floor(8·ln(d/8)/ln(16)), capped at 15;
# keys after the query add 16. Decoder: 0..15 exact, then 16 + floor(16·ln(d/16)/ln(8)),
# capped at 31; every key after the query is bucket 0.
ENCODER_BUCKETS = {0: 0, -1: 1, -7: 7, -8: 8, -20: 10, -50: 13, -100: 15, -1000: 15,
                   1: 17, 7: 23, 8: 24, 20: 26, 1000: 31}  # fmt: skip
DECODER_BUCKETS = {0: 0, -1: 1, -15: 15, -16: 16, -50: 24, -100: 30, -1000: 31,
                   1: 0, 50: 0}  # fmt: skip


@pytest.mark.parametrize(
    ("bidirectional", "table"), [(True, ENCODER_BUCKETS), (False, DECODER_BUCKETS)]
)
def test_buckets_of_hand_made_offsets(bidirectional, table):
    offsets = torch.tensor(list(table))
    buckets = relative_position_bucket(offsets, bidirectional, num_buckets=32, max_distance=128)
    assert buckets.tolist() == list(table.values())
    assert buckets.dtype == torch.int64


@settings(max_examples=30, deadline=None)
@given(
    a=st.integers(0, 3000),
    b=st.integers(0, 3000),
    bidirectional=st.booleans(),
    half=st.integers(2, 32),
    extra=st.integers(1, 300),
)
def test_buckets_grow_with_distance_and_stay_in_range(a, b, bidirectional, half, extra):
    num_buckets = 2 * half
    exact = num_buckets // (4 if bidirectional else 2)
    max_distance = exact + extra
    near, far = min(a, b), max(a, b)
    for sign in (-1, 1) if bidirectional else (-1,):
        buckets = relative_position_bucket(
            torch.tensor([sign * near, sign * far]), bidirectional, num_buckets, max_distance
        )
        assert 0 <= buckets[0] <= buckets[1] < num_buckets
        if far < exact:  # near offsets each keep their own bucket
            assert buckets[1] - buckets[0] == far - near


def test_encoder_bias_depends_on_the_offset_only_and_tells_left_from_right():
    torch.manual_seed(0)
    bias = RelativePositionBias(num_heads=3, num_buckets=8, max_distance=16)(9, 9)  # [1, 3, 9, 9]
    assert bias.shape == (1, 3, 9, 9)
    # the same offset, the same bias: every diagonal is constant
    torch.testing.assert_close(bias[..., 1:, 1:], bias[..., :-1, :-1])
    # offset +k and -k differ: bucket(+k) = bucket(-k) + num_buckets / 2
    plus = relative_position_bucket(torch.arange(1, 9), True, 8, 16)
    minus = relative_position_bucket(-torch.arange(1, 9), True, 8, 16)
    assert torch.equal(plus, minus + 4)
    assert not torch.allclose(bias[0, :, 0, 1], bias[0, :, 1, 0])


def test_decoder_bias_sees_every_future_key_as_one_bucket():
    torch.manual_seed(0)
    module = RelativePositionBias(num_heads=2, num_buckets=8, max_distance=16, bidirectional=False)
    bias = module(6, 6)[0]  # [2, 6, 6]
    future = torch.ones(6, 6, dtype=torch.bool).triu(1)
    assert torch.equal(bias[:, future], module.embedding.weight[0][:, None].expand(2, 15))


@settings(max_examples=10, deadline=None)
@given(t=st.integers(0, 4), seed=st.integers(0, 100))
def test_decoder_ignores_later_targets_and_encoder_reads_both_ways(t, seed):
    gen = torch.Generator().manual_seed(seed)
    src = torch.randint(1, 20, (1, 6), generator=gen)
    tgt = torch.randint(1, 20, (1, 6), generator=gen)
    changed = tgt.clone()
    changed[0, t + 1 :] = tgt[0, t + 1 :] % 19 + 1  # every later token replaced
    with torch.no_grad():
        torch.testing.assert_close(MODEL(src, tgt)[:, : t + 1], MODEL(src, changed)[:, : t + 1])
        src_changed = src.clone()
        src_changed[0, -1] = src[0, -1] % 19 + 1  # the last source token only
        memory, memory_changed = MODEL.encode(src), MODEL.encode(src_changed)
        assert not torch.allclose(memory[:, 0], memory_changed[:, 0])  # read from the left end


def _rms(x, weight, eps=1e-6):
    return x / torch.sqrt(x.pow(2).mean(-1, keepdim=True) + eps) * weight


def test_encoder_layer_equals_the_computation_written_out():
    torch.manual_seed(1)
    layer = T5Layer(TINY, decoder=False, relative_bias=True).eval()
    for p in layer.parameters():
        torch.nn.init.normal_(p, std=0.3)
    x = torch.randn(2, 5, 16)
    bias = layer.self_attn.relative_bias(5, 5)  # [1, H, 5, 5]
    out = layer(x, bias)

    a = layer.self_attn
    h = _rms(x, layer.norm1.weight)
    q = (h @ a.q.weight.T).reshape(2, 5, 2, 8).transpose(1, 2)
    k = (h @ a.k.weight.T).reshape(2, 5, 2, 8).transpose(1, 2)
    v = (h @ a.v.weight.T).reshape(2, 5, 2, 8).transpose(1, 2)
    scores = q @ k.transpose(-1, -2) + bias  # no 1/sqrt(d_kv)
    attended = (scores.softmax(-1) @ v).transpose(1, 2).reshape(2, 5, 16)
    x1 = x + attended @ a.o.weight.T
    ff = layer.feed_forward
    expected = x1 + torch.relu(_rms(x1, layer.norm3.weight) @ ff.wi.weight.T) @ ff.wo.weight.T
    torch.testing.assert_close(out, expected)


def test_attention_equals_torch_sdpa_with_scale_one():
    torch.manual_seed(2)
    attention = T5Attention(TINY).eval()
    x, memory = torch.randn(3, 4, 16), torch.randn(3, 7, 16)
    bias = torch.randn(3, 2, 4, 7)

    def heads(t):
        return t.reshape(3, -1, 2, 8).transpose(1, 2)

    q, k, v = heads(attention.q(x)), heads(attention.k(memory)), heads(attention.v(memory))
    reference = F.scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
    expected = attention.o(reference.transpose(1, 2).reshape(3, 4, 16))
    torch.testing.assert_close(attention(x, memory, bias), expected)


def test_padding_changes_nothing_at_real_tokens():
    src = torch.tensor([[5, 6, 7]])
    padded = torch.tensor([[5, 6, 7, 0, 0]])
    tgt = torch.tensor([[1, 4, 9]])
    with torch.no_grad():
        torch.testing.assert_close(MODEL.encode(padded)[:, :3], MODEL.encode(src))
        torch.testing.assert_close(MODEL(padded, tgt), MODEL(src, tgt))


def test_output_layer_is_the_scaled_shared_embedding():
    src, tgt = torch.tensor([[3, 4, 5]]), torch.tensor([[1, 2]])
    with torch.no_grad():
        hidden = MODEL.decoder(MODEL.shared(tgt), None, MODEL.encode(src), src != 0)
        expected = hidden @ MODEL.shared.weight.T / 4.0  # d_model = 16
        torch.testing.assert_close(MODEL(src, tgt), expected)
    names = [name for name, _ in MODEL.named_parameters()]
    assert sum("shared" in n for n in names) == 1  # no second vocabulary matrix


def test_t5_small_has_60_506_624_parameters():
    with torch.device("meta"):
        model = T5(T5_SMALL)
    d, v, ff, layers, buckets, heads = 512, 32128, 2048, 6, 32, 8
    attention, feed_forward = 4 * d * d, 2 * d * ff
    encoder = layers * (attention + feed_forward + 2 * d) + buckets * heads + d
    decoder = layers * (2 * attention + feed_forward + 3 * d) + buckets * heads + d
    assert count_parameters(model) == v * d + encoder + decoder == 60_506_624
    biases = [n for n, p in model.named_parameters() if p.ndim == 1]
    assert all("norm" in n for n in biases)  # norms only: no bias anywhere
    relative = [n for n, _ in model.named_parameters() if "relative_bias" in n]
    assert relative == [
        "encoder.layers.0.self_attn.relative_bias.embedding.weight",
        "decoder.layers.0.self_attn.relative_bias.embedding.weight",
    ]


def test_greedy_decoding_runs_on_t5():
    ids = greedy_decode(MODEL, torch.tensor([[3, 4, 5], [6, 7, 0]]), bos_id=1, eos_id=2, max_len=4)
    assert ids.shape[0] == 2 and ids[:, 0].tolist() == [1, 1]


def test_initialization_follows_t5():
    torch.manual_seed(0)
    model = T5(T5Config(vocab_size=2000, d_model=64, num_heads=4, d_kv=16, d_ff=256))
    attention = model.encoder.layers[0].self_attn
    assert model.shared.weight.std().item() == pytest.approx(1.0, rel=0.05)
    assert attention.q.weight.std().item() == pytest.approx((64 * 16) ** -0.5, rel=0.1)
    assert attention.k.weight.std().item() == pytest.approx(64**-0.5, rel=0.1)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"d_model": 0}, ValueError, "d_model must be > 0"),
        ({"num_buckets": 6.0}, TypeError, "num_buckets must be an int"),
        ({"num_buckets": 7}, ValueError, "num_buckets must be an even number"),
        ({"max_distance": 8}, ValueError, "max_distance must exceed"),
        ({"dropout": 1.0}, ValueError, "dropout must be < 1"),
        ({"pad_id": 20}, ValueError, "pad_id must be an id"),
    ],
)
def test_bad_config(kwargs, error, match):
    base = {"vocab_size": 20, "d_model": 16, "num_heads": 2, "d_kv": 8}
    with pytest.raises(error, match=match):
        T5Config(**(base | kwargs))


def test_bad_input():
    with pytest.raises(TypeError, match="relative_position must have dtype"):
        relative_position_bucket(torch.tensor([1.5]))
    with pytest.raises(ValueError, match="num_buckets must be an even number >= 2"):
        relative_position_bucket(torch.tensor([1]), bidirectional=False, num_buckets=1)
    with pytest.raises(TypeError, match="config must be a T5Config"):
        T5({"d_model": 16})
    with pytest.raises(ValueError, match="src must hold ids from 0 to 19"):
        MODEL(torch.tensor([[20]]), torch.tensor([[1]]))
    with pytest.raises(TypeError, match="tgt_in must have dtype torch.int64"):
        MODEL(torch.tensor([[3]]), torch.tensor([[1.0]]))
    with pytest.raises(ValueError, match="tgt_in must have the batch size of src"):
        MODEL(torch.tensor([[3]]), torch.tensor([[1], [2]]))
    with pytest.raises(ValueError, match="memory must come from encode"):
        MODEL.decode(torch.tensor([[1]]), torch.zeros(1, 2, 16), torch.tensor([[3, 4, 5]]))
    with pytest.raises(ValueError, match="query_length must be >= 0"):
        MODEL.encoder.layers[0].self_attn.relative_bias(-1, 3)
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        count_parameters("t5-small")
