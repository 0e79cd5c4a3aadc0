"""Tests of ``snippets.sequence_models.data``."""

import pytest
import torch

from snippets.sequence_models.data import (
    date_pairs,
    date_split,
    distinct_date_sources,
    recall_split,
    recall_task,
)


def test_date_pairs_are_valid_iso_dates():
    import datetime

    pairs = date_pairs(n=500, seed=1)
    assert pairs == date_pairs(n=500, seed=1)
    assert pairs != date_pairs(n=500, seed=2)
    for source, target in pairs:
        date = datetime.date.fromisoformat(target)
        assert str(date.year) in source and 1950 <= date.year <= 2049
    assert {"/" in s for s, _ in pairs} == {True, False}  # numeric and word formats both occur


def test_date_sources_use_digits_punctuation_and_the_letters_of_the_months():
    """The seq2seq page builds the source vocabulary from this set without drawing dates."""
    import calendar

    months = " ".join(calendar.month_name[1:])
    characters = set("".join(source for source, _ in date_pairs(n=2000, seed=3)))
    assert characters == set(months + months.lower() + "0123456789 ,/")


def test_date_pairs_bad_n():
    with pytest.raises(ValueError, match="n must be > 0"):
        date_pairs(n=0)


def test_recall_task_key_first_noise_after():

    tokens, labels = recall_task(200, length=30, classes=8, noise_tokens=3, seed=0)
    assert tokens.shape == (200, 30) and labels.shape == (200,)
    assert torch.equal(tokens[:, 0], labels)
    assert labels.min() >= 0 and labels.max() < 8
    assert tokens[:, 1:].min() >= 8 and tokens[:, 1:].max() < 11
    assert torch.equal(recall_task(200, 30, seed=0)[0], recall_task(200, 30, seed=0)[0])
    assert not torch.equal(recall_task(200, 30, seed=1)[1], recall_task(200, 30, seed=0)[1])
    with pytest.raises(ValueError, match="length must be >= 2"):
        recall_task(10, length=1)
    with pytest.raises(ValueError, match="classes must be > 0"):
        recall_task(10, classes=0)
    with pytest.raises(TypeError, match="n must be an int, got float"):
        recall_task(10.5)


def test_independent_draws_share_samples_which_is_why_the_splits_exist():
    train, test = date_pairs(3000, seed=0), date_pairs(1000, seed=1)
    assert {s for s, _ in train} & {s for s, _ in test}  # the same source in both
    tokens, _ = recall_task(100, length=10, noise_tokens=1, seed=0)
    assert len({tuple(row) for row in tokens.tolist()}) <= 8  # one distractor: 8 sequences


def test_date_split_is_disjoint_deduplicated_and_follows_date_pairs():
    train, test = date_split(300, 100, seed=3)
    assert len(train) == 300 and len(test) == 100
    assert (train, test) == date_split(300, 100, seed=3)
    sources = [s for s, _ in train + test]
    assert len(set(sources)) == 400  # no repeat inside a set, nothing shared between them
    stream = dict(date_pairs(1000, seed=3))  # the same draws, repeats skipped
    assert all(stream[s] == t for s, t in train + test)
    first = list(dict.fromkeys(s for s, _ in date_pairs(1000, seed=3)))[:400]
    assert sources == first


def test_distinct_date_sources_counts_every_spelling():
    # 36,525 days from 1950 to 2049 (25 leap years); each in 4 word formats,
    # capitalized or lower case, and 1 numeric one: 9 spellings. In May the
    # full and the short month name coincide, so "7 May 1998" is one string
    # for two formats: 2 spellings fewer on each of the 3,100 days of May.
    assert distinct_date_sources() == 36525 * 9 - 2 * 3100


def test_date_split_bad_sizes():
    with pytest.raises(ValueError, match="n_test must be > 0"):
        date_split(10, 0)
    with pytest.raises(TypeError, match="n_train must be an int, got float"):
        date_split(10.0, 5)
    too_many = distinct_date_sources() + 1
    with pytest.raises(ValueError, match=f"at most {too_many - 1} .*got {too_many}"):
        date_split(too_many - 1, 1)
    with pytest.raises(ValueError, match="at most"):
        date_split(too_many, 1)


def test_recall_split_is_disjoint_and_labelled_by_the_key():
    split = recall_split(300, 100, length=20, classes=8, noise_tokens=2, seed=0)
    assert split.x_train.shape == (300, 20) and split.x_test.shape == (100, 20)
    assert torch.equal(split.x_train[:, 0], split.y_train)
    assert torch.equal(split.x_test[:, 0], split.y_test)
    assert split.x_train[:, 1:].min() >= 8 and split.x_train[:, 1:].max() < 10
    rows = [tuple(r) for r in torch.cat([split.x_train, split.x_test]).tolist()]
    assert len(set(rows)) == 400
    again = recall_split(300, 100, length=20, classes=8, noise_tokens=2, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(split, again))


def test_recall_split_can_use_every_sequence():
    # 3 keys · 2⁶ distractor patterns = 192 sequences: all of them, each once
    split = recall_split(150, 42, length=7, classes=3, noise_tokens=2, seed=1)
    rows = {tuple(r) for r in torch.cat([split.x_train, split.x_test]).tolist()}
    assert len(rows) == 192
    assert not {tuple(r) for r in split.x_train.tolist()} & {
        tuple(r) for r in split.x_test.tolist()
    }


def test_recall_split_bad_sizes():
    with pytest.raises(ValueError, match=r"at most .* = 8 \(the distinct sequences\), got 5800"):
        recall_split(4800, 1000, length=50, classes=8, noise_tokens=1)  # one distractor token
    with pytest.raises(ValueError, match="= 192 .*got 193"):
        recall_split(150, 43, length=7, classes=3, noise_tokens=2)
    with pytest.raises(ValueError, match="n_test must be > 0"):
        recall_split(10, 0)
    with pytest.raises(ValueError, match="length must be >= 2"):
        recall_split(10, 5, length=1)
    with pytest.raises(TypeError, match="length must be an int"):
        recall_split(10, 5, length=5.0)
