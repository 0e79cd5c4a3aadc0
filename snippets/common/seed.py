"""Seed every random number generator an example touches."""

from __future__ import annotations

import random

import numpy as np
import torch


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python, NumPy and PyTorch (CPU and all GPUs) and return a generator.

    The returned :class:`torch.Generator` is seeded too; pass it to data
    loaders and samplers so that their order does not depend on what else
    consumed random numbers before.

    Raises:
        TypeError: if ``seed`` is not an ``int``.
        ValueError: if ``seed`` is negative.
    """
    if not isinstance(seed, int) or isinstance(seed, bool):
        raise TypeError(f"seed must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"seed must be >= 0, got {seed}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    return torch.Generator().manual_seed(seed)
