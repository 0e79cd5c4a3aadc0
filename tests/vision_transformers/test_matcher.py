import itertools

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.vision_transformers.boxes import box_cxcywh_to_xyxy, generalized_box_iou
from snippets.vision_transformers.matcher import hungarian_match, match_batch, match_cost


def brute_force_minimum(cost: torch.Tensor) -> float:
    """The lowest total cost over every way to give each column its own row."""
    rows, cols = cost.shape
    return min(
        sum(cost[r, c].item() for r, c in zip(chosen, range(cols)))
        for chosen in itertools.permutations(range(rows), cols)
    )


@given(
    st.integers(1, 5).flatmap(
        lambda t: st.tuples(st.integers(t, 6), st.just(t), st.integers(0, 2**31 - 1))
    )
)
def test_hungarian_is_optimal_against_brute_force(shape_and_seed):
    queries, targets, seed = shape_and_seed
    cost = torch.rand(queries, targets, generator=torch.Generator().manual_seed(seed))
    rows, cols = hungarian_match(cost)
    assert len(rows) == targets and sorted(cols.tolist()) == list(range(targets))
    assert len(set(rows.tolist())) == targets  # every prediction used at most once
    assert cost[rows, cols].sum().item() == pytest.approx(brute_force_minimum(cost), abs=1e-6)


def test_hungarian_by_hand():
    # greedy would take the 1 at (0, 0) and then pay 10; the optimum pays 2 + 2
    cost = torch.tensor([[1.0, 2.0], [2.0, 10.0]])
    rows, cols = hungarian_match(cost)
    assert rows.tolist() == [0, 1] and cols.tolist() == [1, 0]


def test_match_cost_formula_and_perfect_match():
    target_boxes = torch.tensor([[0.3, 0.3, 0.2, 0.2], [0.7, 0.6, 0.2, 0.4]])
    target_labels = torch.tensor([2, 0])
    boxes = torch.tensor([[0.5, 0.5, 0.1, 0.1], [0.7, 0.6, 0.2, 0.4], [0.3, 0.3, 0.2, 0.2]])
    logits = torch.randn(3, 4)
    cost = match_cost(logits, boxes, target_labels, target_boxes, 1.0, 5.0, 2.0)
    probs = logits.softmax(-1)
    for i in range(3):
        for j in range(2):
            giou = generalized_box_iou(
                box_cxcywh_to_xyxy(boxes[i : i + 1]), box_cxcywh_to_xyxy(target_boxes[j : j + 1])
            )[0, 0]
            want = (
                -probs[i, target_labels[j]]
                + 5 * (boxes[i] - target_boxes[j]).abs().sum()
                - 2 * giou
            )
            torch.testing.assert_close(cost[i, j], want)
    # with confident, correct classes the exact boxes win the match
    logits = torch.full((3, 4), -10.0)
    logits[1, 0] = logits[2, 2] = 10.0
    rows, cols = hungarian_match(match_cost(logits, boxes, target_labels, target_boxes))
    assert dict(zip(cols.tolist(), rows.tolist())) == {0: 2, 1: 1}


def test_match_batch_handles_different_object_counts():
    logits, boxes = torch.randn(2, 5, 3), torch.rand(2, 5, 4) * 0.5 + 0.25
    labels = [torch.tensor([1]), torch.tensor([0, 1, 1])]
    targets = [torch.rand(1, 4) * 0.5 + 0.25, torch.rand(3, 4) * 0.5 + 0.25]
    matches = match_batch(logits, boxes, labels, targets)
    assert [len(q) for q, _ in matches] == [1, 3]
    for n, (q, t) in enumerate(matches):
        single = hungarian_match(match_cost(logits[n], boxes[n], labels[n], targets[n]))
        assert q.tolist() == single[0].tolist() and t.tolist() == single[1].tolist()
    empty = match_batch(
        logits[:1], boxes[:1], [torch.zeros(0, dtype=torch.int64)], [torch.zeros(0, 4)]
    )
    assert len(empty[0][0]) == 0


def test_bad_input():
    with pytest.raises(ValueError, match="cost must have 2 dimensions"):
        hungarian_match(torch.zeros(3))
    with pytest.raises(ValueError, match="cost must hold only finite numbers"):
        hungarian_match(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match=r"boxes must be \[3, 4\], got \(2, 4\)"):
        match_cost(torch.zeros(3, 4), torch.zeros(2, 4), torch.tensor([0]), torch.zeros(1, 4))
    with pytest.raises(TypeError, match="target_labels must have dtype torch.int64"):
        match_cost(torch.zeros(3, 4), torch.zeros(3, 4), torch.tensor([0.0]), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="l1_weight must be >= 0"):
        match_cost(
            torch.zeros(3, 4), torch.zeros(3, 4), torch.tensor([0]), torch.zeros(1, 4), l1_weight=-1
        )
    with pytest.raises(
        ValueError, match=r"target_labels must lie in \[0, 3\], got values in \[0, 7\]"
    ):
        match_cost(torch.zeros(3, 4), torch.zeros(3, 4), torch.tensor([0, 7]), torch.zeros(2, 4))
    with pytest.raises(TypeError, match="target_boxes must have the dtype of logits"):
        match_cost(
            torch.zeros(3, 4), torch.zeros(3, 4), torch.tensor([0]), torch.zeros(1, 4).double()
        )
    with pytest.raises(ValueError, match="same number of images, got 2, 2, 1 and 1"):
        match_batch(
            torch.zeros(2, 3, 4), torch.zeros(2, 3, 4), [torch.tensor([0])], [torch.zeros(1, 4)]
        )


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("targets", [0, 1, 3])
def test_match_cost_keeps_the_dtype_and_handles_empty_targets(dtype, targets):
    g = torch.Generator().manual_seed(targets)
    logits = torch.randn(4, 3, generator=g, dtype=dtype)
    boxes = torch.rand(4, 4, generator=g, dtype=dtype) * 0.5 + 0.25
    labels = torch.randint(3, (targets,), generator=g)
    target_boxes = torch.rand(targets, 4, generator=g, dtype=dtype) * 0.5 + 0.25
    cost = match_cost(logits, boxes, labels, target_boxes)
    assert cost.dtype == dtype and cost.shape == (4, targets)
    rows, cols = hungarian_match(cost)
    assert len(rows) == len(cols) == targets
