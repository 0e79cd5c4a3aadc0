"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "vision_transformers"
NAMES = [e.name for e in exercises(CHAPTER)]


@pytest.mark.parametrize("name", NAMES)
def test_checker_passes_the_reference_and_rejects_each_wrong_solution(name):
    exercise = next(e for e in exercises(CHAPTER) if e.name == name)
    assert check(name, exercise.reference, verbose=False)
    for wrong in exercise.wrong:
        result = check(name, wrong, verbose=False)
        assert not result, f"{name}: the checker accepts {wrong.__name__}"
        assert result.message.startswith("fails on"), result.message


def test_references_agree_with_pytorch():
    import torch
    from torch import nn

    from snippets.vision_transformers.boxes import box_iou, generalized_box_iou
    from snippets.vision_transformers.exercises import (
        non_max_suppression,
        paired_giou_loss,
        unpatchify,
    )
    from snippets.vision_transformers.vit import patchify

    g = torch.Generator().manual_seed(0)
    # unpatchify inverts patchify, and the patches are what a strided Conv2d sees
    images = torch.randn(2, 3, 6, 9, generator=g)
    torch.testing.assert_close(unpatchify(patchify(images, 3), 3, 6, 9), images)
    conv = nn.Conv2d(3, 5, kernel_size=3, stride=3)
    rebuilt = unpatchify(conv.weight.reshape(1, 5, 27), 3, 3, 15)  # 5 patches side by side
    torch.testing.assert_close(rebuilt[0].reshape(3, 3, 5, 3).permute(2, 0, 1, 3), conv.weight)

    # the paired loss is one minus the diagonal of the pairwise GIoU
    corner = torch.rand(8, 2, generator=g, dtype=torch.float64)
    pred = torch.cat([corner, corner + 0.1 + torch.rand(8, 2, generator=g, dtype=torch.float64)], 1)
    corner = torch.rand(8, 2, generator=g, dtype=torch.float64)
    target = torch.cat(
        [corner, corner + 0.1 + torch.rand(8, 2, generator=g, dtype=torch.float64)], 1
    )
    torch.testing.assert_close(
        paired_giou_loss(pred, target), 1 - generalized_box_iou(pred, target).diagonal()
    )

    # NMS: brute-force check of its definition on crowded random boxes
    for seed in range(5):
        gen = torch.Generator().manual_seed(seed)
        corner = 0.5 * torch.rand(15, 2, generator=gen, dtype=torch.float64)
        boxes = torch.cat([corner, corner + 0.2 + 0.3 * torch.rand(15, 2, generator=gen)], 1)
        scores = torch.rand(15, generator=gen, dtype=torch.float64)
        keep = non_max_suppression(boxes, scores, 0.4).tolist()
        iou = box_iou(boxes, boxes)[0]
        assert keep == sorted(keep, key=lambda i: -scores[i].item())  # by decreasing score
        for a in keep:  # no two kept boxes overlap beyond the threshold
            assert all(iou[a, b] <= 0.4 for b in keep if b != a)
        for d in set(range(15)) - set(keep):  # each dropped box is covered by a better kept one
            assert any(iou[d, k] > 0.4 and scores[k] > scores[d] for k in keep)
