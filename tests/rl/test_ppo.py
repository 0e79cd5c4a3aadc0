import math

import pytest
import torch

from snippets.rl.actor_critic import ActorCritic, evaluate_actions
from snippets.rl.ppo import clipped_surrogate, ppo_loss, train_ppo, value_loss
from snippets.rl.reinforce import make_cartpole


def objective_and_gradient(ratio, advantage, clip=0.2):
    """The clipped objective of one sample and its derivative with respect to log π_new."""
    log_p = torch.tensor([math.log(ratio)], dtype=torch.float64, requires_grad=True)
    old = torch.zeros(1, dtype=torch.float64)
    value = clipped_surrogate(log_p, old, torch.tensor([advantage], dtype=torch.float64), clip)
    (grad,) = torch.autograd.grad(value, log_p)
    return value.item(), grad.item()


@pytest.mark.parametrize("ratio", [0.85, 1.0, 1.15])
@pytest.mark.parametrize("advantage", [2.0, -3.0])
def test_inside_the_clip_range_the_gradient_is_advantage_times_ratio(ratio, advantage):
    value, grad = objective_and_gradient(ratio, advantage)
    assert value == pytest.approx(ratio * advantage)
    assert grad == pytest.approx(advantage * ratio)


@pytest.mark.parametrize(("ratio", "advantage"), [(1.5, 2.0), (3.0, 0.5), (0.5, -2.0), (0.1, -1.0)])
def test_past_the_clip_in_the_favoured_direction_the_gradient_is_zero(ratio, advantage):
    value, grad = objective_and_gradient(ratio, advantage)
    bound = 1.2 if advantage > 0 else 0.8
    assert value == pytest.approx(bound * advantage)
    assert grad == 0.0


@pytest.mark.parametrize(("ratio", "advantage"), [(0.5, 2.0), (1.5, -2.0)])
def test_the_minimum_keeps_the_pessimistic_unclipped_side(ratio, advantage):
    # A > 0 with r below the range, A < 0 with r above it: the unclipped term is the
    # smaller one, so the objective keeps its full gradient and can undo a bad move.
    value, grad = objective_and_gradient(ratio, advantage)
    clipped = min(max(ratio, 0.8), 1.2) * advantage
    assert value == pytest.approx(ratio * advantage) and value < clipped
    assert grad == pytest.approx(advantage * ratio)


def test_at_ratio_one_the_objective_is_the_policy_gradient_surrogate():
    torch.manual_seed(0)
    agent = ActorCritic(4, 3, hidden=8)
    obs, actions, adv = torch.randn(10, 4), torch.randint(0, 3, (10,)), torch.randn(10)
    log_probs, _, _ = evaluate_actions(agent, obs, actions)
    objective = clipped_surrogate(log_probs, log_probs.detach(), adv)
    grads = torch.autograd.grad(objective, list(agent.actor.parameters()), retain_graph=True)
    expected = torch.autograd.grad((log_probs * adv).mean(), list(agent.actor.parameters()))
    torch.testing.assert_close(objective, adv.mean())
    for g, e in zip(grads, expected):
        torch.testing.assert_close(g, e)


def test_value_loss_and_its_clipping():
    v, r = torch.tensor([1.0, 3.0]), torch.tensor([2.0, 0.0])
    torch.testing.assert_close(value_loss(v, r), torch.tensor(0.5 * (1 + 9) / 2))
    old = torch.tensor([0.0, 0.0])
    # clipped values: 0.5 and 0.5; errors max((1-2)², (0.5-2)²) = 2.25 and max(9, 0.25) = 9
    torch.testing.assert_close(value_loss(v, r, old, clip=0.5), torch.tensor(0.5 * (2.25 + 9) / 2))
    # within the clip range, clipping changes nothing
    torch.testing.assert_close(value_loss(v, r, v.clone(), clip=0.5), value_loss(v, r))


def test_ppo_loss_combines_the_terms():
    torch.manual_seed(1)
    agent = ActorCritic(4, 2, hidden=8)
    obs, actions = torch.randn(6, 4), torch.randint(0, 2, (6,))
    old_log_probs, adv, ret, old_v = torch.randn(4, 6)
    old_log_probs = old_log_probs - 1
    loss, stats = ppo_loss(agent, obs, actions, old_log_probs, adv, ret, old_v, 0.2, 0.5, 0.01)
    dist = torch.distributions.Categorical(logits=agent(obs)[0])
    ratio = (dist.log_prob(actions) - old_log_probs).exp()
    surrogate = torch.minimum(ratio * adv, ratio.clamp(0.8, 1.2) * adv).mean()
    critic = 0.5 * (agent(obs)[1] - ret).pow(2).mean()
    expected = -surrogate + 0.5 * critic - 0.01 * dist.entropy().mean()
    torch.testing.assert_close(loss, expected)
    assert stats["approx_kl"] >= 0 and 0 <= stats["clip_fraction"] <= 1


def test_ppo_improves_the_policy():
    torch.manual_seed(0)
    agent = ActorCritic(4, 2, hidden=32)
    episodes = train_ppo(agent, make_cartpole(8), 4000, steps=64, lr=1e-3, seed=0)
    returns = [r for _, r in episodes]
    assert sum(returns[-10:]) / 10 > 2 * sum(returns[:20]) / 20


def test_ppo_bad_input():
    x = torch.zeros(3)
    with pytest.raises(ValueError, match=r"clip must be in \(0, 1\), got 1.5"):
        clipped_surrogate(x, x, x, clip=1.5)
    with pytest.raises(ValueError, match=r"advantages must have the shape of log_probs \(3,\)"):
        clipped_surrogate(x, x, torch.zeros(4))
    with pytest.raises(TypeError, match="old_log_probs must have a floating-point dtype"):
        clipped_surrogate(x, x.long(), x)
    with pytest.raises(ValueError, match="old_values must be given when clip is set"):
        value_loss(x, x, clip=0.2)
    with pytest.raises(ValueError, match="clip must be > 0, got -1"):
        value_loss(x, x, x, clip=-1)
    with pytest.raises(ValueError, match="minibatches must be > 0, got 0"):
        train_ppo(ActorCritic(4, 2), make_cartpole(1), 100, minibatches=0)
