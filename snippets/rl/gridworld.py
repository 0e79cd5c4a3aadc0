"""A tiny grid world written out as explicit tensors: a Markov decision process you can see.

The world is drawn as text, one string per row: ``.`` floor, ``#`` wall,
``+`` a goal that pays ``+1``, ``-`` a pit that pays ``-1``. The agent moves
``up``, ``right``, ``down`` or ``left``; the floor is slippery, so with
probability ``slip`` it slides to each side of the intended direction
instead. Walking into a wall or the edge leaves it where it was. Every move
costs ``step_reward``; reaching a goal or a pit ends the episode.

Everything a planning algorithm needs is in three tensors: the transition
probabilities ``P[s, a, s']``, the reward of each transition
``rewards[s, a, s']`` and its expectation ``R[s, a] = Σ_s' P[s, a, s'] rewards[s, a, s']``.
End states are *absorbing*: every action keeps the agent there with reward 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes

from snippets.common.checks import check_tensor

#: The moves, in action order: (row change, column change).
MOVES = ((-1, 0), (0, 1), (1, 0), (0, -1))
ACTION_NAMES = ("up", "right", "down", "left")
ARROWS = ("↑", "→", "↓", "←")

#: The classic 3 × 4 grid: a wall in the middle, a goal top right, a pit below it.
CLASSIC = ("...+", ".#.-", "....")


@dataclass
class GridMDP:
    """A grid world as tensors (float64).

    Shapes:
        ``P`` ``[S, A, S]`` (each ``P[s, a]`` sums to 1), ``rewards``
        ``[S, A, S]``, ``R`` ``[S, A]``, ``terminal`` ``[S]`` (bool).
        ``cells[s]`` is the ``(row, column)`` of state ``s``; walls are not states.
    """

    P: torch.Tensor
    rewards: torch.Tensor
    R: torch.Tensor
    terminal: torch.Tensor
    cells: list[tuple[int, int]]
    layout: tuple[str, ...]

    @property
    def num_states(self) -> int:
        return self.P.shape[0]

    @property
    def num_actions(self) -> int:
        return self.P.shape[1]


def make_gridworld(
    layout: tuple[str, ...] | list[str] = CLASSIC, slip: float = 0.1, step_reward: float = -0.04
) -> GridMDP:
    """Build the tensors of the grid world drawn by ``layout`` (see the module docstring).

    States are the non-wall cells, numbered row by row. With ``slip = 0.1``
    a move goes where intended with probability 0.8 and to each side with 0.1.

    Raises:
        ValueError: if the rows differ in length, a character is unknown,
            there is no state, or ``slip`` is outside ``[0, 0.5]``.
    """
    layout = tuple(layout)
    if not layout or any(len(row) != len(layout[0]) for row in layout):
        raise ValueError(f"layout must be non-empty rows of equal length, got {layout!r}")
    unknown = set("".join(layout)) - set(".#+-")
    if unknown:
        raise ValueError(f"layout may only use '.', '#', '+', '-', got {sorted(unknown)}")
    if not 0.0 <= slip <= 0.5:
        raise ValueError(f"slip must be in [0, 0.5], got {slip}")
    cells = [(r, c) for r, row in enumerate(layout) for c, ch in enumerate(row) if ch != "#"]
    if not cells:
        raise ValueError("layout must have at least one cell that is not a wall")
    index = {cell: s for s, cell in enumerate(cells)}
    payoff = {".": 0.0, "+": 1.0, "-": -1.0}
    S, A = len(cells), len(MOVES)
    P = torch.zeros(S, A, S, dtype=torch.float64)
    rewards = torch.zeros(S, A, S, dtype=torch.float64)
    terminal = torch.tensor([layout[r][c] in "+-" for r, c in cells])

    def land(cell: tuple[int, int], move: tuple[int, int]) -> int:
        r, c = cell[0] + move[0], cell[1] + move[1]
        return index.get((r, c), index[cell])  # off the grid or into a wall: stay

    for s, cell in enumerate(cells):
        if terminal[s]:
            P[s, :, s] = 1.0  # absorbing, reward 0
            continue
        for a in range(A):
            sides = (MOVES[(a + 1) % A], MOVES[(a - 1) % A])
            for move, p in ((MOVES[a], 1 - 2 * slip), (sides[0], slip), (sides[1], slip)):
                s_next = land(cell, move)
                P[s, a, s_next] += p
                r, c = cells[s_next]
                rewards[s, a, s_next] = step_reward + payoff[layout[r][c]]
    R = (P * rewards).sum(dim=2)
    return GridMDP(P, rewards, R, terminal, cells, layout)


def plot_grid(
    mdp: GridMDP,
    values: torch.Tensor | None = None,
    actions: torch.Tensor | None = None,
    ax: Axes | None = None,
    title: str | None = None,
) -> Axes:
    """Draw the grid: walls dark, each state coloured by ``values`` and marked with its action.

    Shapes:
        ``values`` ``[S]`` (optional), ``actions`` ``[S]`` int64 (optional;
        end states get no arrow).

    Raises:
        ValueError: if ``values`` or ``actions`` does not have one entry per state.
    """
    for x, name in ((values, "values"), (actions, "actions")):
        if x is not None:
            check_tensor(x, name, ndim=1)
            if len(x) != mdp.num_states:
                raise ValueError(f"{name} must have {mdp.num_states} entries, got {len(x)}")
    rows, cols = len(mdp.layout), len(mdp.layout[0])
    if ax is None:
        _, ax = plt.subplots(figsize=(1.1 * cols + 1.2, 1.1 * rows))
    grid = torch.full((rows, cols), float("nan"))
    if values is not None:
        for s, (r, c) in enumerate(mdp.cells):
            grid[r, c] = float(values[s])
        limit = max(float(values.abs().max()), 1e-9)
        image = ax.imshow(grid.numpy(), cmap="RdBu", vmin=-limit, vmax=limit)
        ax.figure.colorbar(image, ax=ax, shrink=0.8, label="value")
    else:
        ax.imshow(torch.zeros(rows, cols).numpy(), cmap="Greys", vmin=0, vmax=1)
    for r, row in enumerate(mdp.layout):
        for c, ch in enumerate(row):
            if ch == "#":
                ax.add_patch(plt.Rectangle((c - 0.5, r - 0.5), 1, 1, color="#444444"))
    for r, row in enumerate(mdp.layout):  # outline the goal green and the pit red
        for c, ch in enumerate(row):
            if ch in "+-":
                color = "#009E73" if ch == "+" else "#D55E00"
                ax.add_patch(
                    plt.Rectangle((c - 0.45, r - 0.45), 0.9, 0.9, fill=False, lw=3, edgecolor=color)
                )
    for s, (r, c) in enumerate(mdp.cells):
        kind = mdp.layout[r][c]
        text = {"+": "goal", "-": "pit"}.get(kind, "")
        if values is None and actions is None:  # the bare grid: name every state
            text = f"s{s}\n{text}".strip()
        if values is not None:
            text = f"{text}\n{float(values[s]):.2f}".strip()
        if actions is not None and not mdp.terminal[s]:
            text = f"{ARROWS[int(actions[s])]}\n{text}".strip()
        dark = values is not None and abs(float(values[s])) > 0.6 * limit  # white text on dark
        color = "white" if dark else "black"
        ax.text(c, r, text or f"s{s}", ha="center", va="center", fontsize=10, color=color)
    ax.set_xticks(range(cols))
    ax.set_yticks(range(rows))
    ax.set(xlabel="column", ylabel="row")
    ax.grid(False)
    if title:
        ax.set_title(title)
    return ax
