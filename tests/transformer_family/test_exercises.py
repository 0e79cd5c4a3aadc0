"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "transformer_family"
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

    from snippets.transformer_family.bert import BertCharTokenizer
    from snippets.transformer_family.distillation import soft_target_loss
    from snippets.transformer_family.exercises import (
        gpt2_parameter_count,
        roberta_position_ids,
        segment_ids,
        soft_target_gradient,
        span_corruption_lengths,
    )
    from snippets.transformer_family.span_corruption import span_corruption
    from snippets.transformers.gpt import GPT

    # segment ids equal those the tokenizer builds, for pairs and single texts, padded
    tok = BertCharTokenizer(["abcdefgh"])
    for first, second in [("abc", "de"), ("abcdefg", None), ("a", "bcdefgh"), ("ab", None)]:
        ids, segments = tok.encode_pair(first, second, length=12)
        got = segment_ids(torch.tensor([ids]), tok.sep_id, tok.pad_id)
        assert got[0].tolist() == segments

    # RoBERTa's position ids on a worked case, right and left padding
    ids = torch.tensor([[5, 6, 7, 1, 1], [1, 1, 8, 9, 4]])
    assert roberta_position_ids(ids, 1).tolist() == [[2, 3, 4, 1, 1], [1, 1, 2, 3, 4]]

    # the gradient equals autograd's through the site's soft-target loss
    for temperature in (0.5, 1.0, 3.0):
        student = torch.randn(4, 6, dtype=torch.float64, requires_grad=True)
        teacher = torch.randn(4, 6, dtype=torch.float64)
        soft_target_loss(student, teacher, temperature).backward()
        torch.testing.assert_close(
            soft_target_gradient(student.detach(), teacher, temperature), student.grad
        )

    # the count equals the parameters of the site's GPT built on the meta device
    for vocab, context, d, heads, layers in [(50_257, 1024, 768, 12, 12), (100, 16, 8, 2, 3)]:
        with torch.device("meta"):
            model = GPT(vocab, context, d, heads, layers, dropout=0.0)
        built = sum(p.numel() for p in model.parameters())
        assert gpt2_parameter_count(vocab, context, d, layers) == built
    assert gpt2_parameter_count(50_257, 1024, 768, 12) == 124_439_808  # GPT-2 small

    # the lengths equal those of real corruptions
    g = torch.Generator().manual_seed(0)
    for length, density, span in [(20, 0.15, 3.0), (2, 0.5, 1.0), (3, 0.15, 3.0), (57, 0.4, 2.5)]:
        inputs, targets = span_corruption([f"w{i}" for i in range(length)], density, span, g)
        assert span_corruption_lengths(length, density, span) == (len(inputs), len(targets))
