"""The three prefixed tasks: numbers spelled out, and a split with nothing shared."""

from __future__ import annotations

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.common.tokenizers import CharTokenizer
from snippets.transformer_family.text_to_text import (
    PREFIXES,
    TaskBatches,
    number_to_words,
    task_ids,
    text_to_text_split,
)


@pytest.mark.parametrize(
    ("n", "words"),
    [
        (0, "zero"),
        (7, "seven"),
        (13, "thirteen"),
        (20, "twenty"),
        (47, "forty-seven"),
        (100, "one hundred"),
        (105, "one hundred five"),
        (219, "two hundred nineteen"),
        (347, "three hundred forty-seven"),
        (990, "nine hundred ninety"),
        (999, "nine hundred ninety-nine"),
    ],
)
def test_number_to_words(n, words):
    assert number_to_words(n) == words


def test_every_number_has_its_own_spelling():
    spellings = {number_to_words(n) for n in range(1000)}
    assert len(spellings) == 1000


@given(st.integers(0, 999))
def test_the_words_read_back_to_the_number(n):
    values = {w: i for i, w in enumerate(number_to_words(i) for i in range(20))}
    values |= {number_to_words(10 * t): 10 * t for t in range(2, 10)}
    total = 0
    for word in number_to_words(n).replace("-", " ").split():
        total = total * 100 if word == "hundred" else total + values[word]
    assert total == n


def test_split_holds_three_tasks_with_nothing_shared():
    train, test = text_to_text_split(50, 20, n_test_numbers=30, seed=0)
    assert len(train) == 50 + 2 * 970 and len(test) == 20 + 2 * 30
    assert not {s for s, _ in train} & {s for s, _ in test}
    for pairs in (train, test):
        assert {s.split(": ")[0] + ": " for s, _ in pairs} == set(PREFIXES)
    held_out = {t for s, t in test if s.startswith("words: ")}
    assert not held_out & {s.removeprefix("number: ") for s, _ in train}
    assert ("words: 347", "three hundred forty-seven") in train + test
    assert all(int(t) >= 100 for s, t in test if s.startswith("number: "))
    assert {("words: 7", "seven"), ("number: ninety-nine", "99")} <= set(train)
    assert text_to_text_split(50, 20, 30, seed=0) == (train, test)


def _batches(seed=0):
    pairs = [
        ("words: 7", "seven"),
        ("number: seven hundred seventy", "770"),
        ("words: 12", "twelve"),
        ("date: 1 May 2001", "2001-05-01"),
        ("words: 300", "three hundred"),
        ("number: five", "5"),
        ("words: 5", "five"),
    ]
    tok = CharTokenizer([s + t for s, t in pairs])
    src = tok.encode_batch([s for s, _ in pairs])
    tgt = tok.encode_batch([t for _, t in pairs], add_bos=True, add_eos=True)
    return pairs, tok, src, tgt, TaskBatches(src, tgt, task_ids(pairs), batch_size=2, seed=seed)


def test_task_batches_hold_one_task_each_without_padding_columns():
    pairs, tok, src, tgt, batches = _batches()
    assert task_ids(pairs).tolist() == [1, 2, 1, 0, 1, 2, 1]
    assert len(batches) == 1 + 1 + 2  # 1 date, 2 numbers, 4 words in batches of 2
    for _ in range(2):  # two epochs
        seen = []
        for s, t in batches:
            texts = [tok.decode(row) for row in s]
            assert len({x.split(":")[0] for x in texts}) == 1  # one task per batch
            assert (s[:, -1] != 0).any() and (t[:, -1] != 0).any()  # no all-padding column
            seen += texts
        assert sorted(seen) == sorted(p for p, _ in pairs)  # every sample once per epoch


def test_task_batches_reshuffle_every_epoch_reproducibly():
    def order(batches):
        return [tuple(s[:, 0].tolist() + s.sum(1).tolist()) for s, _ in batches]

    first, second = _batches(seed=3)[-1], _batches(seed=3)[-1]
    epochs = [order(first) for _ in range(4)]
    assert epochs == [order(second) for _ in range(4)]  # the same seed, the same epochs
    assert len(set(map(tuple, epochs))) > 1  # but a new order from epoch to epoch


def test_bad_input():
    src = torch.zeros(3, 4, dtype=torch.int64)
    with pytest.raises(ValueError, match="must hold the same number of samples"):
        TaskBatches(src, src, torch.zeros(2, dtype=torch.int64))
    with pytest.raises(TypeError, match="tasks must have dtype torch.int64"):
        TaskBatches(src, src, torch.zeros(3))
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        TaskBatches(src, src, torch.zeros(3, dtype=torch.int64), batch_size=0)
    with pytest.raises(ValueError, match="must start with one of"):
        task_ids([("translate: hi", "salut")])
    with pytest.raises(ValueError, match="n must be in 0 … 999"):
        number_to_words(1000)
    with pytest.raises(TypeError, match="n must be an int"):
        number_to_words(3.0)
    with pytest.raises(ValueError, match="n_test_numbers must be below 900"):
        text_to_text_split(10, 10, n_test_numbers=900)
    with pytest.raises(TypeError, match="n_test_numbers must be an int"):
        text_to_text_split(10, 10, n_test_numbers=2.5)
