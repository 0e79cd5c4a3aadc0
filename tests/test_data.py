import pytest
import torch

from snippets.data import date_pairs, digit_canvas, digits, linear_data, make_loader, text_corpus


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


def test_linear_data_follows_the_line():
    x, y = linear_data(n=2000, weight=3.0, bias=0.5, noise=0.0)
    torch.testing.assert_close(y, 3.0 * x + 0.5)
    x1, y1 = linear_data(seed=4)
    x2, y2 = linear_data(seed=4)
    torch.testing.assert_close(y1, y2)
    assert x1.shape == (100, 1)


def test_linear_data_bad_input():
    with pytest.raises(ValueError, match="n must be > 0"):
        linear_data(n=0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        linear_data(noise=-1.0)


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


def test_two_moons_split_shapes_and_seed():
    from snippets.data import two_moons

    split = two_moons(n=400, noise=0.1, test_fraction=0.25, seed=3)
    assert split.x_train.shape == (300, 2) and split.x_test.shape == (100, 2)
    assert split.y_train.dtype == torch.int64 and set(split.y_train.tolist()) == {0, 1}
    torch.testing.assert_close(two_moons(n=400, seed=3).x_test, two_moons(n=400, seed=3).x_test)
    assert not torch.equal(two_moons(seed=1).x_test, two_moons(seed=2).x_test)
    with pytest.raises(ValueError, match="test_fraction"):
        two_moons(test_fraction=1.0)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        two_moons(noise=-0.1)


def test_two_moons_without_noise_lie_on_the_half_circles():
    from snippets.data import two_moons

    split = two_moons(n=200, noise=0.0)
    x = torch.cat([split.x_train, split.x_test])
    y = torch.cat([split.y_train, split.y_test])
    centre = torch.where(y.unsqueeze(1) == 0, torch.tensor([0.0, 0.0]), torch.tensor([1.0, 0.5]))
    torch.testing.assert_close((x - centre).norm(dim=1), torch.ones(200))


def test_wavy_data_follows_its_target():
    from snippets.data import wavy_data, wavy_target

    x, y = wavy_data(n=500, noise=0.0, seed=1)
    assert x.shape == y.shape == (500, 1)
    assert -2.0 <= x.min() and x.max() <= 2.0
    torch.testing.assert_close(y, torch.sin(3 * x) + 0.3 * x**2)
    torch.testing.assert_close(wavy_target(torch.zeros(1)), torch.zeros(1))
    _, noisy = wavy_data(n=4000, noise=0.5, seed=1)
    x4, _ = wavy_data(n=4000, noise=0.5, seed=1)
    assert abs((noisy - wavy_target(x4)).std().item() - 0.5) < 0.03
    with pytest.raises(ValueError, match="n must be > 0"):
        wavy_data(n=0)


def test_recall_task_key_first_noise_after():
    from snippets.data import recall_task

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


def test_digit_canvas_boxes_enclose_the_ink():
    from snippets.boxes import box_cxcywh_to_xyxy, box_iou

    data = digit_canvas(n=40, canvas=32, max_objects=3, seed=2)
    assert data.images.shape == (40, 1, 32, 32)
    assert data.images.min() >= 0 and data.images.max() <= 1
    counts = [len(labels) for labels in data.labels]
    assert min(counts) >= 1 and max(counts) <= 3 and len(set(counts)) > 1
    for image, labels, boxes in zip(data.images, data.labels, data.boxes):
        assert labels.dtype == torch.int64 and boxes.shape == (len(labels), 4)
        corners = box_cxcywh_to_xyxy(boxes) * 32
        iou, _ = box_iou(corners, corners)
        torch.testing.assert_close(iou, torch.eye(len(labels)))  # digits never overlap
        ink = image[0] > 0.25
        covered = torch.zeros_like(ink)
        for x0, y0, x1, y1 in corners.round().long().tolist():
            covered[y0:y1, x0:x1] = True
            assert ink[y0:y1, x0:x1].any(dim=1).all()  # tight: ink in every row
            assert ink[y0:y1, x0:x1].any(dim=0).all()  # and every column of the box
        assert not (ink & ~covered).any()  # no ink outside the boxes


def test_digit_canvas_is_seeded_and_splits_handwriting():
    a, b = digit_canvas(n=10, seed=5), digit_canvas(n=10, seed=5)
    torch.testing.assert_close(a.images, b.images)
    assert all(torch.equal(x, y) for x, y in zip(a.boxes, b.boxes))
    assert not torch.equal(digit_canvas(n=10, seed=6).images, a.images)
    assert not torch.equal(digit_canvas(n=10, seed=5, split="test").images, a.images)


def test_digit_canvas_bad_input():
    with pytest.raises(ValueError, match="sizes must satisfy"):
        digit_canvas(n=2, canvas=16, sizes=(8, 9))
    with pytest.raises(ValueError, match="split must be one of"):
        digit_canvas(n=2, split="val")
    with pytest.raises(ValueError, match="max_objects must be > 0"):
        digit_canvas(n=2, max_objects=0)
