import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.generative.diffusion import (
    NoisePredictor,
    ddpm_loss,
    linear_schedule,
    mmd2,
    p_step,
    q_sample,
    q_step,
    sample,
    time_embedding,
    train_diffusion,
)


def test_linear_schedule_matches_its_definition():
    s = linear_schedule(1000)
    assert s.steps == 1000
    torch.testing.assert_close(s.betas[[0, -1]], torch.tensor([1e-4, 0.02]))
    torch.testing.assert_close(s.alphas, 1 - s.betas)
    torch.testing.assert_close(s.alpha_bars[:5], torch.cumprod(1 - s.betas[:5], 0))
    short = linear_schedule(50)  # rescaled: the same total noise in fewer steps
    torch.testing.assert_close(short.betas[[0, -1]], torch.tensor([2e-3, 0.4]))
    assert short.alpha_bars[-1] < 1e-3 and s.alpha_bars[-1] < 1e-3
    assert torch.all(short.alpha_bars[1:] < short.alpha_bars[:-1])


def test_linear_schedule_bad_input():
    with pytest.raises(ValueError, match="steps must be > 0"):
        linear_schedule(0)
    with pytest.raises(ValueError, match="betas must lie in"):
        linear_schedule(10)  # beta_end 0.02 scaled by 1000/10 is 2
    with pytest.raises(TypeError, match="steps must be a number"):
        linear_schedule("10")


def test_closed_form_equals_iterating_the_step():
    """x_t from q_sample equals t single steps, with the noises combined exactly."""
    schedule = linear_schedule(40)
    x0 = torch.randn(6, 2, dtype=torch.float64)
    t_final = 12
    noises = torch.randn(t_final + 1, 6, 2, dtype=torch.float64)
    x = x0
    for t in range(t_final + 1):
        x = q_step(x, torch.full((6,), t), noises[t], schedule)
    # the sum of the per-step noises, each scaled by √β_s and by √α_r of later steps
    alphas = schedule.alphas.double()
    combined = sum(
        math.sqrt(1 - alphas[s]) * torch.prod(alphas[s + 1 : t_final + 1]).sqrt() * noises[s]
        for s in range(t_final + 1)
    )
    alpha_bar = schedule.alpha_bars[t_final].double()
    eps = combined / (1 - alpha_bar).sqrt()
    closed = q_sample(x0, torch.full((6,), t_final), eps, schedule)
    torch.testing.assert_close(closed, x, rtol=1e-5, atol=1e-5)


@given(st.integers(min_value=0, max_value=49))
def test_closed_form_has_the_right_mean_and_variance(t):
    schedule = linear_schedule(50)
    x0 = torch.full((20000, 1), 1.5)
    generator = torch.Generator().manual_seed(t)
    x_t = q_sample(
        x0, torch.full((20000,), t), torch.randn(20000, 1, generator=generator), schedule
    )
    alpha_bar = schedule.alpha_bars[t].item()
    assert abs(x_t.mean().item() - 1.5 * math.sqrt(alpha_bar)) < 0.03
    assert abs(x_t.var().item() - (1 - alpha_bar)) < 0.03


def test_q_sample_bad_input():
    s = linear_schedule(40)
    x0 = torch.zeros(3, 2)
    with pytest.raises(ValueError, match=r"t must lie in \[0, 40\)"):
        q_sample(x0, torch.tensor([0, 1, 40]), torch.zeros(3, 2), s)
    with pytest.raises(ValueError, match="one step per sample"):
        q_sample(x0, torch.tensor([0, 1]), torch.zeros(3, 2), s)
    with pytest.raises(ValueError, match="noise must have the shape of x0"):
        q_sample(x0, torch.tensor([0, 1, 2]), torch.zeros(3, 3), s)
    with pytest.raises(TypeError, match="t must have dtype torch.int64"):
        q_sample(x0, torch.tensor([0.0, 1.0, 2.0]), torch.zeros(3, 2), s)


def test_time_embedding_formula():
    t = torch.tensor([0, 3, 17])
    emb = time_embedding(t, 8, max_period=100.0)
    assert emb.shape == (3, 8)
    for row, step in enumerate(t.tolist()):
        for i in range(4):
            freq = 100.0 ** (-i / 4)
            assert emb[row, i].item() == pytest.approx(math.sin(step * freq), abs=1e-5)
            assert emb[row, 4 + i].item() == pytest.approx(math.cos(step * freq), abs=1e-5)
    with pytest.raises(ValueError, match="dim must be a positive even int"):
        time_embedding(t, 7)


def test_noise_predictor_keeps_the_shape():
    model = NoisePredictor(64, hidden=32, depth=2, time_dim=8)
    x = torch.randn(5, 1, 8, 8)
    assert model(x, torch.arange(5)).shape == (5, 1, 8, 8)
    with pytest.raises(ValueError, match="x must hold 64 features per sample, got 2"):
        model(torch.randn(5, 2), torch.arange(5))


def _oracle(x0: torch.Tensor, schedule):
    """The perfect noise predictor when the data is known: solve q_sample for ε."""

    def predict(x_t, t):
        alpha_bar = schedule.alpha_bars[t].reshape(-1, *([1] * (x_t.ndim - 1)))
        return (x_t - alpha_bar.sqrt() * x0) / (1 - alpha_bar).sqrt()

    return predict


