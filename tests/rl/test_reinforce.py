import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.fundamentals.nn_basics import make_mlp
from snippets.rl.reinforce import (
    Rollout,
    bandit_gradient,
    collect_episodes,
    discounted_returns,
    evaluate_policy,
    make_cartpole,
    reinforce_loss,
    sampled_bandit_gradient,
    train_reinforce,
)


def brute_force_returns(rewards, gamma):
    """G_t = sum_k gamma^k r_{t+k}, written as the definition."""
    n = len(rewards)
    return torch.stack([sum(gamma**k * rewards[t + k] for k in range(n - t)) for t in range(n)])


@given(
    rewards=st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=30),
    gamma=st.floats(0.0, 1.0),
)
def test_discounted_returns_match_the_definition(rewards, gamma):
    r = torch.tensor(rewards, dtype=torch.float64)
    g = discounted_returns(r, gamma)
    torch.testing.assert_close(g, brute_force_returns(r, gamma))
    # the recursion: G_t - gamma * G_{t+1} = r_t, and the last return is the last reward
    torch.testing.assert_close(g[:-1] - gamma * g[1:], r[:-1])
    assert g[-1] == r[-1]


def test_discounted_returns_batched_columns_are_independent():
    r = torch.rand(12, 3)
    g = discounted_returns(r, 0.9)
    for i in range(3):
        torch.testing.assert_close(g[:, i], discounted_returns(r[:, i], 0.9))
    torch.testing.assert_close(discounted_returns(r, 0.0), r)


def test_discounted_returns_bad_input():
    with pytest.raises(ValueError, match="gamma must be in \\[0, 1\\], got 1.5"):
        discounted_returns(torch.ones(3), 1.5)
    with pytest.raises(TypeError, match="rewards must have a floating-point dtype"):
        discounted_returns(torch.ones(3, dtype=torch.int64), 0.9)
    with pytest.raises(ValueError, match="rewards must have 1 or 2 dimensions"):
        discounted_returns(torch.ones(2, 2, 2), 0.9)


def test_rollout_masks_and_returns():
    torch.manual_seed(0)
    env = make_cartpole(5)
    rollout = collect_episodes(make_mlp([4, 8, 2]), env, seed=3)
    t, n = rollout.actions.shape
    assert rollout.observations.shape == (t, n, 4) and n == 5
    alive = rollout.alive.int()
    # once an episode ends it stays ended, and at least one runs to the last step
    assert torch.all(alive[1:] <= alive[:-1])
    assert alive[-1].any() and alive[0].all()
    # CartPole pays 1 per step survived: the return is the episode length
    torch.testing.assert_close(rollout.episode_returns, rollout.alive.sum(0).float())


def test_rollouts_repeat_with_the_same_seeds():
    policy = make_mlp([4, 8, 2])
    torch.manual_seed(1)
    a = collect_episodes(policy, make_cartpole(3), seed=7)
    torch.manual_seed(1)
    b = collect_episodes(policy, make_cartpole(3), seed=7)
    torch.testing.assert_close(a.observations, b.observations)
    torch.testing.assert_close(a.actions, b.actions)


def test_reinforce_loss_matches_a_direct_computation():
    torch.manual_seed(0)
    policy = make_mlp([4, 8, 2])
    obs = torch.randn(3, 2, 4)
    actions = torch.tensor([[0, 1], [1, 1], [0, 0]])
    alive = torch.tensor([[True, True], [True, True], [True, False]])
    rewards = alive.float()
    rollout = Rollout(obs, actions, rewards, alive)
    loss = reinforce_loss(policy, rollout, gamma=0.5)
    # the same quantity from torch.distributions, episode by episode
    returns = {0: [1.75, 1.5, 1.0], 1: [1.5, 1.0]}
    flat = torch.tensor(returns[0] + returns[1])
    total = 0.0
    for i, g in returns.items():
        for t, g_t in enumerate(g):
            dist = torch.distributions.Categorical(logits=policy(obs[t, i : i + 1]))
            advantage = (g_t - flat.mean()) / (flat.std() + 1e-8)
            total = total - dist.log_prob(actions[t, i : i + 1]).sum() * advantage
    torch.testing.assert_close(loss, total / 2)


def test_reinforce_improves_the_policy():
    torch.manual_seed(0)
    policy = make_mlp([4, 16, 2])
    env = make_cartpole(8)
    before = evaluate_policy(policy, make_cartpole(8), seed=5).mean()
    curve = train_reinforce(policy, env, iterations=25, lr=0.02, seed=0)
    assert len(curve) == 25
    assert sum(curve[-5:]) / 5 > 1.5 * sum(curve[:5]) / 5
    assert evaluate_policy(policy, make_cartpole(8), seed=5).mean() > before


def test_rl_bad_input():
    with pytest.raises(ValueError, match="num_envs must be > 0, got 0"):
        make_cartpole(0)
    with pytest.raises(ValueError, match="iterations must be > 0, got 0"):
        train_reinforce(make_mlp([4, 2]), make_cartpole(1), iterations=0)


def test_bandit_gradient_matches_autograd_of_the_expected_reward():
    torch.manual_seed(0)
    logits = torch.randn(5, dtype=torch.float64, requires_grad=True)
    means = torch.randn(5, dtype=torch.float64)
    (expected,) = torch.autograd.grad((logits.softmax(-1) * means).sum(), logits)
    torch.testing.assert_close(bandit_gradient(logits, means), expected)


@pytest.mark.parametrize("baseline", [0.0, 1.5, -3.0])
def test_sampled_bandit_gradient_is_unbiased_for_any_baseline(baseline):
    logits, means = torch.tensor([0.3, -0.2, 0.0]), torch.tensor([1.0, 2.0, 0.5])
    generator = torch.Generator().manual_seed(0)
    estimate = sampled_bandit_gradient(logits, means, 200_000, baseline, generator=generator)
    torch.testing.assert_close(estimate, bandit_gradient(logits, means), rtol=0, atol=0.02)


def test_a_baseline_near_the_average_reward_lowers_the_variance():
    logits, means = torch.zeros(2), torch.tensor([1.0, 2.0])
    generator = torch.Generator().manual_seed(0)

    def spread(baseline):
        runs = [
            sampled_bandit_gradient(logits, means, 50, baseline, generator=generator)[1]
            for _ in range(300)
        ]
        return torch.stack(runs).std()

    assert spread(1.5) < 0.7 * spread(0.0)


def test_bandit_bad_input():
    with pytest.raises(ValueError, match="arm_means must have one entry per arm"):
        bandit_gradient(torch.zeros(2), torch.zeros(3))
    with pytest.raises(TypeError, match="logits"):
        bandit_gradient(torch.zeros(2, dtype=torch.int64), torch.zeros(2))
    with pytest.raises(ValueError, match="samples must be > 0, got 0"):
        sampled_bandit_gradient(torch.zeros(2), torch.zeros(2), 0)
    with pytest.raises(ValueError, match="noise"):
        sampled_bandit_gradient(torch.zeros(2), torch.zeros(2), 5, noise=-1.0)
