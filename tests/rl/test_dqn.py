import gymnasium as gym
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.rl.dqn import (
    DQNConfig,
    dqn_loss,
    greedy_returns,
    huber_loss,
    linear_epsilon,
    make_q_network,
    sync_target,
    td_targets,
    train_dqn,
)
from snippets.rl.replay import Transitions


@settings(max_examples=30, deadline=None)
@given(
    shape=st.lists(st.integers(1, 5), min_size=0, max_size=3),
    delta=st.floats(0.05, 5.0),
    dtype=st.sampled_from([torch.float32, torch.float64]),
    seed=st.integers(0, 1000),
)
def test_huber_loss_matches_pytorch(shape, delta, dtype, seed):
    g = torch.Generator().manual_seed(seed)
    prediction = 3 * torch.randn(shape, generator=g, dtype=dtype)
    target = 3 * torch.randn(shape, generator=g, dtype=dtype)
    torch.testing.assert_close(
        huber_loss(prediction - target, delta), F.huber_loss(prediction, target, delta=delta)
    )
    torch.testing.assert_close(
        huber_loss(prediction - target), F.smooth_l1_loss(prediction, target)
    )


def test_td_targets_by_hand_terminated_versus_truncated():
    rewards = torch.tensor([1.0, 2.0, 3.0])
    next_q = torch.tensor([[1.0, 5.0], [2.0, 0.0], [7.0, 7.0]])
    # the second transition terminated (no future); the third was truncated by the time
    # limit, which is stored as terminated=False, so it still bootstraps
    terminated = torch.tensor([False, True, False])
    targets = td_targets(rewards, next_q, terminated, gamma=0.9)
    torch.testing.assert_close(targets, torch.tensor([1.0 + 0.9 * 5.0, 2.0, 3.0 + 0.9 * 7.0]))


def batch_of(n, obs_dim=4, seed=0):
    g = torch.Generator().manual_seed(seed)
    return Transitions(
        torch.randn(n, obs_dim, generator=g),
        torch.randint(2, (n,), generator=g),
        torch.randn(n, generator=g),
        torch.randn(n, obs_dim, generator=g),
        torch.rand(n, generator=g) < 0.3,
    )


@pytest.mark.parametrize("double", [False, True])
def test_dqn_loss_matches_a_direct_computation(double):
    torch.manual_seed(0)
    q_net, target_net = make_q_network(4, 2, (8,)), make_q_network(4, 2, (8,))
    batch = batch_of(16)
    loss = dqn_loss(q_net, target_net, batch, gamma=0.95, double=double)
    q_taken = q_net(batch.observations)[torch.arange(16), batch.actions]
    with torch.no_grad():
        if double:
            chosen = q_net(batch.next_observations).argmax(dim=1)
            bootstrap = target_net(batch.next_observations)[torch.arange(16), chosen]
        else:
            bootstrap = target_net(batch.next_observations).max(dim=1).values
        target = batch.rewards + 0.95 * bootstrap * (1 - batch.terminated.float())
    torch.testing.assert_close(loss, F.smooth_l1_loss(q_taken, target))
    # only the online network gets a gradient
    loss.backward()
    assert all(p.grad is not None for p in q_net.parameters())
    assert all(p.grad is None for p in target_net.parameters())


def test_sync_target_copies_or_averages():
    torch.manual_seed(0)
    online, target = make_q_network(3, 2, (4,)), make_q_network(3, 2, (4,))
    before = [p.clone() for p in target.parameters()]
    sync_target(target, online, tau=0.25)
    for t, b, o in zip(target.parameters(), before, online.parameters()):
        torch.testing.assert_close(t, 0.75 * b + 0.25 * o)
    sync_target(target, online)
    for t, o in zip(target.parameters(), online.parameters()):
        torch.testing.assert_close(t, o)


def test_linear_epsilon_schedule():
    values = [linear_epsilon(s, 1.0, 0.05, 100) for s in (0, 50, 100, 1000)]
    assert values == pytest.approx([1.0, 0.525, 0.05, 0.05])


def test_short_training_run_is_repeatable_and_keeps_the_best_weights():
    def run():
        torch.manual_seed(0)
        q_net = make_q_network(4, 2, (16,))
        config = DQNConfig(
            learning_starts=100,
            eval_every=200,
            eval_start=0,
            eval_seeds=(5,),
            epsilon_decay_steps=300,
        )
        history = train_dqn(
            q_net, gym.make("CartPole-v1"), 400, config, seed=3, eval_env=gym.make("CartPole-v1")
        )
        return q_net, history

    (q_a, a), (_, b) = run(), run()
    assert a.losses == b.losses and a.episode_returns == b.episode_returns
    assert len(a.losses) == (400 - 100) // 2 + 1  # one update every 2 steps from step 100
    assert a.eval_steps == [200, 400] and sum(a.episode_returns) <= 400 and a.steps == 400
    best = max(a.eval_returns)
    assert a.eval_returns[a.eval_steps.index(a.best_step)] == best
    # the weights put back are the best ones: they score the best validation return again
    assert greedy_returns(q_a, gym.make("CartPole-v1"), (5,)).item() == best


def test_dqn_bad_input():
    with pytest.raises(ValueError, match="gamma must be in \\[0, 1\\], got 1.5"):
        td_targets(torch.zeros(2), torch.zeros(2, 3), torch.zeros(2, dtype=torch.bool), 1.5)
    with pytest.raises(ValueError, match="same batch size, got 2, 3 and 2"):
        td_targets(torch.zeros(2), torch.zeros(3, 3), torch.zeros(2, dtype=torch.bool), 0.9)
    with pytest.raises(TypeError, match="terminated must have dtype torch.bool"):
        td_targets(torch.zeros(2), torch.zeros(2, 3), torch.zeros(2), 0.9)
    with pytest.raises(ValueError, match="delta must be > 0, got 0"):
        huber_loss(torch.zeros(3), 0)
    with pytest.raises(ValueError, match="tau must be in \\(0, 1\\], got 0"):
        sync_target(make_q_network(2, 2), make_q_network(2, 2), tau=0)
    with pytest.raises(ValueError, match="end must be in \\[0, 1\\], got 1.5"):
        linear_epsilon(0, 1.0, 1.5, 10)
    with pytest.raises(ValueError, match="steps must be > 0, got 0"):
        train_dqn(make_q_network(4, 2), gym.make("CartPole-v1"), 0)
