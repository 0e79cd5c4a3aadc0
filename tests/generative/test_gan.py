import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from snippets.generative.gan import (
    Discriminator,
    Generator,
    digit_judge,
    discriminator_loss,
    generator_loss,
    gradient_penalty,
    judge_samples,
    mode_coverage,
    nearest_distance,
    r1_penalty,
    saturating_generator_loss,
    train_gan,
)


def test_generator_and_discriminator_shapes():
    gen = Generator(4, (1, 8, 8), hidden=(16,), output="sigmoid")
    images = gen(torch.randn(5, 4))
    assert images.shape == (5, 1, 8, 8)
    assert images.min() >= 0 and images.max() <= 1
    disc = Discriminator(64, hidden=(16,))
    assert disc(images).shape == (5,)


def test_conditional_models_use_the_label():
    gen = Generator(4, (2,), hidden=(16,), num_classes=3)
    z = torch.randn(1, 4).expand(3, 4)
    out = gen(z, torch.tensor([0, 1, 2]))
    assert out.shape == (3, 2)
    assert not torch.allclose(out[0], out[1])  # same noise, different class, different sample
    disc = Discriminator(2, hidden=(16,), num_classes=3)
    assert disc(out, torch.tensor([0, 1, 2])).shape == (3,)


def test_models_bad_input():
    gen = Generator(4, (2,), num_classes=3)
    with pytest.raises(ValueError, match="labels are required"):
        gen(torch.randn(2, 4))
    with pytest.raises(ValueError, match="one label per sample, got 1 for 2"):
        gen(torch.randn(2, 4), torch.tensor([1]))
    with pytest.raises(ValueError, match=r"z must be \[N, 4\]"):
        gen(torch.randn(2, 5), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="unconditional model"):
        Discriminator(2)(torch.randn(2, 2), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="x must hold 2 features per sample, got 3"):
        Discriminator(2)(torch.randn(2, 3))
    with pytest.raises(ValueError, match="output must be one of"):
        Generator(4, (2,), output="tanh")


@given(
    st.lists(st.floats(-20, 20), min_size=1, max_size=8),
    st.lists(st.floats(-20, 20), min_size=1, max_size=8),
)
def test_losses_match_their_formulas(real, fake):
    real_logits = torch.tensor(real, dtype=torch.float64)
    fake_logits = torch.tensor(fake, dtype=torch.float64)
    d_real, d_fake = torch.sigmoid(real_logits), torch.sigmoid(fake_logits)
    expected_d = -torch.log(d_real).mean() - torch.log(1 - d_fake).mean()
    torch.testing.assert_close(discriminator_loss(real_logits, fake_logits), expected_d)
    torch.testing.assert_close(generator_loss(fake_logits), -torch.log(d_fake).mean())


@given(st.lists(st.floats(-30, 30), min_size=1, max_size=8))
def test_saturating_loss_and_both_gradients(fake):
    """log(1 − D) has logit gradient −D; −log D has −(1 − D): one vanishes as D → 0."""
    logits = torch.tensor(fake, dtype=torch.float64, requires_grad=True)
    d_fake = torch.sigmoid(logits.detach())
    loss = saturating_generator_loss(logits)
    one_minus_d = torch.sigmoid(-logits.detach())  # 1 − σ(ℓ) = σ(−ℓ), precise for large ℓ
    torch.testing.assert_close(loss, torch.log(one_minus_d).mean())
    (saturating,) = torch.autograd.grad(loss, logits)
    (non_saturating,) = torch.autograd.grad(generator_loss(logits), logits)
    torch.testing.assert_close(saturating, -d_fake / len(fake))
    torch.testing.assert_close(non_saturating, -(1 - d_fake) / len(fake))


def test_saturating_loss_is_finite_for_confident_discriminators():
    logits = torch.tensor([-200.0, 0.0, 200.0])  # D(G(z)) = 0, 1/2, 1 in float32
    loss = saturating_generator_loss(logits)
    assert torch.isfinite(loss)
    torch.testing.assert_close(loss, -(torch.log(torch.tensor(2.0)) + 200.0) / 3)
    with pytest.raises(TypeError, match="fake_logits must have a floating-point dtype"):
        saturating_generator_loss(torch.tensor([1, 2]))


