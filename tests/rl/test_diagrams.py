import matplotlib.pyplot as plt
import pytest
from matplotlib.text import Text
from torch import nn

from snippets.common.diagrams import alt_text, layout_problems
from snippets.rl.actor_critic import ActorCritic
from snippets.rl.diagrams import ppo_diagram


@pytest.mark.parametrize("shared", [False, True])
def test_ppo_diagram_is_labelled_with_the_real_sizes(shared):
    agent = ActorCritic(4, 2, hidden=16, shared=shared)
    fig = ppo_diagram(agent, num_envs=8, steps=128, epochs=3, minibatches=8)
    try:
        text = alt_text(fig)
        actor = sum(p.numel() for p in agent.actor.parameters())
        assert f"actor {actor:,} parameters" in text
        assert "1,024 transitions" in text and "3 epochs of 8 minibatches of 128" in text
        labels = " ".join(t.get_text() for t in fig.findobj(Text))
        assert ("shared trunk" in labels) == shared and "128 steps × 8 envs" in labels
        assert layout_problems(fig) == []
    finally:
        plt.close(fig)


def test_ppo_diagram_bad_input():
    with pytest.raises(TypeError, match="agent must be an actor-critic module"):
        ppo_diagram(nn.Linear(4, 2), 8, 128)
    with pytest.raises(TypeError, match="steps must be an int, got float"):
        ppo_diagram(ActorCritic(4, 2), 8, 128.0)
    with pytest.raises(ValueError, match="num_envs must be > 0, got 0"):
        ppo_diagram(ActorCritic(4, 2), 0, 128)
    with pytest.raises(ValueError, match="minibatches must be at most steps × num_envs = 4"):
        ppo_diagram(ActorCritic(4, 2), 2, 2, minibatches=5)


def test_dqn_diagram_is_labelled_with_the_real_sizes():
    from snippets.rl.diagrams import dqn_diagram
    from snippets.rl.dqn import DQNConfig, make_q_network

    q_net = make_q_network(6, 3, (32,))
    config = DQNConfig(buffer_capacity=20_000, batch_size=128, target_every=400)
    fig = dqn_diagram(q_net, config, env_name="Acrobot-v1")
    try:
        text = alt_text(fig)
        params = sum(p.numel() for p in q_net.parameters())
        assert f"layers 6→32→3, {params:,} parameters" in text
        assert "replay buffer of 20,000" in text and "Mini-batches of 128" in text
        assert "every 400 steps" in text and "Acrobot-v1" in text
        labels = " ".join(t.get_text() for t in fig.findobj(Text))
        assert "6→32→3" in labels and "last 20,000 transitions" in labels
        assert layout_problems(fig) == []
    finally:
        plt.close(fig)
    with pytest.raises(TypeError, match="q_net must be a module with nn.Linear layers"):
        dqn_diagram(nn.ReLU())
