"""Regularization: dropout, batch normalization, weight decay and early stopping.

Each one makes a network that fits its training data well also do well on
data it has not seen. Dropout and batch norm behave differently in training
and in evaluation; that is why ``model.train()`` and ``model.eval()`` exist.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable

import torch
from torch import nn

from snippets.common.checks import check_dim, check_positive, check_tensor


def dropout(
    x: torch.Tensor,
    p: float,
    training: bool = True,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Inverted dropout: zero each element with probability ``p``, scale the rest by ``1/(1 − p)``.

    The scaling keeps the expected value of every element unchanged, so at
    evaluation time (``training=False``) the input passes through untouched.

    Shapes:
        any shape in, the same shape out.

    Raises:
        ValueError: if ``p`` is outside ``[0, 1)``.
    """
    check_tensor(x, "x", floating=True)
    check_positive(p, "p", allow_zero=True)
    if p >= 1:
        raise ValueError(f"p must be in [0, 1), got {p}")
    if not training or p == 0:
        return x
    keep = torch.rand(x.shape, generator=generator, device=x.device) >= p
    return x * keep / (1 - p)


class ScratchBatchNorm(nn.Module):
    """Batch normalization, written out: ``nn.BatchNorm1d`` and ``nn.BatchNorm2d`` in one.

    Dimension 1 holds the features (channels). Training: normalise each
    feature with the mean and (biased) variance of *all* its values in the
    batch (over the samples, and for images over every position too: ``N·H·W``
    numbers per channel), then scale by ``γ`` and shift by ``β``; update
    running estimates ``r ← (1 − m) r + m · batch statistic`` (the running
    variance uses the unbiased batch variance, as PyTorch does). Evaluation:
    normalise with the running estimates, so one sample's output does not
    depend on the rest of its batch.

    Shapes:
        input ``[N, features]``, ``[N, features, L]`` or
        ``[N, features, H, W]`` → output of the same shape.

    Raises:
        ValueError: if ``features`` or ``eps`` is not positive, or ``momentum``
            is outside ``(0, 1]``.
    """

    def __init__(self, features: int, eps: float = 1e-5, momentum: float = 0.1) -> None:
        super().__init__()
        check_positive(features, "features")
        check_positive(eps, "eps")
        check_positive(momentum, "momentum")
        if momentum > 1:
            raise ValueError(f"momentum must be in (0, 1], got {momentum}")
        self.eps, self.momentum = eps, momentum
        self.weight = nn.Parameter(torch.ones(features))  # γ
        self.bias = nn.Parameter(torch.zeros(features))  # β
        self.register_buffer("running_mean", torch.zeros(features))
        self.register_buffer("running_var", torch.ones(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", ndim=(2, 3, 4), floating=True)
        check_dim(x, "x", 1, len(self.weight))
        dims = [0, *range(2, x.ndim)]  # every dimension but the features
        shape = [1, -1] + [1] * (x.ndim - 2)  # broadcast per-feature values
        if self.training:
            count = x.numel() // x.shape[1]  # values per feature: N, N·L or N·H·W
            if count < 2:
                raise ValueError(
                    f"x must hold at least 2 values per feature in training mode, got {count} "
                    f"(shape {tuple(x.shape)})"
                )
            mean = x.mean(dim=dims)
            var = x.var(dim=dims, unbiased=False)
            with torch.no_grad():
                unbiased = var * count / (count - 1)
                self.running_mean.mul_(1 - self.momentum).add_(self.momentum * mean)
                self.running_var.mul_(1 - self.momentum).add_(self.momentum * unbiased)
        else:
            mean, var = self.running_mean, self.running_var
        x_hat = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + self.eps)
        return self.weight.view(shape) * x_hat + self.bias.view(shape)


def l2_penalty(params: Iterable[torch.Tensor], weight_decay: float) -> torch.Tensor:
    """The weight-decay term ``(λ / 2) Σ ‖θ‖²`` to add to the loss.

    Its gradient is ``λθ``: adding it to the loss is the same as passing
    ``weight_decay=λ`` to SGD. Usually only weight matrices are decayed,
    not biases.

    Raises:
        ValueError: if ``weight_decay`` is negative or ``params`` is empty.
    """
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    params = list(params)
    if not params:
        raise ValueError("params must hold at least one tensor, got none")
    return 0.5 * weight_decay * sum((p**2).sum() for p in params)


class EarlyStopping:
    """Stop training when the validation loss has not improved for ``patience`` epochs.

    Call :meth:`step` with each epoch's validation loss; it returns ``True``
    when training should stop. The best model's weights are kept in
    ``best_state`` (pass the model to :meth:`step`), to be restored with
    ``model.load_state_dict(stopper.best_state)``.

    Raises:
        ValueError: if ``patience`` is not positive or ``min_delta`` is negative.
    """

    def __init__(self, patience: int = 10, min_delta: float = 0.0) -> None:
        check_positive(patience, "patience")
        check_positive(min_delta, "min_delta", allow_zero=True)
        self.patience, self.min_delta = patience, min_delta
        self.best = math.inf
        self.best_epoch = -1
        self.epoch = -1
        self.best_state: dict[str, torch.Tensor] | None = None

    def step(self, val_loss: float, model: nn.Module | None = None) -> bool:
        """Record one epoch's validation loss; return whether to stop.

        Raises:
            ValueError: if ``val_loss`` is not a finite number.
        """
        if not math.isfinite(val_loss):
            raise ValueError(f"val_loss must be a finite number, got {val_loss}")
        self.epoch += 1
        if val_loss < self.best - self.min_delta:
            self.best, self.best_epoch = val_loss, self.epoch
            if model is not None:
                self.best_state = copy.deepcopy(model.state_dict())
        return self.epoch - self.best_epoch >= self.patience
