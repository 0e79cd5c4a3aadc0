import pytest
import torch

from snippets.rl.actor_critic import ActorCritic, a2c_loss, evaluate_actions, train_a2c
from snippets.rl.reinforce import make_cartpole
from snippets.rl.rollout import Rollout


@pytest.mark.parametrize("shared", [False, True])
def test_actor_critic_shapes_and_initial_policy(shared):
    torch.manual_seed(0)
    agent = ActorCritic(4, 3, hidden=16, shared=shared)
    logits, values = agent(torch.randn(7, 4))
    assert logits.shape == (7, 3) and values.shape == (7,)
    # the 0.01-gain output layer makes the first policy nearly uniform
    assert torch.allclose(logits.softmax(-1), torch.full((7, 3), 1 / 3), atol=0.02)
    n_actor = sum(p.numel() for p in agent.actor.parameters())
    assert n_actor == (16 * 3 + 3 if shared else 4 * 16 + 16 + 16 * 16 + 16 + 16 * 3 + 3)


def test_evaluate_actions_matches_torch_distributions():
    torch.manual_seed(0)
    agent = ActorCritic(4, 3, hidden=8)
    obs, actions = torch.randn(5, 4), torch.randint(0, 3, (5,))
    log_probs, entropy, values = evaluate_actions(agent, obs, actions)
    dist = torch.distributions.Categorical(logits=agent(obs)[0])
    torch.testing.assert_close(log_probs, dist.log_prob(actions))
    torch.testing.assert_close(entropy, dist.entropy())
    torch.testing.assert_close(values, agent(obs)[1])


def small_rollout():
    g = torch.Generator().manual_seed(0)
    t, n = 3, 2
    valid = torch.tensor([[True, True], [True, False], [True, True]])
    flags = torch.zeros(t, n, dtype=torch.bool)
    return Rollout(
        torch.randn(t, n, 4, generator=g),
        torch.randint(0, 2, (t, n), generator=g),
        torch.zeros(t, n),
        torch.zeros(t + 1, n),
        torch.ones(t, n),
        flags,
        flags,
        valid,
    )


def test_a2c_loss_matches_a_direct_computation_on_the_valid_steps():
    torch.manual_seed(0)
    agent = ActorCritic(4, 2, hidden=8)
    rollout = small_rollout()
    adv, ret = torch.randn(3, 2), torch.randn(3, 2)
    loss, stats = a2c_loss(agent, rollout, adv, ret, value_coef=0.5, entropy_coef=0.1)
    total, count = 0.0, 0
    for t in range(3):
        for i in range(2):
            if not rollout.valid[t, i]:
                continue
            logits, value = agent(rollout.observations[t, i][None])
            dist = torch.distributions.Categorical(logits=logits[0])
            total = total - dist.log_prob(rollout.actions[t, i]) * adv[t, i]
            total = total + 0.5 * (value[0] - ret[t, i]) ** 2 - 0.1 * dist.entropy()
            count += 1
    torch.testing.assert_close(loss, total / count)
    assert stats["value"] >= 0


def test_a2c_improves_the_policy():
    torch.manual_seed(0)
    agent = ActorCritic(4, 2, hidden=32)
    episodes = train_a2c(agent, make_cartpole(8), 6000, steps=16, lr=2e-3, seed=0)
    returns = [r for _, r in episodes]
    assert sum(returns[-10:]) / 10 > 2 * sum(returns[:20]) / 20


def test_a2c_bad_input():
    agent, rollout = ActorCritic(4, 2), small_rollout()
    with pytest.raises(ValueError, match=r"advantages must have shape \(3, 2\)"):
        a2c_loss(agent, rollout, torch.zeros(3), torch.zeros(3, 2))
    with pytest.raises(TypeError, match="returns must have a floating-point dtype"):
        a2c_loss(agent, rollout, torch.zeros(3, 2), torch.zeros(3, 2, dtype=torch.long))
    with pytest.raises(ValueError, match="hidden must be > 0, got 0"):
        ActorCritic(4, 2, hidden=0)
    with pytest.raises(ValueError, match="total_steps must be > 0, got 0"):
        train_a2c(agent, make_cartpole(1), 0)
