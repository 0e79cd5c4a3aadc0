"""RMSNorm: LayerNorm without the mean and the bias.

LayerNorm subtracts the mean of the features, divides by their standard
deviation, then scales and shifts. RMSNorm keeps only the division, by the
root mean square, and the scale:

    y = x / sqrt(mean(x²) + eps) * weight

:func:`rms_norm` is the formula written out and equals
``torch.nn.functional.rms_norm``; :class:`RMSNorm` is the layer, with a
``weight`` that loads into ``torch.nn.RMSNorm`` and back.
"""

from __future__ import annotations

import torch
from torch import nn

from snippets.common.checks import check_dim, check_positive, check_tensor


def rms_norm(x: torch.Tensor, weight: torch.Tensor, eps: float = 1e-6) -> torch.Tensor:
    """Normalise ``x`` over its last dimension by its root mean square, then scale.

    Shapes:
        ``x`` ``[..., D]`` (any leading sizes, 0 included), ``weight`` ``[D]``;
        returns ``[..., D]`` in the dtype of ``x``.

    Raises:
        TypeError: if ``x`` or ``weight`` is not a floating-point tensor, or
            their dtypes differ.
        ValueError: if ``weight`` is not ``[D]`` for the last size ``D`` of
            ``x``, or ``eps`` is not a positive number (NaN included).
    """
    check_tensor(x, "x", floating=True)
    check_tensor(weight, "weight", ndim=1, floating=True)
    if x.ndim < 1:
        raise ValueError(f"x must have at least 1 dimension, got shape {tuple(x.shape)}")
    check_dim(weight, "weight", 0, x.shape[-1])
    if weight.dtype != x.dtype:
        raise TypeError(f"weight must have the dtype of x, {x.dtype}, got {weight.dtype}")
    check_positive(eps, "eps")
    mean_square = x.pow(2).mean(dim=-1, keepdim=True)  # [..., 1]: one number per vector
    return x * torch.rsqrt(mean_square + eps) * weight  # no mean subtracted, no bias added


class RMSNorm(nn.Module):
    """Root-mean-square normalisation over the last dimension, with a learned scale.

    ``weight`` ``[dim]`` starts at ones; the ``state_dict`` has the same key
    and shape as ``torch.nn.RMSNorm(dim, eps=eps)``, so weights load both ways.

    Shapes:
        input ``[..., dim]``, output ``[..., dim]``.

    Raises:
        TypeError: if ``dim`` is not an integer.
        ValueError: if ``dim`` is not positive or ``eps`` is not a positive number.
    """

    def __init__(self, dim: int, eps: float = 1e-6) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, int):
            raise TypeError(f"dim must be an int, got {type(dim).__name__}")
        check_positive(dim, "dim")
        check_positive(eps, "eps")
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return rms_norm(x, self.weight, self.eps)

    def extra_repr(self) -> str:
        return f"{self.dim}, eps={self.eps}"
