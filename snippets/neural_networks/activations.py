"""Activation functions and their derivatives, written with plain tensor operations.

Each activation ``f`` comes with its derivative ``f'`` (the ``*_grad``
functions), which is what backpropagation multiplies by. ``softmax`` and
``log_softmax`` turn a row of scores into probabilities; they subtract the
row's maximum first so that ``exp`` never overflows.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from snippets.common.checks import check_positive, check_tensor

Activation = Callable[[torch.Tensor], torch.Tensor]


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid ``1 / (1 + e^{-x})``, squashing to ``(0, 1)``.

    Computed as ``e^{x} / (1 + e^{x})`` where ``x < 0`` so that ``e^{-x}``
    never overflows for large negative inputs.

    Shapes:
        any shape in, the same shape out.
    """
    check_tensor(x, "x", floating=True)
    e = torch.exp(-x.abs())  # always in (0, 1]
    return torch.where(x >= 0, 1 / (1 + e), e / (1 + e))


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """Derivative of the sigmoid: ``σ(x) (1 − σ(x))``, at most 1/4 (at 0).

    Shapes:
        any shape in, the same shape out.
    """
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent ``(e^x − e^{−x}) / (e^x + e^{−x}) = 2σ(2x) − 1``, in ``(−1, 1)``.

    Shapes:
        any shape in, the same shape out.
    """
    check_tensor(x, "x", floating=True)
    return 2 * sigmoid(2 * x) - 1


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    """Derivative of tanh: ``1 − tanh(x)²``, at most 1 (at 0).

    Shapes:
        any shape in, the same shape out.
    """
    return 1 - tanh(x) ** 2


def relu(x: torch.Tensor) -> torch.Tensor:
    """Rectified linear unit ``max(0, x)``.

    Shapes:
        any shape in, the same shape out.
    """
    check_tensor(x, "x", floating=True)
    return torch.where(x > 0, x, torch.zeros_like(x))


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """Derivative of ReLU: 1 where ``x > 0``, else 0 (PyTorch also uses 0 at ``x = 0``).

    Shapes:
        any shape in, the same shape out.
    """
    check_tensor(x, "x", floating=True)
    return (x > 0).to(x.dtype)


def leaky_relu(x: torch.Tensor, slope: float = 0.01) -> torch.Tensor:
    """Leaky ReLU: ``x`` for ``x > 0``, ``slope · x`` otherwise.

    The small negative slope keeps a gradient flowing for negative inputs, so
    a unit cannot "die" (be stuck at zero output and zero gradient).

    Shapes:
        any shape in, the same shape out.

    Raises:
        ValueError: if ``slope`` is negative.
    """
    check_tensor(x, "x", floating=True)
    check_positive(slope, "slope", allow_zero=True)
    return torch.where(x > 0, x, slope * x)


def leaky_relu_grad(x: torch.Tensor, slope: float = 0.01) -> torch.Tensor:
    """Derivative of Leaky ReLU: 1 for ``x > 0``, ``slope`` otherwise.

    Shapes:
        any shape in, the same shape out.
    """
    check_tensor(x, "x", floating=True)
    check_positive(slope, "slope", allow_zero=True)
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, slope))


def gelu(x: torch.Tensor) -> torch.Tensor:
    """Gaussian error linear unit ``x Φ(x)``, with ``Φ`` the standard normal CDF.

    A smooth ReLU: it weights ``x`` by the probability that a standard normal
    variable is below ``x``. Transformers use it in their feed-forward blocks.

    Shapes:
        any shape in, the same shape out.
    """
    check_tensor(x, "x", floating=True)
    return x * 0.5 * (1 + torch.erf(x / math.sqrt(2)))


def gelu_grad(x: torch.Tensor) -> torch.Tensor:
    """Derivative of GELU: ``Φ(x) + x φ(x)``, with ``φ`` the standard normal density.

    Shapes:
        any shape in, the same shape out.
    """
    check_tensor(x, "x", floating=True)
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    pdf = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    return cdf + x * pdf


#: Every element-wise activation with its derivative, by name.
ACTIVATIONS: dict[str, tuple[Activation, Activation]] = {
    "sigmoid": (sigmoid, sigmoid_grad),
    "tanh": (tanh, tanh_grad),
    "relu": (relu, relu_grad),
    "leaky_relu": (leaky_relu, leaky_relu_grad),
    "gelu": (gelu, gelu_grad),
}


def softmax_naive(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax straight from the formula ``e^{x_i} / Σ_j e^{x_j}``: do not use.

    ``exp`` overflows to ``inf`` for scores above about 88 in float32, and
    ``inf / inf`` is ``nan``. Shown only to compare with :func:`softmax`.

    Shapes:
        any shape in, the same shape out; rows along ``dim`` sum to 1.
    """
    check_tensor(x, "x", floating=True)
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Numerically stable softmax: subtract the maximum of each row first.

    ``softmax(x) = softmax(x − c)`` for any constant ``c``; with ``c = max x``
    every exponent is ``≤ 0``, so ``exp`` lies in ``(0, 1]`` and cannot overflow.

    Shapes:
        any shape in, the same shape out; rows along ``dim`` sum to 1.
    """
    check_tensor(x, "x", floating=True)
    if x.numel() == 0:  # nothing to normalise (and no maximum to take): empty out
        return x.clone()
    shifted = x - x.amax(dim=dim, keepdim=True)
    e = torch.exp(shifted)
    return e / e.sum(dim=dim, keepdim=True)


def log_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Stable ``log softmax(x) = x − max − log Σ_j e^{x_j − max}`` (log-sum-exp trick).

    Taking ``log`` of :func:`softmax` would give ``−inf`` wherever a
    probability underflows to 0; this form stays finite.

    Shapes:
        any shape in, the same shape out.
    """
    check_tensor(x, "x", floating=True)
    if x.numel() == 0:
        return x.clone()
    shifted = x - x.amax(dim=dim, keepdim=True)
    return shifted - torch.log(torch.exp(shifted).sum(dim=dim, keepdim=True))
