"""
PPO masters CartPole
====================

Proximal policy optimization trains an actor-critic agent on CartPole-v1:
8 environments are stepped 128 steps at a time, advantages come from GAE,
and each rollout serves 4 epochs of minibatch updates on the clipped
objective. The bar: after 100,000 environment steps the greedy policy
averages at least 475 (of a possible 500) over 20 evaluation episodes (100
on a GPU machine) whose seeds were never used in training.
"""

# %%
# The agent: separate actor and critic MLPs, two tanh layers of 64 units
# each, orthogonally initialised. Acting runs one small forward pass per
# step, so the agent stays on the CPU even when a GPU is present; a GPU run
# evaluates on more episodes instead.
import matplotlib.pyplot as plt
import numpy as np

from snippets.common.device import preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.fundamentals.nn_basics import count_parameters
from snippets.rl.actor_critic import ActorCritic
from snippets.rl.ppo import train_ppo
from snippets.rl.reinforce import evaluate_policy, make_cartpole
from snippets.rl.rollout import episode_curve

seed_everything(0)
use_style()
agent = ActorCritic(obs_dim=4, num_actions=2, hidden=64)
print(agent, "\nparameters:", count_parameters(agent))

# %%
# Train. The learning rate starts at 1e-3 and falls linearly to 0, which
# settles the policy at the end of the run.
total_steps = preset(cpu=100_000, gpu=100_000, smoke=4_096)  # smoke run: four rollouts
episodes = train_ppo(
    agent,
    make_cartpole(8),
    total_steps,
    steps=128,
    epochs=4,
    minibatches=4,
    lr=1e-3,
    gamma=0.99,
    lam=0.95,
    clip=0.2,
    seed=0,
)
steps, returns = np.array(episodes).T
print(f"{len(episodes)} training episodes (actions sampled from the policy)")
print(f"first 20 averaged {returns[:20].mean():.1f}, last 20 averaged {returns[-20:].mean():.1f}")

# %%
# Evaluate the greedy policy (always the more likely action) on fresh
# episodes with seeds from 10**6 on; training used the seed 0 stream.
episodes_eval = preset(cpu=20, gpu=100, smoke=2)
evaluation = evaluate_policy(agent.logits, make_cartpole(episodes_eval), seed=10**6)
print("evaluation returns:", [int(r) for r in evaluation])

grid, curve = episode_curve(episodes, total_steps, points=100, window=20)
fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.6))
left.scatter(steps, returns, s=4, color="#bbbbbb", label="one training episode")
left.plot(grid, curve, color="#0072B2", label="mean of the last 20 episodes")
left.axhline(475, color="#D55E00", linestyle="--", label="bar (475, greedy)")
left.set(xlabel="environment steps", ylabel="return", title="PPO learning curve", ylim=(0, 520))
left.legend(loc="lower right")
right.hist(evaluation.numpy(), bins=range(0, 525, 25), color="#0072B2")
right.set(xlabel="return", ylabel="episodes", title=f"Greedy evaluation, {episodes_eval} episodes")
plt.show()

# %%
# The quality bar.
mean_return = evaluation.mean().item()
print(f"mean greedy return over {episodes_eval} episodes: {mean_return:.1f}")
assert mean_return >= 475, f"below the bar: {mean_return:.1f} < 475"
