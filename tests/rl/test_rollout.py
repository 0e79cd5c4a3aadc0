import numpy as np
import pytest
import torch

from snippets.rl.actor_critic import ActorCritic
from snippets.rl.reinforce import make_cartpole
from snippets.rl.rollout import RolloutCollector, episode_curve


def test_rollout_shapes_masks_and_episode_returns():
    torch.manual_seed(0)
    agent = ActorCritic(4, 2, hidden=8)
    collector = RolloutCollector(make_cartpole(3), seed=0)
    rollout = collector.collect(agent, 60)  # a random policy ends episodes after ~20 steps
    assert rollout.observations.shape == (60, 3, 4) and rollout.values.shape == (61, 3)
    done = rollout.terminated | rollout.truncated
    assert done.any()
    # the step after an episode end only resets the environment: invalid, reward 0
    assert torch.equal(rollout.valid[1:], ~done[:-1]) and rollout.valid[0].all()
    assert torch.all(rollout.rewards[~rollout.valid] == 0)
    # each recorded return is the number of valid steps of that episode (reward 1 per step)
    for i in range(3):
        ends = torch.nonzero(done[:, i])[:, 0].tolist()
        starts = [0] + [e + 2 for e in ends[:-1]]
        lengths = [e - s + 1 for s, e in zip(starts, ends)]
        recorded = [r for step, r in collector.episodes]
        assert all(length in recorded for length in lengths)
    assert len(collector.episodes) == int(done.sum())
    assert collector.env_steps == 180
    # the stored values and log-probabilities are the agent's, for the stored observations
    logits, values = agent(rollout.observations.reshape(-1, 4))
    torch.testing.assert_close(values.reshape(60, 3), rollout.values[:-1])
    taken = torch.log_softmax(logits, -1).gather(1, rollout.actions.reshape(-1, 1))
    torch.testing.assert_close(taken.reshape(60, 3), rollout.log_probs)


def test_collect_continues_where_it_stopped():
    torch.manual_seed(0)
    agent = ActorCritic(4, 2, hidden=8)
    collector = RolloutCollector(make_cartpole(2), seed=1)
    first = collector.collect(agent, 5)
    second = collector.collect(agent, 5)
    torch.testing.assert_close(first.values[-1], second.values[0])


def test_episode_curve():
    episodes = [(10, 1.0), (20, 3.0), (35, 5.0)]
    steps, curve = episode_curve(episodes, budget=40, points=4, window=2)
    np.testing.assert_allclose(steps, [10, 20, 30, 40])
    np.testing.assert_allclose(curve, [1.0, 2.0, 2.0, 4.0])
    _, empty = episode_curve([], budget=10, points=2)
    assert np.isnan(empty).all()


def test_rollout_bad_input():
    collector = RolloutCollector(make_cartpole(1))
    with pytest.raises(ValueError, match="steps must be > 0, got 0"):
        collector.collect(ActorCritic(4, 2), 0)
    with pytest.raises(ValueError, match="budget must be > 0, got 0"):
        episode_curve([], budget=0)
