"""Diagrams of the reinforcement-learning chapter, drawn with :mod:`snippets.common.diagrams`.

Like the architecture diagrams, each function takes the real objects (the
agent, the rollout sizes) and writes their sizes into the picture and its
alt text.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from torch import nn

from snippets.common.checks import check_positive
from snippets.common.diagrams import SMALL, _finish, arrow, box, canvas, label


def _int(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    check_positive(value, name)
    return value


def ppo_diagram(
    agent: nn.Module, num_envs: int, steps: int, epochs: int = 4, minibatches: int = 4
) -> Figure:
    """The PPO loop: collect a rollout, compute advantages, learn for several epochs, repeat.

    ``agent`` is an actor-critic module with ``actor`` and ``critic``
    sub-modules (:class:`~snippets.rl.actor_critic.ActorCritic`); their
    parameter counts label the picture, with the rollout's size
    ``steps × num_envs`` and the minibatch size.

    Raises:
        TypeError: if ``agent`` has no ``actor``/``critic`` modules or a count is not an int.
        ValueError: if a count is not positive or there are more minibatches than transitions.
    """
    actor, critic = getattr(agent, "actor", None), getattr(agent, "critic", None)
    if not isinstance(actor, nn.Module) or not isinstance(critic, nn.Module):
        raise TypeError(
            f"agent must be an actor-critic module with .actor and .critic, "
            f"got {type(agent).__name__}"
        )
    n, t = _int(num_envs, "num_envs"), _int(steps, "steps")
    k, m = _int(epochs, "epochs"), _int(minibatches, "minibatches")
    size = n * t
    if m > size:
        raise ValueError(f"minibatches must be at most steps × num_envs = {size}, got {m}")
    trunk = getattr(agent, "trunk", None)
    shared = sum(p.numel() for p in trunk.parameters()) if isinstance(trunk, nn.Module) else 0
    p_actor = sum(p.numel() for p in actor.parameters())
    p_critic = sum(p.numel() for p in critic.parameters())
    fig, ax = canvas(7.0, 4.1, "PPO: collect a rollout, then learn from it")
    env = box(ax, (1.2, 2.9), f"{n} environments\n(vectorized)", width=2.0, height=0.75)
    agent_text = f"actor $\\pi_\\theta$: {p_actor:,} params\ncritic $V$: {p_critic:,} params"
    if shared:
        agent_text = f"shared trunk: {shared:,} params\n" + agent_text
    brain = box(
        ax, (5.75, 2.9), agent_text, width=2.3, height=0.75, role="attention", fontsize=SMALL
    )
    rollout = box(
        ax,
        (1.2, 0.75),
        f"rollout buffer\n{t} steps × {n} envs\n= {size:,} transitions",
        width=2.0,
        height=0.85,
        fontsize=SMALL,
    )
    advantages = box(
        ax,
        (3.4, 0.75),
        r"GAE($\gamma, \lambda$)" + "\nadvantages Â,\nreturns R",
        width=1.7,
        height=0.85,
        role="norm",
        fontsize=SMALL,
    )
    update = box(
        ax,
        (5.75, 0.75),
        f"{k} epochs × {m} minibatches\nof {size // m:,}: clipped loss\n+ value − entropy, Adam",
        width=2.3,
        height=0.85,
        role="feedforward",
        fontsize=SMALL,
    )
    top, low = brain.at(0, 0.75), brain.at(0, 0.25)
    arrow(ax, top, (env.right[0], top[1]))
    label(ax, (3.4, top[1] + 0.17), r"action $a \sim \pi_\theta(\cdot \mid s)$")
    arrow(ax, (env.right[0], low[1]), low)
    label(ax, (3.4, low[1] - 0.17), "observation, reward, done")
    arrow(ax, env.bottom, (env.x, rollout.top[1]), text=r"each step: $s, a, \log\pi_{old}, V, r$")
    arrow(ax, rollout.right, advantages.left)
    arrow(ax, advantages.right, update.left)
    arrow(ax, update.top, brain.bottom, text=r"new $\theta$: the next $\pi_{old}$")
    alt = (
        f"Diagram of the PPO loop. An actor-critic agent (actor {p_actor:,} parameters, critic "
        f"{p_critic:,}) acts in {n} vectorized environments; {t} steps of each fill a rollout "
        f"buffer of {size:,} transitions with observations, actions, their old log-probabilities, "
        f"values, rewards and episode ends. GAE turns them into advantages and returns; then "
        f"{k} epochs of {m} minibatches of {size // m:,} transitions minimise the clipped "
        f"surrogate loss plus a value loss minus an entropy bonus with Adam, and the updated "
        f"agent collects the next rollout."
    )
    return _finish(fig, alt)


def dqn_diagram(q_net: nn.Module, config=None, env_name: str = "CartPole-v1") -> Figure:
    """The DQN loop: act ε-greedily, store transitions, learn from replayed mini-batches.

    ``q_net`` is the Q-network (an MLP such as
    :func:`~snippets.rl.dqn.make_q_network`): its layer widths and parameter
    count label the picture, with the buffer capacity, batch size, ε schedule
    and target-sync period of ``config`` (a :class:`~snippets.rl.dqn.DQNConfig`,
    the defaults when ``None``).

    Raises:
        TypeError: if ``q_net`` has no ``nn.Linear`` layer.
    """
    from snippets.rl.dqn import DQNConfig

    linears = (
        [m for m in q_net.modules() if isinstance(m, nn.Linear)]
        if isinstance(q_net, nn.Module)
        else []
    )
    if not linears:
        raise TypeError(f"q_net must be a module with nn.Linear layers, got {type(q_net).__name__}")
    cfg = config or DQNConfig()
    widths = [linears[0].in_features] + [m.out_features for m in linears]
    params = sum(p.numel() for p in q_net.parameters())
    arch = "→".join(str(w) for w in widths)
    fig, ax = canvas(7.0, 4.6, "DQN: act, store, replay, learn")
    env = box(ax, (1.35, 3.55), f"environment\n{env_name}", width=2.1, height=0.7)
    buffer = box(
        ax,
        (5.45, 3.55),
        f"replay buffer\nlast {cfg.buffer_capacity:,} transitions",
        width=2.3,
        height=0.7,
        role="position",
    )
    act = box(
        ax,
        (1.35, 2.05),
        f"ε-greedy action\nε: {cfg.epsilon_start:g} → {cfg.epsilon_end:g}",
        width=2.1,
        height=0.7,
        role="gate",
    )
    loss = box(
        ax,
        (5.45, 2.05),
        "Huber loss\n" + r"$Q(s,a)$ vs $r + \gamma\,\mathrm{max}_{a'}\,Q'(s',a')$",
        width=2.3,
        height=0.7,
        role="output",
        fontsize=SMALL,
    )
    online = box(
        ax,
        (2.6, 0.6),
        f"Q-network $Q$\n{arch}, {params:,} params",
        width=2.4,
        height=0.7,
        role="attention",
        fontsize=SMALL,
    )
    target = box(
        ax,
        (5.9, 0.6),
        "target network $Q'$\n(a frozen copy)",
        width=1.9,
        height=0.7,
        role="norm",
        fontsize=SMALL,
    )
    arrow(ax, env.right, buffer.left, text="(s, a, r, s', terminated)")
    arrow(ax, act.top, env.bottom, text="action a", text_xy=(1.35, 2.8))
    arrow(ax, online.at(0.2, 1.0), act.bottom, text="Q(s, ·)", text_xy=(1.7, 1.27))
    arrow(
        ax,
        buffer.bottom,
        loss.top,
        text=f"mini-batch of {cfg.batch_size}",
        text_xy=(5.45, 2.8),
    )
    arrow(ax, online.at(0.85, 1.0), loss.left, text="Q(s, a)", text_xy=(3.75, 1.6))
    arrow(ax, target.top, loss.at(0.7, 0.0), text="max Q'(s', ·)", text_xy=(6.3, 1.32))
    arrow(
        ax,
        loss.at(0.0, 0.15),
        online.at(0.55, 1.0),
        text="Adam step",
        text_xy=(3.05, 1.2),
        dashed=True,
        curve=0.25,
    )
    arrow(
        ax,
        online.right,
        target.left,
        text=f"copy every\n{cfg.target_every} steps",
        dashed=True,
    )
    alt = (
        f"The DQN loop. The agent acts on {env_name} with an ε-greedy rule on the Q-network "
        f"(layers {arch}, {params:,} parameters), ε falling from {cfg.epsilon_start:g} to "
        f"{cfg.epsilon_end:g}; each transition (s, a, r, s', terminated) goes into a replay "
        f"buffer of {cfg.buffer_capacity:,}. Mini-batches of {cfg.batch_size} drawn from it "
        f"feed a Huber loss between Q(s, a) and the target r + γ max Q'(s', a') from a target "
        f"network, copied from the Q-network every {cfg.target_every} steps; an Adam step "
        f"updates the Q-network."
    )
    return _finish(fig, alt)
