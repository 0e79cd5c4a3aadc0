"""Planning in a known MDP: policy evaluation, the Bellman equations and value iteration.

A finite Markov decision process is given by two tensors: the transition
probabilities ``P[s, a, s']`` and the expected rewards ``R[s, a]``, plus a
discount ``γ`` in ``[0, 1)``. A policy is a table ``policy[s, a]`` of action
probabilities. Everything here is exact linear algebra on those tensors:
no sampling, no learning rate.

- The value of a fixed policy solves the Bellman *expectation* equation
  ``V = R_π + γ P_π V``: one linear solve (:func:`evaluate_policy_exact`) or
  repeated backups (:func:`evaluate_policy_iterative`).
- The optimal value solves the Bellman *optimality* equation
  ``V*(s) = max_a [R(s, a) + γ Σ_s' P(s, a, s') V*(s')]``: value iteration
  (:func:`value_iteration`) repeats that backup until it stops changing.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from snippets.common.checks import check_positive, check_tensor


def check_mdp(P: torch.Tensor, R: torch.Tensor, gamma: float) -> None:
    """Check ``P`` ``[S, A, S]`` (rows are distributions), ``R`` ``[S, A]`` and ``γ`` in ``[0, 1)``.

    Raises:
        TypeError: if ``P`` or ``R`` is not a floating-point tensor.
        ValueError: naming what is wrong: a shape, a negative probability, a
            row of ``P`` that does not sum to 1, or ``gamma`` out of range.
    """
    check_tensor(P, "P", ndim=3, floating=True)
    check_tensor(R, "R", ndim=2, floating=True)
    S, A, S2 = P.shape
    if S2 != S:
        raise ValueError(f"P must have shape [S, A, S], got {tuple(P.shape)}")
    if R.shape != (S, A):
        raise ValueError(f"R must have shape [S, A] = {(S, A)} like P, got {tuple(R.shape)}")
    if (P < 0).any():
        raise ValueError("P must hold probabilities, got a negative entry")
    sums = P.sum(dim=2)
    bad = (sums - 1).abs() > 1e-6
    if bad.any():
        s, a = bad.nonzero()[0].tolist()
        raise ValueError(
            f"P[s, a] must sum to 1 over s', got {sums[s, a].item():.6g} at s={s}, a={a}"
        )
    if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 <= gamma < 1.0:
        raise ValueError(f"gamma must be in [0, 1), got {gamma}")


def _check_policy(policy: torch.Tensor, P: torch.Tensor) -> None:
    check_tensor(policy, "policy", ndim=2, floating=True)
    if policy.shape != P.shape[:2]:
        raise ValueError(
            f"policy must have shape [S, A] = {tuple(P.shape[:2])}, got {tuple(policy.shape)}"
        )
    if (policy < 0).any() or ((policy.sum(dim=1) - 1).abs() > 1e-6).any():
        raise ValueError("policy rows must be probability distributions over the actions")


def policy_matrices(
    P: torch.Tensor, R: torch.Tensor, policy: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """The Markov chain a policy induces: ``P_π[s, s'] = Σ_a π(a|s) P[s, a, s']`` and
    ``R_π[s] = Σ_a π(a|s) R[s, a]``.

    Shapes:
        ``P`` ``[S, A, S]``, ``R`` ``[S, A]``, ``policy`` ``[S, A]`` → ``[S, S]``, ``[S]``.
    """
    _check_policy(policy, P)
    return torch.einsum("sa,sat->st", policy, P), (policy * R).sum(dim=1)


def evaluate_policy_exact(
    P: torch.Tensor, R: torch.Tensor, policy: torch.Tensor, gamma: float
) -> torch.Tensor:
    """``V_π`` from one linear solve: ``(I - γ P_π) V = R_π``.

    The matrix is invertible for ``γ < 1``: ``P_π`` is stochastic, so its
    eigenvalues have modulus at most 1.

    Shapes:
        ``P`` ``[S, A, S]``, ``R`` ``[S, A]``, ``policy`` ``[S, A]`` → ``[S]``.

    Raises:
        ValueError: see :func:`check_mdp`; also for a policy that is not ``[S, A]``
            distributions.
    """
    check_mdp(P, R, gamma)
    P_pi, R_pi = policy_matrices(P, R, policy)
    identity = torch.eye(len(R_pi), dtype=P.dtype)
    return torch.linalg.solve(identity - gamma * P_pi, R_pi)


def evaluate_policy_iterative(
    P: torch.Tensor,
    R: torch.Tensor,
    policy: torch.Tensor,
    gamma: float,
    tol: float = 1e-10,
    max_iters: int = 100_000,
) -> tuple[torch.Tensor, int]:
    """``V_π`` by repeating the expectation backup ``V ← R_π + γ P_π V`` from ``V = 0``.

    Each backup shrinks the error by at least a factor ``γ`` (a contraction in
    the max norm). Stops when no entry changes by more than ``tol``.

    Shapes:
        ``P`` ``[S, A, S]``, ``R`` ``[S, A]``, ``policy`` ``[S, A]`` → ``([S], iterations)``.

    Raises:
        ValueError: see :func:`check_mdp`, or ``tol``/``max_iters`` not positive.
    """
    check_mdp(P, R, gamma)
    check_positive(tol, "tol")
    check_positive(max_iters, "max_iters")
    P_pi, R_pi = policy_matrices(P, R, policy)
    V = torch.zeros_like(R_pi)
    for k in range(1, max_iters + 1):
        V_new = R_pi + gamma * P_pi @ V
        if (V_new - V).abs().max() <= tol:
            return V_new, k
        V = V_new
    return V, max_iters


def action_values(P: torch.Tensor, R: torch.Tensor, V: torch.Tensor, gamma: float) -> torch.Tensor:
    """One-step look-ahead: ``Q[s, a] = R[s, a] + γ Σ_s' P[s, a, s'] V[s']``.

    Shapes:
        ``P`` ``[S, A, S]``, ``R`` ``[S, A]``, ``V`` ``[S]`` → ``[S, A]``.

    Raises:
        ValueError: see :func:`check_mdp`, or ``V`` not of length ``S``.
    """
    check_mdp(P, R, gamma)
    check_tensor(V, "V", ndim=1, floating=True)
    if len(V) != P.shape[0]:
        raise ValueError(f"V must have one entry per state ({P.shape[0]}), got {len(V)}")
    return R + gamma * P @ V


def bellman_optimality_backup(
    P: torch.Tensor, R: torch.Tensor, V: torch.Tensor, gamma: float
) -> torch.Tensor:
    """One value-iteration sweep: ``V_new[s] = max_a Q[s, a]``, ``Q`` from :func:`action_values`.

    Shapes:
        ``[S, A, S]``, ``[S, A]``, ``[S]`` → ``[S]``.
    """
    return action_values(P, R, V, gamma).max(dim=1).values


def greedy_policy(Q: torch.Tensor) -> torch.Tensor:
    """The deterministic policy ``argmax_a Q[s, a]`` (ties: the first action), one-hot ``[S, A]``.

    Shapes:
        ``Q`` ``[S, A]`` → ``[S, A]`` with one 1 per row, same dtype.
    """
    check_tensor(Q, "Q", ndim=2, floating=True)
    return torch.nn.functional.one_hot(Q.argmax(dim=1), Q.shape[1]).to(Q.dtype)


@dataclass
class ValueIterationResult:
    """Output of :func:`value_iteration`.

    Shapes:
        ``values`` ``[S]`` (≈ ``V*``), ``policy`` ``[S, A]`` (greedy, one-hot),
        ``history`` ``[K + 1, S]``: ``V_0 = 0``, ``V_1``, …, ``V_K``.
    """

    values: torch.Tensor
    policy: torch.Tensor
    history: torch.Tensor

    @property
    def iterations(self) -> int:
        return len(self.history) - 1


def value_iteration(
    P: torch.Tensor, R: torch.Tensor, gamma: float, tol: float = 1e-10, max_iters: int = 100_000
) -> ValueIterationResult:
    """Solve the Bellman optimality equation by repeated backups from ``V = 0``.

    Stops when no state's value changes by more than ``tol``; the error to
    ``V*`` is then at most ``tol · γ / (1 - γ)``. The greedy policy of the
    result is optimal.

    Raises:
        ValueError: see :func:`check_mdp`, or ``tol``/``max_iters`` not positive.
    """
    check_mdp(P, R, gamma)
    check_positive(tol, "tol")
    check_positive(max_iters, "max_iters")
    V = torch.zeros(P.shape[0], dtype=P.dtype)
    history = [V]
    for _ in range(max_iters):
        V_new = bellman_optimality_backup(P, R, V, gamma)
        history.append(V_new)
        done = (V_new - V).abs().max() <= tol
        V = V_new
        if done:
            break
    policy = greedy_policy(action_values(P, R, V, gamma))
    return ValueIterationResult(V, policy, torch.stack(history))
