import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.rl.rlhf import (
    RewardTable,
    bradley_terry_loss,
    fit_reward_model,
    kl_divergence,
    kl_penalized_rewards,
    kl_regularized_optimum,
    ppo_bandit,
    simulate_preferences,
)

TRUE = torch.tensor([2.0, 1.0, 0.0, -1.0])
REF = torch.log(torch.tensor([0.1, 0.2, 0.3, 0.4]))


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), shift=st.floats(-50, 50))
def test_bradley_terry_is_a_logistic_loss_on_reward_differences(seed, shift):
    g = torch.Generator().manual_seed(seed)
    chosen, rejected = torch.randn(2, 7, generator=g, dtype=torch.float64)
    loss = bradley_terry_loss(chosen, rejected)
    expected = F.binary_cross_entropy_with_logits(
        chosen - rejected, torch.ones(7, dtype=torch.float64)
    )
    torch.testing.assert_close(loss, expected)
    torch.testing.assert_close(bradley_terry_loss(chosen + shift, rejected + shift), loss)


def test_a_reward_model_learns_the_true_rewards_up_to_a_constant():
    g = torch.Generator().manual_seed(0)
    chosen, rejected = simulate_preferences(TRUE, torch.full((4,), 0.25), 3000, generator=g)
    # raters prefer the better response more often than not, but not always
    better = (TRUE[chosen] > TRUE[rejected]).float()[chosen != rejected].mean()
    assert 0.6 < better < 0.95
    model = RewardTable(4)
    history = fit_reward_model(model, chosen, rejected, epochs=25, batch_size=500)
    assert history.train_loss[-1] < history.train_loss[0]
    learned = model.scores.detach()
    torch.testing.assert_close(learned - learned.mean(), TRUE - TRUE.mean(), atol=0.2, rtol=0)


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 1000), beta=st.floats(0.05, 10.0))
def test_the_closed_form_optimum_beats_any_other_policy(seed, beta):
    g = torch.Generator().manual_seed(seed)
    ref, rewards = torch.randn(2, 5, generator=g, dtype=torch.float64)
    ref_log = torch.log_softmax(ref, -1)

    def objective(log_p):
        return (log_p.exp() * rewards).sum() - beta * kl_divergence(log_p, ref_log)

    best = objective(kl_regularized_optimum(ref, rewards, beta))
    for _ in range(10):
        other = torch.log_softmax(torch.randn(5, generator=g, dtype=torch.float64) * 2, -1)
        assert objective(other) <= best + 1e-9


def test_beta_moves_the_optimum_between_the_reference_and_the_best_response():
    far = kl_regularized_optimum(REF, TRUE, beta=1e4).exp()
    torch.testing.assert_close(far, REF.softmax(-1), atol=1e-3, rtol=0)
    greedy = kl_regularized_optimum(REF, TRUE, beta=1e-3).exp()
    assert greedy[0] > 0.999


def test_kl_penalized_rewards_per_token():
    scores = torch.tensor([1.0, -2.0])
    log_p = torch.tensor([[-1.0, -0.5, -0.2], [-2.0, -1.0, -1.0]])
    ref = torch.tensor([[-1.5, -0.5, -0.7], [-1.0, -1.0, -1.0]])
    r = kl_penalized_rewards(scores, log_p, ref, beta=0.1)
    expected = torch.tensor([[-0.05, 0.0, -0.05 + 1.0], [0.1, 0.0, -2.0]])
    torch.testing.assert_close(r, expected)


def test_ppo_bandit_reaches_the_kl_regularized_optimum():
    g = torch.Generator().manual_seed(0)
    model = RewardTable(4)
    with torch.no_grad():
        model.scores.copy_(TRUE)
    kls = {}
    for beta in (0.3, 3.0):
        logits, history = ppo_bandit(REF, model, beta, iterations=60, generator=g)
        target = kl_regularized_optimum(REF, TRUE, beta).exp()
        assert (logits.softmax(-1) - target).abs().sum() < 0.06  # total variation < 0.03
        kls[beta] = history[-1]
    assert kls[0.3] > kls[3.0] > 0  # a stronger penalty stays closer to the reference


def test_rlhf_bad_input():
    with pytest.raises(ValueError, match=r"rejected must have the shape of chosen \(3,\)"):
        bradley_terry_loss(torch.zeros(3), torch.zeros(4))
    with pytest.raises(TypeError, match="chosen must have dtype torch.int64"):
        fit_reward_model(RewardTable(2), torch.zeros(3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ValueError, match="beta must be > 0, got 0"):
        kl_regularized_optimum(REF, TRUE, 0)
    with pytest.raises(ValueError, match="log_probs and ref_log_probs must both be"):
        kl_penalized_rewards(torch.zeros(2), torch.zeros(2, 3), torch.zeros(3, 3), 0.1)
    with pytest.raises(ValueError, match="beta must be >= 0, got -1"):
        ppo_bandit(REF, RewardTable(4), -1)
    with pytest.raises(ValueError, match="num_responses must be > 0, got 0"):
        RewardTable(0)
