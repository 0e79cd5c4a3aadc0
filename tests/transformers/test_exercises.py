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


def test_new_references_agree_with_pytorch():
    from collections import Counter

    import torch
    import torch.nn.functional as F

    from snippets.transformers.attention import causal_mask, padding_mask
    from snippets.transformers.bpe import learn_merges, pretokenize
    from snippets.transformers.exercises import (
        attention_mask,
        blockwise_attention,
        bpe_merges,
        layer_norm_backward,
        top_p_filter,
    )

    q, k, v = torch.randn(2, 5, 8), torch.randn(2, 11, 8) * 4, torch.randn(2, 11, 8)
    for block in (1, 3, 4, 11, 20):
        torch.testing.assert_close(
            blockwise_attention(q, k, v, block), F.scaled_dot_product_attention(q, k, v)
        )

    # top-p: the brute force, token by token in order of probability
    logits = torch.randn(6, 12, dtype=torch.float64)
    for p in (0.1, 0.6, 0.95):
        filtered = top_p_filter(logits, p)
        for row, out in zip(logits, filtered):
            probs, kept, mass = row.softmax(-1), set(), 0.0
            for index in probs.argsort(descending=True).tolist():
                kept.add(index)
                mass += probs[index].item()
                if mass >= p:
                    break
            assert set(torch.nonzero(out.isfinite()).flatten().tolist()) == kept
            torch.testing.assert_close(out[sorted(kept)], row[sorted(kept)])

    # the plain BPE learns the merges of the site's incremental trainer
    text = "the cat sat on the mat; the rat ate the oat. " * 3 + "that is that"
    expected = [pair for pair, _ in learn_merges(text, 25)]
    assert bpe_merges(dict(Counter(pretokenize(text))), 25) == expected

    x = torch.randn(3, 4, 7, dtype=torch.float64, requires_grad=True)
    grad = torch.randn(3, 4, 7, dtype=torch.float64)
    F.layer_norm(x, (7,), eps=1e-5).backward(grad)
    torch.testing.assert_close(layer_norm_backward(x.detach(), grad, 1e-5), x.grad)

    ids = torch.tensor([[5, 6, 7, 0, 0], [8, 9, 0, 0, 0]])
    blocked = padding_mask(ids, 0)[:, None, :].expand(2, 5, 5)  # the site's "blocked" masks
    assert torch.equal(attention_mask(ids, 0, False), ~blocked)
    assert torch.equal(attention_mask(ids, 0, True), ~(blocked | causal_mask(5)))
