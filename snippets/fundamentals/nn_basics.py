"""``torch.nn``: modules, layers, activations, losses and containers."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from snippets.common.checks import check_tensor


class TinyNet(nn.Module):
    """A two-layer network written as an ``nn.Module`` subclass.

    Layers assigned as attributes in ``__init__`` are registered: their
    parameters appear in ``model.parameters()`` and move with ``model.to()``.

    Shapes:
        input ``[N, in_features]`` → output ``[N, out_features]``.
    """

    def __init__(self, in_features: int, hidden: int, out_features: int) -> None:
        super().__init__()
        self.hidden = nn.Linear(in_features, hidden)
        self.activation = nn.ReLU()
        self.output = nn.Linear(hidden, out_features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=2, floating=True)
        if x.shape[1] != self.hidden.in_features:
            raise ValueError(
                f"x must have {self.hidden.in_features} features, got {x.shape[1]} "
                f"(shape {tuple(x.shape)})"
            )
        return self.output(self.activation(self.hidden(x)))


def make_mlp(
    sizes: Sequence[int],
    dropout: float = 0.0,
    batch_norm: bool = False,
    activation: Callable[[], nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """A multilayer perceptron as an ``nn.Sequential``: the site's one MLP builder.

    ``sizes = [64, 128, 10]`` gives Flatten → Linear(64→128) → [BatchNorm] →
    ReLU → [Dropout] → Linear(128→10). The input is flattened first, so
    images ``[N, C, H, W]`` go in as they are. The last layer has no
    activation: it returns logits, which ``nn.CrossEntropyLoss`` expects.
    ``activation`` builds each hidden activation, e.g. ``nn.SiLU`` or
    ``functools.partial(nn.LeakyReLU, 0.2)``; the generative models use it
    that way.

    Shapes:
        ``[N, ...]`` with ``sizes[0]`` numbers per sample → ``[N, sizes[-1]]``.

    Raises:
        ValueError: if fewer than two sizes are given, a size is not positive,
            or ``dropout`` is outside ``[0, 1)``.
    """
    if len(sizes) < 2:
        raise ValueError(f"sizes must list at least input and output sizes, got {list(sizes)}")
    if any(s < 1 for s in sizes):
        raise ValueError(f"sizes must be positive, got {list(sizes)}")
    if not 0.0 <= dropout < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout}")
    layers: list[nn.Module] = [nn.Flatten()]
    for n_in, n_out in zip(sizes[:-2], sizes[1:-1]):
        layers.append(nn.Linear(n_in, n_out))
        if batch_norm:
            layers.append(nn.BatchNorm1d(n_out))
        layers.append(activation())
        if dropout > 0:
            layers.append(nn.Dropout(dropout))
    layers.append(nn.Linear(sizes[-2], sizes[-1]))
    return nn.Sequential(*layers)


def count_parameters(model: nn.Module, trainable_only: bool = True) -> int:
    """Number of scalar parameters in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


def loss_examples(logits: torch.Tensor, targets: torch.Tensor) -> dict[str, torch.Tensor]:
    """The three classic losses computed on the same predictions.

    ``CrossEntropyLoss`` takes raw logits; it equals ``NLLLoss`` applied to
    ``log_softmax`` of the logits. ``MSELoss`` compares the softmax
    probabilities with one-hot targets (a regression loss, shown for contrast).

    Shapes:
        ``logits`` ``[N, classes]``, ``targets`` ``[N]`` (int64 class indices).
    """
    check_tensor(logits, "logits", ndim=2, floating=True)
    check_tensor(targets, "targets", ndim=1, dtype=torch.int64)
    one_hot = nn.functional.one_hot(targets, logits.shape[1]).float()
    return {
        "CrossEntropyLoss": nn.CrossEntropyLoss()(logits, targets),
        "NLLLoss(log_softmax)": nn.NLLLoss()(torch.log_softmax(logits, dim=1), targets),
        "MSELoss(softmax, one-hot)": nn.MSELoss()(torch.softmax(logits, dim=1), one_hot),
    }
