"""Coding exercises of the reinforcement-learning chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from snippets.common.exercises import Case, exercise


def _random_mdp(g: torch.Generator, states: int, actions: int):
    P = (3 * torch.randn(states, actions, states, generator=g, dtype=torch.float64)).softmax(-1)
    R = torch.randn(states, actions, generator=g, dtype=torch.float64)
    policy = torch.randn(states, actions, generator=g, dtype=torch.float64).softmax(-1)
    return P, R, policy


def _mdp_cases():
    g = torch.Generator().manual_seed(21)
    for s, a, gamma in [(3, 2, 0.9), (1, 1, 0.5), (5, 4, 0.99), (2, 3, 0.0), (4, 1, 0.8)]:
        P, R, policy = _random_mdp(g, s, a)
        yield Case((P, R, policy, gamma), label=f"S={s}, A={a}, gamma={gamma}")


def _wrong_transposed(P, R, policy, gamma):
    s, a = R.shape
    M = (P[:, :, :, None] * policy[None, None]).reshape(s * a, s * a)
    eye = torch.eye(s * a, dtype=R.dtype)
    return torch.linalg.solve(eye - gamma * M.T, R.reshape(-1)).reshape(s, a)  # Mᵀ, not M


def _wrong_one_backup(P, R, policy, gamma):
    return R + gamma * P @ (policy * R).sum(dim=1)  # looks only one step ahead


@exercise(
    "exact-action-values",
    page="rl/mdp",
    task="Q_π [S, A] of a policy [S, A] in an MDP (P [S, A, S], R [S, A], γ < 1) from one "
    "linear solve over state-action pairs: Q = R + γ Σ_s' P(s, a, s') Σ_a' π(a'|s') Q(s', a').",
    cases=_mdp_cases,
    wrong=[_wrong_transposed, _wrong_one_backup],
)
def exact_action_values(
    P: torch.Tensor, R: torch.Tensor, policy: torch.Tensor, gamma: float
) -> torch.Tensor:
    """The Bellman expectation equation for Q is linear: ``(I − γ M) q = r`` on ``S·A`` pairs.

    ``M[(s, a), (s', a')] = P(s, a, s') π(a' | s')`` is the chance that pair
    ``(s, a)`` is followed by pair ``(s', a')``.
    """
    s, a = R.shape
    M = (P[:, :, :, None] * policy[None, None]).reshape(s * a, s * a)  # [(s, a), (s', a')]
    eye = torch.eye(s * a, dtype=R.dtype, device=R.device)
    return torch.linalg.solve(eye - gamma * M, R.reshape(-1)).reshape(s, a)


def _sarsa_cases():
    g = torch.Generator().manual_seed(22)
    for s, a, b, gamma, eps in [(4, 3, 5, 0.9, 0.1), (2, 2, 1, 0.5, 0.5), (6, 4, 8, 0.99, 0.0)]:
        q = torch.randn(s, a, generator=g, dtype=torch.float64)
        rewards = torch.randn(b, generator=g, dtype=torch.float64)
        next_states = torch.randint(0, s, (b,), generator=g)
        terminated = torch.rand(b, generator=g) < 0.3
        yield Case(
            (q, rewards, next_states, terminated, gamma, eps), label=f"B={b}, A={a}, eps={eps}"
        )
    q = torch.randn(3, 5, generator=g, dtype=torch.float64)
    empty = (q, torch.zeros(0, dtype=torch.float64), torch.zeros(0, dtype=torch.long))
    yield Case((*empty, torch.zeros(0, dtype=torch.bool), 0.9, 0.2), label="an empty batch")
    q = torch.randn(3, 4, generator=g, dtype=torch.float64)
    args = (q, torch.ones(3, dtype=torch.float64), torch.tensor([0, 1, 2]))
    yield Case((*args, torch.tensor([False, True, False]), 0.9, 1.0), label="eps=1: uniform")


def _wrong_max(q, rewards, next_states, terminated, gamma, epsilon):
    best = q[next_states].max(dim=1).values  # Q-learning's target: the best next action
    return rewards + gamma * (~terminated).to(q.dtype) * best


def _wrong_greedy_share(q, rewards, next_states, terminated, gamma, epsilon):
    next_q = q[next_states]
    greedy = F.one_hot(next_q.argmax(dim=1), q.shape[1]).to(q.dtype)
    probs = torch.where(greedy.bool(), 1 - epsilon, epsilon / q.shape[1])  # greedy misses ε/A
    return rewards + gamma * (~terminated).to(q.dtype) * (probs * next_q).sum(dim=1)


@exercise(
    "expected-sarsa-targets",
    page="rl/td-learning",
    task="Expected SARSA targets r + γ(1 − terminated) Σ_a' π(a'|s') Q(s', a') for a batch of "
    "transitions, with π ε-greedy on the table q [S, A] (ties: the first action).",
    cases=_sarsa_cases,
    wrong=[_wrong_max, _wrong_greedy_share],
)
def expected_sarsa_targets(
    q: torch.Tensor,
    rewards: torch.Tensor,
    next_states: torch.Tensor,
    terminated: torch.Tensor,
    gamma: float,
    epsilon: float,
) -> torch.Tensor:
    """Average the next values over the ε-greedy policy instead of taking their maximum.

    Every action gets ``ε / A``; the greedy one gets ``1 − ε`` more.
    """
    next_q = q[next_states]  # [B, A]
    actions = q.shape[1]
    probs = torch.full_like(next_q, epsilon / actions)
    probs[torch.arange(len(next_q)), next_q.argmax(dim=1)] += 1 - epsilon
    keep = (~terminated).to(q.dtype)  # a bool times a float would round γ to float32
    return rewards + gamma * keep * (probs * next_q).sum(dim=1)


def _score_cases():
    g = torch.Generator().manual_seed(23)
    for n, a in [(4, 3), (1, 2), (7, 5), (3, 1), (0, 4)]:
        logits = 2 * torch.randn(n, a, generator=g, dtype=torch.float64)
        actions = torch.randint(0, a, (n,), generator=g)
        yield Case((logits, actions), label=f"N={n}, A={a}")
    logits = torch.randn(5, 2, generator=g)
    yield Case((logits, torch.tensor([0, 1, 1, 0, 1])), label="float32, N=5, A=2")


def _wrong_no_baseline(logits, actions):
    return F.one_hot(actions, logits.shape[1]).to(logits.dtype)  # forgets the −π term


def _wrong_batch_axis(logits, actions):
    onehot = F.one_hot(actions, logits.shape[1]).to(logits.dtype)
    return onehot - logits.softmax(dim=0)  # softmax over the batch, not the actions


@exercise(
    "softmax-score-function",
    page="rl/reinforce",
    task="The score ∇_logits log π(a | s) of a softmax policy, for logits [N, A] and the "
    "actions taken [N], without autograd; returns [N, A].",
    cases=_score_cases,
    wrong=[_wrong_no_baseline, _wrong_batch_axis],
)
def softmax_score_function(logits: torch.Tensor, actions: torch.Tensor) -> torch.Tensor:
    """``∂ log softmax(z)_a / ∂z = onehot(a) − softmax(z)``: raise the action taken, lower all."""
    onehot = F.one_hot(actions, logits.shape[1]).to(logits.dtype)
    return onehot - logits.softmax(dim=1)


def _n_step_cases():
    g = torch.Generator().manual_seed(24)
    for t, n, gamma in [(6, 3, 0.9), (1, 1, 0.5), (5, 10, 0.99), (8, 1, 0.9), (7, 4, 0.0)]:
        rewards = torch.randn(t, generator=g, dtype=torch.float64)
        values = torch.randn(t, generator=g, dtype=torch.float64)
        last_value = torch.randn((), generator=g, dtype=torch.float64)
        yield Case((rewards, values, last_value, gamma, n), label=f"T={t}, n={n}, gamma={gamma}")


def _wrong_bootstrap_power(rewards, values, last_value, gamma, n):
    steps = len(rewards)
    later = torch.cat([values, last_value[None]])
    out = torch.empty_like(rewards)
    for t in range(steps):
        end = min(t + n, steps)
        discounts = gamma ** torch.arange(end - t, dtype=rewards.dtype)
        out[t] = (discounts * rewards[t:end]).sum() + gamma ** (end - t - 1) * later[end]
    return out  # the bootstrap is discounted one step too little


def _wrong_drops_last_value(rewards, values, last_value, gamma, n):
    steps = len(rewards)
    later = torch.cat([values, torch.zeros(1, dtype=rewards.dtype)])  # as if the episode ended
    out = torch.empty_like(rewards)
    for t in range(steps):
        end = min(t + n, steps)
        discounts = gamma ** torch.arange(end - t, dtype=rewards.dtype)
        out[t] = (discounts * rewards[t:end]).sum() + gamma ** (end - t) * later[end]
    return out


@exercise(
    "n-step-returns",
    page="rl/actor-critic",
    task="n-step return targets of a rollout cut after T steps (no episode ends inside): "
    "n rewards, then γⁿ V(s_{t+n}); near the end, the rewards left then γ^(T−t) · last_value.",
    cases=_n_step_cases,
    wrong=[_wrong_bootstrap_power, _wrong_drops_last_value],
)
def n_step_returns(
    rewards: torch.Tensor, values: torch.Tensor, last_value: torch.Tensor, gamma: float, n: int
) -> torch.Tensor:
    """``G_t = Σ_{k<n} γᵏ r_{t+k} + γⁿ V(s_{t+n})``, cut short by the end of the rollout.

    ``values[t]`` is ``V(s_t)`` and ``last_value`` is ``V(s_T)``, the state
    after the last step; ``n = 1`` gives the TD target, ``n ≥ T`` the
    Monte Carlo return bootstrapped from ``last_value``.
    """
    steps = len(rewards)
    later = torch.cat([values, last_value.reshape(1)])  # V(s_0) .. V(s_T), [T + 1]
    out = torch.empty_like(rewards)
    for t in range(steps):
        end = min(t + n, steps)  # the first state whose value is bootstrapped
        discounts = gamma ** torch.arange(end - t, dtype=rewards.dtype)
        out[t] = (discounts * rewards[t:end]).sum() + gamma ** (end - t) * later[end]
    return out


def _dueling_cases():
    g = torch.Generator().manual_seed(25)
    for b, a in [(4, 3), (1, 2), (6, 1), (0, 3), (5, 6)]:
        values = torch.randn(b, 1, generator=g, dtype=torch.float64)
        advantages = 2 * torch.randn(b, a, generator=g, dtype=torch.float64) + 1
        yield Case((values, advantages), label=f"B={b}, actions={a}")


def _wrong_plain_sum(values, advantages):
    return values + advantages  # V and A are not identifiable from the sum


def _wrong_batch_mean(values, advantages):
    return values + advantages - advantages.mean(dim=0, keepdim=True)  # mean over the batch


@exercise(
    "dueling-aggregation",
    page="rl/dqn",
    task="Combine a dueling head's state values [B, 1] and advantages [B, A] into Q-values "
    "[B, A] so that the mean of each row's advantages is zero.",
    cases=_dueling_cases,
    wrong=[_wrong_plain_sum, _wrong_batch_mean],
)
def dueling_aggregation(values: torch.Tensor, advantages: torch.Tensor) -> torch.Tensor:
    """``Q(s, a) = V(s) + A(s, a) − mean_a' A(s, a')``: V is then the mean of the row's Q."""
    return values + advantages - advantages.mean(dim=1, keepdim=True)


