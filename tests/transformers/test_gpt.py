"""The decoder-only language model: init, optimizer groups, data windows and sampling."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.sequence_models.char_lm import random_windows
from snippets.transformers.gpt import GPT, evaluate_lm, generate, lm_loss, param_groups


def _model():
    torch.manual_seed(0)
    return GPT(vocab_size=12, context=8, d_model=16, nhead=2, num_layers=2, dropout=0.0).eval()


def test_gpt_shapes_and_weight_tying():
    model = _model()
    assert model(torch.randint(12, (3, 8))).shape == (3, 8, 12)
    assert model.head.weight is model.token.weight


CAUSAL_MODEL = _model()


@settings(max_examples=10)
@given(t=st.integers(0, 6), seed=st.integers(0, 100))
def test_gpt_prediction_at_t_ignores_later_tokens(t, seed):
    model = CAUSAL_MODEL
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(12, (1, 8), generator=gen)
    changed = ids.clone()
    changed[0, t + 1 :] = torch.randint(12, (7 - t,), generator=gen)
    torch.testing.assert_close(model(ids)[:, : t + 1], model(changed)[:, : t + 1])


def test_blocks_equal_torch_causal_encoder_layer():
    model = _model()
    block = model.blocks.layers[0]
    reference = torch.nn.TransformerEncoderLayer(
        16, 2, 64, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    ).eval()
    reference.load_state_dict(block.state_dict())
    x = torch.randn(2, 8, 16)
    mask = torch.nn.Transformer.generate_square_subsequent_mask(8)
    torch.testing.assert_close(
        block(x, is_causal=True), reference(x, src_mask=mask, is_causal=True)
    )


def test_windows_are_shifted_by_one():
    data = torch.arange(100)
    x, y = random_windows(data, 10, 4, torch.Generator().manual_seed(0))
    assert x.shape == y.shape == (4, 10)
    assert torch.equal(y, x + 1)


def test_evaluate_lm_equals_the_mean_loss_over_windows():
    model = _model()
    data = torch.randint(12, (41,))
    x, y = data[:40].reshape(5, 8), data[1:41].reshape(5, 8)
    with torch.no_grad():
        expected = lm_loss(model(x), y).item()
    assert evaluate_lm(model, data, 8, batch_size=2) == pytest.approx(expected, rel=1e-5)
    logits = torch.randn(2, 3, 5)
    targets = torch.randint(5, (2, 3))
    torch.testing.assert_close(
        lm_loss(logits, targets), F.cross_entropy(logits.transpose(1, 2), targets)
    )


def test_generate_is_reproducible_and_top1_is_greedy():
    model = _model()
    prompt = torch.tensor([[1, 2, 3]])
    a = generate(model, prompt, 6, generator=torch.Generator().manual_seed(1))
    b = generate(model, prompt, 6, generator=torch.Generator().manual_seed(1))
    assert a.shape == (1, 9) and torch.equal(a, b)
    greedy = generate(model, prompt, 4, top_k=1)
    ids = prompt
    for _ in range(4):
        ids = torch.cat([ids, model(ids)[:, -1:].argmax(-1)], dim=1)
    assert torch.equal(greedy, ids)


def test_init_follows_gpt2_with_scaled_residual_projections():
    torch.manual_seed(0)
    layers, d = 6, 256
    model = GPT(vocab_size=500, context=64, d_model=d, nhead=4, num_layers=layers)
    residual = 0.02 / math.sqrt(2 * layers)  # about 0.0041
    for block in model.blocks.layers:
        for weight in (block.self_attn.out_proj.weight, block.linear2.weight):
            assert weight.std().item() == pytest.approx(residual, rel=0.05)
        for weight in (block.self_attn.in_proj_weight, block.linear1.weight):
            assert weight.std().item() == pytest.approx(0.02, rel=0.05)
        biases = (block.self_attn.in_proj_bias, block.self_attn.out_proj.bias)
        for bias in (*biases, block.linear1.bias, block.linear2.bias):
            assert not bias.any()
        assert torch.equal(block.norm1.weight, torch.ones(d))
    assert model.token.weight.std().item() == pytest.approx(0.02, rel=0.05)
    assert model.position.embedding.weight.std().item() == pytest.approx(0.02, rel=0.05)


def test_param_groups_decay_matrices_only_and_hold_every_parameter_once():
    model = _model()
    decayed, others = param_groups(model, weight_decay=0.1)
    assert decayed["weight_decay"] == 0.1 and others["weight_decay"] == 0.0
    ids = [id(p) for p in decayed["params"] + others["params"]]
    assert len(ids) == len(set(ids))
    assert set(ids) == {id(p) for p in model.parameters()}
    names = {id(p): name for name, p in model.named_parameters()}
    decayed_names = {names[id(p)] for p in decayed["params"]}
    block = {"self_attn.in_proj_weight", "self_attn.out_proj.weight"}
    block |= {"linear1.weight", "linear2.weight"}
    assert decayed_names == {f"blocks.layers.{i}.{name}" for i in (0, 1) for name in block}
    other_names = {names[id(p)] for p in others["params"]}
    assert {"token.weight", "position.embedding.weight", "blocks.norm.weight"} <= other_names
    embeddings = {id(model.token.weight), id(model.position.embedding.weight)}
    assert all(p.ndim == 1 or id(p) in embeddings for p in others["params"])


def test_adamw_with_the_groups_shrinks_matrices_and_leaves_the_rest():
    model = _model()
    decayed, others = param_groups(model, weight_decay=0.5)
    before = [p.detach().clone() for p in decayed["params"] + others["params"]]
    optimizer = torch.optim.AdamW([decayed, others], lr=0.1)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)  # a zero gradient: only the decay moves a parameter
    optimizer.step()
    shrink = [1 - 0.1 * 0.5] * len(decayed["params"]) + [1.0] * len(others["params"])
    for p, old, factor in zip(decayed["params"] + others["params"], before, shrink, strict=True):
        torch.testing.assert_close(p.detach(), old * factor)


def test_bad_inputs_are_named():
    model = _model()
    with pytest.raises(ValueError, match="more than context=8"):
        model(torch.zeros(1, 9, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"ids must hold at least seq_len \+ 1 = 11 ids, got 10"):
        random_windows(torch.arange(10), 10, 2)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        generate(model, torch.ones(1, 2, dtype=torch.int64), 3, temperature=0.0)
    with pytest.raises(ValueError, match="d_model must be divisible by nhead, got 10 and 4"):
        GPT(12, 8, d_model=10, nhead=4)
    with pytest.raises(ValueError, match="num_layers must be > 0"):
        GPT(12, 8, num_layers=0)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        param_groups(model, -0.1)
    with pytest.raises(TypeError, match="ids must have dtype torch.int64"):
        model(torch.zeros(1, 3))
