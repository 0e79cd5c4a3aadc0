"""BERT's masking recipe, the masked-LM loss, and the bidirectional model sharing GPT's body."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.transformers.gpt import GPT
from snippets.transformers.masked_lm import IGNORE, MaskedLM, mask_tokens, masked_lm_loss


def _pair(num_layers=2):
    """A GPT and a MaskedLM with the very same weights."""
    torch.manual_seed(0)
    gpt = GPT(12, 8, d_model=16, nhead=2, num_layers=num_layers, dropout=0.0).eval()
    mlm = MaskedLM(12, 8, d_model=16, nhead=2, num_layers=num_layers, dropout=0.0).eval()
    mlm.load_state_dict(gpt.state_dict())
    return gpt, mlm


GPT_MODEL, MASKED_MODEL = _pair()


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


def test_mask_tokens_never_picks_any_special_id_and_is_reproducible():
    ids = torch.randint(0, 6, (50, 40))

    def corrupt():
        gen = torch.Generator().manual_seed(4)
        return mask_tokens(ids, 9, 10, prob=1.0, special_ids=(0, 1), generator=gen)

    a, b = corrupt(), corrupt()
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    special = (ids == 0) | (ids == 1)
    assert torch.equal(a[1] != IGNORE, ~special)  # prob=1: every other position is picked
    assert torch.equal(a[0][special], ids[special])


def test_masked_lm_loss_counts_only_the_picked_positions():
    gen = torch.Generator().manual_seed(1)
    logits = torch.randn(2, 5, 7, generator=gen)
    labels = torch.full((2, 5), IGNORE)
    labels[0, 1], labels[1, 3], labels[1, 4] = 2, 6, 0
    picked = labels != IGNORE
    expected = F.cross_entropy(logits[picked], labels[picked])
    torch.testing.assert_close(masked_lm_loss(logits, labels), expected)
    changed = logits.clone()
    changed[~picked] = 100 * torch.randn(int((~picked).sum()), 7, generator=gen)
    torch.testing.assert_close(masked_lm_loss(changed, labels), expected)


@settings(max_examples=10)
@given(t=st.integers(0, 6), seed=st.integers(0, 100))
def test_masked_lm_attends_both_ways_and_gpt_only_backwards(t, seed):
    gen = torch.Generator().manual_seed(seed)
    ids = torch.randint(12, (1, 8), generator=gen)
    changed = ids.clone()
    changed[0, 7] = (ids[0, 7] + 1 + torch.randint(11, (1,), generator=gen)) % 12
    with torch.no_grad():
        # a later token changes the masked model's output at an earlier position ...
        assert not torch.allclose(MASKED_MODEL(ids)[0, t], MASKED_MODEL(changed)[0, t])
        # ... but not the causal one's.
        torch.testing.assert_close(GPT_MODEL(ids)[0, : t + 1], GPT_MODEL(changed)[0, : t + 1])


def test_with_one_layer_the_last_position_is_the_same_in_both():
    gpt, mlm = _pair(num_layers=1)  # the last position sees every token in both models
    ids = torch.randint(12, (3, 8), generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        torch.testing.assert_close(mlm(ids)[:, -1], gpt(ids)[:, -1])
        assert not torch.allclose(mlm(ids)[:, 0], gpt(ids)[:, 0])


@pytest.mark.parametrize("num_layers", [1, 3])
def test_masked_lm_equals_torch_encoder_stack_without_a_causal_mask(num_layers):
    torch.manual_seed(num_layers)
    model = MaskedLM(12, 8, d_model=16, nhead=2, num_layers=num_layers, dropout=0.0).eval()
    for p in model.parameters():  # non-trivial biases and LayerNorm gains
        p.data.normal_(0, 0.3)
    layer = nn.TransformerEncoderLayer(
        16, 2, 64, dropout=0.0, activation="gelu", batch_first=True, norm_first=True
    )
    stack = nn.TransformerEncoder(layer, num_layers, nn.LayerNorm(16), enable_nested_tensor=False)
    blocks = {k.removeprefix("blocks."): v for k, v in model.state_dict().items() if "blocks." in k}
    stack.load_state_dict(blocks)
    stack.eval()
    ids = torch.randint(12, (3, 8))
    x = model.token.weight[ids] + model.position.embedding.weight[:8]  # tokens plus positions
    with torch.no_grad():
        expected = stack(x) @ model.token.weight.T  # no mask: every position sees all
        torch.testing.assert_close(model(ids), expected)


def test_masked_lm_loss_works_in_float64_and_checks_labels():
    gen = torch.Generator().manual_seed(5)
    logits = torch.randn(3, 4, 6, generator=gen, dtype=torch.float64)
    labels = torch.randint(6, (3, 4), generator=gen)
    labels[0] = IGNORE
    loss = masked_lm_loss(logits, labels)
    assert loss.dtype == torch.float64
    expected = F.cross_entropy(logits.reshape(-1, 6), labels.flatten(), ignore_index=IGNORE)
    torch.testing.assert_close(loss, expected)
    labels[1, 2] = 6  # was an IndexError inside F.cross_entropy
    with pytest.raises(ValueError, match="labels must be IGNORE .* ids from 0 to 5"):
        masked_lm_loss(logits, labels)


def test_masked_lm_shares_gpt_init_and_weight_tying():
    torch.manual_seed(0)
    model = MaskedLM(500, 16, d_model=128, nhead=4, num_layers=3)
    assert model.head.weight is model.token.weight
    assert model.token.weight.std().item() == pytest.approx(0.02, rel=0.05)
    residual = 0.02 / math.sqrt(2 * 3)
    for block in model.blocks.layers:
        assert block.linear2.weight.std().item() == pytest.approx(residual, rel=0.05)
        assert block.self_attn.out_proj.weight.std().item() == pytest.approx(residual, rel=0.05)


def test_bad_inputs_are_named():
    model = MASKED_MODEL
    with pytest.raises(ValueError, match="more than context=8"):
        model(torch.zeros(1, 9, dtype=torch.int64))
    with pytest.raises(ValueError, match="vocab_size must be > 0"):
        MaskedLM(0, 8)
    with pytest.raises(ValueError, match="d_model must be divisible by nhead"):
        MaskedLM(12, 8, d_model=10, nhead=4)
    with pytest.raises(ValueError, match=r"prob must be in \(0, 1\]"):
        mask_tokens(torch.ones(1, 3, dtype=torch.int64), 3, 5, prob=0.0)
    with pytest.raises(ValueError, match=r"prob must be in \(0, 1\]"):
        mask_tokens(torch.ones(1, 3, dtype=torch.int64), 3, 5, prob=1.5)
    with pytest.raises(ValueError, match="ids must have 2 dimensions"):
        mask_tokens(torch.ones(3, dtype=torch.int64), 3, 5)
    with pytest.raises(ValueError, match=r"labels must have shape \(1, 3\)"):
        masked_lm_loss(torch.randn(1, 3, 5), torch.zeros(1, 4, dtype=torch.int64))
    with pytest.raises(ValueError, match="no position is picked"):
        masked_lm_loss(torch.randn(1, 3, 5), torch.full((1, 3), IGNORE))
    with pytest.raises(ValueError, match="mask_id must be an id from 0 to 4, got 5"):
        mask_tokens(torch.ones(1, 3, dtype=torch.int64), 5, 5)
    with pytest.raises(ValueError, match="ids must hold ids from 0 to 4"):
        mask_tokens(torch.tensor([[1, 7]]), 3, 5)
    with pytest.raises(ValueError, match="ids must hold ids from 0 to 11"):
        model(torch.tensor([[1, 12]]))