def test_ddpm_loss_is_zero_for_the_oracle_and_one_for_a_zero_model():
    schedule = linear_schedule(30)
    x0 = torch.randn(4096, 2)
    oracle_loss = ddpm_loss(_oracle(x0, schedule), x0, schedule, torch.Generator().manual_seed(0))
    assert oracle_loss.item() < 1e-8
    zero_loss = ddpm_loss(lambda x, t: torch.zeros_like(x), x0, schedule)
    assert abs(zero_loss.item() - 1.0) < 0.05  # E[ε²] = 1


def test_p_step_with_true_noise_gives_the_posterior_mean():
    """With ε_θ = the true noise, the reverse mean is the mean of q(x_{t-1} | x_t, x_0)."""
    schedule = linear_schedule(40)
    x0 = torch.randn(8, 3, dtype=torch.float64)
    for t in (1, 7, 39):
        x_t = q_sample(x0, torch.full((8,), t), torch.randn(8, 3, dtype=torch.float64), schedule)
        got = p_step(_oracle(x0, schedule), x_t, t, schedule, noise=torch.zeros_like(x_t))
        beta, alpha = schedule.betas[t].item(), schedule.alphas[t].item()
        ab, ab_prev = schedule.alpha_bars[t].item(), schedule.alpha_bars[t - 1].item()
        expected = (math.sqrt(ab_prev) * beta / (1 - ab)) * x0 + (
            math.sqrt(alpha) * (1 - ab_prev) / (1 - ab)
        ) * x_t
        torch.testing.assert_close(got, expected, rtol=1e-5, atol=1e-5)  # float32 schedule
    with pytest.raises(ValueError, match=r"t must lie in \[0, 40\)"):
        p_step(_oracle(x0, schedule), x0, 40, schedule)


def test_sampling_with_the_oracle_lands_on_the_data_point():
    schedule = linear_schedule(25)
    point = torch.tensor([[0.7, -1.2]])
    oracle = _oracle(point, schedule)  # broadcasts over the batch
    x, chain = sample(oracle, (100, 2), schedule, torch.Generator().manual_seed(0), keep_every=5)
    torch.testing.assert_close(x, point.expand(100, 2), rtol=1e-4, atol=1e-4)
    assert len(chain) == 1 + 4 + 1 and chain[0].shape == (100, 2)  # x_T, t=20,15,10,5, x_0
    assert chain[0].std() > 0.5  # the chain starts from noise


def test_train_diffusion_lowers_the_loss():
    schedule = linear_schedule(40)
    data = torch.randn(512, 2) * 0.1 + 1.0
    model = NoisePredictor(2, hidden=32, depth=2, time_dim=8)
    losses = train_diffusion(model, data, schedule, steps=150, batch_size=128, lr=3e-3)
    assert len(losses) == 150
    assert sum(losses[-20:]) / 20 < 0.6 * sum(losses[:20]) / 20
    with pytest.raises(ValueError, match="steps must be > 0"):
        train_diffusion(model, data, schedule, steps=0)


def test_mmd2_matches_the_direct_double_sum():
    x, y = torch.randn(7, 2, dtype=torch.float64), torch.randn(5, 2, dtype=torch.float64) + 0.5
    widths = (0.5, 2.0)

    def k(a, b):
        return sum(math.exp(-float(((a - b) ** 2).sum()) / (2 * h * h)) for h in widths)

    direct = (
        sum(k(a, b) for a in x for b in x) / 49
        + sum(k(a, b) for a in y for b in y) / 25
        - 2 * sum(k(a, b) for a in x for b in y) / 35
    )
    assert mmd2(x, y, widths) == pytest.approx(direct, rel=1e-9)


@given(st.floats(min_value=0.0, max_value=3.0))
def test_mmd2_properties(shift):
    generator = torch.Generator().manual_seed(0)
    x = torch.randn(200, 2, generator=generator)
    y = torch.randn(200, 2, generator=generator) + shift
    assert mmd2(x, x) == pytest.approx(0.0, abs=1e-12)
    assert mmd2(x, y) == pytest.approx(mmd2(y, x), rel=1e-9, abs=1e-12)
    assert mmd2(x, y) >= 0.0


def test_mmd2_grows_as_the_samples_move_apart():
    generator = torch.Generator().manual_seed(0)
    x, y = torch.randn(300, 2, generator=generator), torch.randn(300, 2, generator=generator)
    values = [mmd2(x, y + shift) for shift in (0.0, 0.5, 1.0, 2.0, 4.0)]
    assert values == sorted(values) and values[0] < 0.02 < values[-1]


def test_mmd2_bad_input():
    with pytest.raises(ValueError, match="same dimension, got 2 and 3"):
        mmd2(torch.zeros(4, 2), torch.zeros(4, 3))
    with pytest.raises(ValueError, match="bandwidths must be > 0"):
        mmd2(torch.zeros(4, 2), torch.zeros(4, 2), bandwidths=0.0)
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        mmd2(torch.zeros(4), torch.zeros(4, 2))


def test_noise_predictor_rejects_a_step_count_per_other_batch():
    model = NoisePredictor(2)
    with pytest.raises(ValueError, match=r"t must hold one step per sample of x \(3\), got 2"):
        model(torch.zeros(3, 2), torch.zeros(2, dtype=torch.int64))
