"""Tests of ``snippets.sequence_models.data``."""

import pytest
import torch

from snippets.sequence_models.data import date_pairs, recall_task


def test_date_pairs_are_valid_iso_dates():
    import datetime

    pairs = date_pairs(n=500, seed=1)
    assert pairs == date_pairs(n=500, seed=1)
    assert pairs != date_pairs(n=500, seed=2)
    for source, target in pairs:
        date = datetime.date.fromisoformat(target)
        assert str(date.year) in source and 1950 <= date.year <= 2049
    assert {"/" in s for s, _ in pairs} == {True, False}  # numeric and word formats both occur


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
