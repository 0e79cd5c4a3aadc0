"""Hungarian matching: pair each ground-truth object with one prediction.

A set predictor such as DETR outputs a fixed number of guesses in no
particular order. Before a loss can compare them with the ground truth, each
true object is assigned to exactly one prediction so that the total cost of
the pairs is as small as possible: a linear assignment problem, solved
exactly by the Hungarian algorithm (here SciPy's
``scipy.optimize.linear_sum_assignment``).
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment

from snippets.common.checks import check_positive, check_tensor
from snippets.vision_transformers.boxes import box_cxcywh_to_xyxy, generalized_box_iou


def match_cost(
    logits: torch.Tensor,
    boxes: torch.Tensor,
    target_labels: torch.Tensor,
    target_boxes: torch.Tensor,
    class_weight: float = 1.0,
    l1_weight: float = 5.0,
    giou_weight: float = 2.0,
) -> torch.Tensor:
    """The cost of pairing each prediction with each target, as in DETR.

    ``cost[i, j] = -class_weight * p_i(c_j) + l1_weight * |b_i - b_j|_1
    - giou_weight * GIoU(b_i, b_j)``: cheap when prediction ``i`` gives the
    target's class a high probability and its box lies close to the target's.
    Boxes are normalized ``(cx, cy, w, h)``.

    Shapes:
        ``logits`` ``[Q, classes + 1]``, ``boxes`` ``[Q, 4]``,
        ``target_labels`` ``[T]``, ``target_boxes`` ``[T, 4]`` -> ``[Q, T]``.

    Raises:
        ValueError: if the shapes do not fit together, a label is outside
            ``[0, classes]`` or a weight is negative.
        TypeError: if the floating-point tensors do not share one dtype.
    """
    check_tensor(logits, "logits", ndim=2, floating=True)
    check_tensor(boxes, "boxes", ndim=2, floating=True)
    check_tensor(target_labels, "target_labels", ndim=1, dtype=torch.int64)
    check_tensor(target_boxes, "target_boxes", ndim=2, floating=True)
    if boxes.shape != (len(logits), 4):
        raise ValueError(f"boxes must be [{len(logits)}, 4], got {tuple(boxes.shape)}")
    if target_boxes.shape != (len(target_labels), 4):
        raise ValueError(
            f"target_boxes must be [{len(target_labels)}, 4], got {tuple(target_boxes.shape)}"
        )
    for tensor, name in ((boxes, "boxes"), (target_boxes, "target_boxes")):
        if tensor.dtype != logits.dtype:
            raise TypeError(
                f"{name} must have the dtype of logits ({logits.dtype}), got {tensor.dtype}"
            )
    if (
        len(target_labels)
        and not 0 <= int(target_labels.min()) <= int(target_labels.max()) < (logits.shape[1])
    ):
        raise ValueError(
            f"target_labels must lie in [0, {logits.shape[1] - 1}], got values in "
            f"[{int(target_labels.min())}, {int(target_labels.max())}]"
        )
    for value, name in ((class_weight, "class_weight"), (l1_weight, "l1_weight")):
        check_positive(value, name, allow_zero=True)
    check_positive(giou_weight, "giou_weight", allow_zero=True)
    probabilities = logits.softmax(-1)[:, target_labels]  # [Q, T]
    l1 = torch.cdist(boxes, target_boxes, p=1)  # [Q, T]
    giou = generalized_box_iou(box_cxcywh_to_xyxy(boxes), box_cxcywh_to_xyxy(target_boxes))
    return -class_weight * probabilities + l1_weight * l1 - giou_weight * giou


def hungarian_match(cost: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The one-to-one assignment of rows to columns with the lowest total cost.

    With ``Q >= T`` (more predictions than targets) every column is matched
    and ``Q - T`` rows are left over; those predictions must say "no object".

    Shapes:
        ``cost`` ``[Q, T]`` -> ``(rows, cols)``, both ``[min(Q, T)]`` int64,
        sorted by ``rows``; ``cost[rows, cols].sum()`` is the minimum.

    Raises:
        ValueError: if ``cost`` is not 2-D or holds NaN or infinity.
    """
    check_tensor(cost, "cost", ndim=2, floating=True)
    if not torch.isfinite(cost).all():
        raise ValueError("cost must hold only finite numbers, got NaN or infinity")
    rows, cols = linear_sum_assignment(cost.detach().cpu().double().numpy())
    return torch.as_tensor(rows, dtype=torch.int64), torch.as_tensor(cols, dtype=torch.int64)


@torch.no_grad()
def match_batch(
    logits: torch.Tensor,
    boxes: torch.Tensor,
    target_labels: list[torch.Tensor],
    target_boxes: list[torch.Tensor],
    **weights: float,
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """Match every image of a batch on its own (images hold different object counts).

    Shapes:
        ``logits`` ``[N, Q, classes + 1]``, ``boxes`` ``[N, Q, 4]``, and per image
        ``target_labels[n]`` ``[T_n]``, ``target_boxes[n]`` ``[T_n, 4]`` -> a list
        of ``N`` pairs ``(prediction_index, target_index)``, each ``[T_n]``.

    Raises:
        ValueError: if the batch sizes disagree; otherwise as :func:`match_cost`.
    """
    check_tensor(logits, "logits", ndim=3)
    check_tensor(boxes, "boxes", ndim=3)
    if not len(logits) == len(boxes) == len(target_labels) == len(target_boxes):
        raise ValueError(
            "logits, boxes, target_labels and target_boxes must hold the same number of "
            f"images, got {len(logits)}, {len(boxes)}, {len(target_labels)} and "
            f"{len(target_boxes)}"
        )
    return [
        hungarian_match(match_cost(lg, bx, tl, tb, **weights))
        for lg, bx, tl, tb in zip(logits, boxes, target_labels, target_boxes)
    ]
