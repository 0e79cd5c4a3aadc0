"""
DQN balances a pole on a cart
=============================

A deep Q-network learns CartPole-v1 from gymnasium, one environment step at
a time: act ε-greedily on the network's action values, store every
transition in a replay buffer, and regress Q(s, a) on the target
r + γ max Q'(s', a') from a target network, with a Huber loss. An episode
lasts at most 500 steps and earns 1 per step the pole stays up. Every 500
steps the greedy policy plays five validation episodes; the best weights
are kept, and training stops when they balance all five for 500 steps.
The bar: the greedy policy averages at least 475 over 10 test episodes
whose seeds were used neither in training nor in validation.
"""

# %%
# The environment and the network: 4 observations in, 2 action values out.
# Acting runs one small forward pass per step, so the network stays on the
# CPU even when a GPU is present; a GPU run is allowed more steps instead.
import gymnasium as gym
import matplotlib.pyplot as plt
import torch

from snippets.common.device import preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.fundamentals.nn_basics import count_parameters
from snippets.rl.dqn import DQNConfig, greedy_returns, make_q_network, train_dqn

seed_everything(0)
use_style()
env = gym.make("CartPole-v1")
q_net = make_q_network(obs_dim=4, actions=2, hidden=(128, 128))
print(q_net, "\nparameters:", count_parameters(q_net))

# %%
# Train. Validation episodes use seeds 1-5; training resets start from seed 0.
config = DQNConfig(stop_at=500.0)
print(config)
steps = preset(cpu=50_000, gpu=80_000, smoke=300)
history = train_dqn(q_net, env, steps, config, seed=0, eval_env=gym.make("CartPole-v1"))
print(f"trained for {history.steps} steps, {len(history.episode_returns)} episodes")
print("validation means:", [int(r) for r in history.eval_returns])
print(f"kept the weights of step {history.best_step}")

# %%
# Test on 10 new seeds with the greedy policy (ε = 0).
test_seeds = list(range(10_000, 10_010))
returns = greedy_returns(q_net, gym.make("CartPole-v1"), test_seeds)
print("test returns:", [int(r) for r in returns])

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8), width_ratios=(1.6, 1))
left.plot(
    history.episode_ends,
    history.episode_returns,
    ".",
    ms=3,
    alpha=0.5,
    label="training episode (ε-greedy)",
)
left.plot(
    history.eval_steps,
    history.eval_returns,
    "-o",
    ms=3,
    label="validation mean (greedy, 5 episodes)",
)
left.axhline(475, color="#D55E00", ls="--", label="bar (475, test)")
left.set(xlabel="environment step", ylabel="return", title="Learning curve")
left.legend(loc="center left")
right.bar(range(len(returns)), returns.numpy(), color="#0072B2")
right.set(xlabel="test episode", ylabel="return", title="Greedy test episodes", ylim=(0, 520))
plt.show()

# %%
# What the network predicts along one test episode. The episode is
# *truncated* at step 500, not terminated, and the targets always
# bootstrapped there, so nothing in the prediction marks step 500 as an end:
# it stays flat to the last step. Its level is below 1 / (1 - γ) = 100, the
# value of balancing forever. Each target-network sync works like one sweep
# of value iteration started from zero, and after K sweeps a stream of 1s is
# worth only 1 + γ + ... + γ^(K-1) = (1 - γ^K) / (1 - γ). Acting greedily
# needs only the order of the two action values, not their level.
obs, _ = env.reset(seed=test_seeds[0])
values, done = [], False
with torch.no_grad():
    while not done:
        q = q_net(torch.as_tensor(obs, dtype=torch.float32)[None])[0]
        values.append(q.max().item())
        obs, _, terminated, truncated, _ = env.step(int(q.argmax()))
        done = terminated or truncated
syncs = history.best_step // config.target_every
after_syncs = (1 - config.gamma**syncs) / (1 - config.gamma)
print(
    f"mean predicted value {sum(values) / len(values):.1f}; "
    f"{syncs} target syncs: (1 - γ^K) / (1 - γ) = {after_syncs:.1f}"
)
fig, ax = plt.subplots(figsize=(7.5, 3.0))
ax.plot(values, label="max_a Q(s, a)")
ax.axhline(1 / (1 - config.gamma), color="#999999", ls=":", label="1 / (1 - γ)")
ax.axhline(after_syncs, color="#D55E00", ls="--", label=f"(1 - γ^K) / (1 - γ), K = {syncs}")
ax.set(
    xlabel="step", ylabel="predicted value", title="Q along a greedy test episode", ylim=(0, 110)
)
ax.legend()
plt.show()

# %%
# The quality bar.
mean_return = returns.mean().item()
print(f"mean greedy return over {len(returns)} test episodes: {mean_return:.1f}")
assert mean_return >= 475, f"below the bar: {mean_return:.1f} < 475"
