"""Positional information for attention, which on its own ignores token order.

* :func:`sinusoidal_features`: sines and cosines of positions at geometric
  frequencies, the one encoder that token positions, diffusion steps and
  DETR's grid share.
* :func:`sinusoidal_encoding`: the fixed sine/cosine table of the original
  Transformer, and :func:`relative_shift` which shows why it encodes relative
  positions (a shift by ``k`` is one fixed rotation).
* :class:`SinusoidalPositionalEncoding` and :class:`LearnedPositionalEmbedding`:
  modules that add positions to a batch of token embeddings ``[N, T, D]``.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snippets.common.checks import check_dim, check_positive, check_tensor


def _check_even(value: int, name: str = "d_model") -> None:
    check_positive(value, name)
    if value % 2:
        raise ValueError(f"{name} must be even, got {value}")


def sinusoidal_features(
    positions: torch.Tensor, dim: int, base: float = 10000.0, interleave: bool = True
) -> torch.Tensor:
    """Sines and cosines of ``positions`` at ``dim/2`` geometrically spaced frequencies.

    The one sinusoidal encoder of the site: token positions in the
    Transformer, diffusion time steps and DETR's 2-D grid all use it.
    Frequency ``i`` is ``ω_i = base^(−2i/dim)`` for ``i = 0 … dim/2 − 1``,
    from one cycle per ``2π`` positions down to one per ``2π·base^((dim−2)/dim)``.
    ``interleave=True`` lays the features out as the Transformer paper does,
    ``[sin ω_0 p, cos ω_0 p, sin ω_1 p, cos ω_1 p, …]``;
    ``interleave=False`` as two halves, ``[sin ω_0 p, sin ω_1 p, …, cos ω_0 p, …]``
    (the layout of DDPM's time embedding and DETR's position code).

    Shapes:
        ``positions`` of any shape ``[...]`` (integer or float) → ``[..., dim]``
        in float32 (float64 if ``positions`` is float64), on its device.

    Raises:
        TypeError: if ``positions`` is not a tensor.
        ValueError: if ``dim`` is not a positive even number or ``base`` is not
            positive.
    """
    check_tensor(positions, "positions")
    _check_even(dim, "dim")
    check_positive(base, "base")
    dtype = torch.float64 if positions.dtype == torch.float64 else torch.float32
    exponent = torch.arange(0, dim, 2, dtype=dtype, device=positions.device) / dim
    frequency = torch.exp(-math.log(base) * exponent)  # base^(-2i/d), in log space
    angle = positions.to(dtype)[..., None] * frequency  # [..., dim/2]
    if interleave:
        return torch.stack([angle.sin(), angle.cos()], dim=-1).flatten(-2)
    return torch.cat([angle.sin(), angle.cos()], dim=-1)


def sinusoidal_encoding(length: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The table ``PE[pos, 2i] = sin(pos / base^(2i/d))``, ``PE[pos, 2i+1] = cos(...)``.

    :func:`sinusoidal_features` of the positions ``0 … length−1``, interleaved.

    Shapes:
        returns ``[length, d_model]`` (float32); ``i`` runs from ``0`` to
        ``d_model/2 - 1``, so every pair of columns is one frequency.

    Raises:
        ValueError: if ``length`` is not positive or ``d_model`` is not a
            positive even number.
    """
    check_positive(length, "length")
    _check_even(d_model)
    return sinusoidal_features(torch.arange(length), d_model, base)


def relative_shift(k: int, d_model: int, base: float = 10000.0) -> torch.Tensor:
    """The matrix ``R_k`` with ``PE[pos + k] = R_k @ PE[pos]`` at every ``pos``.

    It is block diagonal: one 2×2 rotation by angle ``k·ω_i`` per frequency
    ``ω_i``. It depends on the offset ``k`` only, never on ``pos``.

    Raises:
        ValueError: if ``d_model`` is not a positive even number.
    """
    _check_even(d_model)
    frequency = torch.exp(
        -math.log(base) * torch.arange(0, d_model, 2, dtype=torch.float64) / d_model
    )
    angle = k * frequency
    cos, sin = torch.cos(angle), torch.sin(angle)
    rotation = torch.zeros(d_model, d_model, dtype=torch.float64)
    even, odd = torch.arange(0, d_model, 2), torch.arange(1, d_model, 2)
    # sin(a + b) = sin a cos b + cos a sin b;  cos(a + b) = cos a cos b - sin a sin b
    rotation[even, even], rotation[even, odd] = cos, sin
    rotation[odd, even], rotation[odd, odd] = -sin, cos
    return rotation.float()


class SinusoidalPositionalEncoding(nn.Module):
    """Add the fixed sinusoidal table to embeddings, then apply dropout.

    The table is a non-persistent buffer: moved and cast by ``.to``, never
    trained, and not saved in the ``state_dict`` (it is recomputed from the
    formula whenever the module is built).

    Shapes:
        input and output ``[N, T, d_model]`` with ``T <= max_len``.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        check_positive(max_len, "max_len")
        self.register_buffer("table", sinusoidal_encoding(max_len, d_model), persistent=False)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add positions ``0..T-1``.

        Raises:
            TypeError: if ``x`` does not have the table's dtype.
            ValueError: if ``x`` is not ``[N, T, d_model]`` or ``T`` exceeds ``max_len``.
        """
        check_tensor(x, "x", ndim=3, dtype=self.table.dtype)
        check_dim(x, "x", 2, self.table.shape[1])
        if x.shape[1] > len(self.table):
            raise ValueError(f"x has {x.shape[1]} positions, more than max_len={len(self.table)}")
        return self.dropout(x + self.table[: x.shape[1]])


class LearnedPositionalEmbedding(nn.Module):
    """Add a trained vector per position (as in BERT and GPT), then apply dropout.

    Shapes:
        input and output ``[N, T, d_model]`` with ``T <= max_len``.
    """

    def __init__(self, d_model: int, max_len: int = 512, dropout: float = 0.0) -> None:
        super().__init__()
        check_positive(max_len, "max_len")
        self.embedding = nn.Embedding(max_len, d_model)
        nn.init.normal_(self.embedding.weight, std=0.02)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Add positions ``0..T-1``.

        Raises:
            TypeError: if ``x`` does not have the embedding's dtype.
            ValueError: if ``x`` is not ``[N, T, d_model]`` or ``T`` exceeds ``max_len``.
        """
        check_tensor(x, "x", ndim=3, dtype=self.embedding.weight.dtype)
        check_dim(x, "x", 2, self.embedding.embedding_dim)
        if x.shape[1] > self.embedding.num_embeddings:
            raise ValueError(
                f"x has {x.shape[1]} positions, more than max_len={self.embedding.num_embeddings}"
            )
        positions = torch.arange(x.shape[1], device=x.device)
        return self.dropout(x + self.embedding(positions))
