"""
TD(0) and Q-learning recover the exact solution of a grid world
===============================================================

The 3 × 4 grid world of the MDP page, but the learner only samples it:
one action, one reward, one next state. TD(0) estimates the value of the
random policy and Q-learning the optimal action values, and both are
checked against what the model's tensors give exactly (a linear solve and
value iteration). The bar: after 3,000 episodes the TD(0) values are within
0.05 of the exact ones in every state, and the greedy policy of Q-learning
equals value iteration's in every state where there is a choice to make.
"""

# %%
# The exact answers, computed from the model (P and R).
import matplotlib.pyplot as plt
import torch

from snippets.common.device import preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.rl.gridworld import make_gridworld, plot_grid
from snippets.rl.q_learning import q_learning, td0_prediction
from snippets.rl.value_iteration import evaluate_policy_exact, value_iteration

seed_everything(0)
use_style()
mdp, gamma = make_gridworld(), 0.9
uniform = torch.full((mdp.num_states, mdp.num_actions), 0.25, dtype=torch.float64)
exact = evaluate_policy_exact(mdp.P, mdp.R, uniform, gamma)
best = value_iteration(mdp.P, mdp.R, gamma)
print("exact V of the random policy:", [round(v, 3) for v in exact.tolist()])
print("V* from value iteration:     ", [round(v, 3) for v in best.values.tolist()])

# %%
# TD(0) on the random policy, with a step size 1 / n^0.8 for a state's n-th visit.
episodes = preset(cpu=3000, gpu=3000, smoke=20)  # tabular: the same on every device
history = td0_prediction(mdp, uniform, gamma, episodes, alpha=1.0, decay=0.8, seed=0)
td_error = (history[-1] - exact).abs().max().item()
print(f"TD(0): largest error after {episodes} episodes: {td_error:.4f}")

# %%
# Q-learning with ε = 0.5 exploration; its greedy policy is compared with the planner's.
Q, returns = q_learning(mdp, gamma, episodes, alpha=1.0, epsilon=0.5, decay=0.8, seed=0)
learn = ~mdp.terminal
matches = int((Q.argmax(dim=1) == best.policy.argmax(dim=1))[learn].sum())
q_error = (Q.max(dim=1).values - best.values).abs().max().item()
print(
    f"Q-learning: greedy action equal in {matches} of {int(learn.sum())} states; "
    f"largest |max Q - V*|: {q_error:.4f}"
)

fig, axes = plt.subplots(1, 3, figsize=(13, 3.4), width_ratios=(1, 1.1, 1.1))
errors = (history - exact).abs().max(dim=1).values
axes[0].semilogy(errors)
axes[0].axhline(0.05, color="#D55E00", ls="--", label="bar 0.05")
axes[0].set(xlabel="episode", ylabel="largest error of V", title="TD(0) against the exact V")
axes[0].legend()
plot_grid(mdp, Q.max(dim=1).values, Q.argmax(dim=1), ax=axes[1], title="Q-learning: max Q, greedy")
plot_grid(mdp, best.values, best.policy.argmax(dim=1), ax=axes[2], title="Value iteration: V*")
plt.show()

# %%
# The quality bar.
print(f"TD(0) largest error {td_error:.4f}; Q-learning policy equal in {matches} states")
assert td_error <= 0.05, f"TD(0) above the bar: {td_error:.4f} > 0.05"
assert matches == int(learn.sum()), f"Q-learning policy differs in {int(learn.sum()) - matches}"
