"""Learning values from experience: TD(0) prediction and tabular Q-learning.

Value iteration needs the tensors ``P`` and ``R``. Here the agent only
*samples* the world: from state ``s`` it takes action ``a`` and sees one
reward ``r`` and one next state ``s'``. Temporal-difference (TD) learning
moves its estimate towards the one-step target built from that sample:

- TD(0) prediction, for a fixed policy: ``V(s) ← V(s) + α [r + γ V(s') - V(s)]``;
- Q-learning, for the best policy: ``Q(s, a) ← Q(s, a) + α [r + γ max_a' Q(s', a') - Q(s, a)]``.

If the episode *terminated* at ``s'`` there is no future, and the target is
``r`` alone. Values are kept in float64 tables: ``V`` ``[S]``, ``Q`` ``[S, A]``.
"""

from __future__ import annotations

import numpy as np
import torch

from snippets.common.checks import check_positive, check_tensor
from snippets.rl.gridworld import GridMDP
from snippets.rl.value_iteration import check_mdp


class TabularEnv:
    """Sample a :class:`~snippets.rl.gridworld.GridMDP` one step at a time, like a gymnasium env.

    ``reset()`` puts the agent in a uniformly random non-terminal state (so
    that every state gets visited); ``step(a)`` draws ``s'`` from
    ``P[s, a]`` and returns ``(s', reward, terminated)``.

    Raises:
        ValueError: if the MDP has no non-terminal state.
    """

    def __init__(self, mdp: GridMDP, seed: int = 0) -> None:
        check_mdp(mdp.P, mdp.R, 0.0)
        self.mdp = mdp
        self.rng = np.random.default_rng(seed)
        self.cumulative = mdp.P.cumsum(dim=2).numpy()  # for inverse-CDF sampling
        self.rewards = mdp.rewards.numpy()
        self.terminal = mdp.terminal.numpy()
        self.starts = np.flatnonzero(~self.terminal)
        if len(self.starts) == 0:
            raise ValueError("the MDP must have at least one non-terminal state")
        self.state = int(self.starts[0])

    def reset(self) -> int:
        self.state = int(self.rng.choice(self.starts))
        return self.state

    def step(self, action: int) -> tuple[int, float, bool]:
        s = self.state
        cdf = self.cumulative[s, action]
        s_next = min(
            int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right")), len(cdf) - 1
        )
        self.state = s_next
        return s_next, float(self.rewards[s, action, s_next]), bool(self.terminal[s_next])


def _check_step(alpha: float, gamma: float) -> None:
    check_positive(alpha, "alpha")
    if alpha > 1:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")


