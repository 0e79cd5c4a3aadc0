"""Linear regression fitted by hand with autograd (no optimizer, no ``nn``)."""

from __future__ import annotations

from typing import NamedTuple

import torch

from snippets.common.checks import check_positive, check_tensor


class LineFit(NamedTuple):
    """Result of :func:`fit_line`: the parameters and the loss of every epoch."""

    weight: float
    bias: float
    losses: list[float]


def fit_line(x: torch.Tensor, y: torch.Tensor, lr: float = 0.1, epochs: int = 100) -> LineFit:
    """Fit ``y ≈ w·x + b`` by gradient descent on the mean squared error.

    Autograd computes the gradients; the update is written out by hand inside
    ``torch.no_grad()`` so that the step itself is not recorded.

    Shapes:
        ``x`` and ``y`` are ``[N, 1]``.

    Raises:
        ValueError: if the shapes differ or are not ``[N, 1]``, or ``lr`` or
            ``epochs`` is not positive.
    """
    check_tensor(x, "x", ndim=2, floating=True)
    check_tensor(y, "y", ndim=2, floating=True)
    if x.shape != y.shape or x.shape[1] != 1:
        raise ValueError(f"x and y must both be [N, 1], got {tuple(x.shape)} and {tuple(y.shape)}")
    check_positive(lr, "lr")
    check_positive(epochs, "epochs")
    w = torch.zeros(1, requires_grad=True)  # leaf tensors: the parameters
    b = torch.zeros(1, requires_grad=True)
    losses = []
    for _ in range(epochs):
        prediction = w * x + b  # forward pass
        loss = ((prediction - y) ** 2).mean()  # loss
        loss.backward()  # backward pass: fills w.grad and b.grad
        with torch.no_grad():  # update, not recorded in the graph
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad.zero_()  # gradients accumulate: clear them for the next epoch
        b.grad.zero_()
        losses.append(loss.item())
    return LineFit(w.item(), b.item(), losses)


def least_squares(x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """The exact minimiser of the mean squared error, for comparison.

    Raises:
        ValueError: if ``x`` and ``y`` are not both ``[N, 1]``.
    """
    check_tensor(x, "x", ndim=2, floating=True)
    check_tensor(y, "y", ndim=2, floating=True)
    if x.shape != y.shape or x.shape[1] != 1:
        raise ValueError(f"x and y must both be [N, 1], got {tuple(x.shape)} and {tuple(y.shape)}")
    design = torch.cat([x, torch.ones_like(x)], dim=1)  # columns: x and 1
    solution = torch.linalg.lstsq(design, y).solution
    return solution[0, 0].item(), solution[1, 0].item()
