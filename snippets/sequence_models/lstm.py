"""Long short-term memory (LSTM) from scratch: gates, the cell state, the forget-gate bias.

PyTorch stacks the four gate blocks of an LSTM in one matrix, in the order
**input, forget, cell candidate, output** (``i, f, g, o``): rows ``0:H`` of
``weight_ih_l0`` belong to the input gate, ``H:2H`` to the forget gate,
``2H:3H`` to the candidate and ``3H:4H`` to the output gate.
:func:`~snippets.sequence_models.rnn.gate_trace` with :class:`ScratchLSTM`
records the gates of a trained LSTM.
"""

from __future__ import annotations

import math
from typing import TypeVar

import torch
from torch import nn

from snippets.common.checks import check_tensor
from snippets.sequence_models.rnn import ScratchRNN, State, check_step

T = TypeVar("T", bound=nn.Module)


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

    Raises:
        TypeError: if an argument's dtype differs from ``x``'s (see
            :func:`~snippets.sequence_models.rnn.check_step`).
        ValueError: if the shapes of ``x``, ``h`` and the weights disagree.
    """
    check_step(x, h, w_ih, w_hh, b_ih, b_hh, blocks=4)
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

    Raises:
        TypeError: if ``c`` is not a tensor of ``h``'s dtype; see also :func:`lstm_gates`.
        ValueError: if ``c`` does not have ``h``'s shape; see also :func:`lstm_gates`.
    """
    check_tensor(c, "c", dtype=h.dtype)
    if c.shape != h.shape:
        raise ValueError(f"c must have h's shape {tuple(h.shape)}, got {tuple(c.shape)}")
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
    state_names = ("hidden", "cell")

    @staticmethod
    def cell(x: torch.Tensor, state: State, *weights: torch.Tensor) -> State:
        h, c = state
        return lstm_cell(x, h, c, *weights)

    @staticmethod
    def gates(x: torch.Tensor, state: State, *weights: torch.Tensor) -> dict[str, torch.Tensor]:
        return lstm_gates(x, state[0], *weights)

    def split_state(self, h0: tuple[torch.Tensor, torch.Tensor] | None, x: torch.Tensor) -> State:
        if h0 is None:
            zeros = super().split_state(None, x)[0]
            return zeros, zeros
        if not isinstance(h0, tuple) or len(h0) != 2:
            raise TypeError(f"h0 of an LSTM must be a tuple (h0, c0), got {type(h0).__name__}")
        return self.check_state(h0[0], "h0", x), self.check_state(h0[1], "c0", x)

    def join_state(self, state: State) -> State:
        return state[0], state[1]


def set_forget_bias(lstm: T, value: float) -> T:
    """Start an LSTM's forget gates open: their bias becomes ``value``; returns ``lstm``.

    The forget gate's pre-activation has two biases, ``b_if`` in ``bias_ih``
    and ``b_hf`` in ``bias_hh`` (rows ``H:2H`` of each). This sets ``b_if``
    to ``value`` and ``b_hf`` to 0, in every layer and direction, so that
    ``f_t = σ(… + value)``: with 3, ``f_t ≈ 0.95`` and the cell state starts
    out *remembering*. PyTorch's default initialization gives ``f_t ≈ 0.5``,
    which halves the memory at every step. Works for :class:`torch.nn.LSTM`,
    :class:`torch.nn.LSTMCell` and :class:`ScratchLSTM`, which name their
    biases the same way.

    Raises:
        TypeError: if ``lstm`` is not a recurrent layer (no ``hidden_size``)
            or ``value`` is not a number.
        ValueError: if ``lstm`` has no LSTM biases (``bias_ih…``/``bias_hh…``
            of ``4 · hidden_size`` entries), e.g. one built with ``bias=False``,
            or ``value`` is not finite.
    """
    hidden = getattr(lstm, "hidden_size", None)
    if not isinstance(lstm, nn.Module) or not isinstance(hidden, int):
        raise TypeError(
            f"lstm must be nn.LSTM, nn.LSTMCell or ScratchLSTM, got {type(lstm).__name__}"
        )
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"value must be a number, got {type(value).__name__}")
    if not math.isfinite(value):
        raise ValueError(f"value must be finite, got {value}")
    biases = [(n, p) for n, p in lstm.named_parameters() if n.startswith(("bias_ih", "bias_hh"))]
    if not biases or any(p.shape != (4 * hidden,) for _, p in biases):
        raise ValueError(
            f"lstm must have LSTM biases bias_ih/bias_hh of {4 * hidden} entries, got "
            f"{[(n, tuple(p.shape)) for n, p in biases]}"
        )
    with torch.no_grad():
        for name, bias in biases:  # rows H:2H of the stacked biases belong to the forget gate
            bias[hidden : 2 * hidden] = value if name.startswith("bias_ih") else 0.0
    return lstm
