"""Coding exercises of the Vision Transformer chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import torch

from snippets.common.exercises import Case, exercise

# --- vision-transformers/vit


def _unpatchify_cases():
    g = torch.Generator().manual_seed(21)
    for n, c, h, w, p, dtype in [
        (2, 3, 8, 8, 4, torch.float32),
        (1, 1, 4, 4, 4, torch.float32),
        (3, 2, 6, 9, 3, torch.float64),
        (0, 3, 4, 4, 2, torch.float32),
        (1, 2, 5, 3, 1, torch.float64),
    ]:
        patches = torch.randn(n, (h // p) * (w // p), c * p * p, generator=g, dtype=dtype)
        yield Case((patches, p, h, w), label=f"N={n}, C={c}, H={h}, W={w}, p={p}, {dtype}")


def _wrong_plain_reshape(patches, patch_size, height, width):
    n = patches.shape[0]
    return patches.reshape(n, -1, height, width)  # the pixels of a patch are not one image row


def _wrong_channels_last(patches, patch_size, height, width):
    n, p = patches.shape[0], patch_size
    c = patches.shape[-1] // (p * p)
    x = patches.reshape(n, height // p, width // p, p, p, c)  # pixels read as [p, p, C]
    return x.permute(0, 5, 1, 3, 2, 4).reshape(n, c, height, width)


@exercise(
    "unpatchify",
    page="vision-transformers/vit",
    task="Invert patchify: turn patch vectors [N, (H/p)·(W/p), C·p·p] (patches row by row, each "
    "listing its pixels channel by channel, then row by row) back into images [N, C, H, W].",
    cases=_unpatchify_cases,
    wrong=[_wrong_plain_reshape, _wrong_channels_last],
)
def unpatchify(patches: torch.Tensor, patch_size: int, height: int, width: int) -> torch.Tensor:
    """Undo the three steps of ``patchify`` in reverse: split, permute back, merge."""
    n, p = patches.shape[0], patch_size
    c = patches.shape[-1] // (p * p)
    x = patches.reshape(n, height // p, width // p, c, p, p)  # [N, H/p, W/p, C, p, p]
    x = x.permute(0, 3, 1, 4, 2, 5)  # [N, C, H/p, p, W/p, p]
    return x.reshape(n, c, height, width)


# --- vision-transformers/boxes-and-matching


def _random_boxes(n: int, g: torch.Generator, dtype: torch.dtype) -> torch.Tensor:
    corner = torch.rand(n, 2, generator=g, dtype=dtype)
    size = 0.05 + 0.3 * torch.rand(n, 2, generator=g, dtype=dtype)
    return torch.cat([corner, corner + size], dim=1)  # [N, 4], x1 > x0 and y1 > y0


def _giou_cases():
    g = torch.Generator().manual_seed(22)
    for n, dtype in [
        (6, torch.float32),
        (1, torch.float64),
        (0, torch.float32),
        (9, torch.float64),
    ]:
        pred, target = _random_boxes(n, g, dtype), _random_boxes(n, g, dtype)
        yield Case((pred, target), label=f"N={n}, {dtype}")
    pred = _random_boxes(7, g, torch.float64)
    target = pred + 0.02 * torch.randn(7, 4, generator=g, dtype=torch.float64).clamp(-1, 1)
    yield Case((pred, target), label="overlapping pairs")
    apart = torch.tensor([[0.0, 0.0, 1.0, 1.0], [0.2, 0.2, 0.4, 0.6]])
    yield Case(
        (apart, torch.tensor([[2.0, 3.0, 3.0, 4.0], [0.2, 0.2, 0.4, 0.6]])), label="disjoint, equal"
    )


def _wrong_iou_only(pred, target):
    lt, rb = torch.max(pred[:, :2], target[:, :2]), torch.min(pred[:, 2:], target[:, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[:, 0] * wh[:, 1]
    area = (pred[:, 2:] - pred[:, :2]).prod(1) + (target[:, 2:] - target[:, :2]).prod(1)
    return 1 - inter / (area - inter)  # plain IoU loss: flat for every disjoint pair


def _wrong_no_clamp(pred, target):
    lt, rb = torch.max(pred[:, :2], target[:, :2]), torch.min(pred[:, 2:], target[:, 2:])
    wh = rb - lt  # negative when the boxes do not overlap; two negatives make a "positive" area
    inter = wh[:, 0] * wh[:, 1]
    area = (pred[:, 2:] - pred[:, :2]).prod(1) + (target[:, 2:] - target[:, :2]).prod(1)
    union = area - inter
    hull = (torch.max(pred[:, 2:], target[:, 2:]) - torch.min(pred[:, :2], target[:, :2])).prod(1)
    return 1 - (inter / union - (hull - union) / hull)


@exercise(
    "paired-giou-loss",
    page="vision-transformers/boxes-and-matching",
    task="The GIoU loss 1 − GIoU(pred[i], target[i]) of matched pairs of corner boxes "
    "(x0, y0, x1, y1), pred and target [N, 4] -> [N], without building the N × N matrix.",
    cases=_giou_cases,
    wrong=[_wrong_iou_only, _wrong_no_clamp],
)
def paired_giou_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Row ``i`` against row ``i`` only: the diagonal of the pairwise GIoU, in O(N)."""
    top_left = torch.max(pred[:, :2], target[:, :2])
    bottom_right = torch.min(pred[:, 2:], target[:, 2:])
    overlap = (bottom_right - top_left).clamp(min=0)  # [N, 2], zero when disjoint
    intersection = overlap[:, 0] * overlap[:, 1]
    area_pred = (pred[:, 2] - pred[:, 0]) * (pred[:, 3] - pred[:, 1])
    area_target = (target[:, 2] - target[:, 0]) * (target[:, 3] - target[:, 1])
    union = area_pred + area_target - intersection
    hull = torch.max(pred[:, 2:], target[:, 2:]) - torch.min(pred[:, :2], target[:, :2])
    enclosing = hull[:, 0] * hull[:, 1]  # the smallest box around both
    giou = intersection / union - (enclosing - union) / enclosing
    return 1 - giou


