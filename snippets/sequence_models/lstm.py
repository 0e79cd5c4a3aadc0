"""Long short-term memory (LSTM) from scratch: gates, the cell state, and a gate trace.

PyTorch stacks the four gate blocks of an LSTM in one matrix, in the order
**input, forget, cell candidate, output** (``i, f, g, o``): rows ``0:H`` of
``weight_ih_l0`` belong to the input gate, ``H:2H`` to the forget gate,
``2H:3H`` to the candidate and ``3H:4H`` to the output gate.
"""

from __future__ import annotations

import torch
from torch import nn

from snippets.common.checks import check_tensor
from snippets.sequence_models.rnn import ScratchRNN, State


def lstm_gates(
    x: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> dict[str, torch.Tensor]:
    """The four gate activations of one LSTM step, in PyTorch's order ``i, f, g, o``.

    Shapes:
        ``x`` ``[N, I]``, ``h`` ``[N, H]``, ``w_ih`` ``[4H, I]``, ``w_hh``
        ``[4H, H]``, biases ``[4H]``; every gate ``[N, H]``.
    """
    z = x @ w_ih.T + b_ih + h @ w_hh.T + b_hh  # [N, 4H]: all four pre-activations at once
    i, f, g, o = z.chunk(4, dim=-1)
    return {
        "input": torch.sigmoid(i),  # how much of the candidate to write
        "forget": torch.sigmoid(f),  # how much of the old cell state to keep
        "candidate": torch.tanh(g),  # the new content, in (-1, 1)
        "output": torch.sigmoid(o),  # how much of the cell to expose as h
    }


def lstm_cell(
    x: torch.Tensor,
    h: torch.Tensor,
    c: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step: ``c_t = f ⊙ c_{t-1} + i ⊙ g`` and ``h_t = o ⊙ tanh(c_t)``.

    Shapes:
        ``x`` ``[N, I]``, ``h`` and ``c`` ``[N, H]``; returns ``(h_t, c_t)``,
        both ``[N, H]``.
    """
    gate = lstm_gates(x, h, w_ih, w_hh, b_ih, b_hh)
    c = gate["forget"] * c + gate["input"] * gate["candidate"]
    h = gate["output"] * torch.tanh(c)
    return h, c


class ScratchLSTM(ScratchRNN):
    """A multi-layer, optionally bidirectional LSTM with :class:`torch.nn.LSTM`'s parameters.

    Same unrolling as :class:`~snippets.sequence_models.rnn.ScratchRNN`; the state is the pair
    ``(h, c)``.

    Shapes:
        input ``[T, N, I]`` (or ``[N, T, I]`` with ``batch_first``); optional
        ``(h0, c0)``, each ``[L·D, N, H]``. Returns ``output`` ``[T, N, D·H]``
        and ``(h_n, c_n)``, each ``[L·D, N, H]``.
    """

    gate_blocks = 4

    def cell(self, x: torch.Tensor, state: State, *weights: torch.Tensor) -> State:
        h, c = state
        return lstm_cell(x, h, c, *weights)

    def split_state(self, h0: tuple[torch.Tensor, torch.Tensor] | None, x: torch.Tensor) -> State:
        if h0 is None:
            zeros = super().split_state(None, x)[0]
            return zeros, zeros
        if not isinstance(h0, tuple) or len(h0) != 2:
            raise TypeError(f"h0 of an LSTM must be a tuple (h0, c0), got {type(h0).__name__}")
        return super().split_state(h0[0], x)[0], super().split_state(h0[1], x)[0]

    def join_state(self, state: State) -> State:
        return state[0], state[1]


@torch.no_grad()
def lstm_gate_trace(lstm: nn.LSTM | ScratchLSTM, x: torch.Tensor) -> dict[str, torch.Tensor]:
    """Run the first layer (forward direction) of ``lstm`` over one sequence, recording the gates.

    Works for :class:`torch.nn.LSTM` and :class:`ScratchLSTM` because both name
    their weights the same way.

    Shapes:
        ``x`` ``[T, I]`` (one sequence, already embedded) -> a dict with
        ``"input"``, ``"forget"``, ``"candidate"``, ``"output"``, ``"cell"`` and
        ``"hidden"``, each ``[T, H]``.
    """
    check_tensor(x, "x", ndim=2, floating=True)
    weights = [getattr(lstm, f"{n}_l0") for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    hidden_size = lstm.hidden_size
    h = x.new_zeros(1, hidden_size)
    c = x.new_zeros(1, hidden_size)
    trace: dict[str, list[torch.Tensor]] = {}
    for x_t in x:
        gate = lstm_gates(x_t[None], h, *weights)
        h, c = lstm_cell(x_t[None], h, c, *weights)
        for name, value in {**gate, "cell": c, "hidden": h}.items():
            trace.setdefault(name, []).append(value[0])
    return {name: torch.stack(values) for name, values in trace.items()}