def test_gradient_penalty_of_a_linear_critic():
    """f(x) = w·x has gradient w everywhere, so the penalty is (‖w‖ − 1)²."""
    critic = nn.Linear(3, 1)
    with torch.no_grad():
        critic.weight.copy_(torch.tensor([[2.0, -1.0, 2.0]]))  # ‖w‖ = 3
    real, fake = torch.randn(16, 3), torch.randn(16, 3)
    penalty = gradient_penalty(lambda x: critic(x).squeeze(1), real, fake)
    torch.testing.assert_close(penalty, torch.tensor(4.0))
    penalty.backward()  # differentiable with respect to the critic's weights
    torch.testing.assert_close(critic.weight.grad, 2 * (3.0 - 1) * critic.weight / 3.0)
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(critic, torch.zeros(2, 3), torch.zeros(3, 3))


def test_r1_penalty_of_a_linear_and_a_quadratic_discriminator():
    """D(x) = w·x has gradient w, so R1 is ‖w‖²; D(x) = ‖x‖² has gradient 2x, so R1 is 4 E‖x‖²."""
    disc = nn.Linear(3, 1)
    with torch.no_grad():
        disc.weight.copy_(torch.tensor([[2.0, -1.0, 2.0]]))
    real = torch.randn(16, 3)
    penalty = r1_penalty(lambda x: disc(x).squeeze(1), real)
    torch.testing.assert_close(penalty, torch.tensor(9.0))
    penalty.backward()  # differentiable with respect to the discriminator's weights
    torch.testing.assert_close(disc.weight.grad, 2 * disc.weight)
    assert real.grad is None and not real.requires_grad  # the data is left alone
    quadratic = r1_penalty(lambda x: x.square().sum(dim=(1, 2)), real.reshape(16, 1, 3))
    torch.testing.assert_close(quadratic, 4 * real.square().sum(1).mean())
    with pytest.raises(TypeError, match="real must have a floating-point dtype"):
        r1_penalty(disc, torch.zeros(2, 3, dtype=torch.int64))


def test_train_gan_with_r1_and_betas():
    data = torch.randn(64, 2)
    histories = []
    for r1_weight in (0.0, 10.0):
        torch.manual_seed(0)
        gen, disc = Generator(2, (2,), hidden=(8,)), Discriminator(2, hidden=(8,))
        histories.append(train_gan(gen, disc, data, steps=3, batch_size=16, r1_weight=r1_weight))
    # the same first batch and weights; the penalty only adds to the discriminator loss
    assert histories[1].d_loss[0] > histories[0].d_loss[0]
    torch.manual_seed(0)
    gen, disc = Generator(2, (2,), hidden=(8,)), Discriminator(2, hidden=(8,))
    other = train_gan(gen, disc, data, steps=3, batch_size=16, betas=(0.0, 0.99))
    assert other.d_loss[0] == histories[0].d_loss[0]  # betas act from the first update on
    assert other.d_loss[1:] != histories[0].d_loss[1:]


def test_judge_samples_by_hand():
    logits = torch.tensor([[0.0, 0.0, 0.0], [3.0, 0.0, 0.0], [0.0, 0.0, 50.0]])
    confidence, counts = judge_samples(lambda images: logits, torch.zeros(3, 1, 8, 8))
    top = torch.tensor([1 / 3, 1 / (1 + 2 * math.exp(-3)), 1.0])
    assert confidence == pytest.approx(top.mean().item())
    assert counts.tolist() == [2, 0, 1]  # a tie goes to the first class; class 1 is never seen
    with pytest.raises(TypeError, match="images must have a floating-point dtype"):
        judge_samples(lambda images: logits, torch.zeros(3, 64, dtype=torch.int64))


