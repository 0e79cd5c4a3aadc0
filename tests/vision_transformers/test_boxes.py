import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.vision_transformers.boxes import (
    box_area,
    box_cxcywh_to_xyxy,
    box_iou,
    box_xyxy_to_cxcywh,
    generalized_box_iou,
)

coordinate = st.floats(0.0, 10.0, allow_nan=False, width=32)
extent = st.floats(0.125, 10.0, allow_nan=False, width=32)
corner_box = st.tuples(coordinate, coordinate, extent, extent).map(
    lambda b: [b[0], b[1], b[0] + b[2], b[1] + b[3]]
)


def reference_iou_giou(a, b):
    """IoU and GIoU of two corner boxes, written with plain Python floats."""
    iw = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    ih = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = iw * ih
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    hull = (max(a[2], b[2]) - min(a[0], b[0])) * (max(a[3], b[3]) - min(a[1], b[1]))
    return inter / union, inter / union - (hull - union) / hull


def test_conversions_by_hand():
    centre = torch.tensor([[2.0, 3.0, 4.0, 2.0]])  # centre (2, 3), 4 wide, 2 high
    corners = torch.tensor([[0.0, 2.0, 4.0, 4.0]])
    torch.testing.assert_close(box_cxcywh_to_xyxy(centre), corners)
    torch.testing.assert_close(box_xyxy_to_cxcywh(corners), centre)
    torch.testing.assert_close(box_area(corners), torch.tensor([8.0]))


@given(st.lists(st.tuples(coordinate, coordinate, extent, extent), min_size=1, max_size=6))
def test_conversions_round_trip(rows):
    boxes = torch.tensor(rows)
    torch.testing.assert_close(box_xyxy_to_cxcywh(box_cxcywh_to_xyxy(boxes)), boxes)
    # the area is w·h whichever format we start from
    torch.testing.assert_close(
        box_area(box_cxcywh_to_xyxy(boxes)), boxes[:, 2] * boxes[:, 3], rtol=1e-4, atol=1e-4
    )


def test_iou_and_giou_by_hand():
    a = torch.tensor([[0.0, 0.0, 2.0, 2.0]])
    b = torch.tensor(
        [
            [1.0, 1.0, 3.0, 3.0],  # overlap 1, union 7, hull 9
            [0.0, 0.0, 2.0, 2.0],  # identical
            [3.0, 0.0, 4.0, 2.0],  # disjoint, 1 apart: union 6, hull 8
            [0.5, 0.5, 1.5, 1.5],  # inside: 1 / 4
        ]
    )
    iou, union = box_iou(a, b)
    torch.testing.assert_close(iou, torch.tensor([[1 / 7, 1.0, 0.0, 0.25]]))
    torch.testing.assert_close(union, torch.tensor([[7.0, 4.0, 6.0, 4.0]]))
    giou = generalized_box_iou(a, b)
    torch.testing.assert_close(giou, torch.tensor([[1 / 7 - 2 / 9, 1.0, -2 / 8, 0.25]]))


@given(st.lists(corner_box, min_size=1, max_size=5), st.lists(corner_box, min_size=1, max_size=5))
def test_iou_and_giou_match_the_reference_formula(first, second):
    a, b = torch.tensor(first, dtype=torch.float64), torch.tensor(second, dtype=torch.float64)
    iou, _ = box_iou(a, b)
    giou = generalized_box_iou(a, b)
    for i, a in enumerate(first):
        for j, b in enumerate(second):
            want_iou, want_giou = reference_iou_giou(a, b)
            assert iou[i, j].item() == pytest.approx(want_iou, abs=1e-9)
            assert giou[i, j].item() == pytest.approx(want_giou, abs=1e-9)


@given(st.lists(corner_box, min_size=1, max_size=5), st.lists(corner_box, min_size=1, max_size=5))
def test_iou_properties(first, second):
    a, b = torch.tensor(first), torch.tensor(second)
    iou, _ = box_iou(a, b)
    giou = generalized_box_iou(a, b)
    assert (iou >= 0).all() and (iou <= 1 + 1e-6).all()
    assert (giou > -1).all() and (giou <= iou + 1e-6).all()  # GIoU never exceeds IoU
    torch.testing.assert_close(iou, box_iou(b, a)[0].T)  # symmetric
    torch.testing.assert_close(generalized_box_iou(a, a).diagonal(), torch.ones(len(a)))


def test_giou_keeps_a_gradient_when_boxes_do_not_overlap():
    target = torch.tensor([[0.0, 0.0, 1.0, 1.0]])
    predicted = torch.tensor([[3.0, 0.0, 4.0, 1.0]], requires_grad=True)
    assert box_iou(predicted, target)[0].item() == 0.0
    (1 - generalized_box_iou(predicted, target)).sum().backward()
    assert predicted.grad[0, 0] > 0  # moving the box left (towards the target) lowers the loss


def test_bad_input():
    with pytest.raises(ValueError, match=r"boxes must have shape \[..., 4\], got \(2, 3\)"):
        box_cxcywh_to_xyxy(torch.zeros(2, 3))
    with pytest.raises(TypeError, match="boxes must have a floating-point dtype"):
        box_xyxy_to_cxcywh(torch.zeros(2, 4, dtype=torch.int64))
    with pytest.raises(TypeError, match="boxes must be a torch.Tensor"):
        box_area([0.0, 0.0, 1.0, 1.0])
    with pytest.raises(ValueError, match="boxes2 must be .* x1 >= x0"):
        box_iou(torch.tensor([[0.0, 0.0, 1.0, 1.0]]), torch.tensor([[1.0, 0.0, 0.0, 1.0]]))
    with pytest.raises(ValueError, match="boxes1 must have 2 dimensions"):
        generalized_box_iou(torch.zeros(1, 1, 4), torch.zeros(1, 4))
