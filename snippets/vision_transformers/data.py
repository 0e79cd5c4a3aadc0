"""Data for the vision-transformers chapter: digits scattered on a canvas, with boxes."""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F

from snippets.common.checks import check_choice, check_positive
from snippets.common.data import digits


class Detections(NamedTuple):
    """Images with a variable number of labelled boxes each (a detection dataset)."""

    images: torch.Tensor
    labels: list[torch.Tensor]
    boxes: list[torch.Tensor]


def digit_canvas(
    n: int = 1000,
    canvas: int = 32,
    max_objects: int = 3,
    sizes: tuple[int, int] = (9, 14),
    split: str = "train",
    seed: int = 0,
) -> Detections:
    """A synthetic detection task: 1 to ``max_objects`` digits on a blank canvas.

    Each digit is an 8×8 image from :func:`~snippets.common.data.digits` (the
    training split's images for ``split="train"``, the test split's for
    ``split="test"``, so held-out
    canvases show unseen handwriting), resized to a random side in
    ``sizes`` (inclusive) and pasted where it does not overlap the digits
    already there. Its box is the tight box around its ink (pixels above 0.25).

    Shapes:
        ``images`` ``[n, 1, canvas, canvas]`` in ``[0, 1]``; per image
        ``labels[i]`` ``[T_i]`` (int64, the digit) and ``boxes[i]`` ``[T_i, 4]``
        as normalized ``(cx, cy, w, h)``: centre, width and height divided by
        ``canvas``, the format DETR predicts.

    Raises:
        ValueError: if a size is out of range (digits must fit on the canvas)
            or ``split`` is not ``"train"`` or ``"test"``.
    """

    check_positive(n, "n")
    check_positive(max_objects, "max_objects")
    check_choice(split, "split", ("train", "test"))
    low, high = sizes
    if not 1 <= low <= high <= canvas // 2:
        raise ValueError(f"sizes must satisfy 1 <= low <= high <= canvas // 2, got {sizes}")
    data = digits(seed=0)
    source_x, source_y = (
        (data.x_train, data.y_train) if split == "train" else (data.x_test, data.y_test)
    )

    resized = {  # every source digit at every allowed side, [M, side, side]
        side: F.interpolate(source_x, size=(side, side), mode="bilinear", align_corners=False)[:, 0]
        .clamp(0, 1)
        .numpy()
        for side in range(low, high + 1)
    }
    labels_np = source_y.numpy()
    rng = np.random.default_rng(seed)
    images = np.zeros((n, 1, canvas, canvas), dtype=np.float32)
    all_labels, all_boxes = [], []
    for i in range(n):
        taken: list[tuple[int, int, int]] = []  # (row, col, side) of pasted squares
        labels, boxes = [], []
        for _ in range(rng.integers(1, max_objects + 1)):
            k, side = rng.integers(len(labels_np)), rng.integers(low, high + 1)
            for _attempt in range(50):  # rejection sampling of a free spot
                r, c = rng.integers(canvas - side + 1, size=2)
                if all(
                    r + side <= r2 or r2 + s2 <= r or c + side <= c2 or c2 + s2 <= c
                    for r2, c2, s2 in taken
                ):
                    break
            else:
                continue  # no free spot: this canvas gets one digit fewer
            taken.append((r, c, side))
            patch = resized[side][k]
            images[i, 0, r : r + side, c : c + side] = patch
            ink_rows = np.flatnonzero((patch > 0.25).any(axis=1))
            ink_cols = np.flatnonzero((patch > 0.25).any(axis=0))
            x0, x1 = c + ink_cols[0], c + ink_cols[-1] + 1
            y0, y1 = r + ink_rows[0], r + ink_rows[-1] + 1
            boxes.append([(x0 + x1) / 2, (y0 + y1) / 2, x1 - x0, y1 - y0])
            labels.append(int(labels_np[k]))
        all_labels.append(torch.tensor(labels, dtype=torch.int64))
        all_boxes.append(torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4) / canvas)
    images = torch.from_numpy(images)
    return Detections(images, all_labels, all_boxes)