def td0_update(
    V: torch.Tensor,
    state: int,
    reward: float,
    next_state: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> float:
    """One TD(0) step, in place: ``V[s] += α (r + γ V[s'] (0 if terminated) - V[s])``.

    Returns the TD error ``δ = target - V[s]`` (before the update).

    Shapes:
        ``V`` ``[S]``.

    Raises:
        ValueError: if ``alpha`` is outside ``(0, 1]`` or ``gamma`` outside ``[0, 1]``.
    """
    check_tensor(V, "V", ndim=1, floating=True)
    _check_step(alpha, gamma)
    bootstrap = 0.0 if terminated else gamma * float(V[next_state])
    error = reward + bootstrap - float(V[state])
    V[state] += alpha * error
    return error


def q_learning_update(
    Q: torch.Tensor,
    state: int,
    action: int,
    reward: float,
    next_state: int,
    terminated: bool,
    alpha: float,
    gamma: float,
) -> float:
    """One Q-learning step, in place: ``Q[s, a] += α (r + γ max_a' Q[s', a'] - Q[s, a])``.

    The target uses the *best* next action, whatever the agent does next:
    Q-learning is off-policy, it learns ``Q*`` while exploring.
    Returns the TD error before the update.

    Shapes:
        ``Q`` ``[S, A]``.

    Raises:
        ValueError: if ``alpha`` is outside ``(0, 1]`` or ``gamma`` outside ``[0, 1]``.
    """
    check_tensor(Q, "Q", ndim=2, floating=True)
    _check_step(alpha, gamma)
    bootstrap = 0.0 if terminated else gamma * float(Q[next_state].max())
    error = reward + bootstrap - float(Q[state, action])
    Q[state, action] += alpha * error
    return error


def epsilon_greedy(q_values: torch.Tensor, epsilon: float, rng: np.random.Generator) -> int:
    """With probability ``epsilon`` a uniformly random action, otherwise the arg-max.

    Shapes:
        ``q_values`` ``[A]`` → an action index (int).

    Raises:
        ValueError: if ``epsilon`` is outside ``[0, 1]`` or ``q_values`` is not 1-D.
    """
    check_tensor(q_values, "q_values", ndim=1)
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    if rng.random() < epsilon:
        return int(rng.integers(len(q_values)))
    return int(q_values.argmax())


def _step_size(alpha: float, decay: float, visits: int) -> float:
    """``alpha / visits**decay``: constant for ``decay = 0``; for ``0.5 < decay ≤ 1`` the
    sizes sum to infinity while their squares do not, which guarantees convergence."""
    return alpha / max(visits, 1) ** decay


def td0_prediction(
    mdp: GridMDP,
    policy: torch.Tensor,
    gamma: float,
    episodes: int,
    alpha: float = 0.1,
    decay: float = 0.0,
    seed: int = 0,
    max_steps: int = 1_000,
) -> torch.Tensor:
    """Estimate ``V_π`` with TD(0) from ``episodes`` sampled episodes.

    The step size for a state visited ``n`` times is ``alpha / n**decay``.

    Shapes:
        ``policy`` ``[S, A]`` → ``[episodes + 1, S]``: the estimate after each
        episode, starting from ``V = 0``.

    Raises:
        ValueError: if ``episodes`` is not positive, or a step size or
            ``gamma`` is out of range.
    """
    check_positive(episodes, "episodes")
    _check_step(alpha, gamma)
    check_tensor(policy, "policy", ndim=2, floating=True)
    env = TabularEnv(mdp, seed)
    rng = np.random.default_rng(seed + 1)
    cumulative = policy.cumsum(dim=1).numpy()
    V = torch.zeros(mdp.num_states, dtype=torch.float64)
    visits = np.zeros(mdp.num_states, dtype=np.int64)
    history = [V.clone()]
    for _ in range(episodes):
        s = env.reset()
        for _ in range(max_steps):
            a = min(
                int(np.searchsorted(cumulative[s], rng.random() * cumulative[s, -1], side="right")),
                mdp.num_actions - 1,
            )
            s_next, r, terminated = env.step(a)
            visits[s] += 1
            td0_update(V, s, r, s_next, terminated, _step_size(alpha, decay, visits[s]), gamma)
            s = s_next
            if terminated:
                break
        history.append(V.clone())
    return torch.stack(history)


def q_learning(
    mdp: GridMDP,
    gamma: float,
    episodes: int,
    alpha: float = 0.1,
    epsilon: float = 0.1,
    decay: float = 0.0,
    seed: int = 0,
    max_steps: int = 1_000,
) -> tuple[torch.Tensor, list[float]]:
    """Tabular Q-learning with an ε-greedy behaviour policy.

    The step size for a pair ``(s, a)`` tried ``n`` times is ``alpha / n**decay``.

    Shapes:
        → ``Q`` ``[S, A]`` and the (undiscounted) return of every episode.

    Raises:
        ValueError: if ``episodes`` is not positive, or a step size,
            ``epsilon`` or ``gamma`` is out of range.
    """
    check_positive(episodes, "episodes")
    _check_step(alpha, gamma)
    if not 0.0 <= epsilon <= 1.0:
        raise ValueError(f"epsilon must be in [0, 1], got {epsilon}")
    env = TabularEnv(mdp, seed)
    rng = np.random.default_rng(seed + 1)
    Q = torch.zeros(mdp.num_states, mdp.num_actions, dtype=torch.float64)
    visits = np.zeros((mdp.num_states, mdp.num_actions), dtype=np.int64)
    returns = []
    for _ in range(episodes):
        s, total = env.reset(), 0.0
        for _ in range(max_steps):
            a = epsilon_greedy(Q[s], epsilon, rng)
            s_next, r, terminated = env.step(a)
            visits[s, a] += 1
            step = _step_size(alpha, decay, visits[s, a])
            q_learning_update(Q, s, a, r, s_next, terminated, step, gamma)
            s, total = s_next, total + r
            if terminated:
                break
        returns.append(total)
    return Q, returns
