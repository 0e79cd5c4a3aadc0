"""Reinforcement learning: the agent–environment loop and REINFORCE on CartPole.

An *agent* (here a policy network) sees an observation, picks an action, and
the *environment* answers with the next observation and a reward. REINFORCE
makes actions that led to a high *return* (discounted sum of later rewards)
more likely. Environments come from gymnasium; CartPole-v1 is simulated in
NumPy, so nothing is downloaded.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.common.device import torch_threads


def make_cartpole(num_envs: int = 16):
    """``num_envs`` copies of gymnasium's CartPole-v1, stepped together in NumPy.

    Observations are ``[num_envs, 4]`` (cart position, cart velocity, pole
    angle, pole angular velocity); actions are ``[num_envs]`` integers, 0 =
    push left, 1 = push right. Every step the pole stays up earns reward 1;
    an episode ends when the pole falls past 12°, the cart leaves the track,
    or after 500 steps.

    Raises:
        ValueError: if ``num_envs`` is not positive.
    """
    import gymnasium as gym

    check_positive(num_envs, "num_envs")
    return gym.make_vec("CartPole-v1", num_envs=num_envs, vectorization_mode="vector_entry_point")


def discounted_returns(rewards: torch.Tensor, gamma: float) -> torch.Tensor:
    """Return-to-go ``G_t = r_t + gamma * G_{t+1}`` along the time axis (dim 0).

    Shapes:
        ``rewards`` ``[T]`` or ``[T, N]`` (N episodes side by side) → same shape.

    Raises:
        TypeError: if ``rewards`` is not a floating-point tensor.
        ValueError: if ``gamma`` is outside ``[0, 1]``.
    """
    check_tensor(rewards, "rewards", ndim=(1, 2), floating=True)
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    returns = torch.empty_like(rewards)
    running = torch.zeros_like(rewards[0])
    for t in range(len(rewards) - 1, -1, -1):  # walk backwards: G_t needs G_{t+1}
        running = rewards[t] + gamma * running
        returns[t] = running
    return returns


def _check_bandit(logits: object, arm_means: object) -> tuple[torch.Tensor, torch.Tensor]:
    logits = check_tensor(logits, "logits", ndim=1, floating=True)
    arm_means = check_tensor(arm_means, "arm_means", ndim=1, floating=True)
    if arm_means.shape != logits.shape:
        raise ValueError(
            f"arm_means must have one entry per arm like logits {tuple(logits.shape)}, "
            f"got {tuple(arm_means.shape)}"
        )
    return logits, arm_means


def bandit_gradient(logits: torch.Tensor, arm_means: torch.Tensor) -> torch.Tensor:
    """The exact policy gradient of a multi-armed bandit with a softmax policy.

    The expected reward is ``J = Σ_a π_a μ_a`` with ``π = softmax(logits)``;
    its gradient is ``∂J/∂θ_k = π_k (μ_k - J)``: arms better than the
    current average are pushed up, worse ones down.

    Shapes:
        ``logits`` ``[A]``, ``arm_means`` ``[A]`` → ``[A]``.

    Raises:
        TypeError: if an input is not a floating-point tensor.
        ValueError: if the inputs are not 1-D of the same length.
    """
    logits, arm_means = _check_bandit(logits, arm_means)
    pi = logits.detach().softmax(-1)
    return pi * (arm_means - (pi * arm_means).sum())


def sampled_bandit_gradient(
    logits: torch.Tensor,
    arm_means: torch.Tensor,
    samples: int,
    baseline: float = 0.0,
    noise: float = 1.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """REINFORCE's estimate of :func:`bandit_gradient` from ``samples`` pulls.

    Arms are drawn from the softmax policy, each pull pays its arm's mean
    plus Gaussian noise of standard deviation ``noise``, and the estimate is
    the gradient of ``(1/n) Σ_i log π(a_i) · (r_i - baseline)``, computed by
    autograd as in :func:`reinforce_loss`. Its expectation is the exact
    gradient for any constant ``baseline``; a baseline near the average
    reward lowers its variance.

    Shapes:
        ``logits`` ``[A]``, ``arm_means`` ``[A]`` → ``[A]``.

    Raises:
        TypeError: if an input is not a floating-point tensor.
        ValueError: if the inputs are not 1-D of the same length, or
            ``samples`` is not positive or ``noise`` negative.
    """
    logits, arm_means = _check_bandit(logits, arm_means)
    check_positive(samples, "samples")
    check_positive(noise, "noise", allow_zero=True)
    theta = logits.detach().clone().requires_grad_(True)
    with torch.no_grad():
        arms = torch.multinomial(theta.softmax(-1), samples, replacement=True, generator=generator)
        rewards = arm_means[arms] + noise * torch.randn(
            samples, generator=generator, dtype=arm_means.dtype
        )
    log_probs = torch.log_softmax(theta, -1)[arms]  # log π(a_i)
    surrogate = (log_probs * (rewards - baseline)).mean()
    (gradient,) = torch.autograd.grad(surrogate, theta)
    return gradient


@dataclass
class Rollout:
    """One episode per environment, stored time-major.

    Shapes:
        ``observations`` ``[T, N, obs_dim]``, ``actions`` ``[T, N]`` (int64),
        ``rewards`` ``[T, N]`` and ``alive`` ``[T, N]`` (bool). ``T`` is the
        longest episode; ``alive[t, i]`` is False once episode ``i`` has ended,
        and the rewards there are 0.
    """

    observations: torch.Tensor
    actions: torch.Tensor
    rewards: torch.Tensor
    alive: torch.Tensor

    @property
    def episode_returns(self) -> torch.Tensor:
        """Undiscounted return of every episode, ``[N]``."""
        return self.rewards.sum(dim=0)


@torch.no_grad()
def collect_episodes(policy: nn.Module, env, seed: int, greedy: bool = False) -> Rollout:
    """Play one episode in every sub-environment of a vector ``env``.

    The policy maps observations ``[N, obs_dim]`` to action logits
    ``[N, actions]``; actions are sampled from the softmax (or the arg-max
    with ``greedy=True``). Episodes that end early keep being stepped by the
    vector env (it resets them) but are masked out by ``alive``.
    """
    obs, _ = env.reset(seed=seed)
    n = len(obs)
    alive = np.ones(n, dtype=bool)
    observations, actions, rewards, masks = [], [], [], []
    while alive.any():
        o = torch.as_tensor(obs, dtype=torch.float32)
        logits = policy(o)
        if greedy:
            a = logits.argmax(dim=1)
        else:
            a = torch.distributions.Categorical(logits=logits).sample()
        obs, r, terminated, truncated, _ = env.step(a.numpy())
        observations.append(o)
        actions.append(a)
        rewards.append(torch.as_tensor(r * alive, dtype=torch.float32))
        masks.append(torch.as_tensor(alive.copy()))
        alive &= ~(terminated | truncated)
    return Rollout(
        torch.stack(observations), torch.stack(actions), torch.stack(rewards), torch.stack(masks)
    )


def reinforce_loss(policy: nn.Module, rollout: Rollout, gamma: float = 0.99) -> torch.Tensor:
    """The REINFORCE surrogate loss whose gradient is the policy gradient.

    ``loss = -(1/N) Σ_i Σ_t log π(a_t | s_t) · Â_t`` where ``Â_t`` is the
    return-to-go, standardised over all valid steps of the batch (subtracting
    the mean is a baseline: it lowers the variance without biasing the
    gradient).

    Shapes:
        a :class:`Rollout` with ``N`` episodes of up to ``T`` steps → scalar.
    """
    returns = discounted_returns(rollout.rewards, gamma)  # [T, N]
    valid = returns[rollout.alive]
    advantages = (returns - valid.mean()) / (valid.std() + 1e-8)
    t, n, obs_dim = rollout.observations.shape
    logits = policy(rollout.observations.reshape(t * n, obs_dim))  # one batched forward pass
    log_probs = torch.log_softmax(logits, dim=1)
    taken = log_probs.gather(1, rollout.actions.reshape(-1, 1)).reshape(t, n)  # log π(a_t|s_t)
    return -(taken * advantages * rollout.alive).sum() / n


def train_reinforce(
    policy: nn.Module,
    env,
    iterations: int,
    lr: float = 0.01,
    gamma: float = 0.99,
    seed: int = 0,
) -> list[float]:
    """Train ``policy`` with REINFORCE; return the mean episode return per iteration.

    Each iteration plays one batch of episodes (one per sub-environment of
    ``env``) with the current policy, then takes one Adam step on
    :func:`reinforce_loss`.

    Raises:
        ValueError: if ``iterations`` or ``lr`` is not positive.
    """
    check_positive(iterations, "iterations")
    check_positive(lr, "lr")
    optimizer = torch.optim.Adam(policy.parameters(), lr=lr)
    curve = []
    with torch_threads(1):  # a tiny network called thousands of times: one thread is fastest
        for it in range(iterations):
            rollout = collect_episodes(policy, env, seed=seed * 100_003 + it)
            loss = reinforce_loss(policy, rollout, gamma)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            curve.append(rollout.episode_returns.mean().item())
    return curve


def evaluate_policy(policy: nn.Module, env, seed: int = 10**6) -> torch.Tensor:
    """Greedy returns of one episode per sub-environment, ``[N]``."""
    with torch_threads(1):
        return collect_episodes(policy, env, seed=seed, greedy=True).episode_returns
