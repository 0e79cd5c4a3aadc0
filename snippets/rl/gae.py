"""Returns and generalized advantage estimation (GAE) over a rollout of vectorized environments.

A rollout of ``T`` steps in ``N`` environments side by side is stored
time-major, ``[T, N]``. Episodes end inside it: an episode that ends at step
``t`` is *terminated* (the pole fell: nothing follows, the future is worth 0)
or *truncated* (the time limit cut it: the future is still worth
``V(s_{t+1})``, the value of the final observation). Both stop the sums that
run backwards in time, so an advantage never mixes two episodes.
"""

from __future__ import annotations

import torch

from snippets.common.checks import check_tensor


def _check_gamma_lam(gamma: float, lam: float) -> None:
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"lam must be in [0, 1], got {lam}")


def _check_flags(flag: object, name: str, shape: torch.Size) -> torch.Tensor:
    flag = check_tensor(flag, name, dtype=torch.bool)
    if flag.shape != shape:
        raise ValueError(
            f"{name} must have the shape of rewards {tuple(shape)}, got {tuple(flag.shape)}"
        )
    return flag


def returns_with_dones(
    rewards: torch.Tensor,
    dones: torch.Tensor,
    gamma: float,
    last_value: torch.Tensor | None = None,
) -> torch.Tensor:
    """Return-to-go ``G_t = r_t + gamma (1 - done_t) G_{t+1}`` that stops at episode ends.

    ``dones[t]`` marks that an episode ended at step ``t``: ``G_t`` is then
    ``r_t`` alone. After the last step the rollout is cut, not the episode:
    ``G_T = last_value`` (the critic's estimate of what follows; 0 if None).

    Shapes:
        ``rewards`` ``[T]`` or ``[T, N]``, ``dones`` the same (bool),
        ``last_value`` ``[]`` or ``[N]`` → ``[T]`` or ``[T, N]``.

    Raises:
        TypeError: if ``rewards`` is not floating point or ``dones`` not bool.
        ValueError: if the shapes disagree or ``gamma`` is outside ``[0, 1]``.
    """
    check_tensor(rewards, "rewards", ndim=(1, 2), floating=True)
    keep = (~_check_flags(dones, "dones", rewards.shape)).to(rewards.dtype)
    _check_gamma_lam(gamma, 0.0)
    running = torch.zeros_like(rewards[0])
    if last_value is not None:
        check_tensor(last_value, "last_value", floating=True)
        if last_value.shape != rewards[0].shape:
            raise ValueError(
                f"last_value must have shape {tuple(rewards[0].shape)}, "
                f"got {tuple(last_value.shape)}"
            )
        running = last_value.to(rewards.dtype)
    returns = torch.empty_like(rewards)
    for t in range(len(rewards) - 1, -1, -1):
        running = rewards[t] + gamma * keep[t] * running  # an ending episode drops the future
        returns[t] = running
    return returns


def gae(
    rewards: torch.Tensor,
    values: torch.Tensor,
    terminated: torch.Tensor,
    truncated: torch.Tensor,
    gamma: float = 0.99,
    lam: float = 0.95,
) -> torch.Tensor:
    """Generalized advantage estimates ``Â_t`` of a rollout (Schulman et al., 2016).

    ``values[t]`` is the critic's ``V(s_t)`` for the observation step ``t``
    acted on, and ``values[t + 1]`` the value of the observation step ``t``
    *led to*: when an episode ends at step ``t`` that is its final
    observation, not the first of the next episode. Then

    - the TD error ``δ_t = r_t + γ (1 - terminated_t) V(s_{t+1}) - V(s_t)``
      bootstraps from the final observation on truncation and from 0 on
      termination;
    - ``Â_t = δ_t + γλ (1 - done_t) Â_{t+1}`` with ``done = terminated | truncated``:
      the sum stops at every episode end, and at the end of the rollout.

    ``lam = 0`` gives the one-step TD error, ``lam = 1`` the Monte-Carlo
    return minus ``V(s_t)``. The critic's regression target is ``Â_t + V(s_t)``.

    Shapes:
        ``rewards``, ``terminated``, ``truncated`` ``[T, N]`` (flags bool),
        ``values`` ``[T + 1, N]`` → ``[T, N]``.

    Raises:
        TypeError: if ``rewards``/``values`` are not floating point or a flag is not bool.
        ValueError: if the shapes disagree, or ``gamma``/``lam`` are outside ``[0, 1]``.
    """
    check_tensor(rewards, "rewards", ndim=2, floating=True)
    check_tensor(values, "values", ndim=2, floating=True)
    steps, envs = rewards.shape
    if values.shape != (steps + 1, envs):
        raise ValueError(
            f"values must have shape {(steps + 1, envs)} (one more step than rewards, "
            f"for the observation after the last step), got {tuple(values.shape)}"
        )
    alive = (~_check_flags(terminated, "terminated", rewards.shape)).to(rewards.dtype)
    ended = terminated | _check_flags(truncated, "truncated", rewards.shape)
    cont = (~ended).to(rewards.dtype)  # 1 while the next step belongs to the same episode
    _check_gamma_lam(gamma, lam)
    values = values.detach()
    deltas = rewards + gamma * alive * values[1:] - values[:-1]  # [T, N], all at once
    advantages = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(steps - 1, -1, -1):
        running = deltas[t] + gamma * lam * cont[t] * running
        advantages[t] = running
    return advantages
