"""SwiGLU: the gated feed-forward block of today's language models.

The Transformer's feed-forward block is ``down(relu(up(x)))`` with a hidden
size of ``4 * dim``. A gated linear unit (GLU) computes two projections of
the input and multiplies them element by element, one of them passed through
a nonlinearity first: the *gate*. SwiGLU uses SiLU (also called Swish) as
the gate's nonlinearity:

    SwiGLU(x) = down(silu(gate(x)) * up(x))

Three weight matrices instead of two: to keep the parameter count of the
``4 * dim`` ReLU block (``8 * dim²`` weights), the hidden size shrinks to
two thirds of ``4 * dim`` (:func:`swiglu_hidden`).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_dim, check_tensor


def _check_size(value: object, name: str) -> None:
    """A positive int, else a TypeError/ValueError naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")


def swiglu_hidden(dim: int, multiple_of: int = 8) -> int:
    """The hidden size of SwiGLU: two thirds of ``4 * dim``, rounded up to ``multiple_of``.

    ``3 * dim * hidden`` weights then come within a few percent of the
    ``8 * dim²`` of a ReLU MLP with hidden size ``4 * dim``; rounding up to a
    multiple of 8 keeps matrix sizes friendly to the hardware (Llama rounds
    to 256). ``swiglu_hidden(4096) == 10928``.

    Raises:
        TypeError: if ``dim`` or ``multiple_of`` is not an int.
        ValueError: if either is not positive.
    """
    _check_size(dim, "dim")
    _check_size(multiple_of, "multiple_of")
    hidden = 2 * (4 * dim) // 3  # two thirds of the ReLU MLP's 4 * dim
    return multiple_of * -(-hidden // multiple_of)  # round up to a multiple


class SwiGLU(nn.Module):
    """The SwiGLU feed-forward block: ``down(silu(gate(x)) * up(x))``, no biases.

    ``gate`` and ``up`` are ``nn.Linear(dim, hidden, bias=False)``, ``down``
    is ``nn.Linear(hidden, dim, bias=False)``; ``hidden`` defaults to
    :func:`swiglu_hidden` ``(dim)``.

    Shapes:
        input ``[..., dim]`` (any leading sizes, 0 included), output ``[..., dim]``.

    Raises:
        TypeError: if ``dim`` or ``hidden`` is not an int, or the input is
            not a tensor of the weights' floating-point dtype.
        ValueError: if ``dim`` or ``hidden`` is not positive, or the input's
            last size is not ``dim``.
    """

    def __init__(self, dim: int, hidden: int | None = None) -> None:
        super().__init__()
        _check_size(dim, "dim")
        if hidden is None:
            hidden = swiglu_hidden(dim)
        _check_size(hidden, "hidden")
        self.dim, self.hidden = dim, hidden
        self.gate = nn.Linear(dim, hidden, bias=False)
        self.up = nn.Linear(dim, hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", floating=True)
        if x.ndim < 1:
            raise ValueError(f"x must have at least 1 dimension, got shape {tuple(x.shape)}")
        check_dim(x, "x", -1, self.dim)
        if x.dtype != self.up.weight.dtype:
            want = self.up.weight.dtype
            raise TypeError(f"x must have the weights' dtype, {want}, got {x.dtype}")
        return self.down(F.silu(self.gate(x)) * self.up(x))  # the gate scales each hidden unit
