"""Rotary position embeddings (RoPE): positions as rotations of queries and keys.

RoPE splits a head's ``head_dim`` features into ``head_dim // 2`` pairs and
rotates pair ``i`` of the vector at position ``m`` by the angle ``m · θ_i``,
with ``θ_i = base^(-2i / head_dim)``. Rotating a query at position ``m`` and a
key at position ``n`` makes their dot product depend on ``m - n`` only.

Two layouts pair the features differently, and a checkpoint only works with
the layout it was trained in:

* ``"halves"``: feature ``i`` pairs with feature ``i + head_dim // 2`` (the
  ``rotate_half`` of GPT-NeoX and of Llama in Hugging Face ``transformers``);
* ``"pairs"``: features ``(0, 1), (2, 3), ...`` are pairs (the original
  RoFormer and Meta's Llama code, written with complex numbers as in
  :func:`rotate_complex`).

:func:`halves_to_pairs_permutation` gives the reordering of a projection's
output features that turns one layout into the other.
"""

from __future__ import annotations

import torch

from snippets.common.checks import check_choice, check_positive, check_tensor

LAYOUTS = ("halves", "pairs")
_INTEGER_DTYPES = (torch.int8, torch.uint8, torch.int16, torch.int32, torch.int64)


def _check_head_dim(head_dim: object) -> None:
    if isinstance(head_dim, bool) or not isinstance(head_dim, int):
        raise TypeError(f"head_dim must be an int, got {type(head_dim).__name__}")
    if head_dim <= 0 or head_dim % 2:
        raise ValueError(f"head_dim must be a positive even number, got {head_dim}")


def _check_positions(positions: object) -> torch.Tensor:
    check_tensor(positions, "positions", ndim=1)
    if positions.dtype not in _INTEGER_DTYPES:
        raise TypeError(f"positions must have an integer dtype, got {positions.dtype}")
    return positions


def _check_x(x: object, positions: torch.Tensor) -> torch.Tensor:
    check_tensor(x, "x", floating=True)
    if x.ndim < 2:
        raise ValueError(f"x must have at least 2 dimensions [..., T, head_dim], got {x.ndim}")
    _check_head_dim(x.shape[-1])
    if x.shape[-2] != positions.shape[0]:
        raise ValueError(
            f"x must have one row per position in dimension -2: positions has "
            f"{positions.shape[0]}, x has {x.shape[-2]} (shape {tuple(x.shape)})"
        )
    return x


def rope_angles(head_dim: int, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """The rotation angle of every (position, pair): ``positions[t] · base^(-2i / head_dim)``.

    Shapes:
        ``positions`` ``[T]`` integers → angles ``[T, head_dim // 2]``, in
        float64 (exact enough for positions in the millions; callers cast
        ``cos`` and ``sin`` to their own dtype).

    Pair ``0`` turns fastest (one radian per position); the last pair turns
    slowest, by about ``1 / base`` radians per position.

    Raises:
        TypeError: ``head_dim`` is not an int, ``positions`` not an integer tensor.
        ValueError: ``head_dim`` is odd or not positive, ``positions`` not 1-D,
            ``base`` not positive.
    """
    _check_head_dim(head_dim)
    _check_positions(positions)
    check_positive(base, "base")
    pair = torch.arange(0, head_dim, 2, dtype=torch.float64, device=positions.device)
    frequencies = base ** (-pair / head_dim)  # [head_dim // 2], θ_i
    return positions.to(torch.float64)[:, None] * frequencies[None, :]  # [T, head_dim // 2]


def apply_rope(
    x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0, layout: str = "halves"
) -> torch.Tensor:
    """Rotate every feature pair of ``x`` by its position's angle.

    Shapes:
        ``x`` ``[..., T, head_dim]`` (e.g. ``[N, heads, T, head_dim]``),
        ``positions`` ``[T]`` integers (the absolute position of each row).
        Returns a tensor of the shape and dtype of ``x``.

    ``layout="halves"`` pairs feature ``i`` with ``i + head_dim // 2``;
    ``layout="pairs"`` pairs ``2i`` with ``2i + 1``. Each pair ``(a, b)`` at
    angle ``φ`` becomes ``(a cos φ − b sin φ, a sin φ + b cos φ)``.

    Raises:
        TypeError: ``x`` is not floating point, ``positions`` not integer.
        ValueError: odd ``head_dim``, ``positions`` not 1-D or of another
            length than ``x``'s ``T`` dimension, or an unknown ``layout``.
    """
    check_choice(layout, "layout", LAYOUTS)
    _check_positions(positions)
    _check_x(x, positions)
    angles = rope_angles(x.shape[-1], positions, base)  # [T, head_dim // 2]
    cos, sin = angles.cos().to(x.dtype), angles.sin().to(x.dtype)
    if layout == "halves":
        a, b = x.chunk(2, dim=-1)  # first half pairs with second half
        return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)
    a, b = x[..., 0::2], x[..., 1::2]  # even features pair with the next odd one
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)


def rotate_complex(x: torch.Tensor, positions: torch.Tensor, base: float = 10000.0) -> torch.Tensor:
    """RoPE in the "pairs" layout with complex numbers: ``(a + ib) · e^{iφ}``.

    Shapes:
        ``x`` ``[..., T, head_dim]`` in float32 or float64, ``positions``
        ``[T]`` integers; returns the shape and dtype of ``x``.

    Features ``(2i, 2i + 1)`` are read as the complex number ``a + ib``;
    multiplying by ``e^{iφ} = cos φ + i sin φ`` rotates it by ``φ``.

    Raises:
        TypeError, ValueError: as :func:`apply_rope`; also for a dtype other
            than float32 or float64 (complex half is not supported everywhere).
    """
    _check_positions(positions)
    _check_x(x, positions)
    check_tensor(x, "x", dtype=(torch.float32, torch.float64))
    angles = rope_angles(x.shape[-1], positions, base)  # [T, head_dim // 2], float64
    rotation = torch.polar(torch.ones_like(angles), angles)  # e^{iφ}, complex128
    pairs = torch.view_as_complex(x.reshape(*x.shape[:-1], -1, 2).contiguous())
    rotation = rotation.to(pairs.dtype)  # complex64 for float32 x
    return torch.view_as_real(pairs * rotation).flatten(-2)


def halves_to_pairs_permutation(head_dim: int) -> torch.Tensor:
    """Feature order that turns a "halves"-layout head into a "pairs"-layout one.

    Shapes:
        returns ``[head_dim]`` int64 indices ``perm`` with
        ``perm[2i] = i`` and ``perm[2i + 1] = i + head_dim // 2``.

    If ``x`` is in the halves layout, ``x[..., perm]`` puts each rotated pair
    side by side, so ``apply_rope(x, p, layout="halves")[..., perm] ==
    apply_rope(x[..., perm], p, layout="pairs")``. For a model, reorder the
    output rows of the query and key projections head by head
    (``W.view(heads, head_dim, dim)[:, perm]``); ``perm.argsort()`` goes back.

    Raises:
        TypeError, ValueError: ``head_dim`` is not a positive even int.
    """
    _check_head_dim(head_dim)
    half = head_dim // 2
    first = torch.arange(half)
    return torch.stack((first, first + half), dim=-1).flatten()  # [0, h, 1, h+1, ...]