def test_nearest_distance_by_hand():
    reference = torch.tensor([[0.0, 0.0], [3.0, 4.0]])
    images = torch.tensor([[0.0, 1.0], [3.0, 4.0], [6.0, 8.0]])
    assert nearest_distance(images, reference) == pytest.approx((1.0 + 0.0 + 5.0) / 3)
    assert nearest_distance(reference, reference) == 0.0
    with pytest.raises(ValueError, match="same trailing sizes"):
        nearest_distance(torch.zeros(2, 3), reference)


def test_digit_judge_learns_real_digits():
    from snippets.common.data import digits

    torch.manual_seed(0)
    data = digits()
    judge = digit_judge(data.x_train, data.y_train, epochs=2)
    assert not judge.training
    with torch.no_grad():
        accuracy = (judge(data.x_test).argmax(1) == data.y_test).float().mean()
    assert accuracy > 0.8
    with pytest.raises(ValueError, match=r"x_train must be \[N, 1, 8, 8\]"):
        digit_judge(torch.zeros(4, 1, 4, 4), torch.zeros(4, dtype=torch.int64))


def test_mode_coverage_counts_by_hand():
    centers = torch.tensor([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    samples = torch.tensor([[0.1, 0.0], [0.0, -0.1], [10.2, 0.0], [5.0, 5.0]])
    cov = mode_coverage(samples, centers, std=0.1, k=3.0, min_fraction=0.25)
    assert cov.counts.tolist() == [2, 1, 0]
    assert cov.covered == 2
    assert cov.high_quality == pytest.approx(0.75)
    with pytest.raises(ValueError, match="same dimension, got 3 and 2"):
        mode_coverage(torch.zeros(2, 3), centers, std=0.1)
    with pytest.raises(ValueError, match="std must be > 0"):
        mode_coverage(samples, centers, std=0.0)


def test_train_gan_moves_the_generator_to_the_data():
    data = torch.randn(512, 2) * 0.1 + torch.tensor([3.0, -2.0])
    gen, disc = Generator(2, (2,), hidden=(32,)), Discriminator(2, hidden=(32,))
    history = train_gan(gen, disc, data, steps=500, batch_size=64, lr=1e-3)
    assert len(history.d_loss) == len(history.g_loss) == 500
    with torch.no_grad():
        mean = gen(torch.randn(1000, 2)).mean(0)
    assert torch.linalg.norm(mean - torch.tensor([3.0, -2.0])) < 0.5


def test_wgan_gp_critic_learns_to_separate_real_from_fake():
    """While the generator is still far off, the critic loss E f(fake) − E f(real) + GP < 0."""
    data = torch.randn(512, 2) * 0.1 + torch.tensor([3.0, -2.0])
    gen, disc = Generator(2, (2,), hidden=(32,)), Discriminator(2, hidden=(32,))
    history = train_gan(
        gen, disc, data, steps=40, loss="wgan-gp", critic_steps=5, batch_size=64, lr=1e-3
    )
    assert len(history.d_loss) == len(history.critic_gap) == 40
    assert sum(history.d_loss[-10:]) / 10 < -1.0
    # the recorded Wasserstein estimate is the critic loss without its penalty
    assert all(gap >= -loss for gap, loss in zip(history.critic_gap, history.d_loss))
    assert sum(history.critic_gap[-10:]) / 10 > 1.0
    with torch.no_grad():
        gap = disc(data).mean() - disc(gen(torch.randn(512, 2))).mean()
    assert gap > 1.0


def test_train_gan_bad_input():
    gen, disc = Generator(2, (2,)), Discriminator(2)
    with pytest.raises(ValueError, match="loss must be one of"):
        train_gan(gen, disc, torch.zeros(4, 2), steps=1, loss="hinge")
    with pytest.raises(ValueError, match="one label per sample"):
        train_gan(gen, disc, torch.zeros(4, 2), steps=1, labels=torch.zeros(3, dtype=torch.int64))
    with pytest.raises(ValueError, match="r1_weight applies to loss='gan' only"):
        train_gan(gen, disc, torch.zeros(4, 2), steps=1, loss="wgan-gp", r1_weight=1.0)
    with pytest.raises(ValueError, match="r1_weight must be >= 0, got -1.0"):
        train_gan(gen, disc, torch.zeros(4, 2), steps=1, r1_weight=-1.0)
