"""Every dataset's held-out part shares no sample with its training part.

An example's bar means something only on data the model never saw. These
tests compare the samples themselves (their bytes), not indices, so a split
that draws the same sample twice is caught.
"""

from __future__ import annotations

import torch

from snippets.cnn.data import augmented_digits
from snippets.common.data import digits
from snippets.neural_networks.data import two_moons
from snippets.sequence_models.data import date_split, recall_split
from snippets.vision_transformers.data import digit_canvas


def _rows(x: torch.Tensor) -> set[bytes]:
    return {row.numpy().tobytes() for row in x.reshape(len(x), -1).contiguous()}


def assert_disjoint(train: torch.Tensor, test: torch.Tensor) -> None:
    shared = _rows(train) & _rows(test)
    assert not shared, f"{len(shared)} held-out samples also appear in training"


def test_the_check_catches_a_shared_sample():
    x = torch.arange(12.0).reshape(4, 3)
    try:
        assert_disjoint(x[:3], x[2:])
    except AssertionError as error:
        assert "1 held-out samples" in str(error)
    else:
        raise AssertionError("a shared row went unnoticed")


def test_digits():
    split = digits()
    assert_disjoint(split.x_train, split.x_test)
    assert len(_rows(split.x_train)) == len(split.x_train)  # no duplicate inside either


def test_augmented_digits():
    split = augmented_digits(size=16, copies=2)
    assert_disjoint(split.x_train, split.x_test)


def test_two_moons():
    split = two_moons(n=1000)
    assert_disjoint(split.x_train, split.x_test)


def test_digit_canvases():
    train, test = digit_canvas(200, split="train", seed=0), digit_canvas(200, split="test", seed=1)
    assert_disjoint(train.images, test.images)


def test_recall_split():
    # the sizes of plot_long_range_memory.py and plot_gradient_flow.py
    for split in (
        recall_split(4800, 1000, length=50, classes=8, noise_tokens=2),
        recall_split(12800, 1000, length=20, noise_tokens=4),
    ):
        assert_disjoint(split.x_train, split.x_test)
        assert len(_rows(split.x_train)) == len(split.x_train)


def test_date_split():
    # the sizes of plot_date_translation.py and plot_seq2seq_dates.py; a source
    # string is the sample (the same day written another way is a different one)
    for n_train in (3000, 18000):
        train, test = date_split(n_train, 1000, seed=0)
        shared = {s for s, _ in train} & {s for s, _ in test}
        assert not shared, f"{len(shared)} held-out samples also appear in training"
        assert len({s for s, _ in train}) == len(train)  # no duplicate inside either
        assert len({s for s, _ in test}) == len(test)
