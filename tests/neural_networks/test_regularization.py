import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from snippets.neural_networks.regularization import (
    EarlyStopping,
    ScratchBatchNorm,
    dropout,
    l2_penalty,
)


@given(st.floats(0.05, 0.9))
def test_dropout_zeroes_about_p_and_scales_the_rest(p):
    n = 5000
    out = dropout(torch.full((n,), 2.0), p, generator=torch.Generator().manual_seed(0))
    kept = out[out != 0]
    torch.testing.assert_close(kept, torch.full_like(kept, 2.0 / (1 - p)))
    # both within 4 standard deviations of their expected values
    assert abs((out == 0).float().mean().item() - p) < 4 * (p * (1 - p) / n) ** 0.5
    assert abs(out.mean().item() - 2.0) < 4 * 2.0 * (p / (1 - p) / n) ** 0.5  # E unchanged


def test_dropout_eval_is_identity_like_torch():
    x = torch.randn(5, 7)
    assert dropout(x, 0.5, training=False) is x
    torch.testing.assert_close(dropout(x, 0.5, training=False), nn.Dropout(0.5).eval()(x))


def test_dropout_matches_torch_statistics():
    x = torch.ones(100_000)
    ours = dropout(x, 0.3)
    theirs = nn.Dropout(0.3).train()(x)
    assert set(ours.unique().tolist()) == set(theirs.unique().tolist())
    assert abs((ours == 0).float().mean() - (theirs == 0).float().mean()) < 0.01


@pytest.mark.parametrize(
    "shape, reference",
    [((16, 6), nn.BatchNorm1d), ((4, 6, 5), nn.BatchNorm1d), ((3, 6, 4, 5), nn.BatchNorm2d)],
)
def test_batch_norm_matches_torch_in_train_and_eval(shape, reference):
    ours, theirs = ScratchBatchNorm(6), reference(6)
    with torch.no_grad():
        for module in (ours, theirs):
            module.weight.copy_(torch.linspace(0.5, 2.0, 6))
            module.bias.copy_(torch.linspace(-1.0, 1.0, 6))
    generator = torch.Generator().manual_seed(0)
    scale = torch.linspace(0.2, 5.0, 6).view(1, 6, *[1] * (len(shape) - 2))  # per channel
    for _ in range(5):
        x = torch.randn(*shape, generator=generator) * scale + 1
        torch.testing.assert_close(ours(x), theirs(x))
        torch.testing.assert_close(ours.running_mean, theirs.running_mean)
        torch.testing.assert_close(ours.running_var, theirs.running_var)
    ours.eval(), theirs.eval()
    x = torch.randn(*shape, generator=generator)
    torch.testing.assert_close(ours(x), theirs(x))
    torch.testing.assert_close(ours(x[:1]), ours(x)[:1])  # eval: no dependence on the batch


def test_batch_norm_of_images_uses_every_position_of_a_channel():
    # One sample, 2×2 positions: training statistics come from the 4 positions,
    # per channel, exactly as nn.BatchNorm2d computes them.
    x = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[0.0, 0.0], [0.0, 8.0]]]])
    out = ScratchBatchNorm(2)(x)
    mean = torch.tensor([2.5, 2.0]).view(1, 2, 1, 1)
    var = torch.tensor([1.25, 12.0]).view(1, 2, 1, 1)
    torch.testing.assert_close(out, (x - mean) / torch.sqrt(var + 1e-5))


def test_batch_norm_gradients_match_torch():
    ours, theirs = ScratchBatchNorm(3), nn.BatchNorm1d(3)
    x = torch.randn(8, 3)
    a, b = x.clone().requires_grad_(True), x.clone().requires_grad_(True)
    (ours(a) ** 3).sum().backward()
    (theirs(b) ** 3).sum().backward()
    torch.testing.assert_close(a.grad, b.grad)
    torch.testing.assert_close(ours.weight.grad, theirs.weight.grad)


def test_batch_norm_normalises_each_feature():
    out = ScratchBatchNorm(4)(torch.randn(256, 4) * 5 + 3)
    torch.testing.assert_close(out.mean(dim=0), torch.zeros(4), atol=1e-5, rtol=0)
    torch.testing.assert_close(out.var(dim=0, unbiased=False), torch.ones(4), atol=1e-3, rtol=0)


def test_l2_penalty_gradient_equals_sgd_weight_decay():
    w0 = torch.randn(4, 3)
    x, y = torch.randn(10, 3), torch.randn(10, 4)
    a, b = w0.clone().requires_grad_(True), w0.clone().requires_grad_(True)
    loss_a = ((x @ a.T - y) ** 2).mean() + l2_penalty([a], 0.1)
    loss_a.backward()
    torch.optim.SGD([a], lr=0.1).step()
    ((x @ b.T - y) ** 2).mean().backward()
    torch.optim.SGD([b], lr=0.1, weight_decay=0.1).step()
    torch.testing.assert_close(a, b)


def test_early_stopping_stops_after_patience_and_keeps_best():
    model = nn.Linear(2, 1)
    stopper = EarlyStopping(patience=3)
    losses = [1.0, 0.8, 0.6, 0.7, 0.65, 0.9, 0.5]
    stops = []
    for epoch, loss in enumerate(losses):
        with torch.no_grad():
            model.bias.fill_(float(epoch))
        stops.append(stopper.step(loss, model))
    assert stops[:5] == [False] * 5 and stops[5] is True
    assert stopper.best == 0.5 and stopper.best_epoch == 6  # it keeps watching if called on
    assert stopper.best_state["bias"].item() == 6.0


def test_early_stopping_min_delta():
    stopper = EarlyStopping(patience=2, min_delta=0.1)
    assert [stopper.step(v) for v in (1.0, 0.95, 0.92)] == [False, False, True]


def test_bad_input():
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\)"):
        dropout(torch.ones(2), 1.0)
    with pytest.raises(ValueError, match="p must be >= 0"):
        dropout(torch.ones(2), -0.1)
    bn = ScratchBatchNorm(3)
    with pytest.raises(ValueError, match="x must have size 3 in dimension 1, got 4"):
        bn(torch.zeros(5, 4))
    with pytest.raises(ValueError, match="at least 2 values per feature"):
        bn(torch.zeros(1, 3))
    with pytest.raises(ValueError, match="at least 2 values per feature"):
        bn(torch.zeros(1, 3, 1, 1))  # what nn.BatchNorm2d rejects too
    bn(torch.zeros(1, 3, 2, 1))  # one image, two positions: allowed, like nn.BatchNorm2d
    with pytest.raises(ValueError, match="x must have 2 or 3 or 4 dimensions, got 1"):
        bn(torch.zeros(3))
    with pytest.raises(ValueError, match=r"momentum must be in \(0, 1\]"):
        ScratchBatchNorm(3, momentum=2.0)
    with pytest.raises(ValueError, match="weight_decay must be >= 0"):
        l2_penalty([torch.ones(1)], -1.0)
    with pytest.raises(ValueError, match="at least one tensor"):
        l2_penalty([], 0.1)
    with pytest.raises(ValueError, match="patience must be > 0"):
        EarlyStopping(patience=0)
    with pytest.raises(ValueError, match="val_loss must be a finite number"):
        EarlyStopping().step(float("nan"))
