"""Bounding boxes: the two common formats, their area, IoU and generalized IoU.

A box is four numbers. Detection models usually *predict* the centre, width
and height ``(cx, cy, w, h)``, normalized to ``[0, 1]`` by the image size, while
overlaps are easiest to compute from the corners ``(x0, y0, x1, y1)``.
Everything here works on boxes stacked in the last dimension, ``[..., 4]``.
"""

from __future__ import annotations

import torch

from snippets.common.checks import check_tensor


def _check_boxes(boxes: object, name: str) -> torch.Tensor:
    boxes = check_tensor(boxes, name, floating=True)
    if boxes.ndim == 0 or boxes.shape[-1] != 4:
        raise ValueError(f"{name} must have shape [..., 4], got {tuple(boxes.shape)}")
    return boxes


def _check_corners(boxes: object, name: str) -> torch.Tensor:
    boxes = check_tensor(_check_boxes(boxes, name), name, ndim=2)
    if (boxes[:, 2:] < boxes[:, :2]).any():
        raise ValueError(f"{name} must be (x0, y0, x1, y1) with x1 >= x0 and y1 >= y0")
    return boxes


def box_cxcywh_to_xyxy(boxes: torch.Tensor) -> torch.Tensor:
    """Convert ``(cx, cy, w, h)`` boxes to corners ``(x0, y0, x1, y1)``.

    Shapes:
        ``boxes`` ``[..., 4]`` -> ``[..., 4]``.

    Raises:
        TypeError: if ``boxes`` is not a floating-point tensor.
        ValueError: if its last dimension is not 4.
    """
    cx, cy, w, h = _check_boxes(boxes, "boxes").unbind(-1)
    return torch.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], dim=-1)


def box_xyxy_to_cxcywh(boxes: torch.Tensor) -> torch.Tensor:
    """Convert corner boxes ``(x0, y0, x1, y1)`` to ``(cx, cy, w, h)``.

    Shapes:
        ``boxes`` ``[..., 4]`` -> ``[..., 4]``.

    Raises:
        TypeError: if ``boxes`` is not a floating-point tensor.
        ValueError: if its last dimension is not 4.
    """
    x0, y0, x1, y1 = _check_boxes(boxes, "boxes").unbind(-1)
    return torch.stack([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0], dim=-1)


def box_area(boxes: torch.Tensor) -> torch.Tensor:
    """Area of corner boxes ``(x0, y0, x1, y1)``.

    Shapes:
        ``boxes`` ``[..., 4]`` -> ``[...]``.
    """
    boxes = _check_boxes(boxes, "boxes")
    return (boxes[..., 2] - boxes[..., 0]) * (boxes[..., 3] - boxes[..., 1])


def box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Intersection over union of every pair of corner boxes.

    ``IoU(A, B) = |A ∩ B| / |A ∪ B|``, between 0 (disjoint) and
    1 (identical).

    Shapes:
        ``boxes1`` ``[N, 4]``, ``boxes2`` ``[M, 4]`` -> ``iou`` and ``union``,
        both ``[N, M]``.

    Raises:
        ValueError: if a box is not ``[x0, y0, x1, y1]`` with ``x1 >= x0``
            and ``y1 >= y0``, or the inputs are not ``[N, 4]``.
    """
    boxes1 = _check_corners(boxes1, "boxes1")
    boxes2 = _check_corners(boxes2, "boxes2")
    area1, area2 = box_area(boxes1), box_area(boxes2)
    top_left = torch.max(boxes1[:, None, :2], boxes2[None, :, :2])  # [N, M, 2]
    bottom_right = torch.min(boxes1[:, None, 2:], boxes2[None, :, 2:])  # [N, M, 2]
    size = (bottom_right - top_left).clamp(min=0)  # no overlap -> zero width or height
    intersection = size[..., 0] * size[..., 1]
    union = area1[:, None] + area2[None, :] - intersection
    return intersection / union, union


def generalized_box_iou(boxes1: torch.Tensor, boxes2: torch.Tensor) -> torch.Tensor:
    """Generalized IoU of every pair of corner boxes (Rezatofighi et al., 2019).

    ``GIoU = IoU - |C \\ (A ∪ B)| / |C|`` with ``C`` the smallest box
    enclosing both. It lies in ``(-1, 1]`` and, unlike IoU, still tells *how
    far apart* two disjoint boxes are, so ``1 - GIoU`` is a useful loss.

    Shapes:
        ``boxes1`` ``[N, 4]``, ``boxes2`` ``[M, 4]`` -> ``[N, M]``.

    Raises:
        ValueError: as :func:`box_iou`.
    """
    iou, union = box_iou(boxes1, boxes2)
    top_left = torch.min(boxes1[:, None, :2], boxes2[None, :, :2])
    bottom_right = torch.max(boxes1[:, None, 2:], boxes2[None, :, 2:])
    size = (bottom_right - top_left).clamp(min=0)
    enclosing = size[..., 0] * size[..., 1]  # area of C
    return iou - (enclosing - union) / enclosing
