"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "neural_networks"
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

    from snippets.neural_networks.exercises import focal_loss, nesterov_step, softmax_backward

    x = torch.randn(3, 5, dtype=torch.float64, requires_grad=True)
    g = torch.randn(3, 5, dtype=torch.float64)
    x.softmax(-1).backward(g)
    torch.testing.assert_close(softmax_backward(x.detach(), g), x.grad)

    logits, targets = torch.randn(7, 4, dtype=torch.float64), torch.randint(0, 4, (7,))
    torch.testing.assert_close(focal_loss(logits, targets, 0.0), F.cross_entropy(logits, targets))

    p = torch.randn(5, dtype=torch.float64, requires_grad=True)
    sgd = torch.optim.SGD([p], lr=0.1, momentum=0.9, nesterov=True)
    mine, v = p.detach().clone(), torch.zeros(5, dtype=torch.float64)
    for step in range(3):
        grad = torch.randn(5, dtype=torch.float64, generator=torch.Generator().manual_seed(step))
        p.grad = grad.clone()
        sgd.step()
        mine, v = nesterov_step(mine, grad, v, 0.1, 0.9)
    torch.testing.assert_close(mine, p.detach())
