"""The published sizes: exact counts on the meta device, the table and the GPT-2 names."""

from __future__ import annotations

import pytest
import torch

from snippets.transformer_family.model_sizes import (
    GPT2_SMALL,
    ModelSize,
    gpt2_released_name,
    model_sizes,
    size_table,
    weight_layout,
)
from snippets.transformer_family.t5 import T5, T5Config, count_parameters, released_name
from snippets.transformers.gpt import GPT

ROWS = model_sizes()


def test_counts_match_the_released_checkpoints():
    counts = {row.name: row.parameters for row in ROWS}
    assert counts == {
        "BERT-base": 109_482_240,
        "RoBERTa-base": 124_645_632,
        "DistilBERT-base": 66_362_880,
        "GPT-2 small": 124_439_808,
        "T5-small": 60_506_624,
    }


def test_gpt2_small_counted_term_by_term():
    v, p, d, layers = 50_257, 1024, 768, 12
    attention = d * 3 * d + 3 * d + d * d + d  # stacked Q, K, V and the output, with biases
    feed_forward = d * 4 * d + 4 * d + 4 * d * d + d
    layer = attention + feed_forward + 2 * 2 * d  # two LayerNorms
    expected = v * d + p * d + layers * layer + 2 * d  # tied head: no extra matrix
    assert expected == 124_439_808
    with torch.device("meta"):
        model = GPT(dropout=0.0, **GPT2_SMALL)
    assert count_parameters(model) == expected
    assert model.head.weight is model.token.weight


def test_rows_describe_the_models():
    t5 = ROWS[-1]
    assert (t5.layers, t5.d_model, t5.heads) == ("6 + 6", 512, 8)
    assert [r.layers for r in ROWS[:4]] == ["12", "12", "6", "12"]
    assert all(isinstance(r, ModelSize) and r.changed for r in ROWS)


def test_size_table_lines_up():
    lines = size_table(ROWS).splitlines()
    assert len(lines) == 2 + len(ROWS)
    assert lines[0].startswith("model") and set(lines[1]) <= {"-", " "}
    assert "60,506,624" in lines[-1]
    ends = {len(line) for line in lines[2:]}
    assert len(ends) == 1  # parameters right-aligned in one column


def test_gpt2_names_cover_every_parameter_once():
    with torch.device("meta"):
        model = GPT(vocab_size=50, context=16, d_model=8, nhead=2, num_layers=2)
    names = [gpt2_released_name(n) for n, _ in model.named_parameters()]
    assert len(set(names)) == len(names) == 28  # wte, wpe, ln_f (2), 2 × 12 per block
    assert gpt2_released_name("blocks.layers.1.linear1.weight") == (
        "transformer.h.1.mlp.c_fc.weight",
        True,
    )
    assert gpt2_released_name("blocks.layers.0.self_attn.in_proj_bias") == (
        "transformer.h.0.attn.c_attn.bias",
        False,
    )


def test_t5_names_cover_every_parameter_once():
    with torch.device("meta"):
        model = T5(T5Config(vocab_size=40, d_model=8, num_heads=2, d_kv=4, d_ff=16))
    names = [released_name(n) for n, _ in model.named_parameters()]
    assert len(set(names)) == len(names)
    assert "decoder.block.3.layer.1.EncDecAttention.k.weight" in names
    assert "encoder.block.5.layer.1.DenseReluDense.wo.weight" in names
    assert "decoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight" in names
    assert "decoder.block.2.layer.2.layer_norm.weight" in names


def test_weight_layout_keeps_the_first_block():
    with torch.device("meta"):
        model = GPT(vocab_size=50, context=16, d_model=8, nhead=2, num_layers=3)
    rows = weight_layout(model, gpt2_released_name)
    assert len(rows) == 2 + 12 + 2
    assert rows[2] == (
        "blocks.layers.0.self_attn.in_proj_weight",
        (24, 8),
        "transformer.h.0.attn.c_attn.weight (ᵀ)",
    )


def test_bad_input():
    with pytest.raises(ValueError, match="name must be a parameter name of GPT"):
        gpt2_released_name("blocks.layers.0.mystery.weight")
    with pytest.raises(TypeError, match="name must be a str"):
        gpt2_released_name(3)
    with pytest.raises(ValueError, match="name must be a parameter name of T5"):
        released_name("encoder.layers.0.cross_attn.q.weight")  # the encoder has none
    with pytest.raises(ValueError, match="name must be a parameter name of T5"):
        released_name("encoder.layers.0.norm1.bias")
    with pytest.raises(ValueError, match="rows must hold at least one"):
        size_table([])
    with pytest.raises(TypeError, match="rows must hold ModelSize"):
        size_table([("BERT", 1)])
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        weight_layout("gpt2", gpt2_released_name)
