"""Actor-critic: a policy (the actor) trained with advantages from a learned value (the critic).

REINFORCE weights each action's log-probability by the whole return that
followed, a noisy signal. An actor-critic agent also learns ``V(s)``, the
expected return from state ``s``, and weights actions by an *advantage*
``Â_t ≈ G_t - V(s_t)``: how much better the outcome was than the critic
expected. A2C (advantage actor-critic, the synchronous version of A3C) does
this on short rollouts of several environments in parallel, with a value
loss for the critic and an entropy bonus that keeps the policy exploring.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.common.device import torch_threads
from snippets.fundamentals.nn_basics import make_mlp
from snippets.rl.gae import gae
from snippets.rl.rollout import Rollout, RolloutCollector


class ActorCritic(nn.Module):
    """An actor (action logits) and a critic (state value) for discrete actions.

    ``shared=False`` gives two separate tanh MLPs ``obs → hidden → hidden →``
    logits / value; ``shared=True`` one tanh trunk with two linear heads.
    Weights are orthogonal with gain √2 in hidden layers, 0.01 for the
    logits (a near-uniform first policy) and 1 for the value; biases are 0.

    Shapes:
        ``obs`` ``[N, obs_dim]`` → logits ``[N, num_actions]``, values ``[N]``.

    Raises:
        ValueError: if a size is not positive.
    """

    def __init__(self, obs_dim: int, num_actions: int, hidden: int = 64, shared: bool = False):
        super().__init__()
        for value, name in ((obs_dim, "obs_dim"), (num_actions, "num_actions"), (hidden, "hidden")):
            check_positive(value, name)
        self.shared = shared
        if shared:
            trunk = make_mlp([obs_dim, hidden, hidden], activation=nn.Tanh)
            self.trunk = nn.Sequential(trunk, nn.Tanh())
            self.actor = nn.Linear(hidden, num_actions)
            self.critic = nn.Linear(hidden, 1)
        else:
            self.trunk = nn.Identity()
            self.actor = make_mlp([obs_dim, hidden, hidden, num_actions], activation=nn.Tanh)
            self.critic = make_mlp([obs_dim, hidden, hidden, 1], activation=nn.Tanh)
        for module in self.modules():
            if isinstance(module, nn.Linear):
                nn.init.orthogonal_(module.weight, math.sqrt(2))
                nn.init.zeros_(module.bias)
        nn.init.orthogonal_(_last_linear(self.actor).weight, 0.01)
        nn.init.orthogonal_(_last_linear(self.critic).weight, 1.0)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        features = self.trunk(obs)
        return self.actor(features), self.critic(features)[:, 0]

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """The actor alone, ``[N, obs_dim] → [N, num_actions]``: a policy for
        :func:`~snippets.rl.reinforce.evaluate_policy`."""
        return self.actor(self.trunk(obs))


def _last_linear(module: nn.Module) -> nn.Linear:
    return [m for m in module.modules() if isinstance(m, nn.Linear)][-1]


def evaluate_actions(
    agent: nn.Module, observations: torch.Tensor, actions: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Log-probabilities of ``actions``, the policy's entropy and the values, with gradients.

    Shapes:
        ``observations`` ``[B, obs_dim]``, ``actions`` ``[B]`` (int64) →
        three tensors ``[B]``.
    """
    logits, values = agent(observations)
    log_p = torch.log_softmax(logits, dim=-1)
    entropy = -(log_p.exp() * log_p).sum(-1)
    return log_p.gather(1, actions[:, None])[:, 0], entropy, values


def a2c_loss(
    agent: nn.Module,
    rollout: Rollout,
    advantages: torch.Tensor,
    returns: torch.Tensor,
    value_coef: float = 0.5,
    entropy_coef: float = 0.01,
) -> tuple[torch.Tensor, dict[str, float]]:
    """A2C's loss on the valid steps of a rollout: policy + value - entropy bonus.

    ``loss = -mean(log π(a|s) Â) + value_coef · mean((V(s) - R)²) - entropy_coef · mean(H[π(·|s)])``
    where ``R = Â + V_old`` is the critic's target. The advantages are
    constants here (no gradient flows into them).

    Shapes:
        ``advantages``, ``returns`` ``[T, N]`` like ``rollout.rewards`` → a
        scalar and a dict of the three terms as floats.

    Raises:
        TypeError: if ``advantages`` or ``returns`` is not floating point.
        ValueError: if their shapes differ from ``rollout.rewards``.
    """
    for value, name in ((advantages, "advantages"), (returns, "returns")):
        check_tensor(value, name, floating=True)
        if value.shape != rollout.rewards.shape:
            raise ValueError(
                f"{name} must have shape {tuple(rollout.rewards.shape)} like the rewards, "
                f"got {tuple(value.shape)}"
            )
    valid = rollout.valid
    log_probs, entropy, values = evaluate_actions(
        agent, rollout.observations[valid], rollout.actions[valid]
    )
    policy_loss = -(log_probs * advantages[valid].detach()).mean()
    value_loss = (values - returns[valid].detach()).pow(2).mean()
    entropy = entropy.mean()
    loss = policy_loss + value_coef * value_loss - entropy_coef * entropy
    stats = {"policy": policy_loss.item(), "value": value_loss.item(), "entropy": entropy.item()}
    return loss, stats


def train_a2c(
    agent: nn.Module,
    env,
    total_steps: int,
    steps: int = 16,
    lr: float = 1e-3,
    gamma: float = 0.99,
    lam: float = 1.0,
    value_coef: float = 0.5,
    entropy_coef: float = 0.01,
    max_grad_norm: float = 0.5,
    seed: int = 0,
) -> list[tuple[int, float]]:
    """Train ``agent`` with A2C for ``total_steps`` environment steps.

    Each update collects ``steps`` steps in every sub-environment of ``env``,
    computes advantages with :func:`~snippets.rl.gae.gae` (``lam = 1``:
    ``steps``-step returns bootstrapped by the critic), and takes one Adam
    step on :func:`a2c_loss`, with the gradient norm clipped at ``max_grad_norm``.
    Returns the finished episodes as ``(environment step, return)``.

    Raises:
        ValueError: if ``total_steps``, ``steps`` or ``lr`` is not positive.
    """
    check_positive(total_steps, "total_steps")
    check_positive(steps, "steps")
    check_positive(lr, "lr")
    optimizer = torch.optim.Adam(agent.parameters(), lr=lr)
    collector = RolloutCollector(env, seed=seed)
    with torch_threads(1):  # small networks, many calls: one thread is fastest
        while collector.env_steps < total_steps:
            rollout = collector.collect(agent, steps)
            advantages = gae(
                rollout.rewards, rollout.values, rollout.terminated, rollout.truncated, gamma, lam
            )
            returns = advantages + rollout.values[:-1]
            loss, _ = a2c_loss(agent, rollout, advantages, returns, value_coef, entropy_coef)
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(agent.parameters(), max_grad_norm)
            optimizer.step()
    return collector.episodes
