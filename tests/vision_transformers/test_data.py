"""Tests of ``snippets.vision_transformers.data``."""

import pytest
import torch

from snippets.vision_transformers.data import digit_canvas


def test_digit_canvas_boxes_enclose_the_ink():
    from snippets.vision_transformers.boxes import box_cxcywh_to_xyxy, box_iou

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