def _dual_clip_cases():
    g = torch.Generator().manual_seed(26)
    for b, clip, dual in [(8, 0.2, 3.0), (1, 0.2, 3.0), (16, 0.1, 2.0), (12, 0.3, 1.5)]:
        old = torch.randn(b, generator=g, dtype=torch.float64) - 1
        new = old + torch.randn(b, generator=g, dtype=torch.float64)  # ratios e^±2 and beyond
        advantages = torch.randn(b, generator=g, dtype=torch.float64)
        yield Case((new, old, advantages, clip, dual), label=f"B={b}, clip={clip}, dual={dual}")
    ratios = torch.tensor([5.0, 5.0, 0.5, 1.0], dtype=torch.float64)
    advantages = torch.tensor([-1.0, 1.0, -2.0, 0.5], dtype=torch.float64)
    yield Case(
        (ratios.log(), torch.zeros(4, dtype=torch.float64), advantages, 0.2, 3.0), label="r=5"
    )


def _wrong_dual_everywhere(log_probs, old_log_probs, advantages, clip, dual_clip):
    ratio = (log_probs - old_log_probs).exp()
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    return torch.maximum(surrogate, dual_clip * advantages).mean()  # also for positive Â


def _wrong_dual_min(log_probs, old_log_probs, advantages, clip, dual_clip):
    ratio = (log_probs - old_log_probs).exp()
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    bounded = torch.minimum(surrogate, dual_clip * advantages)  # min: no lower bound at all
    return torch.where(advantages < 0, bounded, surrogate).mean()


