import pytest
import torch
from torch import nn

from snippets.common.data import make_loader
from snippets.common.train import History, evaluate, fit, train_step


def _blobs(n=200):
    g = torch.Generator().manual_seed(0)
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
    x, y = _blobs()
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 8), nn.ReLU(), nn.Linear(8, 2))
    loader = make_loader(x, y, batch_size=32)
    history = fit(
        model,
        loader,
        nn.CrossEntropyLoss(),
        torch.optim.Adam(model.parameters(), lr=0.05),
        epochs=5,
        val_batches=loader,
    )
    assert isinstance(history, History)
    assert len(history.train_loss) == len(history.val_loss) == len(history.val_accuracy) == 5
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] > 0.95
    loss, acc = evaluate(model, loader, nn.CrossEntropyLoss())
    assert loss == pytest.approx(history.val_loss[-1])
    assert acc == pytest.approx(history.val_accuracy[-1])


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
