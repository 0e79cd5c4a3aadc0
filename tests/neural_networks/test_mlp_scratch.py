import numpy as np
import pytest
import torch
import torch.nn.functional as F

from snippets.common.data import make_loader
from snippets.neural_networks.losses import cross_entropy_grad
from snippets.neural_networks.mlp_scratch import (
    ScratchMLP,
    collapse_linear,
    fit_scratch,
    relu_interpolant,
    scratch_train_step,
)


def _autograd_reference(model, x, y):
    """The same network with the same weights, differentiated by autograd."""
    params = [p.clone().requires_grad_(True) for p in model.parameters()]
    h = x.reshape(len(x), -1)
    pairs = list(zip(params[0::2], params[1::2]))
    for i, (w, b) in enumerate(pairs):
        h = F.linear(h, w, b)
        if i < len(pairs) - 1:
            h = F.relu(h)
    loss = F.cross_entropy(h, y)
    loss.backward()
    return h.detach(), loss.detach(), [p.grad for p in params]


@pytest.mark.parametrize("sizes", [[5, 3], [8, 16, 4], [64, 32, 32, 10]])
def test_forward_and_gradients_match_autograd(sizes):
    model = ScratchMLP(sizes, seed=1)
    model.weights = [w.double() for w in model.weights]
    model.biases = [torch.randn_like(b, dtype=torch.float64) for b in model.biases]
    x = torch.randn(11, sizes[0], dtype=torch.float64)
    y = torch.randint(0, sizes[-1], (11,))
    logits_ref, _, grads_ref = _autograd_reference(model, x, y)
    logits = model.forward(x)
    torch.testing.assert_close(logits, logits_ref)
    grads = model.backward(cross_entropy_grad(logits, y))
    ours = [g for pair in zip(grads.weights, grads.biases) for g in pair]
    for g, g_ref in zip(ours, grads_ref):
        torch.testing.assert_close(g, g_ref)


def test_sgd_step_matches_torch_sgd():
    model = ScratchMLP([6, 8, 3], seed=2)
    x, y = torch.randn(10, 6), torch.randint(0, 3, (10,))
    params = [p.clone().requires_grad_(True) for p in model.parameters()]
    optimizer = torch.optim.SGD(params, lr=0.5)
    h = F.linear(F.relu(F.linear(x, params[0], params[1])), params[2], params[3])
    loss_ref = F.cross_entropy(h, y)
    loss_ref.backward()
    optimizer.step()
    loss = scratch_train_step(model, x, y, lr=0.5)
    assert loss == pytest.approx(loss_ref.item(), rel=1e-6)
    for p, p_ref in zip(model.parameters(), params):
        torch.testing.assert_close(p, p_ref.detach())


def test_initialisation_is_seeded_and_kaiming_scaled():
    a, b = ScratchMLP([400, 300, 10], seed=0), ScratchMLP([400, 300, 10], seed=0)
    torch.testing.assert_close(a.weights[0], b.weights[0])
    assert a.weights[0].shape == (300, 400)  # [out, in], like nn.Linear
    assert a.weights[0].std().item() == pytest.approx((2 / 400) ** 0.5, rel=0.02)


def test_fit_scratch_learns_a_separable_problem():
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(300, 2, generator=generator)
    y = (x[:, 0] + x[:, 1] > 0).long()
    x_train, y_train, x_val, y_val = x[:200], y[:200], x[200:], y[200:]  # disjoint
    model = ScratchMLP([2, 16, 2], seed=0)
    history = fit_scratch(
        model,
        make_loader(x_train, y_train, batch_size=20),
        epochs=15,
        lr=0.2,
        val_data=(x_val, y_val),
    )
    assert history.train_loss[-1] < 0.5 * history.train_loss[0]
    assert history.val_accuracy[-1] >= 0.95
    assert len(history.val_loss) == 15


def test_collapse_linear_equals_the_stack():
    layers = [torch.nn.Linear(4, 7), torch.nn.Linear(7, 5), torch.nn.Linear(5, 2)]
    x = torch.randn(3, 4)
    with torch.no_grad():
        stacked = layers[2](layers[1](layers[0](x)))
        w, b = collapse_linear([m.weight for m in layers], [m.bias for m in layers])
        torch.testing.assert_close(x @ w.T + b, stacked)
    assert w.shape == (2, 4)


def test_bad_input():
    with pytest.raises(ValueError, match="at least input and output"):
        ScratchMLP([3])
    with pytest.raises(ValueError, match="positive integers"):
        ScratchMLP([3, 0, 2])
    model = ScratchMLP([4, 2])
    with pytest.raises(RuntimeError, match="call forward"):
        model.backward(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="x must have 4 features, got 5"):
        model.forward(torch.zeros(2, 5))
    model.forward(torch.zeros(3, 4))
    with pytest.raises(ValueError, match=r"grad_logits must have the logits' shape \(3, 2\)"):
        model.backward(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="lr must be > 0"):
        model.sgd_step(model.backward(torch.zeros(3, 2)), lr=0.0)
    with pytest.raises(ValueError, match="epochs must be > 0"):
        fit_scratch(model, [], epochs=0, lr=0.1)
    with pytest.raises(ValueError, match="weights and biases"):
        collapse_linear([torch.zeros(2, 2)], [])
    with pytest.raises(ValueError, match=r"weights\[1\] must take 3 inputs"):
        collapse_linear([torch.zeros(3, 2), torch.zeros(2, 4)], [torch.zeros(3), torch.zeros(2)])


@pytest.mark.parametrize("k", [2, 3, 9])
def test_relu_interpolant_equals_linear_interpolation(k):
    generator = torch.Generator().manual_seed(k)
    knots = torch.sort(torch.rand(k, generator=generator, dtype=torch.float64) * 4 - 2).values
    values = torch.randn(k, generator=generator, dtype=torch.float64)
    net = relu_interpolant(knots, values)
    assert net[0].out_features == k  # one hidden unit per knot
    x = torch.linspace(-3, 3, 301, dtype=torch.float64)  # beyond both ends too
    expected = np.interp(x.numpy(), knots.numpy(), values.numpy())
    with torch.no_grad():
        got = net(x[:, None])[:, 0]
    torch.testing.assert_close(got, torch.from_numpy(expected))
    with torch.no_grad():  # it passes through every point exactly
        torch.testing.assert_close(net(knots[:, None])[:, 0], values)


def test_relu_interpolant_bad_input():
    knots = torch.tensor([0.0, 1.0, 2.0])
    with pytest.raises(ValueError, match="knots must be strictly increasing"):
        relu_interpolant(torch.tensor([0.0, 2.0, 1.0]), knots)
    with pytest.raises(ValueError, match="knots and values"):
        relu_interpolant(knots, torch.zeros(2))
    with pytest.raises(ValueError, match="knots and values"):
        relu_interpolant(torch.zeros(1), torch.zeros(1))
    with pytest.raises(ValueError, match="knots"):
        relu_interpolant(torch.zeros(2, 2), torch.zeros(2, 2))
    with pytest.raises(TypeError, match="values"):
        relu_interpolant(knots, torch.arange(3))
