"""Tests of ``snippets.common.data``."""

import pytest
import torch

from snippets.common.data import digits, make_loader, text_corpus


def test_digits_shapes_and_range():
    split = digits()
    assert split.x_train.shape == (1347, 1, 8, 8) and split.x_test.shape == (450, 1, 8, 8)
    assert split.y_train.dtype == torch.int64
    assert 0.0 <= split.x_train.min() and split.x_train.max() <= 1.0
    assert digits(flat=True).x_train.shape == (1347, 64)


def test_digits_split_is_fixed_disjoint_and_stratified():
    a, b = digits(seed=0), digits(seed=0)
    torch.testing.assert_close(a.x_test, b.x_test)
    train_rows = {tuple(r.tolist()) for r in a.x_train.flatten(1)}
    test_rows = [tuple(r.tolist()) for r in a.x_test.flatten(1)]
    overlap = sum(r in train_rows for r in test_rows)
    assert overlap <= 5  # the raw data holds a few duplicate images, nothing more
    counts = torch.bincount(a.y_test, minlength=10)
    assert counts.min() >= 44 and counts.max() <= 46  # a quarter of the ~180 images per class
    assert not torch.equal(digits(seed=1).x_test, a.x_test)


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.2])
def test_digits_bad_fraction(fraction):
    with pytest.raises(ValueError, match="test_fraction"):
        digits(test_fraction=fraction)


def test_make_loader_is_seeded_and_complete():
    x, y = torch.arange(10.0).unsqueeze(1), torch.arange(10)
    order = [b[1].tolist() for b in make_loader(x, y, batch_size=4, seed=3)]
    again = [b[1].tolist() for b in make_loader(x, y, batch_size=4, seed=3)]
    assert order == again
    assert sorted(sum(order, [])) == list(range(10))


def test_make_loader_bad_input():
    with pytest.raises(ValueError, match="same number of samples, got 3 and 2"):
        make_loader(torch.zeros(3, 1), torch.zeros(2))
    with pytest.raises(ValueError, match="batch_size must be > 0"):
        make_loader(torch.zeros(3, 1), torch.zeros(3), batch_size=0)


def test_text_corpus_is_offline_english_prose():
    text = text_corpus()
    assert len(text) > 400_000
    assert "assert" in text and "The" in text
    assert text == text_corpus()


def test_make_loader_keeps_variable_size_targets_as_lists():
    x = torch.arange(5.0).reshape(5, 1)
    labels = [torch.arange(i) for i in range(5)]  # 0 to 4 objects per sample
    boxes = [torch.zeros(i, 4) for i in range(5)]
    loader = make_loader(x, list(zip(labels, boxes)), batch_size=2, shuffle=True, seed=0)
    seen = []
    for inputs, (batch_labels, batch_boxes) in loader:
        assert inputs.shape[1:] == (1,) and len(batch_labels) == len(batch_boxes) == len(inputs)
        for value, lab, box in zip(inputs[:, 0].long().tolist(), batch_labels, batch_boxes):
            assert len(lab) == value and box.shape == (value, 4)  # targets stay with their input
            seen.append(value)
    assert sorted(seen) == [0, 1, 2, 3, 4]
    plain = make_loader(x, [torch.tensor(i) for i in range(5)], batch_size=5, shuffle=False)
    inputs, targets = next(iter(plain))
    assert isinstance(targets, list) and [int(t) for t in targets] == [0, 1, 2, 3, 4]
    with pytest.raises(TypeError, match="y must be a tensor or a list, got int"):
        make_loader(x, 5)
    with pytest.raises(ValueError, match="same number of samples, got 5 and 4"):
        make_loader(x, labels[:4])
