"""Proximal policy optimization (PPO) with the clipped surrogate objective.

A policy-gradient step is only trustworthy near the policy that collected
the data. PPO (Schulman et al., 2017) reuses one rollout for several epochs
of minibatch updates and keeps the new policy close to the old one by
clipping the probability ratio ``r = π_new(a|s) / π_old(a|s)`` to
``[1 - ε, 1 + ε]`` inside a pessimistic minimum: once an action's
probability has moved by more than ``ε`` in the direction its advantage
favours, its gradient switches off.
"""

from __future__ import annotations

from functools import partial

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.common.device import torch_threads
from snippets.rl.actor_critic import evaluate_actions
from snippets.rl.gae import gae
from snippets.rl.rollout import RolloutCollector


def _same_shape(reference: torch.Tensor, ref_name: str, **tensors: object) -> None:
    check_tensor(reference, ref_name, floating=True)
    for name, value in tensors.items():
        check_tensor(value, name, floating=True)
        if value.shape != reference.shape:
            raise ValueError(
                f"{name} must have the shape of {ref_name} {tuple(reference.shape)}, "
                f"got {tuple(value.shape)}"
            )


def clipped_surrogate(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    clip: float = 0.2,
) -> torch.Tensor:
    """PPO's clipped objective ``mean(min(r Â, clip(r, 1 - ε, 1 + ε) Â))``, to be maximised.

    ``r = exp(log_probs - old_log_probs)`` is the probability ratio of the
    actions taken. Inside the clip range the gradient with respect to
    ``log_probs`` is ``r Â / B``, the importance-weighted policy gradient;
    once ``r`` has left the range on the side that ``Â`` pushes it to
    (``r > 1 + ε`` with ``Â > 0``, ``r < 1 - ε`` with ``Â < 0``) it is 0.

    Shapes:
        three tensors ``[B]`` (or any equal shape) → a scalar.

    Raises:
        TypeError: if an input is not floating point.
        ValueError: if the shapes differ, or ``clip`` is not in ``(0, 1)``.
    """
    _same_shape(log_probs, "log_probs", old_log_probs=old_log_probs, advantages=advantages)
    if not 0.0 < clip < 1.0:
        raise ValueError(f"clip must be in (0, 1), got {clip}")
    ratio = torch.exp(log_probs - old_log_probs.detach())
    advantages = advantages.detach()
    unclipped = ratio * advantages
    clipped = ratio.clamp(1.0 - clip, 1.0 + clip) * advantages
    return torch.minimum(unclipped, clipped).mean()


def value_loss(
    values: torch.Tensor,
    returns: torch.Tensor,
    old_values: torch.Tensor | None = None,
    clip: float | None = None,
) -> torch.Tensor:
    """The critic's loss ``½ mean((V - R)²)``, optionally clipped around the old values.

    With ``clip``, the new value may move at most ``clip`` away from
    ``old_values`` before its error stops improving the loss: the loss is
    ``½ mean(max((V - R)², (V_old + clip(V - V_old, ±clip) - R)²))``.

    Shapes:
        ``values``, ``returns``, ``old_values`` ``[B]`` → a scalar.

    Raises:
        TypeError: if an input is not floating point.
        ValueError: if the shapes differ, ``clip`` is not positive or is
            given without ``old_values``.
    """
    _same_shape(values, "values", returns=returns)
    returns = returns.detach()
    error = (values - returns).pow(2)
    if clip is not None:
        check_positive(clip, "clip")
        if old_values is None:
            raise ValueError("old_values must be given when clip is set")
        _same_shape(values, "values", old_values=old_values)
        old_values = old_values.detach()
        moved = old_values + (values - old_values).clamp(-clip, clip)
        error = torch.maximum(error, (moved - returns).pow(2))
    return 0.5 * error.mean()