@exercise(
    "dual-clip-surrogate",
    page="rl/ppo",
    task="PPO's clipped objective with a dual clip: for samples with Â < 0 the term "
    "min(r Â, clip(r) Â) is bounded below by c·Â; returns the mean over the batch.",
    cases=_dual_clip_cases,
    wrong=[_wrong_dual_everywhere, _wrong_dual_min],
)
def dual_clip_surrogate(
    log_probs: torch.Tensor,
    old_log_probs: torch.Tensor,
    advantages: torch.Tensor,
    clip: float,
    dual_clip: float,
) -> torch.Tensor:
    """A bad action whose ratio has exploded (``r > c``) gets a bounded, zero-gradient term."""
    ratio = (log_probs - old_log_probs).exp()
    surrogate = torch.minimum(ratio * advantages, ratio.clamp(1 - clip, 1 + clip) * advantages)
    bounded = torch.maximum(surrogate, dual_clip * advantages)  # only matters where Â < 0
    return torch.where(advantages < 0, bounded, surrogate).mean()


def _dpo_cases():
    g = torch.Generator().manual_seed(27)
    for b, beta in [(4, 0.1), (1, 1.0), (9, 0.5), (6, 2.0)]:
        logps = [-5 + 2 * torch.randn(b, generator=g, dtype=torch.float64) for _ in range(4)]
        yield Case((*logps, beta), label=f"B={b}, beta={beta}")
    logps = [-3 + torch.randn(5, generator=g) for _ in range(4)]
    yield Case((*logps, 0.3), label="float32, B=5, beta=0.3")


