"""Gated recurrent unit (GRU) from scratch: reset and update gates, no separate cell state.

PyTorch stacks the three gate blocks in the order **reset, update, new**
(``r, z, n``), and applies the reset gate to ``W_hn h + b_hn`` *after* the
matrix product (the original paper applied it to ``h`` before). With
:class:`torch.nn.GRU`'s convention, a large update gate ``z`` *keeps* the old
state.
"""

from __future__ import annotations

import torch

from snippets.sequence_models.rnn import ScratchRNN, State, check_step


def gru_gates(
    x: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """The reset gate, update gate and candidate ("new") state of one GRU step.

    Shapes:
        ``x`` ``[N, I]``, ``h`` ``[N, H]``, ``w_ih`` ``[3H, I]``, ``w_hh``
        ``[3H, H]``, biases ``[3H]``; every entry ``[N, H]``.

    Raises:
        TypeError: if an argument's dtype differs from ``x``'s (see
            :func:`~snippets.sequence_models.rnn.check_step`).
        ValueError: if the shapes of ``x``, ``h`` and the weights disagree.
    """
    check_step(x, h, w_ih, w_hh, b_ih, b_hh, blocks=3)
    x_r, x_z, x_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)
    h_r, h_z, h_n = (h @ w_hh.T + b_hh).chunk(3, dim=-1)
    reset = torch.sigmoid(x_r + h_r)
    update = torch.sigmoid(x_z + h_z)
    new = torch.tanh(x_n + reset * h_n)  # the reset gate scales the recurrent part only
    return {"reset": reset, "update": update, "new": new}


def gru_cell(
    x: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> torch.Tensor:
    """One GRU step: ``h_t = (1 - z) ⊙ n + z ⊙ h_{t-1}``.

    Shapes:
        ``x`` ``[N, I]``, ``h`` ``[N, H]``; returns ``h_t`` ``[N, H]``.

    Raises:
        TypeError: if an argument's dtype differs from ``x``'s (see :func:`gru_gates`).
        ValueError: if the shapes of ``x``, ``h`` and the weights disagree.
    """
    gate = gru_gates(x, h, w_ih, w_hh, b_ih, b_hh)
    return (1 - gate["update"]) * gate["new"] + gate["update"] * h


class ScratchGRU(ScratchRNN):
    """A multi-layer, optionally bidirectional GRU with :class:`torch.nn.GRU`'s parameters.

    Shapes:
        as :class:`~snippets.sequence_models.rnn.ScratchRNN`: input ``[T, N, I]`` (or
        ``[N, T, I]`` with ``batch_first``), optional ``h0`` ``[L·D, N, H]``;
        returns ``output`` ``[T, N, D·H]`` and ``h_n`` ``[L·D, N, H]``.
    """

    gate_blocks = 3

    @staticmethod
    def cell(x: torch.Tensor, state: State, *weights: torch.Tensor) -> State:
        return (gru_cell(x, state[0], *weights),)

    @staticmethod
    def gates(x: torch.Tensor, state: State, *weights: torch.Tensor) -> dict[str, torch.Tensor]:
        return gru_gates(x, state[0], *weights)