def ppo_loss(
    agent: nn.Module,
    observations: torch.Tensor,
    actions: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    old_values: torch.Tensor,
    clip: float = 0.2,
    value_coef: float = 0.5,
    entropy_coef: float = 0.01,
    value_clip: float | None = None,
) -> tuple[torch.Tensor, dict[str, float]]:
    """PPO's loss on one minibatch: ``-surrogate + value_coef · value_loss - entropy_coef · H``.

    Also reports the approximate KL divergence between old and new policy,
    ``mean((r - 1) - log r)``, and the fraction of samples whose ratio was
    clipped: two gauges of how far an update moved the policy.

    Shapes:
        ``observations`` ``[B, obs_dim]``, ``actions`` ``[B]``, the rest ``[B]``
        → a scalar and a dict of floats.
    """
    log_probs, entropy, values = evaluate_actions(agent, observations, actions)
    surrogate = clipped_surrogate(log_probs, old_log_probs, advantages, clip)
    critic = value_loss(values, returns, old_values, value_clip)
    entropy = entropy.mean()
    loss = -surrogate + value_coef * critic - entropy_coef * entropy
    with torch.no_grad():
        log_ratio = log_probs - old_log_probs
        stats = {
            "surrogate": surrogate.item(),
            "value": critic.item(),
            "entropy": entropy.item(),
            "approx_kl": ((log_ratio.exp() - 1) - log_ratio).mean().item(),
            "clip_fraction": ((log_ratio.exp() - 1).abs() > clip).float().mean().item(),
        }
    return loss, stats


def train_ppo(
    agent: nn.Module,
    env,
    total_steps: int,
    steps: int = 128,
    epochs: int = 4,
    minibatches: int = 4,
    lr: float = 2.5e-4,
    anneal_lr: bool = True,
    gamma: float = 0.99,
    lam: float = 0.95,
    clip: float = 0.2,
    value_coef: float = 0.5,
    entropy_coef: float = 0.01,
    value_clip: float | None = None,
    max_grad_norm: float = 0.5,
    seed: int = 0,
) -> list[tuple[int, float]]:
    """Train ``agent`` with PPO for ``total_steps`` environment steps.

    Each iteration collects ``steps`` steps in every sub-environment of
    ``env``, computes GAE advantages and returns once, then runs ``epochs``
    passes over the valid transitions in ``minibatches`` shuffled
    minibatches, with the advantages standardised per minibatch and the
    gradient norm clipped at ``max_grad_norm``. With ``anneal_lr`` the
    learning rate falls linearly to 0 over the run. Returns the finished
    episodes as ``(environment step, return)``.

    Raises:
        ValueError: if a count or ``lr`` is not positive.
    """
    for value, name in (
        (total_steps, "total_steps"),
        (steps, "steps"),
        (epochs, "epochs"),
        (minibatches, "minibatches"),
        (lr, "lr"),
    ):
        check_positive(value, name)
    optimizer = torch.optim.Adam(agent.parameters(), lr=lr, eps=1e-5)
    loss_fn = partial(
        ppo_loss, clip=clip, value_coef=value_coef, entropy_coef=entropy_coef, value_clip=value_clip
    )
    collector = RolloutCollector(env, seed=seed)
    with torch_threads(1):  # small networks, many calls: one thread is fastest
        while collector.env_steps < total_steps:
            if anneal_lr:
                optimizer.param_groups[0]["lr"] = lr * (1 - collector.env_steps / total_steps)
            rollout = collector.collect(agent, steps)
            advantages = gae(
                rollout.rewards, rollout.values, rollout.terminated, rollout.truncated, gamma, lam
            )
            returns = advantages + rollout.values[:-1]
            valid = rollout.valid  # [T, N] → the B real transitions, flattened
            data = (
                rollout.observations[valid],
                rollout.actions[valid],
                rollout.log_probs[valid],
                advantages[valid],
                returns[valid],
                rollout.values[:-1][valid],
            )
            size = len(data[0])
            for _ in range(epochs):
                for idx in torch.randperm(size).chunk(minibatches):
                    obs, act, old_logp, adv, ret, old_v = (d[idx] for d in data)
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                    loss, _ = loss_fn(agent, obs, act, old_logp, adv, ret, old_v)
                    optimizer.zero_grad()
                    loss.backward()
                    nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
                    optimizer.step()
    return collector.episodes
