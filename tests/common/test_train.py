import pytest
import torch
from torch import nn

from snippets.common.data import make_loader
from snippets.common.train import History, current_lr, evaluate, fit, train_step


def _blobs(n=200, seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) * 0.5 + (y.float() * 2 - 1).unsqueeze(1) * 2
    return x, y


def test_train_step_matches_manual_sgd():
    torch.manual_seed(0)
    model = nn.Linear(3, 2)
    reference = nn.Linear(3, 2)
    reference.load_state_dict(model.state_dict())
    x, y = torch.randn(5, 3), torch.tensor([0, 1, 1, 0, 1])
    loss = train_step(
        model, (x, y), nn.CrossEntropyLoss(), torch.optim.SGD(model.parameters(), lr=0.1)
    )

    expected_loss = nn.functional.cross_entropy(reference(x), y)
    expected_loss.backward()
    with torch.no_grad():
        for p in reference.parameters():
            p -= 0.1 * p.grad
    assert loss == pytest.approx(expected_loss.item())
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q)


def test_train_step_clears_old_gradients():
    model = nn.Linear(2, 1)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: weights stay, grads visible
    batch = (torch.ones(4, 2), torch.zeros(4, 1))
    train_step(model, batch, nn.MSELoss(), opt)
    first = model.weight.grad.clone()
    train_step(model, batch, nn.MSELoss(), opt)
    torch.testing.assert_close(model.weight.grad, first)  # not doubled


def test_fit_learns_and_records_history():
    x, y = _blobs(seed=0)
    x_val, y_val = _blobs(100, seed=1)  # a fresh draw: validation never seen in training
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    loader = make_loader(x, y, batch_size=32)
    val_loader = make_loader(x_val, y_val, batch_size=50, shuffle=False)
    history = fit(
        model,
        loader,
        nn.CrossEntropyLoss(),
        torch.optim.Adam(model.parameters(), lr=0.05),
        epochs=5,
        val_batches=val_loader,
    )
    assert isinstance(history, History)
    assert len(history.train_loss) == len(history.val_loss) == len(history.val_accuracy) == 5
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] > 0.95
    loss, acc = evaluate(model, val_loader, nn.CrossEntropyLoss())
    assert loss == pytest.approx(history.val_loss[-1])
    assert acc == pytest.approx(history.val_accuracy[-1])


def _manual_run(model, batches, epochs, lr, scheduler_factory=None, clip=None):
    """The loop fit must be: written out by hand with torch's pieces."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=0.9)
    scheduler = scheduler_factory(optimizer) if scheduler_factory else None
    rates, epoch_losses = [], []
    for _ in range(epochs):
        total, count = 0.0, 0
        for x, y in batches:
            rates.append(optimizer.param_groups[0]["lr"])
            loss = nn.functional.cross_entropy(model(x), y)
            optimizer.zero_grad()
            loss.backward()
            if clip is not None:
                nn.utils.clip_grad_norm_(model.parameters(), clip)
            optimizer.step()
            if scheduler:
                scheduler.step()
            total, count = total + loss.item() * len(x), count + len(x)
        epoch_losses.append(total / count)
    return rates, epoch_losses


def test_fit_steps_the_scheduler_and_clips_like_a_hand_written_loop():
    x, y = _blobs(seed=2)
    batches = [(x[i : i + 40], y[i : i + 40]) for i in range(0, 200, 40)]  # sizes 40 ×5

    def make_scheduler(optimizer):
        return torch.optim.lr_scheduler.StepLR(optimizer, step_size=3, gamma=0.5)

    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    reference = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))
    reference.load_state_dict(model.state_dict())
    optimizer = torch.optim.SGD(model.parameters(), lr=0.3, momentum=0.9)
    history = fit(
        model,
        batches,
        nn.CrossEntropyLoss(),
        optimizer,
        epochs=2,
        max_grad_norm=0.1,
        scheduler=make_scheduler(optimizer),
    )
    rates, losses = _manual_run(reference, batches, 2, 0.3, make_scheduler, clip=0.1)
    assert history.learning_rate == pytest.approx(rates)
    assert history.learning_rate[:4] == pytest.approx([0.3, 0.3, 0.3, 0.15])  # halved every 3
    assert history.train_loss == pytest.approx(losses)
    for p, q in zip(model.parameters(), reference.parameters()):
        torch.testing.assert_close(p, q)


def test_fit_calls_the_model_through_forward():
    # A model with two inputs, trained on (a, b, target) batches: forward decides the call.
    class Sum(nn.Module):
        def __init__(self):
            super().__init__()
            self.scale = nn.Parameter(torch.zeros(()))

        def forward(self, a, b):
            return self.scale * (a + b)

    a, b = torch.randn(64, 1), torch.randn(64, 1)
    target = 3.0 * (a + b)
    seen = []

    def forward(model, batch):
        seen.append(len(batch))
        first, second, wanted = batch
        return model(first, second), wanted

    model = Sum()
    history = fit(
        model,
        [(a, b, target)],
        nn.MSELoss(),
        torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=60,
        forward=forward,
        val_batches=[(a, b, target)],
    )
    assert seen and set(seen) == {3}
    assert model.scale.item() == pytest.approx(3.0, abs=1e-3)
    assert history.val_loss[-1] < 1e-5


def test_fit_logs_every_epoch(capsys):
    x, y = _blobs(40, seed=3)
    model = nn.Linear(2, 2)
    fit(
        model,
        [(x, y)],
        nn.CrossEntropyLoss(),
        torch.optim.SGD(model.parameters(), lr=0.1),
        epochs=2,
        val_batches=[(x, y)],
        log=True,
    )
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == ["epoch 1", "epoch 2"]
    assert "val accuracy" in lines[0]


def test_evaluate_restores_training_mode():
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train()
    evaluate(model, [(torch.zeros(3, 2), torch.zeros(3, dtype=torch.int64))], nn.CrossEntropyLoss())
    assert model.training


def test_fit_bad_epochs():
    model = nn.Linear(1, 1)
    with pytest.raises(ValueError, match="epochs must be > 0"):
        fit(model, [], nn.MSELoss(), torch.optim.SGD(model.parameters(), lr=0.1), epochs=0)


def test_train_step_clips_the_gradient_norm():
    model = nn.Linear(3, 1)
    batch = (torch.randn(8, 3) * 100, torch.randn(8, 1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0)  # lr 0: inspect the gradient only
    train_step(model, batch, nn.MSELoss(), optimizer, max_grad_norm=0.5)
    norm = torch.cat([p.grad.flatten() for p in model.parameters()]).norm()
    torch.testing.assert_close(norm, torch.tensor(0.5))
    with pytest.raises(ValueError, match="max_grad_norm must be > 0"):
        fit(model, [batch], nn.MSELoss(), optimizer, epochs=1, max_grad_norm=0.0)


def test_evaluate_accepts_models_that_return_a_tuple():
    class TwoOutputs(nn.Module):
        def forward(self, x):
            return x, x.sum()

    batches = [(torch.ones(4, 3), torch.ones(4, 3))]
    loss, acc = evaluate(TwoOutputs(), batches, lambda out, target: ((out[0] - target) ** 2).mean())
    assert loss == 0.0 and acc == 0.0


def test_current_lr_reads_torch_and_plain_optimizers():
    model = nn.Linear(2, 2)
    assert current_lr(torch.optim.SGD(model.parameters(), lr=0.125)) == 0.125

    class Plain:
        lr = 0.25

    assert current_lr(Plain()) == 0.25
    with pytest.raises(TypeError, match="param_groups or an lr"):
        current_lr(object())