# --- vision-transformers/detr


def _nms_cases():
    g = torch.Generator().manual_seed(23)
    for n, threshold in [(12, 0.3), (1, 0.5), (0, 0.5), (20, 0.1), (7, 0.7)]:
        centre = torch.rand(n, 2, generator=g, dtype=torch.float64) * 0.4  # crowded: many overlaps
        size = 0.2 + 0.3 * torch.rand(n, 2, generator=g, dtype=torch.float64)
        boxes = torch.cat([centre, centre + size], dim=1)
        scores = torch.rand(n, generator=g, dtype=torch.float64)
        yield Case((boxes, scores, threshold), label=f"{n} boxes, threshold {threshold}")
    chain = torch.tensor(
        [[0.0, 0.0, 2.0, 1.0], [1.0, 0.0, 3.0, 1.0], [2.0, 0.0, 4.0, 1.0]], dtype=torch.float64
    )  # A overlaps B, B overlaps C, A and C only touch
    yield Case((chain, torch.tensor([0.9, 0.8, 0.7], dtype=torch.float64), 0.3), label="a chain")


def _iou_matrix(boxes: torch.Tensor) -> torch.Tensor:
    lt = torch.max(boxes[:, None, :2], boxes[None, :, :2])
    rb = torch.min(boxes[:, None, 2:], boxes[None, :, 2:])
    wh = (rb - lt).clamp(min=0)
    inter = wh[..., 0] * wh[..., 1]
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    return inter / (area[:, None] + area[None, :] - inter)


def _wrong_input_order(boxes, scores, iou_threshold):
    iou, keep, removed = _iou_matrix(boxes), [], set()
    for i in range(len(boxes)):  # forgets to visit the boxes by decreasing score
        if i not in removed:
            keep.append(i)
            removed |= {j for j in range(len(boxes)) if iou[i, j] > iou_threshold}
    return torch.tensor(keep, dtype=torch.int64)


def _wrong_suppressed_suppress(boxes, scores, iou_threshold):
    iou, keep = _iou_matrix(boxes), []
    order = scores.argsort(descending=True).tolist()
    for rank, i in enumerate(order):
        # drops a box that overlaps any better box, even one that was itself dropped
        if all(iou[i, j] <= iou_threshold for j in order[:rank]):
            keep.append(i)
    return torch.tensor(keep, dtype=torch.int64)


@exercise(
    "non-max-suppression",
    page="vision-transformers/detr",
    task="Greedy non-maximum suppression of corner boxes [N, 4] with scores [N]: visit the boxes "
    "by decreasing score, keep one unless its IoU with an already kept box exceeds iou_threshold; "
    "return the kept indices (int64) in that order.",
    cases=_nms_cases,
    wrong=[_wrong_input_order, _wrong_suppressed_suppress],
)
def non_max_suppression(
    boxes: torch.Tensor, scores: torch.Tensor, iou_threshold: float
) -> torch.Tensor:
    """The step DETR does without: keep the best box, drop its near-duplicates, repeat."""
    iou = _iou_matrix(boxes)  # [N, N]
    alive = torch.ones(len(boxes), dtype=torch.bool, device=boxes.device)
    keep = []
    for i in scores.argsort(descending=True).tolist():
        if alive[i]:
            keep.append(i)
            alive &= iou[i] <= iou_threshold  # only kept boxes suppress others
    return torch.tensor(keep, dtype=torch.int64, device=boxes.device)
