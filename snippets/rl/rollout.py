"""Fixed-length rollouts from vectorized environments, for actor-critic methods.

REINFORCE plays whole episodes; actor-critic methods (A2C, PPO) instead step
``N`` environments for ``T`` steps, learn from those ``T × N`` transitions,
and carry on where they stopped. Episodes start and end anywhere inside a
rollout, so besides observations, actions and rewards the rollout records
where episodes ended (``terminated``/``truncated``) and the critic's values,
from which :func:`snippets.rl.gae.gae` computes advantages.

Gymnasium's vector environments reset a finished sub-environment on the
*next* call to ``step`` (``autoreset_mode`` ``NEXT_STEP``): the step that
ends an episode returns its final observation, and the following step
ignores its action, returns the first observation of a new episode and
reward 0. That following step is not a real transition; ``valid`` masks it
out of the losses. The final observation is kept as the next step's input,
so its value ``V(s_final)`` lands in ``values`` where :func:`~snippets.rl.gae.gae`
needs it to bootstrap a truncated episode.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from snippets.common.checks import check_positive


@dataclass
class Rollout:
    """``T`` steps of ``N`` environments, time-major.

    Shapes:
        ``observations`` ``[T, N, obs_dim]``; ``actions`` ``[T, N]`` (int64);
        ``log_probs`` ``[T, N]`` (of the actions, under the policy that chose
        them); ``values`` ``[T + 1, N]`` (``values[t]`` = ``V(observations[t])``,
        the last row for the observation after the last step); ``rewards``
        ``[T, N]``; ``terminated``, ``truncated``, ``valid`` ``[T, N]`` (bool).
    """

    observations: torch.Tensor
    actions: torch.Tensor
    log_probs: torch.Tensor
    values: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    valid: torch.Tensor


class RolloutCollector:
    """Steps a vector ``env`` with an actor-critic agent, ``steps`` at a time.

    ``agent(obs)`` maps observations ``[N, obs_dim]`` to action logits
    ``[N, A]`` and values ``[N]``. The collector keeps the environments'
    state between calls and records every finished episode's undiscounted
    return in ``episodes`` as ``(environment steps so far, return)``.

    Raises:
        ValueError: (from :meth:`collect`) if ``steps`` is not positive.
    """

    def __init__(self, env, seed: int = 0):
        self.env = env
        obs, _ = env.reset(seed=seed)
        self.obs = torch.as_tensor(obs, dtype=torch.float32)
        self.num_envs = len(obs)
        self.prev_done = np.zeros(self.num_envs, dtype=bool)
        self.running = np.zeros(self.num_envs)
        self.env_steps = 0
        self.episodes: list[tuple[int, float]] = []

    @torch.no_grad()
    def collect(self, agent: nn.Module, steps: int) -> Rollout:
        """Play ``steps`` steps in every environment with actions sampled from ``agent``."""
        check_positive(steps, "steps")
        n, obs_dim = self.obs.shape
        observations = torch.empty(steps, n, obs_dim)
        actions = torch.empty(steps, n, dtype=torch.long)
        log_probs = torch.empty(steps, n)
        values = torch.empty(steps + 1, n)
        rewards = np.empty((steps, n), dtype=np.float32)
        terminated = np.empty((steps, n), dtype=bool)
        truncated = np.empty((steps, n), dtype=bool)
        valid = np.empty((steps, n), dtype=bool)
        for t in range(steps):
            logits, value = agent(self.obs)
            log_p = torch.log_softmax(logits, dim=-1)
            action = torch.multinomial(log_p.exp(), 1)  # [N, 1], sampled from π(·|s)
            observations[t], values[t] = self.obs, value
            actions[t], log_probs[t] = action[:, 0], log_p.gather(1, action)[:, 0]
            obs, reward, term, trunc, _ = self.env.step(action[:, 0].numpy())
            rewards[t], terminated[t], truncated[t] = reward, term, trunc
            valid[t] = ~self.prev_done  # False: the step that only reset the environment
            self.prev_done = term | trunc
            self.running += reward
            self.env_steps += n
            for i in np.flatnonzero(self.prev_done):
                self.episodes.append((self.env_steps, float(self.running[i])))
                self.running[i] = 0.0
            self.obs = torch.as_tensor(obs, dtype=torch.float32)
        values[steps] = agent(self.obs)[1]
        return Rollout(
            observations,
            actions,
            log_probs,
            values,
            torch.from_numpy(rewards),
            torch.from_numpy(terminated),
            torch.from_numpy(truncated),
            torch.from_numpy(valid),
        )


def episode_curve(
    episodes: list[tuple[int, float]], budget: int, points: int = 50, window: int = 20
) -> tuple[np.ndarray, np.ndarray]:
    """A learning curve on a fixed grid of environment steps, for averaging over seeds.

    At each of ``points`` step counts up to ``budget``: the mean return of the
    last ``window`` episodes finished by then (NaN before the first one).

    Shapes:
        ``episodes`` a list of ``(step, return)`` → steps ``[points]``, returns ``[points]``.

    Raises:
        ValueError: if ``budget``, ``points`` or ``window`` is not positive.
    """
    check_positive(budget, "budget")
    check_positive(points, "points")
    check_positive(window, "window")
    grid = np.linspace(budget / points, budget, points)
    ends = np.array([s for s, _ in episodes], dtype=float)
    returns = np.array([r for _, r in episodes], dtype=float)
    curve = np.full(points, np.nan)
    for k, step in enumerate(grid):
        done = returns[ends <= step]
        if len(done):
            curve[k] = done[-window:].mean()
    return grid, curve
