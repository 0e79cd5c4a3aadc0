import matplotlib.pyplot as plt
import pytest
import torch

from snippets.rl.gridworld import ARROWS, CLASSIC, make_gridworld, plot_grid


def test_transition_rows_are_distributions_and_R_is_their_expectation():
    mdp = make_gridworld(CLASSIC, slip=0.1, step_reward=-0.04)
    assert mdp.P.shape == (11, 4, 11) and mdp.R.shape == (11, 4)
    torch.testing.assert_close(mdp.P.sum(dim=2), torch.ones(11, 4, dtype=torch.float64))
    torch.testing.assert_close(mdp.R, (mdp.P * mdp.rewards).sum(dim=2))
    assert mdp.terminal.sum() == 2


def test_a_slippery_move_by_hand():
    mdp = make_gridworld(CLASSIC, slip=0.1, step_reward=-0.04)
    s = mdp.cells.index((2, 0))  # bottom-left corner
    up = 0
    expected = torch.zeros(mdp.num_states, dtype=torch.float64)
    expected[mdp.cells.index((1, 0))] = 0.8  # the intended move
    expected[mdp.cells.index((2, 1))] = 0.1  # slips right
    expected[s] = 0.1  # slips left into the edge and stays
    torch.testing.assert_close(mdp.P[s, up], expected)
    # next to the goal, moving right: 0.8 reaches it (+1 - 0.04), 0.1 each way costs -0.04
    s = mdp.cells.index((0, 2))
    goal = mdp.cells.index((0, 3))
    assert mdp.rewards[s, 1, goal] == pytest.approx(0.96)
    assert mdp.R[s, 1] == pytest.approx(0.8 * 0.96 + 0.2 * -0.04)


def test_end_states_are_absorbing_with_zero_reward():
    mdp = make_gridworld(CLASSIC)
    for s in mdp.terminal.nonzero().flatten().tolist():
        torch.testing.assert_close(mdp.P[s, :, s], torch.ones(4, dtype=torch.float64))
        assert (mdp.R[s] == 0).all()


def test_no_slip_is_deterministic_and_walls_block():
    mdp = make_gridworld(("..", "#."), slip=0.0, step_reward=0.0)
    assert mdp.num_states == 3 and mdp.cells == [(0, 0), (0, 1), (1, 1)]
    assert ((mdp.P == 0) | (mdp.P == 1)).all()
    assert mdp.P[0, 2, 0] == 1  # down from (0, 0) hits the wall: stay


def test_plot_grid_marks_values_and_actions():
    mdp = make_gridworld(CLASSIC)
    values = torch.linspace(-1, 1, mdp.num_states, dtype=torch.float64)
    actions = torch.ones(mdp.num_states, dtype=torch.int64)  # all "right"
    ax = plot_grid(mdp, values, actions, title="grid")
    texts = [t.get_text() for t in ax.texts]
    assert sum(ARROWS[1] in t for t in texts) == mdp.num_states - 2  # no arrow on end states
    assert any("goal" in t for t in texts) and any("pit" in t for t in texts)
    plt.close(ax.figure)


def test_gridworld_bad_input():
    with pytest.raises(ValueError, match="equal length"):
        make_gridworld(("...", ".."))
    with pytest.raises(ValueError, match=r"may only use .*\['x'\]"):
        make_gridworld(("..x",))
    with pytest.raises(ValueError, match="slip must be in \\[0, 0.5\\], got 0.7"):
        make_gridworld(CLASSIC, slip=0.7)
    with pytest.raises(ValueError, match="at least one cell"):
        make_gridworld(("##",))
    mdp = make_gridworld(CLASSIC)
    with pytest.raises(ValueError, match="values must have 11 entries, got 3"):
        plot_grid(mdp, values=torch.zeros(3))
