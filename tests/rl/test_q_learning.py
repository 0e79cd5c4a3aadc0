import numpy as np
import pytest
import torch

from snippets.rl.gridworld import CLASSIC, make_gridworld
from snippets.rl.q_learning import (
    TabularEnv,
    epsilon_greedy,
    q_learning,
    q_learning_update,
    td0_prediction,
    td0_update,
)
from snippets.rl.value_iteration import evaluate_policy_exact, value_iteration

SMALL = ("..+", ".#-")  # four states to learn, a goal and a pit


def test_one_td0_update_by_hand():
    V = torch.tensor([1.0, 2.0, 0.0], dtype=torch.float64)
    error = td0_update(V, state=0, reward=0.5, next_state=1, terminated=False, alpha=0.1, gamma=0.9)
    # target = 0.5 + 0.9 * 2 = 2.3, error = 2.3 - 1 = 1.3, V[0] = 1 + 0.1 * 1.3
    assert error == pytest.approx(1.3)
    torch.testing.assert_close(V, torch.tensor([1.13, 2.0, 0.0], dtype=torch.float64))
    # a terminated step does not bootstrap: target = reward
    error = td0_update(V, state=1, reward=-1.0, next_state=0, terminated=True, alpha=0.5, gamma=0.9)
    assert error == pytest.approx(-3.0)
    assert V[1] == pytest.approx(0.5)


def test_one_q_learning_update_by_hand():
    Q = torch.tensor([[0.0, 1.0], [4.0, -2.0]], dtype=torch.float64)
    error = q_learning_update(
        Q, 0, 0, reward=1.0, next_state=1, terminated=False, alpha=0.5, gamma=0.5
    )
    # target = 1 + 0.5 * max(4, -2) = 3, error = 3 - 0 = 3, Q[0, 0] = 0 + 0.5 * 3
    assert error == pytest.approx(3.0)
    torch.testing.assert_close(Q, torch.tensor([[1.5, 1.0], [4.0, -2.0]], dtype=torch.float64))
    q_learning_update(Q, 1, 1, reward=1.0, next_state=0, terminated=True, alpha=1.0, gamma=0.5)
    assert Q[1, 1] == 1.0


def test_tabular_env_samples_the_transition_probabilities():
    mdp = make_gridworld(CLASSIC, slip=0.1)
    env = TabularEnv(mdp, seed=0)
    s, a, n = mdp.cells.index((2, 0)), 0, 8_000
    counts = torch.zeros(mdp.num_states, dtype=torch.float64)
    for _ in range(n):
        env.state = s
        s_next, reward, terminated = env.step(a)
        counts[s_next] += 1
        assert reward == mdp.rewards[s, a, s_next] and not terminated
    torch.testing.assert_close(counts / n, mdp.P[s, a], rtol=0, atol=0.02)
    starts = {env.reset() for _ in range(200)}
    assert starts == set((~mdp.terminal).nonzero().flatten().tolist())


def test_td0_converges_to_the_exact_value_of_the_policy():
    mdp = make_gridworld(SMALL, slip=0.1)
    policy = torch.full((mdp.num_states, 4), 0.25, dtype=torch.float64)
    exact = evaluate_policy_exact(mdp.P, mdp.R, policy, 0.9)
    history = td0_prediction(mdp, policy, 0.9, episodes=600, alpha=1.0, decay=0.8, seed=0)
    assert history.shape == (601, mdp.num_states)
    error = (history - exact).abs().max(dim=1).values
    assert error[-1] < 0.05 < error[0]


def test_q_learning_finds_the_optimal_policy_and_values():
    mdp = make_gridworld(SMALL, slip=0.1)
    best = value_iteration(mdp.P, mdp.R, 0.9)
    Q, returns = q_learning(mdp, 0.9, episodes=400, alpha=1.0, epsilon=0.5, decay=0.8, seed=0)
    assert len(returns) == 400
    learn = ~mdp.terminal
    torch.testing.assert_close(Q.max(dim=1).values, best.values, rtol=0, atol=0.05)
    assert (Q.argmax(dim=1)[learn] == best.policy.argmax(dim=1)[learn]).all()


def test_epsilon_greedy_explores_at_the_stated_rate():
    q = torch.tensor([0.0, 3.0, 1.0])
    rng = np.random.default_rng(0)
    assert {epsilon_greedy(q, 0.0, rng) for _ in range(50)} == {1}
    picks = np.bincount([epsilon_greedy(q, 0.3, rng) for _ in range(6000)], minlength=3) / 6000
    # the greedy action: 0.7 + 0.3 / 3; each other: 0.3 / 3
    np.testing.assert_allclose(picks, [0.1, 0.8, 0.1], atol=0.02)


def test_tabular_bad_input():
    V = torch.zeros(3, dtype=torch.float64)
    with pytest.raises(ValueError, match="alpha must be in \\(0, 1\\], got 1.5"):
        td0_update(V, 0, 0.0, 1, False, alpha=1.5, gamma=0.9)
    with pytest.raises(ValueError, match="alpha must be > 0, got 0"):
        td0_update(V, 0, 0.0, 1, False, alpha=0, gamma=0.9)
    with pytest.raises(ValueError, match="gamma must be in \\[0, 1\\], got 1.2"):
        q_learning_update(torch.zeros(2, 2), 0, 0, 0.0, 1, False, alpha=0.1, gamma=1.2)
    with pytest.raises(TypeError, match="V must have a floating-point dtype"):
        td0_update(torch.zeros(3, dtype=torch.int64), 0, 0.0, 1, False, 0.1, 0.9)
    with pytest.raises(ValueError, match="epsilon must be in \\[0, 1\\], got 2"):
        epsilon_greedy(torch.zeros(2), 2, np.random.default_rng(0))
    mdp = make_gridworld(SMALL)
    with pytest.raises(ValueError, match="episodes must be > 0, got 0"):
        q_learning(mdp, 0.9, episodes=0)
    with pytest.raises(ValueError, match="at least one non-terminal state"):
        TabularEnv(make_gridworld(("+-",)))
