"""Autograd: the graph PyTorch records, its gradients, and how to stop it."""

from __future__ import annotations

import torch

from snippets.common.checks import check_tensor


def graph_nodes(x_value: float = 2.0) -> dict[str, torch.Tensor]:
    """Build ``z = sin(x²)`` and run backward; return the leaf, intermediate and root.

    ``x`` is a *leaf*: created by the user with ``requires_grad=True``.
    ``y = x²`` is an *intermediate* node: it has a ``grad_fn``.
    ``z = sin(y)`` is the *root*: ``backward()`` starts here.
    After ``z.backward()`` only the leaf keeps a ``.grad``.
    """
    x = torch.tensor(x_value, requires_grad=True)
    y = x**2
    z = torch.sin(y)
    z.backward()
    return {"leaf x": x, "intermediate y": y, "root z": z}


def hand_gradient(x: torch.Tensor) -> torch.Tensor:
    """dz/dx of ``z = sin(x²)`` by the chain rule: ``cos(x²) · 2x``."""
    check_tensor(x, "x", floating=True)
    return torch.cos(x**2) * 2 * x


def accumulated_gradient(x_value: float, passes: int) -> torch.Tensor:
    """Run backward ``passes`` times without zeroing and return ``x.grad``.

    Gradients *add up*: after ``passes`` backward calls ``x.grad`` holds
    ``passes`` times the derivative. That is why training loops call
    ``optimizer.zero_grad()`` (or ``x.grad.zero_()``) before every backward.

    Raises:
        ValueError: if ``passes`` is less than 1.
    """
    if passes < 1:
        raise ValueError(f"passes must be >= 1, got {passes}")
    x = torch.tensor(x_value, requires_grad=True)
    for _ in range(passes):
        z = x**3  # dz/dx = 3x²
        z.backward()
    return x.grad


def stop_tracking(x: torch.Tensor) -> dict[str, torch.Tensor]:
    """The three ways to compute with ``x`` without recording a graph.

    1. ``x.detach()`` returns a tensor sharing the data, cut off from the graph.
    2. ``torch.no_grad()`` turns recording off inside a ``with`` block.
    3. ``x.requires_grad_(False)`` switches tracking off on the leaf itself
       (here on a detached copy, so the caller's ``x`` is left as it was).

    Raises:
        ValueError: if ``x`` does not require gradients to begin with.
    """
    check_tensor(x, "x", floating=True)
    if not x.requires_grad:
        raise ValueError("x must have requires_grad=True, got a tensor that is not tracked")
    detached = x.detach() ** 2
    with torch.no_grad():
        no_grad = x**2
    leaf = x.detach().clone().requires_grad_(True)
    leaf.requires_grad_(False)
    switched_off = leaf**2
    return {"detach()": detached, "no_grad()": no_grad, "requires_grad_(False)": switched_off}


def double_until(x: torch.Tensor, limit: float) -> tuple[torch.Tensor, int]:
    """Double ``x`` until its absolute value exceeds ``limit``: a graph built by running.

    How many multiplications are recorded depends on the *value* of ``x``.
    A static graph has to be declared before it sees data; PyTorch records
    whatever Python actually executed, loops and branches included, so the
    gradient is ``2 ** steps``.

    Raises:
        ValueError: if ``x`` is not a scalar or is zero, or ``limit`` is not positive.
    """
    check_tensor(x, "x", ndim=0, floating=True)
    if x.item() == 0:
        raise ValueError("x must be non-zero, got 0 (doubling would never stop)")
    if limit <= 0:
        raise ValueError(f"limit must be > 0, got {limit}")
    steps = 0
    while x.abs() <= limit:
        x = x * 2
        steps += 1
    return x, steps
