import itertools

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.rl.gridworld import make_gridworld
from snippets.rl.value_iteration import (
    action_values,
    bellman_optimality_backup,
    check_mdp,
    evaluate_policy_exact,
    evaluate_policy_iterative,
    greedy_policy,
    policy_matrices,
    value_iteration,
)


def random_mdp(seed, states, actions):
    g = torch.Generator().manual_seed(seed)
    P = torch.rand(states, actions, states, generator=g, dtype=torch.float64) ** 3
    P = P / P.sum(dim=2, keepdim=True)
    R = torch.randn(states, actions, generator=g, dtype=torch.float64)
    return P, R


def random_policy(seed, states, actions):
    g = torch.Generator().manual_seed(seed + 1)
    return torch.rand(states, actions, generator=g, dtype=torch.float64).softmax(dim=1)


mdps = st.tuples(st.integers(0, 10**6), st.integers(1, 4), st.integers(1, 3))


def two_state_mdp():
    """s0 --a0--> stays (reward 1); s0 --a1--> s1 half the time (reward 0);
    s1 --any--> s0 (reward 2)."""
    P = torch.tensor([[[1.0, 0.0], [0.5, 0.5]], [[1.0, 0.0], [1.0, 0.0]]], dtype=torch.float64)
    R = torch.tensor([[1.0, 0.0], [2.0, 2.0]], dtype=torch.float64)
    return P, R


def test_one_bellman_backup_by_hand():
    P, R = two_state_mdp()
    V = torch.tensor([10.0, 20.0], dtype=torch.float64)
    Q = action_values(P, R, V, gamma=0.9)
    # Q(s0, a0) = 1 + 0.9 * 10; Q(s0, a1) = 0 + 0.9 * (0.5 * 10 + 0.5 * 20); Q(s1, .) = 2 + 0.9 * 10
    expected = torch.tensor([[10.0, 13.5], [11.0, 11.0]], dtype=torch.float64)
    torch.testing.assert_close(Q, expected)
    torch.testing.assert_close(
        bellman_optimality_backup(P, R, V, 0.9), torch.tensor([13.5, 11.0], dtype=torch.float64)
    )
    torch.testing.assert_close(
        greedy_policy(Q), torch.tensor([[0.0, 1.0], [1.0, 0.0]], dtype=torch.float64)
    )


def test_two_state_mdp_value_by_hand():
    # always a0: s0 collects 1 forever, V(s0) = 1 / (1 - γ); V(s1) = 2 + γ V(s0)
    P, R = two_state_mdp()
    policy = torch.tensor([[1.0, 0.0], [1.0, 0.0]], dtype=torch.float64)
    V = evaluate_policy_exact(P, R, policy, 0.5)
    torch.testing.assert_close(V, torch.tensor([2.0, 3.0], dtype=torch.float64))


@settings(max_examples=25, deadline=None)
@given(mdp=mdps, gamma=st.floats(0.0, 0.95))
def test_iterative_policy_evaluation_equals_the_linear_solve(mdp, gamma):
    P, R = random_mdp(*mdp)
    policy = random_policy(*mdp)
    exact = evaluate_policy_exact(P, R, policy, gamma)
    iterated, _ = evaluate_policy_iterative(P, R, policy, gamma, tol=1e-12)
    torch.testing.assert_close(iterated, exact, rtol=0, atol=1e-9)
    # V_π is the fixed point of the expectation backup
    P_pi, R_pi = policy_matrices(P, R, policy)
    torch.testing.assert_close(R_pi + gamma * P_pi @ exact, exact)


@settings(max_examples=25, deadline=None)
@given(mdp=mdps, gamma=st.floats(0.0, 0.95))
def test_value_iteration_finds_the_best_of_all_deterministic_policies(mdp, gamma):
    P, R = random_mdp(*mdp)
    S, A = R.shape
    result = value_iteration(P, R, gamma, tol=1e-12)
    # brute force: evaluate every deterministic policy exactly; V* is their elementwise max
    eye = torch.eye(A, dtype=torch.float64)
    values = [
        evaluate_policy_exact(P, R, eye[list(choice)], gamma)
        for choice in itertools.product(range(A), repeat=S)
    ]
    best = torch.stack(values).max(dim=0).values
    torch.testing.assert_close(result.values, best, rtol=0, atol=1e-8)
    # and the greedy policy of value iteration achieves it
    torch.testing.assert_close(
        evaluate_policy_exact(P, R, result.policy, gamma), best, rtol=0, atol=1e-8
    )


def test_value_iteration_on_the_grid_converges_at_rate_gamma():
    mdp = make_gridworld()
    gamma = 0.9
    result = value_iteration(mdp.P, mdp.R, gamma, tol=1e-12)
    V_star = evaluate_policy_exact(mdp.P, mdp.R, result.policy, gamma)
    torch.testing.assert_close(result.values, V_star, rtol=0, atol=1e-10)
    torch.testing.assert_close(bellman_optimality_backup(mdp.P, mdp.R, V_star, gamma), V_star)
    errors = (result.history - V_star).abs().max(dim=1).values
    k = torch.arange(len(errors), dtype=torch.float64)
    # from V_0 = 0: ||V_k - V*|| <= γ^k ||V*||, a contraction
    assert (errors <= gamma**k * V_star.abs().max() + 1e-12).all()
    assert result.iterations > 1


def test_check_mdp_bad_input():
    P, R = two_state_mdp()
    bad = P.clone()
    bad[1, 0] = torch.tensor([0.7, 0.7])
    with pytest.raises(ValueError, match=r"P\[s, a\] must sum to 1 over s', got 1.4 at s=1, a=0"):
        check_mdp(bad, R, 0.9)
    with pytest.raises(ValueError, match="gamma must be in \\[0, 1\\), got 1.0"):
        check_mdp(P, R, 1.0)
    with pytest.raises(ValueError, match="gamma must be in \\[0, 1\\), got -0.1"):
        value_iteration(P, R, -0.1)
    with pytest.raises(ValueError, match="P must have shape \\[S, A, S\\], got \\(2, 2, 3\\)"):
        check_mdp(torch.full((2, 2, 3), 1 / 3, dtype=torch.float64), R, 0.9)
    with pytest.raises(ValueError, match="R must have shape \\[S, A\\] = \\(2, 2\\)"):
        check_mdp(P, R[:, :1], 0.9)
    with pytest.raises(ValueError, match="P must have 3 dimensions"):
        check_mdp(P[0], R, 0.9)
    with pytest.raises(TypeError, match="R must have a floating-point dtype"):
        check_mdp(P, R.long(), 0.9)
    negative = torch.tensor([[[1.5, -0.5]], [[0.0, 1.0]]], dtype=torch.float64)
    with pytest.raises(ValueError, match="negative"):
        check_mdp(negative, torch.zeros(2, 1, dtype=torch.float64), 0.9)
    with pytest.raises(ValueError, match="policy must have shape \\[S, A\\]"):
        evaluate_policy_exact(P, R, torch.ones(2, 3, dtype=torch.float64) / 3, 0.9)
    with pytest.raises(ValueError, match="policy rows must be probability distributions"):
        evaluate_policy_exact(P, R, torch.ones(2, 2, dtype=torch.float64), 0.9)
    with pytest.raises(ValueError, match="V must have one entry per state \\(2\\), got 3"):
        action_values(P, R, torch.zeros(3, dtype=torch.float64), 0.9)
