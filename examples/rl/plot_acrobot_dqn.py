"""
DQN swings up the Acrobot
=========================

The same DQN code as the CartPole example, on gymnasium's Acrobot-v1: two
links hang from a joint, and the agent applies a torque of -1, 0 or +1 at
the elbow to swing the tip above a line. Every step costs -1 until it gets
there, so the return counts the steps needed (a random policy uses all 500
of an episode, -500). The reward is sparse at first: until an episode
succeeds by chance, every target says the same thing. Every 1,000 steps
the greedy policy plays three validation episodes; the best weights are
kept. The bar: the greedy policy averages at least -100 (fewer than 100
steps) over 10 test episodes with seeds used neither in training nor in
validation.
"""

# %%
# The environment: 6 observations (the cosine and sine of both joint
# angles and the two angular velocities), 3 torques.
import gymnasium as gym
import matplotlib.pyplot as plt

from snippets.common.device import preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.fundamentals.nn_basics import count_parameters
from snippets.rl.dqn import DQNConfig, greedy_returns, make_q_network, train_dqn

seed_everything(0)
use_style()
env = gym.make("Acrobot-v1")
print("observation space:", env.observation_space)
print("action space:", env.action_space)
q_net = make_q_network(obs_dim=6, actions=3, hidden=(64, 64))
print("Q-network parameters:", count_parameters(q_net))

# %%
# Train: a smaller learning rate than for CartPole, one update per step
# on batches of 128, and a faster exploration schedule. Validation uses
# seeds 1-3 and stops once their mean reaches -75.
config = DQNConfig(
    lr=5e-4,
    batch_size=128,
    train_every=1,
    target_every=250,
    epsilon_decay_steps=5_000,
    eval_every=1_000,
    eval_start=4_000,
    eval_seeds=(1, 2, 3),
    stop_at=-75.0,
)
steps = preset(cpu=25_000, gpu=50_000, smoke=300)
history = train_dqn(q_net, env, steps, config, seed=0, eval_env=gym.make("Acrobot-v1"))
print(f"trained for {history.steps} steps, {len(history.episode_returns)} episodes")
print("validation means:", [int(r) for r in history.eval_returns])
print(f"kept the weights of step {history.best_step}")

# %%
# Test on 10 new seeds with the greedy policy. In the learning curve below,
# the ε-greedy training episodes often succeed while the greedy validation
# episodes still run out of time: a deterministic policy can keep swinging
# in a loop that never gains height, and a little randomness breaks such
# loops. This is why the best weights are chosen on greedy validation
# episodes, the way the policy is tested.
returns = greedy_returns(q_net, gym.make("Acrobot-v1"), list(range(1000, 1010)))
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
    label="validation mean (greedy, 3 episodes)",
)
left.axhline(-100, color="#D55E00", ls="--", label="bar (-100, test)")
left.set(xlabel="environment step", ylabel="return", title="Learning curve", ylim=(-520, 0))
left.legend(loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2, fontsize=9)
right.bar(range(len(returns)), returns.numpy(), color="#0072B2")
right.axhline(-100, color="#D55E00", ls="--")
right.set(xlabel="test episode", ylabel="return", title="Greedy test episodes", ylim=(-520, 0))
plt.show()

# %%
# The quality bar.
mean_return = returns.mean().item()
print(f"mean greedy return over {len(returns)} test episodes: {mean_return:.1f}")
assert mean_return >= -100, f"below the bar: {mean_return:.1f} < -100"
