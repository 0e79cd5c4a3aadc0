"""Argument checks that fail early with a message naming the argument.

Every snippet validates its inputs with these helpers, so a wrong shape or
dtype raises a ``ValueError``/``TypeError`` that says *which* argument was
wrong, what was expected and what arrived, instead of an error deep inside
a matrix multiply.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch


def check_tensor(
    x: object,
    name: str,
    *,
    ndim: int | Sequence[int] | None = None,
    dtype: torch.dtype | Sequence[torch.dtype] | None = None,
    floating: bool = False,
) -> torch.Tensor:
    """Check that ``x`` is a tensor with the expected rank and dtype; return it.

    Args:
        x: the value to check.
        name: the argument's name, used in the error message.
        ndim: allowed number(s) of dimensions.
        dtype: allowed dtype(s).
        floating: require a floating-point dtype.

    Raises:
        TypeError: ``x`` is not a tensor, or has the wrong dtype.
        ValueError: ``x`` has the wrong number of dimensions.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(x).__name__}")
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        if x.ndim not in allowed:
            want = allowed[0] if len(allowed) == 1 else " or ".join(map(str, allowed))
            unit = "dimension" if allowed == (1,) else "dimensions"
            raise ValueError(
                f"{name} must have {want} {unit}, got {x.ndim} (shape {tuple(x.shape)})"
            )
    if dtype is not None:
        allowed_dtypes = (dtype,) if isinstance(dtype, torch.dtype) else tuple(dtype)
        if x.dtype not in allowed_dtypes:
            raise TypeError(f"{name} must have dtype {_names(allowed_dtypes)}, got {x.dtype}")
    if floating and not x.is_floating_point():
        raise TypeError(f"{name} must have a floating-point dtype, got {x.dtype}")
    return x


def check_dim(x: torch.Tensor, name: str, dim: int, size: int) -> None:
    """Check that ``x.shape[dim] == size``.

    Raises:
        ValueError: naming the argument, the dimension and both sizes.
    """
    if x.shape[dim] != size:
        raise ValueError(
            f"{name} must have size {size} in dimension {dim}, got {x.shape[dim]} "
            f"(shape {tuple(x.shape)})"
        )


def check_positive(value: float, name: str, *, allow_zero: bool = False) -> None:
    """Check that a number is positive (or non-negative with ``allow_zero``).

    NaN is rejected: every comparison with NaN is false, so without this
    check it would slip through a range test and surface later as a wrong
    answer.

    Raises:
        TypeError: ``value`` is not a real number.
        ValueError: ``value`` is NaN or out of range.
    """
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if value != value:  # NaN is the only value not equal to itself
        raise ValueError(f"{name} must be a number, got nan")
    if value < 0 or (value == 0 and not allow_zero):
        bound = ">= 0" if allow_zero else "> 0"
        raise ValueError(f"{name} must be {bound}, got {value}")


def check_choice(value: object, name: str, choices: Sequence[object]) -> None:
    """Check that ``value`` is one of ``choices``.

    Raises:
        ValueError: naming the argument, the allowed values and the value given.
    """
    if value not in choices:
        raise ValueError(f"{name} must be one of {tuple(choices)}, got {value!r}")


def _names(dtypes: Sequence[torch.dtype]) -> str:
    return " or ".join(str(d) for d in dtypes)
