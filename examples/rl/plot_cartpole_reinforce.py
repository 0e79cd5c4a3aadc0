"""
REINFORCE balances a pole on a cart
===================================

A small policy network learns CartPole-v1 from gymnasium with REINFORCE:
play a batch of 16 episodes, make the actions of high-return episodes more
likely, repeat. An episode lasts at most 500 steps and earns 1 per step the
pole stays up. The bar: after 60 updates, the greedy policy (always the most
likely action) averages at least 400 over 20 fresh evaluation episodes.
"""

# %%
# The environment: 16 CartPoles stepped together. A random policy keeps the
# pole up for about 20 steps.
import matplotlib.pyplot as plt
import torch

from snippets.common.device import preset
from snippets.common.plotting import plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.fundamentals.nn_basics import count_parameters, make_mlp
from snippets.rl.reinforce import (
    collect_episodes,
    evaluate_policy,
    make_cartpole,
    train_reinforce,
)

seed_everything(0)
use_style()
env = make_cartpole(num_envs=16)
print("observation space:", env.single_observation_space)
print("action space:", env.single_action_space)

# %%
# The agent: an MLP from 4 observations to 2 action logits. Acting runs one
# small forward pass per step, so the network stays on the CPU even when a
# GPU is present; a GPU run trains longer instead.
policy = make_mlp([4, 32, 2])
print(policy, "\nparameters:", count_parameters(policy))
random_returns = evaluate_policy(make_mlp([4, 32, 2]), make_cartpole(20))
print(f"untrained greedy policy: mean return {random_returns.mean():.1f}")

# %%
# Train: 60 updates, each on a fresh batch of 16 episodes.
iterations = preset(cpu=60, gpu=100, smoke=2)
curve = train_reinforce(policy, env, iterations=iterations, lr=0.01, gamma=0.99, seed=0)
print(f"mean training return: first update {curve[0]:.1f}, last update {curve[-1]:.1f}")

# %%
# Evaluate the greedy policy on 20 episodes it has not seen (other seeds).
returns = evaluate_policy(policy, make_cartpole(20), seed=10**6)
print("evaluation returns:", [int(r) for r in returns])

fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.6))
plot_curves(
    {"mean return of the batch (sampled actions)": curve},
    xlabel="update",
    ylabel="return",
    ax=left,
    title="Learning curve",
)
left.axhline(500, color="#999999", linestyle=":", label="maximum (500)")
left.axhline(400, color="#D55E00", linestyle="--", label="bar (400, greedy)")
left.legend(loc="center left")
right.hist(returns.numpy(), bins=range(0, 525, 25), color="#0072B2")
right.set(xlabel="return", ylabel="episodes", title="Greedy evaluation, 20 episodes")
plt.show()

# %%
# One evaluation episode in detail: the pole angle stays within a few
# degrees of upright (the episode fails at ±12°) while the cart drifts.
episode = collect_episodes(policy, make_cartpole(1), seed=10**6, greedy=True)
states = episode.observations[:, 0]  # [T, 4]
fig, ax = plt.subplots(figsize=(7.5, 3.2))
ax.plot(torch.rad2deg(states[:, 2]), label="pole angle (degrees)")
ax.plot(states[:, 0], label="cart position (m)")
ax.set(xlabel="step", title="A greedy episode")
ax.legend()
plt.show()

# %%
# The quality bar.
mean_return = returns.mean().item()
print(f"mean greedy return over 20 episodes: {mean_return:.1f}")
assert mean_return >= 400, f"below the bar: {mean_return:.1f} < 400"
