"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "fundamentals"
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

    from snippets.fundamentals.exercises import (
        line_gradient,
        mlp_parameter_count,
        normalize_images,
    )

    x, y = torch.randn(20, dtype=torch.float64), torch.randn(20, dtype=torch.float64)
    w = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    b = torch.tensor(-0.2, dtype=torch.float64, requires_grad=True)
    ((w * x + b - y) ** 2).mean().backward()
    dw, db = line_gradient(x, y, 0.7, -0.2)
    torch.testing.assert_close((dw, db), (w.grad, b.grad))

    mlp = nn.Sequential(nn.Linear(784, 256), nn.ReLU(), nn.Linear(256, 10))
    assert mlp_parameter_count([784, 256, 10]) == sum(p.numel() for p in mlp.parameters())

    images = 5 * torch.rand(6, 3, 4, 4) + 2
    torch.testing.assert_close(
        normalize_images(images),
        nn.functional.batch_norm(images, None, None, training=True, eps=1e-12),
        atol=1e-5,
        rtol=1e-4,
    )
