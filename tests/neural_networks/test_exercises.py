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
    from torch import nn

    from snippets.neural_networks.exercises import (
        batchnorm_running_stats,
        cosine_restarts,
        focal_loss,
        fold_batchnorm,
        kaiming_std,
        linear_tanh_backward,
        nesterov_step,
        softmax_backward,
    )

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

    for t0, t_mult, lr_min in [(5, 1, 0.0), (3, 2, 0.01), (2, 3, 0.001)]:
        opt = torch.optim.SGD([nn.Parameter(torch.zeros(1))], lr=0.4)
        sched = torch.optim.lr_scheduler.CosineAnnealingWarmRestarts(
            opt, T_0=t0, T_mult=t_mult, eta_min=lr_min
        )
        rates = []
        for _ in range(30):
            rates.append(opt.param_groups[0]["lr"])
            opt.step()
            sched.step()
        expected = torch.tensor(rates, dtype=torch.float64)
        torch.testing.assert_close(cosine_restarts(30, 0.4, t0, t_mult, lr_min), expected)

    for shape, mode, slope in [((64, 32), "fan_in", 0.0), ((16, 3, 3, 3), "fan_out", 0.2)]:
        w = nn.init.kaiming_normal_(
            torch.empty(shape, dtype=torch.float64),
            a=slope,
            mode=mode,
            generator=torch.Generator().manual_seed(0),
        )
        mine = torch.empty(shape, dtype=torch.float64).normal_(
            0.0, kaiming_std(shape, mode, slope).item(), generator=torch.Generator().manual_seed(0)
        )
        torch.testing.assert_close(mine, w)

    for norm, shape in [(nn.BatchNorm1d(3), (6, 3)), (nn.BatchNorm2d(4), (5, 4, 3, 2))]:
        norm = norm.double()
        norm.momentum = 0.3
        norm.running_mean.normal_()
        start_mean, start_var = norm.running_mean.clone(), norm.running_var.clone()
        x = 3 * torch.randn(shape, dtype=torch.float64) + 1
        norm(x)  # training mode: updates the running statistics
        mean, var = batchnorm_running_stats(x, start_mean, start_var, 0.3)
        torch.testing.assert_close((mean, var), (norm.running_mean, norm.running_var))

    x = torch.randn(5, 3, dtype=torch.float64, requires_grad=True)
    layer = nn.Linear(3, 4).double()
    upstream = torch.randn(5, 4, dtype=torch.float64)
    torch.tanh(layer(x)).backward(upstream)
    grads = linear_tanh_backward(x.detach(), layer.weight.detach(), layer.bias.detach(), upstream)
    torch.testing.assert_close(grads, (x.grad, layer.weight.grad, layer.bias.grad))

    model = nn.Sequential(nn.Linear(6, 4), nn.BatchNorm1d(4, eps=0.01)).double().eval()
    bn = model[1]
    with torch.no_grad():
        bn.running_mean.normal_(), bn.running_var.uniform_(0.1, 2.0)
        bn.weight.normal_(), bn.bias.normal_()
    args = [t.detach() for t in (model[0].weight, model[0].bias, bn.running_mean, bn.running_var)]
    w, b = fold_batchnorm(*args, bn.weight.detach(), bn.bias.detach(), bn.eps)
    x = torch.randn(7, 6, dtype=torch.float64)
    torch.testing.assert_close(x @ w.T + b, model(x).detach())
