"""Byte-pair encoding trained from scratch."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.common.tokenizers import CharTokenizer
from snippets.transformers.bpe import BPETokenizer, learn_merges, pretokenize

TEXT = "low lower lowest newer newest wider widest low low new new " * 3
ROUND_TRIP = BPETokenizer.train(TEXT + "\n.", vocab_size=40)


@pytest.fixture(scope="module")
def tokenizer():
    return BPETokenizer.train(TEXT, vocab_size=40)


def test_first_merge_is_the_most_frequent_pair():
    merges = learn_merges(TEXT, 3)
    words = pretokenize(TEXT)
    counts = {}
    for w in words:
        for pair in zip(w, w[1:]):
            counts[pair] = counts.get(pair, 0) + 1
    best = max(counts.values())
    assert merges[0][1] == best
    assert counts[merges[0][0]] == best
    assert [c for _, c in merges] == sorted((c for _, c in merges), reverse=True)


def test_merges_match_a_naive_recount_at_every_step():
    learned = learn_merges(TEXT, 12)
    words = [tuple(w) for w in pretokenize(TEXT)]
    for pair, count in learned:  # recount every pair from scratch and compare
        counts = {}
        for w in words:
            for p in zip(w, w[1:]):
                counts[p] = counts.get(p, 0) + 1
        assert count == max(counts.values()) == counts[pair]
        merged = []
        for w in words:
            out, i = [], 0
            while i < len(w):
                if w[i : i + 2] == pair:
                    out.append(w[i] + w[i + 1])
                    i += 2
                else:
                    out.append(w[i])
                    i += 1
            merged.append(tuple(out))
        words = merged


def test_vocabulary_layout_and_specials_match_char_tokenizer(tokenizer):
    chars = CharTokenizer([TEXT])
    assert tokenizer.itos[: len(chars)] == chars.itos
    assert (tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id) == (0, 1, 2, 3)
    assert len(tokenizer) <= 40
    assert tokenizer.itos[len(chars)] == "".join(tokenizer.merges[0])


def test_frequent_words_become_single_tokens(tokenizer):
    assert tokenizer.tokenize(" low") == [" low"]
    assert len(tokenizer.encode(TEXT)) < len(TEXT) / 2


@given(st.text(alphabet=sorted(set(TEXT)) + ["\n", "."], max_size=60))
def test_round_trip_for_known_characters(text):
    assert "".join(pretokenize(text)) == text
    assert ROUND_TRIP.decode(ROUND_TRIP.encode(text)) == text


def test_unknown_characters_map_to_unk(tokenizer):
    ids = tokenizer.encode("low Z")
    assert tokenizer.unk_id in ids
    assert tokenizer.decode(ids) == "low <unk>"


def test_specials_and_batches(tokenizer):
    ids = tokenizer.encode("new", add_bos=True, add_eos=True)
    assert ids[0] == tokenizer.bos_id and ids[-1] == tokenizer.eos_id
    assert tokenizer.decode(ids + tokenizer.encode(" low")) == "new"
    batch = tokenizer.encode_batch(["low", "newest wider"])
    assert batch.dtype == torch.int64 and batch[0, -1] == tokenizer.pad_id
    assert tokenizer.decode(batch[1]) == "newest wider"


def test_bad_inputs_are_named(tokenizer):
    with pytest.raises(ValueError, match="vocab_size must be at least"):
        BPETokenizer.train(TEXT, vocab_size=5)
    with pytest.raises(TypeError, match="text must be a str"):
        tokenizer.encode(12)
    with pytest.raises(ValueError, match=r"ids must lie in \[0, "):
        tokenizer.decode([999])
    with pytest.raises(ValueError, match="texts must hold at least one string"):
        tokenizer.encode_batch([])
    with pytest.raises(ValueError, match="num_merges must be >= 0"):
        learn_merges(TEXT, -1)
