import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.neural_networks.schedules import (
    cosine_lr,
    exponential_lr,
    set_lr,
    step_lr,
    warmup_cosine_lr,
    warmup_cosine_scheduler,
    warmup_lr,
    warmup_scheduler,
)


def _torch_lrs(make_scheduler, steps, lr=0.5):
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=lr)
    scheduler = make_scheduler(optimizer)
    values = []
    for _ in range(steps):
        values.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
        scheduler.step()
    return values


@pytest.mark.parametrize(
    "ours, theirs",
    [
        (
            lambda t: step_lr(t, 0.5, step_size=7, gamma=0.3),
            lambda o: torch.optim.lr_scheduler.StepLR(o, step_size=7, gamma=0.3),
        ),
        (
            lambda t: exponential_lr(t, 0.5, gamma=0.9),
            lambda o: torch.optim.lr_scheduler.ExponentialLR(o, gamma=0.9),
        ),
        (
            lambda t: cosine_lr(t, 0.5, total=30, lr_min=0.01),
            lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=30, eta_min=0.01),
        ),
    ],
)
def test_matches_torch_schedulers(ours, theirs):
    expected = _torch_lrs(theirs, 31)
    got = [ours(t) for t in range(31)]
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)


def test_warmup_matches_linear_lr_then_cosine():
    warm = _torch_lrs(
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.1, total_iters=9), 10
    )
    assert [warmup_cosine_lr(t, 0.5, warmup=10, total=50) for t in range(10)] == pytest.approx(warm)
    assert [warmup_cosine_lr(10 + t, 0.5, 10, 50) for t in range(41)] == pytest.approx(
        [cosine_lr(t, 0.5, 40) for t in range(41)]
    )


@given(st.integers(0, 20), st.integers(1, 200), st.integers(0, 400))
def test_warmup_cosine_stays_between_bounds_and_peaks_after_warmup(warmup, extra, t):
    total = warmup + extra
    value = warmup_cosine_lr(t, 1.0, warmup, total, lr_min=0.1)
    assert 0.0 < value <= 1.0 + 1e-12
    if t >= total:
        assert value == pytest.approx(0.1)
    if warmup and t < warmup - 1:
        assert value < warmup_cosine_lr(t + 1, 1.0, warmup, total, lr_min=0.1)
    if t >= warmup:
        assert value >= warmup_cosine_lr(t + 1, 1.0, warmup, total, lr_min=0.1) - 1e-12


def test_warmup_cosine_scheduler_follows_the_closed_form_in_every_group():
    a, b = torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([{"params": [a]}, {"params": [b], "lr": 0.1}], lr=0.5)
    scheduler = warmup_cosine_scheduler(optimizer, warmup=5, total=20, lr_min=0.01)
    for t in range(25):
        got = [group["lr"] for group in optimizer.param_groups]
        expected = [warmup_cosine_lr(t, lr, 5, 20, lr_min=0.01) for lr in (0.5, 0.1)]
        assert got == pytest.approx(expected, rel=1e-9)
        optimizer.step()
        scheduler.step()
    assert got == pytest.approx([0.01, 0.01])


def test_warmup_peaks_at_warmup_steps_with_the_paper_value():
    values = [warmup_lr(s, 512, 4000) for s in range(1, 20_001)]
    peak = max(range(len(values)), key=values.__getitem__) + 1
    assert peak == 4000
    assert values[peak - 1] == pytest.approx((512 * 4000) ** -0.5)
    assert warmup_lr(16_000, 512, 4000) == pytest.approx(512**-0.5 * 16_000**-0.5)


@given(step=st.integers(1, 10_000), warmup=st.integers(1, 2000))
def test_warmup_rises_then_falls(step, warmup):
    before, after = warmup_lr(step, 64, warmup), warmup_lr(step + 1, 64, warmup)
    assert after > before if step < warmup else after <= before


def test_warmup_scheduler_sets_the_learning_rate():
    param = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.SGD([param], lr=1.0)
    scheduler = warmup_scheduler(optimizer, d_model=64, warmup_steps=10, factor=2.0)
    for step in range(1, 6):
        assert optimizer.param_groups[0]["lr"] == pytest.approx(warmup_lr(step, 64, 10, 2.0))
        optimizer.step()
        scheduler.step()


def test_set_lr_on_torch_and_scratch_optimizers():
    from snippets.neural_networks.optimizers import SGD

    param = torch.zeros(1, requires_grad=True)
    torch_opt, ours = torch.optim.SGD([param], lr=1.0), SGD([param], lr=1.0)
    set_lr(torch_opt, 0.25)
    set_lr(ours, 0.25)
    assert torch_opt.param_groups[0]["lr"] == 0.25 and ours.lr == 0.25


def test_bad_input():
    with pytest.raises(ValueError, match="t must be >= 0"):
        step_lr(-1, 0.1, 5)
    with pytest.raises(TypeError, match="t must be an int"):
        cosine_lr(1.5, 0.1, 10)
    with pytest.raises(ValueError, match="step_size must be > 0"):
        step_lr(0, 0.1, 0)
    with pytest.raises(ValueError, match="gamma must be > 0"):
        exponential_lr(0, 0.1, 0.0)
    with pytest.raises(ValueError, match=r"total must be greater than warmup \(10\)"):
        warmup_cosine_lr(0, 0.1, warmup=10, total=10)
    with pytest.raises(TypeError, match="optimizer must have param_groups or lr"):
        set_lr(object(), 0.1)
    with pytest.raises(ValueError, match="step must be > 0"):
        warmup_lr(0, 512)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match=r"total must be greater than warmup \(10\)"):
        warmup_cosine_scheduler(optimizer, warmup=10, total=5)
