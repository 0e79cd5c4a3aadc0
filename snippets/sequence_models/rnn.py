"""Recurrent neural networks from scratch: the cell, the unrolled layer, stacks and both directions.

:func:`rnn_cell` is one time step. :class:`ScratchRNN` unrolls it over a
sequence, stacks layers and runs a second direction, with parameters named and
shaped exactly like :class:`torch.nn.RNN`'s, so
``scratch.load_state_dict(torch_rnn.state_dict())`` copies the weights across.
The LSTM and GRU of :mod:`snippets.sequence_models.lstm` and
:mod:`snippets.sequence_models.gru` reuse the same unrolling and only replace
the cell. :func:`gate_trace` runs any of the three cells, step by step, on the
weights of a trained layer and records its gates.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snippets.common.checks import check_choice, check_dim, check_positive, check_tensor

State = tuple[torch.Tensor, ...]


def check_ids(ids: object, name: str, vocab: int) -> torch.Tensor:
    """Check a batch of token ids ``[N, T]``: int64, ``T >= 1``, every id in ``0 … vocab-1``.

    An id outside the vocabulary would otherwise fail inside ``nn.Embedding``
    with an ``IndexError`` (on a GPU, a device-side assert).

    Raises:
        TypeError: if ``ids`` is not an int64 tensor.
        ValueError: if ``ids`` is not 2-D, has no position or holds an id out of range.
    """
    check_tensor(ids, name, ndim=2, dtype=torch.int64)
    if ids.shape[1] == 0:
        raise ValueError(f"{name} must hold at least one position, got shape {tuple(ids.shape)}")
    if not ids.is_meta and ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab):
        raise ValueError(
            f"{name} must hold ids from 0 to {vocab - 1} (the vocabulary), got ids from "
            f"{int(ids.min())} to {int(ids.max())}"
        )
    return ids


def check_step(
    x: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
    blocks: int = 1,
) -> None:
    """Check the arguments of one recurrent step with ``blocks`` stacked gate blocks.

    ``x`` ``[N, I]`` and ``h`` ``[N, H]`` fix the sizes: the weights must be
    ``[blocks·H, I]`` and ``[blocks·H, H]``, the biases ``[blocks·H]``, and
    every tensor must have ``x``'s dtype. Without this check a state of batch
    size 1 would silently broadcast against a larger batch of inputs.

    Raises:
        TypeError: if an argument is not a tensor of ``x``'s floating-point dtype.
        ValueError: if a shape disagrees with ``x`` and ``h``.
    """
    check_tensor(x, "x", ndim=2, floating=True)
    check_tensor(h, "h", ndim=2, dtype=x.dtype)
    if h.shape[0] != x.shape[0]:
        raise ValueError(
            f"h must have x's batch size {x.shape[0]} in dimension 0, got shape {tuple(h.shape)}"
        )
    rows = blocks * h.shape[1]
    for value, name, shape in (
        (w_ih, "w_ih", (rows, x.shape[1])),
        (w_hh, "w_hh", (rows, h.shape[1])),
        (b_ih, "b_ih", (rows,)),
        (b_hh, "b_hh", (rows,)),
    ):
        check_tensor(value, name, dtype=x.dtype)
        if tuple(value.shape) != shape:
            raise ValueError(
                f"{name} must have shape {shape} ({blocks} gate block(s) of H = {h.shape[1]} "
                f"from h, I = {x.shape[1]} from x), got {tuple(value.shape)}"
            )


def rnn_cell(
    x: torch.Tensor,
    h: torch.Tensor,
    w_ih: torch.Tensor,
    w_hh: torch.Tensor,
    b_ih: torch.Tensor,
    b_hh: torch.Tensor,
) -> torch.Tensor:
    """One step of a vanilla (Elman) RNN: ``h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh)``.

    Shapes:
        ``x`` ``[N, I]``, ``h`` ``[N, H]``, ``w_ih`` ``[H, I]``, ``w_hh``
        ``[H, H]``, ``b_ih`` and ``b_hh`` ``[H]``; returns the new ``h`` ``[N, H]``.

    Raises:
        TypeError: if an argument's dtype differs from ``x``'s (see :func:`check_step`).
        ValueError: if the shapes of ``x``, ``h`` and the weights disagree.
    """
    check_step(x, h, w_ih, w_hh, b_ih, b_hh)
    return torch.tanh(x @ w_ih.T + b_ih + h @ w_hh.T + b_hh)


class ScratchRNN(nn.Module):
    """A multi-layer, optionally bidirectional RNN written with Python loops.

    Parameters follow :class:`torch.nn.RNN`: for layer ``k`` they are
    ``weight_ih_l{k}`` ``[G·H, I_k]``, ``weight_hh_l{k}`` ``[G·H, H]``,
    ``bias_ih_l{k}`` and ``bias_hh_l{k}`` ``[G·H]``, plus the same names with
    ``_reverse`` for the backward direction. ``G`` is the number of gate blocks
    stacked in one matrix (1 here, 4 for the LSTM, 3 for the GRU) and ``I_k`` is
    the input size for layer 0 and ``D·H`` above it (``D`` = 2 when
    bidirectional).

    A subclass changes the cell: ``cell`` (one time step), ``gates`` (the
    gate activations of one step, for :func:`gate_trace`), ``gate_blocks``
    and ``state_names``.

    Shapes:
        input ``[T, N, I]`` (``[N, T, I]`` with ``batch_first``); optional
        initial state ``h0`` ``[L·D, N, H]``. Returns ``output`` ``[T, N, D·H]``
        (the top layer's hidden state at every step, both directions
        concatenated) and ``h_n`` ``[L·D, N, H]`` (every layer's and
        direction's last state, ordered layer by layer, forward first).
    """

    gate_blocks = 1
    state_names: tuple[str, ...] = ("hidden",)  # the LSTM's state is ("hidden", "cell")

    def __init__(
        self,
        input_size: int,
        hidden_size: int,
        num_layers: int = 1,
        bidirectional: bool = False,
        batch_first: bool = False,
    ) -> None:
        super().__init__()
        for value, name in ((input_size, "input_size"), (hidden_size, "hidden_size")):
            check_positive(value, name)
        check_positive(num_layers, "num_layers")
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.bidirectional, self.batch_first = bidirectional, batch_first
        self.directions = 2 if bidirectional else 1
        bound = 1 / math.sqrt(hidden_size)  # PyTorch's default: U(-1/sqrt(H), 1/sqrt(H))
        rows = self.gate_blocks * hidden_size
        for layer in range(num_layers):
            layer_in = input_size if layer == 0 else hidden_size * self.directions
            for suffix in self._suffixes():
                for name, shape in (
                    ("weight_ih", (rows, layer_in)),
                    ("weight_hh", (rows, hidden_size)),
                    ("bias_ih", (rows,)),
                    ("bias_hh", (rows,)),
                ):
                    param = nn.Parameter(torch.empty(shape).uniform_(-bound, bound))
                    self.register_parameter(f"{name}_l{layer}{suffix}", param)

    def _suffixes(self) -> tuple[str, ...]:
        return ("", "_reverse")[: self.directions]

    @staticmethod
    def cell(x: torch.Tensor, state: State, *weights: torch.Tensor) -> State:
        """One time step; ``state`` is the tuple ``(h,)`` with ``h`` ``[N, H]``."""
        return (rnn_cell(x, state[0], *weights),)

    @staticmethod
    def gates(x: torch.Tensor, state: State, *weights: torch.Tensor) -> dict[str, torch.Tensor]:
        """The gate activations of one time step, by name: a vanilla RNN has none."""
        return {}

    def check_state(self, state: torch.Tensor, name: str, x: torch.Tensor) -> torch.Tensor:
        """Check one initial state against the layer and ``x`` ``[T, N, I]``; return it.

        Raises:
            TypeError: if ``state`` is not a tensor of ``x``'s dtype.
            ValueError: if ``state`` is not ``[L·D, N, H]``.
        """
        shape = (self.num_layers * self.directions, x.shape[1], self.hidden_size)
        check_tensor(state, name, ndim=3, dtype=x.dtype)
        if tuple(state.shape) != shape:
            raise ValueError(
                f"{name} must have shape {shape} (layers·directions, x's batch size, "
                f"hidden_size), got {tuple(state.shape)}"
            )
        return state

    def split_state(self, h0: torch.Tensor | None, x: torch.Tensor) -> State:
        """Turn the user's initial state into a tuple of ``[L·D, N, H]`` tensors."""
        if h0 is None:
            shape = (self.num_layers * self.directions, x.shape[1], self.hidden_size)
            return (x.new_zeros(shape),)
        return (self.check_state(h0, "h0", x),)

    def join_state(self, state: State) -> torch.Tensor | State:
        """The final state in PyTorch's form: ``h_n`` for an RNN or GRU."""
        return state[0]

    def forward(
        self, x: torch.Tensor, h0: torch.Tensor | State | None = None
    ) -> tuple[torch.Tensor, torch.Tensor | State]:
        check_tensor(x, "x", ndim=3, floating=True)
        check_tensor(x, "x", dtype=self.weight_ih_l0.dtype)  # the parameters' dtype
        if self.batch_first:
            x = x.transpose(0, 1)  # [N, T, I] -> [T, N, I]
        check_dim(x, "x", -1, self.input_size)
        if x.shape[0] == 0:
            raise ValueError(f"x must hold at least one time step, got 0 (shape {tuple(x.shape)})")
        initial = self.split_state(h0, x)
        steps = x.shape[0]
        finals: list[list[torch.Tensor]] = [[] for _ in initial]
        layer_input = x
        for layer in range(self.num_layers):
            outputs = []
            for direction, suffix in enumerate(self._suffixes()):
                weights = [
                    getattr(self, f"{name}_l{layer}{suffix}")
                    for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                ]
                index = layer * self.directions + direction
                state = tuple(s[index] for s in initial)
                order = range(steps - 1, -1, -1) if direction == 1 else range(steps)
                hidden: list[torch.Tensor] = [x.new_empty(0)] * steps
                for t in order:  # the backward direction reads the sequence from the end
                    state = self.cell(layer_input[t], state, *weights)
                    hidden[t] = state[0]
                outputs.append(torch.stack(hidden))  # [T, N, H]
                for store, s in zip(finals, state):
                    store.append(s)
            layer_input = torch.cat(outputs, dim=-1)  # [T, N, D·H] feeds the next layer
        output = layer_input.transpose(0, 1) if self.batch_first else layer_input
        return output, self.join_state(tuple(torch.stack(f) for f in finals))


@torch.no_grad()
def gate_trace(
    layer: nn.Module, x: torch.Tensor, kind: type[ScratchRNN]
) -> dict[str, torch.Tensor]:
    """Run the first layer (forward direction) of ``layer`` over one sequence, recording its gates.

    ``kind`` is the from-scratch class of the same cell (:class:`ScratchRNN`,
    :class:`~snippets.sequence_models.lstm.ScratchLSTM` or
    :class:`~snippets.sequence_models.gru.ScratchGRU`): its ``cell`` and
    ``gates`` run on ``layer``'s own weights, step by step. That works for the
    PyTorch layer and for the scratch one, because both name their weights
    the same way.

    Shapes:
        ``x`` ``[T, I]`` (one sequence, already embedded) -> a dict of
        ``[T, H]`` tensors: every gate (LSTM: ``"input"``, ``"forget"``,
        ``"candidate"``, ``"output"``; GRU: ``"reset"``, ``"update"``,
        ``"new"``) and the state (``"hidden"``, and ``"cell"`` for an LSTM).

    Raises:
        TypeError: if ``kind`` is not a :class:`ScratchRNN` class, ``layer``
            has no ``weight_ih_l0`` … ``bias_hh_l0``, or ``x``'s dtype is not
            that of the weights.
        ValueError: if ``x`` is not 2-D, holds no step or not ``layer``'s input
            size, or ``layer``'s weights do not have the number of gate blocks of ``kind``.
    """
    if not (isinstance(kind, type) and issubclass(kind, ScratchRNN)):
        raise TypeError(f"kind must be ScratchRNN or a subclass, got {kind!r}")
    names = [f"{n}_l0" for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    if not all(isinstance(getattr(layer, n, None), torch.Tensor) for n in names):
        raise TypeError(
            f"layer must be a recurrent layer with parameters {', '.join(names)} (nn.RNN, "
            f"nn.LSTM, nn.GRU or a scratch one), got {type(layer).__name__}"
        )
    weights = [getattr(layer, n) for n in names]
    check_tensor(x, "x", ndim=2, floating=True)
    check_tensor(x, "x", dtype=weights[0].dtype)  # the weights' dtype
    check_dim(x, "x", -1, weights[0].shape[1])
    if x.shape[0] == 0:
        raise ValueError(f"x must hold at least one time step, got 0 (shape {tuple(x.shape)})")
    rows = kind.gate_blocks * layer.hidden_size
    if weights[0].shape[0] != rows:
        raise ValueError(
            f"{kind.__name__} stacks {kind.gate_blocks} gate blocks ({rows} rows of weight_ih_l0), "
            f"{type(layer).__name__} has {weights[0].shape[0]}: pass the scratch class of its cell"
        )
    state = tuple(x.new_zeros(1, layer.hidden_size) for _ in kind.state_names)
    trace: dict[str, list[torch.Tensor]] = {}
    for x_t in x:
        gates = kind.gates(x_t[None], state, *weights)
        state = kind.cell(x_t[None], state, *weights)
        for name, value in {**gates, **dict(zip(kind.state_names, state))}.items():
            trace.setdefault(name, []).append(value[0])
    return {name: torch.stack(values) for name, values in trace.items()}


class RecurrentClassifier(nn.Module):
    """Embed tokens, run a PyTorch RNN, LSTM or GRU, classify from the last hidden state.

    The recurrent layer is ``self.rnn``; to start an LSTM's forget gates open,
    call :func:`~snippets.sequence_models.lstm.set_forget_bias` on it.

    Shapes:
        ``tokens`` ``[N, T]`` int64 -> logits ``[N, classes]``.

    Raises:
        ValueError: if ``kind`` is not ``"rnn"``, ``"lstm"`` or ``"gru"``, or
            ``tokens`` holds no step or an id outside ``0 … vocab-1``.
    """

    def __init__(
        self,
        vocab: int,
        classes: int,
        hidden: int = 64,
        kind: str = "lstm",
    ) -> None:
        super().__init__()
        check_choice(kind, "kind", ("rnn", "lstm", "gru"))
        check_positive(vocab, "vocab")
        check_positive(classes, "classes")
        check_positive(hidden, "hidden")
        self.kind = kind
        self.embed = nn.Embedding(vocab, hidden)
        layer = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[kind]
        self.rnn = layer(hidden, hidden, batch_first=True)
        self.head = nn.Linear(hidden, classes)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        check_ids(tokens, "tokens", self.embed.num_embeddings)
        output, _ = self.rnn(self.embed(tokens))  # [N, T, hidden]
        return self.head(output[:, -1])


def input_gradient_norms(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    """How strongly the last output depends on each input step: ``‖∂L/∂x_t‖`` for every ``t``.

    ``model`` is a recurrent layer with ``batch_first=True`` (``nn.RNN``,
    ``nn.LSTM``, ``nn.GRU`` or a scratch one). The "loss" is
    ``L = sum(output[:, -1])``, the top layer's hidden state at the final step,
    so ``‖∂L/∂x_t‖`` measures how much a change at step ``t`` can still move the
    end of the sequence: the signal backpropagation through time carries back.

    Shapes:
        ``x`` ``[N, T, I]`` -> norms ``[T]`` (over the batch and the features).

    Raises:
        ValueError: if ``model`` is not ``batch_first`` (it would read ``x``
            as ``[T, N, I]`` and return norms over the wrong axis), or ``x``
            holds no step or not ``model``'s input size.
        TypeError: if ``x`` is not of the dtype of ``model``'s parameters.
    """
    if not getattr(model, "batch_first", True):
        raise ValueError(
            f"model must be built with batch_first=True, got {type(model).__name__} with "
            f"batch_first=False: it would read x [N, T, I] as [T, N, I]"
        )
    check_tensor(x, "x", ndim=3, floating=True)
    params = list(model.parameters())
    if params:
        check_tensor(x, "x", dtype=params[0].dtype)  # the parameters' dtype
    if hasattr(model, "input_size"):
        check_dim(x, "x", -1, model.input_size)
    if x.shape[1] == 0:
        raise ValueError(f"x must hold at least one time step, got 0 (shape {tuple(x.shape)})")
    x = x.detach().clone().requires_grad_(True)
    output, _ = model(x)
    output[:, -1].sum().backward()
    return x.grad.norm(dim=(0, 2))