def _wrong_no_reference(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    return -F.logsigmoid(beta * (policy_chosen - policy_rejected)).mean()  # forgets π_ref


def _wrong_beta_outside(policy_chosen, policy_rejected, ref_chosen, ref_rejected, beta):
    margin = (policy_chosen - ref_chosen) - (policy_rejected - ref_rejected)
    return -beta * F.logsigmoid(margin).mean()  # β scales the loss, not the margin


@exercise(
    "dpo-loss",
    page="rl/rlhf",
    task="The DPO loss −mean log σ(β[(log π(y_w) − log π_ref(y_w)) − (log π(y_l) − "
    "log π_ref(y_l))]) from four [B] tensors of sequence log-probabilities and β.",
    cases=_dpo_cases,
    wrong=[_wrong_no_reference, _wrong_beta_outside],
)
def dpo_loss(
    policy_chosen: torch.Tensor,
    policy_rejected: torch.Tensor,
    ref_chosen: torch.Tensor,
    ref_rejected: torch.Tensor,
    beta: float,
) -> torch.Tensor:
    """Bradley–Terry on the implicit reward ``β log(π / π_ref)``: no reward model, no sampling."""
    chosen = beta * (policy_chosen - ref_chosen)
    rejected = beta * (policy_rejected - ref_rejected)
    return -F.logsigmoid(chosen - rejected).mean()
