"""The chapter's training setup: ordered splits, the unigram baseline, a reproducible train_lm."""

from __future__ import annotations

import math

import pytest
import torch

from snippets.common.tokenizers import CharTokenizer
from snippets.llm.lora import add_lora
from snippets.llm.model import ModernLM
from snippets.llm.training import logits_only, token_split, train_lm, unigram_loss
from snippets.transformers.gpt import GPT

TEXT = "abcdefgh" * 30


def test_token_split_keeps_the_order_and_the_fraction():
    tokenizer = CharTokenizer([TEXT])
    split = token_split(TEXT, tokenizer, train_fraction=0.75)
    ids = tokenizer.encode(TEXT)
    assert split.train.tolist() == ids[:180] and split.val.tolist() == ids[180:]
    assert split.train.dtype == torch.int64


def test_unigram_loss_is_the_cross_entropy_of_the_frequencies():
    train = torch.tensor([0, 0, 0, 1])  # p(0) = 3/4, p(1) = 1/4
    val = torch.tensor([0, 1])
    expected = -(math.log(0.75) + math.log(0.25)) / 2
    assert unigram_loss(train, val, 3) == pytest.approx(expected)
    uniform = torch.arange(5)
    assert unigram_loss(uniform, uniform, 5) == pytest.approx(math.log(5))
    assert unigram_loss(train, torch.tensor([2]), 3) == pytest.approx(-math.log(1e-9))


def test_logits_only_takes_the_first_item_of_a_tuple():
    x, y = torch.zeros(1, 2), torch.ones(1)
    assert logits_only(lambda t: (t + 1, "cache"), (x, y))[0].eq(1).all()
    assert logits_only(lambda t: t + 2, (x, y))[0].eq(2).all()


def _train(model, seed=0, **kwargs):
    tokenizer = CharTokenizer([TEXT])
    split = token_split(TEXT, tokenizer)
    sizes = dict(steps=60, context=8, batch_size=8, lr=1e-2, evals=3, log=False)
    return train_lm(model, split.train, split.val, **{**sizes, **kwargs},
                    generator=torch.Generator().manual_seed(seed))  # fmt: skip


@pytest.mark.parametrize("kind", ["gpt", "modern"])
def test_train_lm_learns_and_repeats_itself(kind):
    def model():
        torch.manual_seed(0)
        if kind == "gpt":
            return GPT(12, 8, d_model=16, nhead=2, num_layers=1, dropout=0.0)
        return ModernLM(12, 16, 1, heads=2, kv_heads=1, context=8)

    first, second = _train(model()), _train(model())
    assert first.val_steps == [20, 40, 60] and len(first.train) == 60
    # a cycle: each character fixes the next, far below the 2.08 nats of frequencies alone
    assert first.val[-1] < 0.5
    assert first.train == second.train and first.val == second.val


def test_train_lm_updates_only_trainable_parameters():
    torch.manual_seed(0)
    model = ModernLM(12, 16, 1, heads=2, kv_heads=1, context=8)
    add_lora(model, ["q"], rank=2)
    frozen = {n: p.clone() for n, p in model.named_parameters() if not p.requires_grad}
    adapters = {n: p.clone() for n, p in model.named_parameters() if p.requires_grad}
    _train(model, steps=5, evals=1)
    for name, p in model.named_parameters():
        if name in frozen:
            assert torch.equal(p, frozen[name]), name
        else:
            assert not torch.equal(p, adapters[name]), name


def test_bad_input():
    tokenizer = CharTokenizer([TEXT])
    with pytest.raises(TypeError, match="text must be a str"):
        token_split(b"abc", tokenizer)
    with pytest.raises(ValueError, match="train_fraction must be between 0 and 1"):
        token_split(TEXT, tokenizer, train_fraction=1.0)
    with pytest.raises(ValueError, match="at least 2 tokens to each part"):
        token_split("abc", tokenizer)
    with pytest.raises(TypeError, match="train"):
        unigram_loss(torch.zeros(3), torch.zeros(3, dtype=torch.int64), 2)
    with pytest.raises(ValueError, match="vocab_size"):
        unigram_loss(torch.zeros(3, dtype=torch.int64), torch.zeros(3, dtype=torch.int64), 0)
    model = ModernLM(12, 16, 1, heads=2, kv_heads=1, context=8)
    with pytest.raises(ValueError, match="evals must be at most steps = 2"):
        _train(model, steps=2, evals=3)
    with pytest.raises(ValueError, match="steps"):
        _train(model, steps=0)
    for p in model.parameters():
        p.requires_grad_(False)
    with pytest.raises(ValueError, match="no parameter that requires a gradient"):
        _train(model)
