"""Layer normalization from scratch: per-token statistics, then a learned scale and shift.

For every token (every position of every sequence) LayerNorm looks only at
that token's own ``D`` features::

    μ  = mean(x)                      over the normalized dimensions
    σ² = mean((x − μ)²)               biased: divide by D, not D − 1
    y  = (x − μ) / √(σ² + ε) · γ + β

``γ`` (``weight``) and ``β`` (``bias``) have the normalized shape and start
at 1 and 0, so a fresh layer only standardizes.

Why sequences use it instead of BatchNorm: BatchNorm averages each feature
over the *batch* (and, for sequences, over the time steps), so one token's
output depends on which other sentences share its batch, on how much padding
they carry, and, at test time, on running averages gathered during training.
LayerNorm's statistics belong to the token alone: its output is the same
whatever the batch size, the other batch items, the other tokens of the
sequence or the sequence length; it behaves identically in training and at
inference, with one sequence or many, and needs no running statistics.

:func:`layer_norm` computes the same as ``torch.nn.functional.layer_norm``;
:class:`LayerNorm` is :class:`torch.nn.LayerNorm` with the same parameter
names (``weight``, ``bias``), so state dicts load either way.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor

Shape = int | Sequence[int] | torch.Size


def _as_shape(normalized_shape: object) -> tuple[int, ...]:
    """``normalized_shape`` as a tuple of non-negative ints (an int means one dimension)."""
    if isinstance(normalized_shape, int) and not isinstance(normalized_shape, bool):
        shape: tuple = (normalized_shape,)
    elif isinstance(normalized_shape, (Sequence, torch.Size)) and not isinstance(
        normalized_shape, str
    ):
        shape = tuple(normalized_shape)
    else:
        raise TypeError(
            f"normalized_shape must be an int or a sequence of ints, "
            f"got {type(normalized_shape).__name__}"
        )
    if not shape:
        raise ValueError("normalized_shape must name at least one dimension, got ()")
    for size in shape:
        if isinstance(size, bool) or not isinstance(size, int):
            raise TypeError(
                f"normalized_shape must hold ints, got {type(size).__name__} in {shape!r}"
            )
        if size < 0:
            raise ValueError(f"normalized_shape must hold sizes >= 0, got {shape}")
    return shape


def _check_eps(eps: float) -> None:
    check_positive(eps, "eps")
    if math.isinf(eps):
        raise ValueError(f"eps must be finite, got {eps}")


def layer_norm(
    x: torch.Tensor,
    normalized_shape: Shape,
    weight: torch.Tensor | None = None,
    bias: torch.Tensor | None = None,
    eps: float = 1e-5,
) -> torch.Tensor:
    """Normalize the last ``len(normalized_shape)`` dimensions of ``x``, then scale and shift.

    ``y = (x − mean) / √(var + eps) · weight + bias``, with the mean and the
    biased variance taken over the normalized dimensions of each token
    separately. Float16 and bfloat16 inputs are normalized in float32 and
    returned in their own dtype.

    Shapes:
        ``x`` ``[*, *normalized_shape]`` (any number of leading dimensions,
        e.g. ``[N, T, D]`` with ``normalized_shape = D``); ``weight`` and
        ``bias`` ``normalized_shape``; returns the shape of ``x``.

    Raises:
        TypeError: if ``x``, ``weight`` or ``bias`` is not a floating-point
            tensor, ``weight`` or ``bias`` has another dtype than ``x``, or
            ``normalized_shape`` or ``eps`` is not a number/ints.
        ValueError: if ``x`` does not end in ``normalized_shape``, ``weight``
            or ``bias`` does not have that shape, or ``eps`` is not a
            positive finite number.
    """
    check_tensor(x, "x", floating=True)
    shape = _as_shape(normalized_shape)
    if x.ndim < len(shape) or tuple(x.shape[x.ndim - len(shape) :]) != shape:
        raise ValueError(f"x must end in normalized_shape {shape}, got shape {tuple(x.shape)}")
    for name, param in (("weight", weight), ("bias", bias)):
        if param is None:
            continue
        check_tensor(param, name, floating=True)
        if tuple(param.shape) != shape:
            raise ValueError(
                f"{name} must have shape normalized_shape {shape}, got {tuple(param.shape)}"
            )
        if param.dtype != x.dtype:
            raise TypeError(f"{name} must have the dtype of x ({x.dtype}), got {param.dtype}")
    _check_eps(eps)

    dims = tuple(range(-len(shape), 0))  # the normalized (feature) dimensions
    work = x.to(torch.promote_types(x.dtype, torch.float32))  # half precision: stats in float32
    mean = work.mean(dim=dims, keepdim=True)  # [*, 1, ..., 1]: one mean per token
    var = (work - mean).square().mean(dim=dims, keepdim=True)  # biased, like PyTorch
    y = ((work - mean) * torch.rsqrt(var + eps)).to(x.dtype)  # mean 0, variance ~1 per token
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


class LayerNorm(nn.Module):
    """Layer normalization with the parameters and defaults of :class:`torch.nn.LayerNorm`.

    ``weight`` (``γ``, ones) and ``bias`` (``β``, zeros) have shape
    ``normalized_shape``; with ``elementwise_affine=False`` there are none,
    with ``bias=False`` only ``weight``. The names match PyTorch's, so
    ``LayerNorm(d).load_state_dict(nn.LayerNorm(d).state_dict())`` works,
    and the other way round.

    Shapes:
        ``x`` ``[*, *normalized_shape]`` → the same shape.

    Raises:
        TypeError: if ``normalized_shape`` is not an int or a sequence of ints.
        ValueError: if ``normalized_shape`` is empty or negative, or ``eps``
            is not a positive finite number.
    """

    def __init__(
        self,
        normalized_shape: Shape,
        eps: float = 1e-5,
        elementwise_affine: bool = True,
        bias: bool = True,
        device: torch.device | str | None = None,
        dtype: torch.dtype | None = None,
    ) -> None:
        super().__init__()
        self.normalized_shape = _as_shape(normalized_shape)
        _check_eps(eps)
        self.eps = eps
        self.elementwise_affine = elementwise_affine
        factory = {"device": device, "dtype": dtype}
        if elementwise_affine:
            self.weight = nn.Parameter(torch.ones(self.normalized_shape, **factory))
            if bias:
                self.bias = nn.Parameter(torch.zeros(self.normalized_shape, **factory))
            else:
                self.register_parameter("bias", None)
        else:
            self.register_parameter("weight", None)
            self.register_parameter("bias", None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Normalize every token of ``x`` over its last ``len(normalized_shape)`` dimensions."""
        return layer_norm(x, self.normalized_shape, self.weight, self.bias, self.eps)

    def extra_repr(self) -> str:
        return (
            f"{self.normalized_shape}, eps={self.eps}, "
            f"elementwise_affine={self.elementwise_affine}, bias={self.bias is not None}"
        )
