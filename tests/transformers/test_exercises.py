"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "transformers"
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
    import torch.nn.functional as F

    from snippets.transformers.exercises import (
        causal_attention,
        masked_token_accuracy,
        sliding_window_attention,
    )

    q, k, v = (torch.randn(2, 6, 8) for _ in range(3))
    expected = F.scaled_dot_product_attention(q, k, v, is_causal=True)
    torch.testing.assert_close(causal_attention(q, k, v), expected)
    torch.testing.assert_close(sliding_window_attention(q, k, v, 6), expected)
    band = torch.ones(6, 6, dtype=torch.bool).tril() & ~torch.ones(6, 6, dtype=torch.bool).tril(-2)
    torch.testing.assert_close(
        sliding_window_attention(q, k, v, 2), F.scaled_dot_product_attention(q, k, v, band)
    )

    logits = torch.tensor([[[0.0, 2.0, 1.0], [3.0, 0.0, 0.0], [0.0, 0.0, 5.0]]])
    targets = torch.tensor([[1, 2, 0]])  # one hit, one miss, one padding
    assert masked_token_accuracy(logits, targets, 0).item() == 0.5
