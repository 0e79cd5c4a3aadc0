"""Weight initialization: Xavier (Glorot) and Kaiming (He), and why the scale matters.

A layer ``y = W x`` with ``fan_in`` inputs multiplies the variance of its
input by ``fan_in · Var(W)``. Choose ``Var(W)`` so that this factor is 1 and
signals keep their size through many layers; get it wrong and they shrink to
zero or blow up, and so do the gradients.
"""

from __future__ import annotations

import math

import torch

from snippets.common.checks import check_choice, check_positive, check_tensor
from snippets.neural_networks.activations import relu, tanh


def _fans(weight: torch.Tensor) -> tuple[int, int]:
    check_tensor(weight, "weight", ndim=2, floating=True)
    fan_out, fan_in = weight.shape  # nn.Linear stores [out, in]
    return fan_in, fan_out


def xavier_uniform_(
    weight: torch.Tensor, gain: float = 1.0, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Fill ``weight`` in place from ``U(−a, a)``, ``a = gain · √(6 / (fan_in + fan_out))``.

    The variance ``a²/3 = gain² · 2 / (fan_in + fan_out)`` compromises between
    keeping the forward signal (needs ``1/fan_in``) and the backward gradient
    (needs ``1/fan_out``) steady. Meant for tanh and sigmoid layers.

    Shapes:
        ``weight`` ``[fan_out, fan_in]``; returned as the same tensor.

    Raises:
        ValueError: if ``weight`` is not 2-D or ``gain`` is not positive.
    """
    fan_in, fan_out = _fans(weight)
    check_positive(gain, "gain")
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        return weight.uniform_(-bound, bound, generator=generator)


def kaiming_normal_(weight: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """Fill ``weight`` in place from ``N(0, 2 / fan_in)`` (He initialisation for ReLU).

    ReLU zeroes half of its inputs on average, halving the second moment;
    the factor 2 puts it back.

    Shapes:
        ``weight`` ``[fan_out, fan_in]``; returned as the same tensor.

    Raises:
        ValueError: if ``weight`` is not 2-D.
    """
    fan_in, _ = _fans(weight)
    std = math.sqrt(2.0 / fan_in)
    with torch.no_grad():
        return weight.normal_(0.0, std, generator=generator)


_INITS = ("small", "xavier", "kaiming", "large")


@torch.no_grad()
def activation_stats(
    init: str,
    activation: str,
    depth: int = 10,
    width: int = 256,
    samples: int = 512,
    seed: int = 0,
) -> list[float]:
    """Standard deviation of the activations after each layer of a deep random MLP.

    ``init`` is ``"small"`` (``N(0, 0.01²)``), ``"xavier"`` (uniform Xavier),
    ``"kaiming"`` (normal Kaiming) or ``"large"`` (``N(0, 1)``); ``activation``
    is ``"tanh"`` or ``"relu"``. Inputs are ``N(0, 1)``. Biases are 0.

    Returns:
        ``depth`` standard deviations, one per layer output.

    Raises:
        ValueError: if ``init`` or ``activation`` is unknown or a size is not positive.
    """
    check_choice(init, "init", _INITS)
    check_choice(activation, "activation", ("tanh", "relu"))
    check_positive(depth, "depth")
    check_positive(width, "width")
    check_positive(samples, "samples")
    generator = torch.Generator().manual_seed(seed)
    f = tanh if activation == "tanh" else relu
    h = torch.randn(samples, width, generator=generator)
    stds = []
    for _ in range(depth):
        w = torch.empty(width, width)
        if init == "xavier":
            xavier_uniform_(w, generator=generator)
        elif init == "kaiming":
            kaiming_normal_(w, generator=generator)
        else:
            w.normal_(0.0, 0.01 if init == "small" else 1.0, generator=generator)
        h = f(h @ w.T)
        stds.append(h.std().item())
    return stds
