"""Deep Q-learning (DQN): a network that estimates action values, trained from replayed experience.

A Q-network maps an observation ``[N, obs_dim]`` to one value per action
``[N, actions]``. The agent acts ε-greedily on it, stores every transition in
a :class:`~snippets.rl.replay.ReplayBuffer`, and regresses ``Q(s, a)`` on the
one-step target ``r + γ · max_a' Q_target(s', a')``, computed with a slowly
updated copy of the network (the *target network*) and a Huber loss.

Gymnasium separates the two ways an episode stops. ``terminated``: the task
itself ended (the pole fell); the state after it is worth nothing, so the
target is just ``r``. ``truncated``: a time limit cut the episode short; the
state still has a future, so the target still bootstraps from it. Only
``terminated`` goes into the buffer.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from snippets.common.checks import check_positive, check_tensor
from snippets.common.device import torch_threads
from snippets.fundamentals.nn_basics import make_mlp
from snippets.rl.replay import ReplayBuffer, Transitions


def make_q_network(obs_dim: int, actions: int, hidden: tuple[int, ...] = (64, 64)) -> nn.Sequential:
    """An MLP from an observation to one Q-value per action.

    Shapes:
        ``[N, obs_dim]`` → ``[N, actions]``.

    Raises:
        ValueError: if a size is not positive.
    """
    return make_mlp([obs_dim, *hidden, actions])


def linear_epsilon(
    step: int, start: float = 1.0, end: float = 0.02, decay_steps: int = 8_000
) -> float:
    """Exploration rate at ``step``: from ``start`` down to ``end`` linearly, then flat.

    Raises:
        ValueError: if ``step`` is negative, ``decay_steps`` not positive, or
            ``start``/``end`` outside ``[0, 1]``.
    """
    check_positive(step, "step", allow_zero=True)
    check_positive(decay_steps, "decay_steps")
    for value, name in ((start, "start"), (end, "end")):
        if not 0.0 <= value <= 1.0:
            raise ValueError(f"{name} must be in [0, 1], got {value}")
    fraction = min(step / decay_steps, 1.0)
    return start + fraction * (end - start)


def huber_loss(error: torch.Tensor, delta: float = 1.0) -> torch.Tensor:
    """Mean Huber loss of ``error``: quadratic for ``|e| ≤ delta``, linear beyond.

    ``0.5 e²`` near zero, ``delta (|e| - delta / 2)`` in the tails, so a
    single huge TD error cannot produce a huge gradient (it is clipped at
    ``± delta``). Equals ``F.huber_loss(input, target, delta=delta)`` for
    ``error = input - target``, and ``F.smooth_l1_loss`` when ``delta = 1``.

    Shapes:
        ``error`` ``[...]`` → scalar.

    Raises:
        ValueError: if ``delta`` is not positive.
    """
    check_tensor(error, "error", floating=True)
    check_positive(delta, "delta")
    size = error.abs()
    quadratic = 0.5 * error**2
    linear = delta * (size - 0.5 * delta)
    return torch.where(size <= delta, quadratic, linear).mean()


def td_targets(
    rewards: torch.Tensor, next_q: torch.Tensor, terminated: torch.Tensor, gamma: float
) -> torch.Tensor:
    """One-step targets ``r + γ · (1 - terminated) · max_a' Q(s', a')``.

    A terminated transition has no future: its target is the reward alone. A
    truncated one is stored with ``terminated = False`` and keeps its
    bootstrap term.

    Shapes:
        ``rewards`` ``[B]``, ``next_q`` ``[B, actions]``, ``terminated`` ``[B]``
        (bool) → ``[B]``.

    Raises:
        ValueError: if the shapes disagree or ``gamma`` is outside ``[0, 1]``.
        TypeError: if ``terminated`` is not bool.
    """
    check_tensor(rewards, "rewards", ndim=1, floating=True)
    check_tensor(next_q, "next_q", ndim=2, floating=True)
    check_tensor(terminated, "terminated", ndim=1, dtype=torch.bool)
    if not (len(rewards) == len(next_q) == len(terminated)):
        raise ValueError(
            f"rewards, next_q and terminated must have the same batch size, got "
            f"{len(rewards)}, {len(next_q)} and {len(terminated)}"
        )
    if not 0.0 <= gamma <= 1.0:
        raise ValueError(f"gamma must be in [0, 1], got {gamma}")
    bootstrap = next_q.max(dim=1).values
    return rewards + gamma * (~terminated) * bootstrap


def dqn_loss(
    q_net: nn.Module,
    target_net: nn.Module,
    batch: Transitions,
    gamma: float,
    delta: float = 1.0,
    double: bool = False,
) -> torch.Tensor:
    """Huber loss between ``Q(s, a)`` and the TD target from the target network.

    The target is computed without gradient: only the online network
    ``q_net`` learns; ``target_net`` is a frozen copy, refreshed by
    :func:`sync_target`. With ``double=True`` (double DQN) the online network
    *chooses* the next action and the target network *values* it, which
    curbs the over-estimation that a max over noisy estimates causes.

    Shapes:
        a :class:`~snippets.rl.replay.Transitions` batch of ``B`` → scalar.
    """
    q_taken = q_net(batch.observations).gather(1, batch.actions[:, None]).squeeze(1)  # [B]
    with torch.no_grad():
        next_q = target_net(batch.next_observations)  # [B, actions]
        if double:  # the online net picks a', the target net scores it
            best = q_net(batch.next_observations).argmax(dim=1, keepdim=True)
            next_q = next_q.gather(1, best)  # [B, 1]: the max below is then that entry
        target = td_targets(batch.rewards, next_q, batch.terminated, gamma)
    # F.huber_loss is one autograd node; huber_loss above is the same number (tested)
    return F.huber_loss(q_taken, target, delta=delta)


@torch.no_grad()
def sync_target(target_net: nn.Module, q_net: nn.Module, tau: float = 1.0) -> None:
    """Move the target network towards the online one: ``θ' ← τ θ + (1 - τ) θ'``.

    ``tau = 1`` copies the weights (a hard update, every few hundred steps);
    a small ``tau`` such as 0.005 every step is Polyak averaging.

    Raises:
        ValueError: if ``tau`` is outside ``(0, 1]``.
    """
    if not 0.0 < tau <= 1.0:
        raise ValueError(f"tau must be in (0, 1], got {tau}")
    for target, online in zip(target_net.parameters(), q_net.parameters(), strict=True):
        target.lerp_(online, tau)


@dataclass
class DQNConfig:
    """The knobs of :func:`train_dqn`; the defaults suit CartPole-v1."""

    lr: float = 1e-3  # 2e-3 learns faster but often collapses after its first 500s
    gamma: float = 0.99
    batch_size: int = 64
    buffer_capacity: int = 50_000
    learning_starts: int = 1_000  # random steps before the first update
    train_every: int = 2  # one gradient step every this many env steps
    target_every: int = 250  # hard target sync every this many env steps
    double: bool = True  # double DQN targets
    epsilon_start: float = 1.0
    epsilon_end: float = 0.02
    epsilon_decay_steps: int = 8_000
    max_grad_norm: float | None = None  # the Huber loss already bounds each gradient
    eval_every: int = 500  # greedy validation every this many env steps
    eval_start: int = 5_000  # ... from this step on
    eval_seeds: tuple[int, ...] = (1, 2, 3, 4, 5)  # validation episodes, apart from tests
    stop_at: float | None = None  # stop once the validation mean reaches this


@dataclass
class DQNHistory:
    """What :func:`train_dqn` saw: each episode's return and the step it ended at,
    the loss of every update, the validation mean return at each check, and
    the step whose weights were kept."""

    episode_returns: list[float] = field(default_factory=list)
    episode_ends: list[int] = field(default_factory=list)
    losses: list[float] = field(default_factory=list)
    eval_steps: list[int] = field(default_factory=list)
    eval_returns: list[float] = field(default_factory=list)
    best_step: int = 0
    steps: int = 0  # environment steps taken (fewer than asked if it stopped early)


@torch.no_grad()
def greedy_returns(q_net: nn.Module, env, seeds: list[int] | tuple[int, ...]) -> torch.Tensor:
    """Play one greedy episode (arg-max action) per seed; return the returns ``[len(seeds)]``."""
    device = next(q_net.parameters()).device
    returns = []
    with torch_threads(1):
        for seed in seeds:
            obs, _ = env.reset(seed=seed)
            total, done = 0.0, False
            while not done:
                q = q_net(torch.as_tensor(obs, dtype=torch.float32, device=device)[None])
                obs, reward, terminated, truncated, _ = env.step(int(q.argmax()))
                total += float(reward)
                done = terminated or truncated
            returns.append(total)
    return torch.tensor(returns)


def train_dqn(
    q_net: nn.Module,
    env,
    steps: int,
    config: DQNConfig | None = None,
    seed: int = 0,
    eval_env=None,
) -> DQNHistory:
    """Train ``q_net`` with DQN for ``steps`` environment steps on one gymnasium ``env``.

    Every step: act ε-greedily, store the transition (with ``terminated``,
    not ``truncated``), and every ``train_every`` steps take one Adam step on
    :func:`dqn_loss` for a replayed mini-batch. The target network is synced
    every ``target_every`` steps. Every ``eval_every`` steps the greedy policy
    plays the ``eval_seeds`` episodes on ``eval_env``; the weights with the
    best validation mean are put back into ``q_net`` at the end. Exploration,
    replay sampling and the first reset are seeded with ``seed``.

    Raises:
        ValueError: if ``steps`` is not positive.
    """
    check_positive(steps, "steps")
    cfg = config or DQNConfig()
    device = next(q_net.parameters()).device
    target_net = copy.deepcopy(q_net).requires_grad_(False)
    # the fused Adam does one kernel per step instead of one per tensor: faster for tiny nets
    fused = device.type in ("cpu", "cuda")
    optimizer = torch.optim.Adam(q_net.parameters(), lr=cfg.lr, fused=fused)
    buffer = ReplayBuffer(cfg.buffer_capacity, env.observation_space.shape[0], device=device)
    rng = np.random.default_rng(seed)  # exploration
    generator = torch.Generator().manual_seed(seed)  # replay sampling
    history, best, best_state = DQNHistory(), -float("inf"), None
    obs, _ = env.reset(seed=seed)
    obs_t = torch.as_tensor(obs, dtype=torch.float32, device=device)
    episode_return = 0.0
    with torch_threads(1):  # a tiny network, thousands of calls: one thread is fastest
        for step in range(1, steps + 1):
            epsilon = linear_epsilon(
                step, cfg.epsilon_start, cfg.epsilon_end, cfg.epsilon_decay_steps
            )
            # the rule of q_learning.epsilon_greedy, with no forward pass when exploring
            if rng.random() < epsilon:
                action = int(rng.integers(env.action_space.n))
            else:
                with torch.no_grad():
                    action = int(q_net(obs_t[None]).argmax())
            next_obs, reward, terminated, truncated, _ = env.step(action)
            next_t = torch.as_tensor(next_obs, dtype=torch.float32, device=device)
            buffer.add(obs_t, action, float(reward), next_t, bool(terminated))
            episode_return += float(reward)
            if terminated or truncated:
                history.episode_returns.append(episode_return)
                history.episode_ends.append(step)
                episode_return = 0.0
                obs, _ = env.reset()
                obs_t = torch.as_tensor(obs, dtype=torch.float32, device=device)
            else:
                obs_t = next_t
            if step >= cfg.learning_starts and step % cfg.train_every == 0:
                batch = buffer.sample(cfg.batch_size, generator)
                loss = dqn_loss(q_net, target_net, batch, cfg.gamma, double=cfg.double)
                optimizer.zero_grad()
                loss.backward()
                if cfg.max_grad_norm is not None:
                    nn.utils.clip_grad_norm_(q_net.parameters(), cfg.max_grad_norm)
                optimizer.step()
                history.losses.append(loss.item())
            if step % cfg.target_every == 0:
                sync_target(target_net, q_net)
            if eval_env is not None and step >= cfg.eval_start and step % cfg.eval_every == 0:
                score = greedy_returns(q_net, eval_env, cfg.eval_seeds).mean().item()
                history.eval_steps.append(step)
                history.eval_returns.append(score)
                if score > best:
                    best, history.best_step = score, step
                    best_state = copy.deepcopy(q_net.state_dict())
                if cfg.stop_at is not None and score >= cfg.stop_at:
                    break
    history.steps = step
    if best_state is not None:
        q_net.load_state_dict(best_state)
    return history
