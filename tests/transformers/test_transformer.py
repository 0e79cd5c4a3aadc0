"""Encoder and decoder layers and the full Transformer vs PyTorch."""

from __future__ import annotations

import pytest
import torch
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
