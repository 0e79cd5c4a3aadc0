"""Bits per character: the total code length, whatever the tokenizer."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from snippets.common.tokenizers import CharTokenizer
from snippets.llm.bpc import bits_per_char, evaluate_bits_per_char
from snippets.llm.model import ModernLM
from snippets.transformers.bpe import BPETokenizer


def test_a_character_model_divides_by_ln_2_only():
    assert bits_per_char(math.log(2), 10, 10) == pytest.approx(1.0)
    assert bits_per_char(1.5, 100, 100) == pytest.approx(1.5 / math.log(2))


@given(
    tokens=st.integers(1, 50),
    chars_per_token=st.integers(1, 5),
    vocab=st.integers(2, 300),
)
def test_uniform_guessing_costs_log2_vocab_bits_per_token(tokens, chars_per_token, vocab):
    # a model that gives every token the same probability pays log2(vocab) bits per token,
    # spread over the characters that token spells
    logits = torch.zeros(tokens, vocab, dtype=torch.float64)
    nats = F.cross_entropy(logits, torch.zeros(tokens, dtype=torch.int64)).item()
    chars = tokens * chars_per_token
    assert bits_per_char(nats, tokens, chars) == pytest.approx(math.log2(vocab) / chars_per_token)


def test_the_same_total_gives_the_same_bits_per_char():
    # 1,000 characters as 1,000 character tokens at 1.2 nats or 250 BPE tokens at 4.8 nats
    assert bits_per_char(1.2, 1000, 1000) == pytest.approx(bits_per_char(4.8, 250, 1000))


def test_bad_input():
    with pytest.raises(TypeError, match="tokens must be an int"):
        bits_per_char(1.0, 2.0, 3)
    with pytest.raises(TypeError, match="chars must be an int"):
        bits_per_char(1.0, 2, None)
    with pytest.raises(ValueError, match="chars"):
        bits_per_char(1.0, 2, 0)
    with pytest.raises(ValueError, match="tokens"):
        bits_per_char(1.0, -1, 5)
    with pytest.raises(ValueError, match="nats_per_token"):
        bits_per_char(-0.1, 2, 5)


TEXT = "the cat sat on the mat. the hat is on the cat. " * 4


def _model(vocab):
    torch.manual_seed(0)
    return ModernLM(vocab, dim=8, layers=1, heads=2, kv_heads=1, context=6)


def test_evaluate_bits_per_char_counts_the_characters_the_predicted_tokens_spell():
    tokenizer = BPETokenizer.train(TEXT, 40)
    ids = torch.tensor(tokenizer.encode(TEXT))
    model = _model(len(tokenizer))
    got = evaluate_bits_per_char(model, ids, 6, tokenizer)
    # by hand: every window's total loss, over the characters of its targets
    count = (len(ids) - 1) // 6
    x, y = ids[: count * 6].view(count, 6), ids[1 : count * 6 + 1].view(count, 6)
    with torch.no_grad():
        logits = model(x)[0]
    total = F.cross_entropy(logits.reshape(-1, len(tokenizer)), y.reshape(-1), reduction="sum")
    chars = len(tokenizer.decode(y.flatten().tolist()))
    assert chars > y.numel()  # BPE tokens hold several characters
    assert got == pytest.approx(total.item() / (math.log(2) * chars), rel=1e-5)


def test_evaluate_bits_per_char_of_a_character_model_is_its_loss_in_bits():
    from snippets.transformers.gpt import evaluate_lm

    tokenizer = CharTokenizer([TEXT])
    ids = torch.tensor(tokenizer.encode(TEXT))
    model = _model(len(tokenizer))
    expected = evaluate_lm(model, ids, 6) / math.log(2)
    assert evaluate_bits_per_char(model, ids, 6, tokenizer) == pytest.approx(expected)
    ids[5] = tokenizer.unk_id  # a predicted token that spells no text
    with pytest.raises(ValueError, match="ids must hold no special token"):
        evaluate_bits_per_char(model, ids, 6, tokenizer)
