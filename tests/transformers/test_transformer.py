"""Encoder and decoder layers and the full Transformer vs PyTorch."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.transformers.attention import causal_mask
from snippets.transformers.transformer import (
    Decoder,
    DecoderLayer,
    Encoder,
    EncoderLayer,
    Seq2SeqTransformer,
    Transformer,
)

D, H, FF = 16, 4, 32


def _pad(n, length, lengths):
    mask = torch.zeros(n, length, dtype=torch.bool)
    for row, keep in enumerate(lengths):
        mask[row, keep:] = True
    return mask


@pytest.mark.parametrize("norm_first", [False, True])
@pytest.mark.parametrize("activation", ["relu", "gelu"])
def test_encoder_layer_matches_torch(norm_first, activation):
    reference = nn.TransformerEncoderLayer(
        D, H, FF, dropout=0.0, activation=activation, batch_first=True, norm_first=norm_first
    ).eval()
    ours = EncoderLayer(D, H, FF, dropout=0.0, activation=activation, norm_first=norm_first)
    ours.load_state_dict(reference.state_dict())
    x, pad = torch.randn(3, 6, D), _pad(3, 6, [6, 4, 2])
    torch.testing.assert_close(
        ours(x, src_key_padding_mask=pad)[pad.logical_not()],
        reference(x, src_key_padding_mask=pad)[pad.logical_not()],
    )
    mask = causal_mask(6)
    torch.testing.assert_close(ours(x, src_mask=mask), reference(x, src_mask=mask))


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_matches_torch(norm_first):
    reference = nn.TransformerDecoderLayer(
        D, H, FF, dropout=0.0, batch_first=True, norm_first=norm_first
    ).eval()
    ours = DecoderLayer(D, H, FF, dropout=0.0, norm_first=norm_first).eval()
    ours.load_state_dict(reference.state_dict())
    tgt, memory = torch.randn(3, 5, D), torch.randn(3, 7, D)
    kwargs = dict(
        tgt_mask=causal_mask(5),
        tgt_key_padding_mask=_pad(3, 5, [5, 5, 3]),
        memory_key_padding_mask=_pad(3, 7, [7, 2, 5]),
    )
    torch.testing.assert_close(ours(tgt, memory, **kwargs), reference(tgt, memory, **kwargs))


@pytest.mark.parametrize("norm_first", [False, True])
def test_full_transformer_matches_torch_key_for_key(norm_first):
    reference = nn.Transformer(D, H, 2, 2, FF, dropout=0.0, batch_first=True, norm_first=norm_first)
    ours = Transformer(D, H, 2, 2, FF, dropout=0.0, norm_first=norm_first)
    assert list(ours.state_dict()) == list(reference.state_dict())
    ours.load_state_dict(reference.state_dict())
    reference.eval(), ours.eval()
    src, tgt = torch.randn(2, 7, D), torch.randn(2, 5, D)
    pad = _pad(2, 7, [7, 4])
    kwargs = dict(tgt_mask=causal_mask(5), src_key_padding_mask=pad, memory_key_padding_mask=pad)
    torch.testing.assert_close(ours(src, tgt, **kwargs), reference(src, tgt, **kwargs))


def test_stacks_apply_every_layer_and_the_final_norm():
    encoder = Encoder(EncoderLayer(D, H, FF, dropout=0.0), 3, nn.LayerNorm(D)).eval()
    x = torch.randn(2, 4, D)
    expected = x
    for layer in encoder.layers:
        expected = layer(expected)
    torch.testing.assert_close(encoder(x), encoder.norm(expected))
    assert encoder.layers[0].linear1.weight is not encoder.layers[1].linear1.weight
    decoder = Decoder(DecoderLayer(D, H, FF, dropout=0.0), 2).eval()
    memory = torch.randn(2, 6, D)
    expected = decoder.layers[1](decoder.layers[0](x, memory), memory)
    torch.testing.assert_close(decoder(x, memory), expected)


def test_keep_weights_stores_attention_maps():
    layer = DecoderLayer(D, H, FF, dropout=0.0).eval()
    layer.keep_weights = True
    layer(torch.randn(2, 5, D), torch.randn(2, 7, D), tgt_mask=causal_mask(5))
    assert layer.attention_weights.shape == (2, H, 5, 5)
    assert layer.cross_attention_weights.shape == (2, H, 5, 7)
    assert (layer.attention_weights.triu(1) == 0).all()


def test_seq2seq_decoder_is_causal_and_ignores_source_padding():
    torch.manual_seed(0)
    model = Seq2SeqTransformer(11, 9, d_model=16, nhead=2, dim_feedforward=32, dropout=0.0).eval()
    src = torch.tensor([[3, 4, 5, 0, 0]])
    tgt = torch.tensor([[1, 6, 7, 8]])
    logits = model(src, tgt)
    assert logits.shape == (1, 4, 9)
    changed = tgt.clone()
    changed[0, 3] = 2  # the last input cannot change earlier predictions
    torch.testing.assert_close(model(src, changed)[:, :3], logits[:, :3])
    longer = torch.tensor([[3, 4, 5, 0, 0, 0, 0]])  # more padding changes nothing
    torch.testing.assert_close(model(longer, tgt), logits)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="activation must be one of"):
        EncoderLayer(D, H, activation="tanh")
    with pytest.raises(ValueError, match="src must have 3 dimensions"):
        EncoderLayer(D, H)(torch.randn(4, D))
    with pytest.raises(ValueError, match="memory must have 3 dimensions"):
        DecoderLayer(D, H)(torch.randn(1, 4, D), torch.randn(4, D))
    with pytest.raises(ValueError, match="num_layers must be > 0"):
        Encoder(EncoderLayer(D, H), 0)
    with pytest.raises(TypeError, match="src must have dtype torch.int64"):
        Seq2SeqTransformer(5, 5, d_model=8, nhead=2).encode(torch.zeros(1, 3))


class _Replay(nn.Module):
    """Dropout with a recorded mask: keeps where ``mask`` is True, scaled by ``1/(1 - p)``."""

    def __init__(self, mask: torch.Tensor, p: float) -> None:
        super().__init__()
        self.mask, self.p = mask, p

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.mask / (1 - self.p)


def _train_and_replay(ours, reference, attentions, dropouts, *inputs):
    """Run ``ours`` in training mode, then PyTorch's layer with the same randomness.

    Every dropout module of ours records which entries it kept; the reference
    gets those masks in place of its own dropout modules of the same name, and
    each of its attentions starts from the random state our attention started
    from (so its attention dropout draws the same mask). A dropout of ours
    applied at another place, with another scaling, or not at all, gives
    another output.
    """
    states, masks, hooks = {}, {}, []
    for name in attentions:
        hooks.append(
            getattr(ours, name).register_forward_pre_hook(
                lambda module, args, name=name: states.__setitem__(name, torch.get_rng_state())
            )
        )
    for name in dropouts:
        hooks.append(
            getattr(ours, name).register_forward_hook(
                lambda module, args, out, name=name: masks.__setitem__(name, out != 0)
            )
        )
    got = ours.train()(*inputs)
    for hook in hooks:
        hook.remove()
    assert set(masks) == set(dropouts), "a dropout module of the layer was never applied"
    for name in dropouts:
        setattr(reference, name, _Replay(masks[name], getattr(ours, name).p))
    for name in attentions:
        getattr(reference, name).register_forward_pre_hook(
            lambda module, args, name=name: torch.set_rng_state(states[name])
        )
    return got, reference.train()(*inputs)


@pytest.mark.parametrize("norm_first", [False, True])
def test_encoder_layer_dropout_in_training_mode_matches_torch(norm_first):
    reference = nn.TransformerEncoderLayer(
        D, H, FF, dropout=0.3, batch_first=True, norm_first=norm_first
    )
    ours = EncoderLayer(D, H, FF, dropout=0.3, norm_first=norm_first)
    ours.load_state_dict(reference.state_dict())
    x = torch.randn(3, 6, D)
    dropouts = ("dropout", "dropout1", "dropout2")
    got, expected = _train_and_replay(ours, reference, ("self_attn",), dropouts, x)
    torch.testing.assert_close(got, expected)
    assert not torch.allclose(got, ours.eval()(x))  # dropout did change the output


@pytest.mark.parametrize("norm_first", [False, True])
def test_decoder_layer_dropout_in_training_mode_matches_torch(norm_first):
    reference = nn.TransformerDecoderLayer(
        D, H, FF, dropout=0.3, batch_first=True, norm_first=norm_first
    )
    ours = DecoderLayer(D, H, FF, dropout=0.3, norm_first=norm_first)
    ours.load_state_dict(reference.state_dict())
    tgt, memory = torch.randn(3, 5, D), torch.randn(3, 7, D)
    attentions = ("self_attn", "multihead_attn")
    dropouts = ("dropout", "dropout1", "dropout2", "dropout3")
    got, expected = _train_and_replay(ours, reference, attentions, dropouts, tgt, memory)
    torch.testing.assert_close(got, expected)
    assert not torch.allclose(got, ours.eval()(tgt, memory))


@settings(max_examples=30, deadline=None)
@given(
    n=st.integers(0, 3),
    lengths=st.tuples(st.integers(1, 5), st.integers(1, 6)),
    norm_first=st.booleans(),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    masked=st.booleans(),
    seed=st.integers(0, 1000),
)
def test_layers_match_torch_on_random_sizes_and_dtypes(n, lengths, norm_first, dtype, masked, seed):
    torch.manual_seed(seed)
    t, s = lengths
    kwargs = dict(dropout=0.0, norm_first=norm_first)
    encoders = (
        nn.TransformerEncoderLayer(D, H, FF, batch_first=True, **kwargs),
        EncoderLayer(D, H, FF, **kwargs),
    )
    decoders = (
        nn.TransformerDecoderLayer(D, H, FF, batch_first=True, **kwargs),
        DecoderLayer(D, H, FF, **kwargs),
    )
    for reference, ours in (encoders, decoders):
        ours.load_state_dict(reference.state_dict())
        reference.to(dtype).eval(), ours.to(dtype).eval()
    tgt, memory = torch.randn(n, t, D, dtype=dtype), torch.randn(n, s, D, dtype=dtype)
    pad = _pad(n, s, torch.randint(1, s + 1, (n,)).tolist())  # every row keeps a key
    enc_masks = dict(src_key_padding_mask=pad) if masked and n else {}
    dec_masks = dict(tgt_mask=causal_mask(t), memory_key_padding_mask=pad) if masked and n else {}
    with torch.no_grad():
        got = encoders[1](memory, **enc_masks)
        expected = encoders[0](memory, **enc_masks)
        keep = ~pad if enc_masks else torch.ones(n, s, dtype=torch.bool)  # PyTorch's fast path
        torch.testing.assert_close(got[keep], expected[keep])  # zeroes padded rows
        got = decoders[1](tgt, memory, **dec_masks)
        torch.testing.assert_close(got, decoders[0](tgt, memory, **dec_masks))
    assert got.shape == (n, t, D) and got.dtype == dtype


def test_shape_and_type_errors_name_the_argument():
    layer, decoder = EncoderLayer(D, H, FF), DecoderLayer(D, H, FF)
    x, memory = torch.randn(2, 5, D), torch.randn(2, 7, D)
    with pytest.raises(ValueError, match="d_model must be divisible by nhead, got 10 and 4"):
        EncoderLayer(10, 4)
    with pytest.raises(ValueError, match=r"src_mask must have shape \(L, S\) = \(5, 5\)"):
        layer(x, src_mask=causal_mask(4))
    with pytest.raises(ValueError, match=r"src_key_padding_mask must have shape \(N, S\) = \(2, 5"):
        layer(x, src_key_padding_mask=torch.zeros(5, 2, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask must have shape \(L, S\) = \(5, 5\)"):
        Encoder(layer, 2)(x, mask=causal_mask(6))
    with pytest.raises(TypeError, match="src must have the dtype of the module's parameters"):
        layer(x.double())
    with pytest.raises(ValueError, match="src must have size 16 in dimension 2"):
        layer(torch.randn(2, 5, 8))
    # a memory of another batch size was accepted and mixed the samples up
    with pytest.raises(ValueError, match="memory must have the batch size of tgt, 2"):
        decoder(x, memory[:1])
    with pytest.raises(ValueError, match=r"memory_mask must have shape \(L, S\) = \(5, 7\)"):
        decoder(x, memory, memory_mask=torch.zeros(5, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"memory_key_padding_mask must have shape \(N, S\)"):
        decoder(x, memory, memory_key_padding_mask=torch.zeros(2, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"tgt_key_padding_mask must have shape \(N, S\) = \(2, 5"):
        decoder(x, memory, tgt_key_padding_mask=torch.zeros(2, 7, dtype=torch.bool))
    with pytest.raises(TypeError, match="tgt_mask must have dtype torch.bool or"):
        decoder(x, memory, tgt_mask=torch.zeros(5, 5, dtype=torch.float64))
    transformer = Transformer(D, H, 1, 1, FF)
    with pytest.raises(ValueError, match="tgt must have the batch size of src, 2"):
        transformer(memory, torch.randn(3, 5, D))
    with pytest.raises(ValueError, match="tgt must have size 16 in dimension 2"):
        transformer(memory, torch.randn(2, 5, 8))
    with pytest.raises(ValueError, match=r"src_mask must have shape \(L, S\) = \(7, 7\)"):
        transformer(memory, x, src_mask=causal_mask(5))


def test_seq2seq_checks_ids_batches_lengths_and_memory():
    model = Seq2SeqTransformer(11, 9, d_model=16, nhead=2, dim_feedforward=32, max_len=8)
    src, tgt = torch.randint(1, 11, (2, 6)), torch.randint(1, 9, (2, 4))
    with pytest.raises(ValueError, match="tgt_in must have the batch size of src, 2"):
        model(src, tgt[:1])
    with pytest.raises(ValueError, match="src must hold ids from 0 to 10 .* got ids from 1 to 11"):
        model(torch.tensor([[1, 11]]), tgt[:1])
    with pytest.raises(ValueError, match="tgt_in must hold ids from 0 to 8"):
        model(src, torch.full((2, 3), 9))
    with pytest.raises(ValueError, match="src has 9 positions, more than max_len=8"):
        model.encode(torch.ones(1, 9, dtype=torch.int64))
    memory = model.encode(src)
    with pytest.raises(ValueError, match=r"memory must come from encode\(src\)"):
        model.decode(tgt, memory[:, :5], src)
    with pytest.raises(ValueError, match="tgt_in must have the batch size of src"):
        model.decode(tgt[:1], memory, src)
    with pytest.raises(ValueError, match="pad_id must be an id of both vocabularies"):
        Seq2SeqTransformer(11, 9, d_model=16, nhead=2, pad_id=9)


def test_seq2seq_handles_an_empty_batch_and_float64():
    torch.manual_seed(0)
    model = Seq2SeqTransformer(11, 9, d_model=16, nhead=2, dim_feedforward=32, dropout=0.0)
    model.eval()
    src, tgt = torch.tensor([[3, 4, 5, 0]]), torch.tensor([[1, 6, 7]])
    assert model(src[:0], tgt[:0]).shape == (0, 3, 9)
    expected = model(src, tgt).double()
    torch.testing.assert_close(model.double()(src, tgt), expected, atol=1e-5, rtol=1e-5)
