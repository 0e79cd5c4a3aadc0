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
        minibatch_epoch,
        mlp_parameter_count,
        normalize_images,
        square_until,
        training_bytes,
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

    x = torch.randn(11, dtype=torch.float64)
    y = 2 * x - 1 + 0.1 * torch.randn(11, dtype=torch.float64)
    line = nn.Linear(1, 1).double()
    w0, b0 = line.weight.item(), line.bias.item()
    sgd = torch.optim.SGD(line.parameters(), lr=0.1)
    loader = torch.utils.data.DataLoader(
        torch.utils.data.TensorDataset(x[:, None], y[:, None]), batch_size=4, shuffle=False
    )
    for xb, yb in loader:
        sgd.zero_grad()
        nn.functional.mse_loss(line(xb), yb).backward()
        sgd.step()
    w, b = minibatch_epoch(x, y, w0, b0, lr=0.1, batch_size=4)
    torch.testing.assert_close((w, b), (line.weight[0, 0].detach(), line.bias[0].detach()))

    for name, make in [
        ("sgd", lambda ps: torch.optim.SGD(ps, lr=0.1)),
        ("momentum", lambda ps: torch.optim.SGD(ps, lr=0.1, momentum=0.9)),
        ("adam", lambda ps: torch.optim.Adam(ps, lr=0.1)),
    ]:
        model = nn.Sequential(nn.Linear(6, 8), nn.ReLU(), nn.Linear(8, 3)).to(torch.bfloat16)
        model[0].requires_grad_(False)  # a frozen layer: no gradient, no optimizer state
        opt = make([p for p in model.parameters() if p.requires_grad])
        model(torch.randn(5, 6, dtype=torch.bfloat16)).sum().backward()
        opt.step()
        held = list(model.parameters())
        held += [p.grad for p in model.parameters() if p.grad is not None]
        held += [s for state in opt.state.values() for s in state.values() if s.ndim > 0]
        measured = sum(t.numel() * t.element_size() for t in held)
        assert training_bytes(list(model.parameters()), name) == measured

    for start, limit in [(1.5, 100.0), (1.01, 2.0), (20.0, 10.0)]:
        x = torch.tensor(start, dtype=torch.float64, requires_grad=True)
        y = x
        while y <= limit:
            y = y * y
        y.backward()
        mine_y, mine_grad = square_until(x.detach(), limit)
        torch.testing.assert_close((mine_y, mine_grad), (y.detach(), x.grad))
