"""
REINFORCE, A2C and PPO on the same budget
=========================================

The three policy-gradient methods of this chapter learn CartPole-v1 from the
same budget of 40,000 environment steps per run, each from 3 seeds (60,000
steps and 5 seeds on a GPU machine). The curves show the mean return of the
training episodes (actions sampled from the policy) against environment
steps, the mean over seeds with the range of the seeds shaded. A small
budget and 3 seeds show the early learning speed, not the final
performance, and say nothing about other tasks or other hyperparameters:
each method runs with the settings of its own page. The
bar: averaged over its seeds, PPO's greedy policy returns at least 400 on
evaluation episodes whose seeds were never used in training.
"""

# %%
# Each method with the settings of its own page: REINFORCE with 16 whole
# episodes per update, A2C with updates every 16 steps of 8 environments,
# PPO with 128 steps of 8 environments and 4 epochs of 4 minibatches.
import matplotlib.pyplot as plt
import numpy as np
import torch

from snippets.common.device import preset, torch_threads
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.fundamentals.nn_basics import make_mlp
from snippets.rl.actor_critic import ActorCritic, train_a2c
from snippets.rl.ppo import train_ppo
from snippets.rl.reinforce import collect_episodes, evaluate_policy, make_cartpole, reinforce_loss
from snippets.rl.rollout import episode_curve

seed_everything(0)
use_style()
budget = preset(cpu=40_000, gpu=60_000, smoke=600)
seeds = preset(cpu=[0, 1, 2], gpu=[0, 1, 2, 3, 4], smoke=[0])


def run_reinforce(seed):
    """REINFORCE until ``budget`` steps of real episodes; the policy and its episodes."""
    policy = make_mlp([4, 32, 2])
    env, optimizer = make_cartpole(16), torch.optim.Adam(policy.parameters(), lr=0.01)
    episodes, used, update = [], 0, 0
    with torch_threads(1):
        while used < budget:
            rollout = collect_episodes(policy, env, seed=seed * 100_003 + update)
            loss = reinforce_loss(policy, rollout, gamma=0.99)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            for length in rollout.alive.sum(0).tolist():  # reward 1 per step: return = length
                used += length
                episodes.append((used, float(length)))
            update += 1
    return policy, episodes


def run_a2c(seed):
    agent = ActorCritic(4, 2, hidden=64)
    episodes = train_a2c(agent, make_cartpole(8), budget, steps=16, lr=1e-3, seed=seed)
    return agent.logits, episodes


def run_ppo(seed):
    agent = ActorCritic(4, 2, hidden=64)
    episodes = train_ppo(agent, make_cartpole(8), budget, steps=128, lr=1e-3, seed=seed)
    return agent.logits, episodes


# %%
# Train every method from every seed, and evaluate its greedy policy on 10
# episodes with seeds from 10**6 on. The black bar on the right is the mean
# over seeds. Greedy returns and training returns measure different things:
# the greedy policy always takes the more likely action, and even a policy
# that still samples poorly can be a good deterministic controller.
methods = {"REINFORCE": run_reinforce, "A2C": run_a2c, "PPO": run_ppo}
curves, greedy = {}, {}
for name, run in methods.items():
    curves[name], greedy[name] = [], []
    for seed in seeds:
        seed_everything(seed)
        policy, episodes = run(seed)
        grid, curve = episode_curve(episodes, budget, points=40, window=20)
        curves[name].append(curve)
        greedy[name].append(evaluate_policy(policy, make_cartpole(10), seed=10**6).mean().item())
    values = ", ".join(f"{g:.1f}" for g in greedy[name])
    print(f"{name:9s} greedy return per seed: {values}; mean {np.mean(greedy[name]):.1f}")

fig, (ax, right) = plt.subplots(1, 2, figsize=(10, 4.0), width_ratios=(2.2, 1))
for k, (name, runs) in enumerate(curves.items()):
    runs = np.array(runs)
    ax.plot(grid, runs.mean(0), label=f"{name} (mean of {len(seeds)} seeds)")
    ax.fill_between(grid, runs.min(0), runs.max(0), alpha=0.2)
    right.scatter([k] * len(seeds), greedy[name], s=30, label=name)
    right.plot([k - 0.25, k + 0.25], [np.mean(greedy[name])] * 2, color="k")
ax.set(
    xlabel="environment steps",
    ylabel="mean return of the last 20 episodes",
    title=f"Training: {budget:,} steps per run, shaded min to max",
    ylim=(0, 520),
)
ax.legend(loc="upper left")
right.set(
    xticks=range(len(curves)),
    xticklabels=list(curves),
    ylabel="mean greedy return, 10 episodes",
    title="Greedy, one dot per seed",
    ylim=(0, 520),
)
plt.show()

# %%
# The quality bar.
ppo = np.mean(greedy["PPO"])
print(f"PPO's mean greedy return over {len(seeds)} seeds: {ppo:.1f}")
assert ppo >= 400, f"below the bar: {ppo:.1f} < 400"
