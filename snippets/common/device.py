"""Pick the compute device and a problem size that fits it.

Examples run on a 2-core laptop by default and grow on a GPU. ``pick_device``
chooses the best available backend; ``preset`` returns the size meant for it,
so one script serves both without branches of its own.

Smoke mode (``T2T_SMOKE=1``) checks the GPU sizes without a GPU: ``preset``
returns the ``gpu`` value on every device, except for loop lengths and the
amount of data (batch size, number of samples), which pass a tiny ``smoke``
value so that the run takes seconds, and ``smoke_cut`` keeps a slice of a
large evaluation set. Model and input shapes keep their GPU values. The test suite runs every
example this way (``tests/test_gallery_smoke.py``), with ``python -O`` so that
the quality bars, which need the full training, are not asserted.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import TypeVar

import torch

T = TypeVar("T")
S = TypeVar("S", bound=Sequence)

#: Environment variable that forces a device, e.g. ``T2T_DEVICE=cpu``.
DEVICE_ENV = "T2T_DEVICE"
#: Environment variable that turns smoke mode on: ``T2T_SMOKE=1``.
SMOKE_ENV = "T2T_SMOKE"
_KINDS = ("cuda", "mps", "cpu")


def pick_device(prefer: str | None = None) -> torch.device:
    """Return the best available device: CUDA, then Apple's MPS, then the CPU.

    Args:
        prefer: ``"cuda"``, ``"mps"`` or ``"cpu"`` to force one. Defaults to the
            ``T2T_DEVICE`` environment variable, then automatic choice.

    Raises:
        ValueError: if ``prefer`` names an unknown device kind.
        RuntimeError: if the preferred device is not available here.
    """
    prefer = prefer if prefer is not None else os.environ.get(DEVICE_ENV) or None
    if prefer is not None:
        if prefer not in _KINDS:
            raise ValueError(f"prefer must be one of {_KINDS}, got {prefer!r}")
        if not _available(prefer):
            raise RuntimeError(f"device {prefer!r} was requested but is not available")
        return torch.device(prefer)
    for kind in _KINDS:
        if _available(kind):
            return torch.device(kind)
    return torch.device("cpu")  # pragma: no cover - the loop always ends at cpu


def _available(kind: str) -> bool:
    if kind == "cuda":
        return torch.cuda.is_available()
    if kind == "mps":
        return bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    return True


def smoke_mode() -> bool:
    """Whether smoke mode is on: ``T2T_SMOKE`` is set to anything but ``""`` or ``"0"``."""
    return os.environ.get(SMOKE_ENV, "") not in ("", "0")


def preset(
    cpu: T, gpu: T, device: torch.device | str | None = None, *, smoke: T | None = None
) -> T:
    """Choose a size: ``cpu`` on the CPU, ``gpu`` on CUDA or MPS.

    In smoke mode (:func:`smoke_mode`) the answer is ``smoke`` when given (a
    loop length cut to a handful of steps, or fewer samples), else ``gpu``,
    whatever the device.

    >>> preset(cpu=10, gpu=100, device="cpu")
    10
    """
    if smoke_mode():
        return gpu if smoke is None else smoke
    kind = torch.device(device).type if device is not None else pick_device().type
    return cpu if kind == "cpu" else gpu


def smoke_cut(items: S, n: int) -> S:
    """The first ``n`` of ``items`` in smoke mode, all of them otherwise.

    For evaluation sets that would take longer than the smoke run's few
    training steps: ``val_data = smoke_cut(val_data, 2_000)``.
    """
    return items[:n] if smoke_mode() else items


def to_device(obj: T, device: torch.device | str) -> T:
    """Move a tensor, a module, or a (nested) tuple/list/dict of them to ``device``.

    Non-tensor leaves (ints, strings, ``None``) are returned unchanged.
    """
    if isinstance(obj, (torch.Tensor, torch.nn.Module)):
        return obj.to(device)
    if isinstance(obj, dict):
        return type(obj)({k: to_device(v, device) for k, v in obj.items()})
    if isinstance(obj, (list, tuple)):
        moved = [to_device(v, device) for v in obj]
        return type(obj)(*moved) if hasattr(obj, "_fields") else type(obj)(moved)
    return obj


@contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with ``n`` PyTorch CPU threads, then restore the previous count.

    Small models called many times (an agent acting step by step, latency
    measurements at batch size 1) run fastest on one thread: waking the
    others costs more than they save.

    Raises:
        ValueError: if ``n`` is not positive.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive int, got {n!r}")
    previous = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(previous)
