"""The decoder-only language model, its data windows, sampling and masked-LM corruption."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.sequence_models.char_lm import random_windows
from snippets.transformers.gpt import GPT, evaluate_lm, generate, lm_loss
from snippets.transformers.masked_lm import IGNORE, MaskedLM, mask_tokens


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


def test_mask_tokens_follows_the_bert_recipe():
    gen = torch.Generator().manual_seed(0)
    ids = torch.randint(4, 50, (200, 50))
    ids[:, -5:] = 0  # padding is never chosen
    inputs, labels = mask_tokens(ids, mask_id=3, vocab_size=50, generator=gen)
    chosen = labels != IGNORE
    assert not chosen[:, -5:].any()
    assert 0.13 < chosen.float().mean() / 0.9 < 0.17
    assert torch.equal(labels[chosen], ids[chosen])
    assert torch.equal(inputs[~chosen], ids[~chosen])
    masked = (inputs[chosen] == 3).float().mean()
    kept = (inputs[chosen] == ids[chosen]).float().mean()
    assert 0.77 < masked < 0.83 and 0.07 < kept < 0.14


def test_masked_lm_sees_both_sides():
    torch.manual_seed(0)
    model = MaskedLM(12, 8, d_model=16, nhead=2, num_layers=1, dropout=0.0).eval()
    ids = torch.randint(12, (1, 8))
    changed = ids.clone()
    changed[0, 7] = (ids[0, 7] + 1) % 12
    assert not torch.allclose(model(ids)[0, 0], model(changed)[0, 0])


def test_bad_inputs_are_named():
    model = _model()
    with pytest.raises(ValueError, match="more than context=8"):
        model(torch.zeros(1, 9, dtype=torch.int64))
    with pytest.raises(ValueError, match=r"ids must hold at least seq_len \+ 1 = 11 ids, got 10"):
        random_windows(torch.arange(10), 10, 2)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        generate(model, torch.ones(1, 2, dtype=torch.int64), 3, temperature=0.0)
    with pytest.raises(ValueError, match=r"prob must be in \(0, 1\]"):
        mask_tokens(torch.ones(1, 3, dtype=torch.int64), 3, 5, prob=0.0)
