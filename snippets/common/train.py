"""One training loop, shared by every example.

``train_step`` is the five steps of training written out once;
``fit`` repeats it over batches and epochs and records a :class:`History`;
``evaluate`` measures a model without training it. All three call the model
through a *forward* function, ``forward(model, batch) -> (outputs, targets)``,
so one loop serves a classifier (``model(inputs)``), a sequence-to-sequence
model fed the shifted target (``model(src, tgt[:, :-1])``) or a detector that
returns a tuple and is scored against lists of boxes.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from snippets.common.checks import check_positive
from snippets.common.device import to_device

Batch = Any
LossFn = Callable[[Any, Any], torch.Tensor]
Forward = Callable[[nn.Module, Any], tuple[Any, Any]]


def call_model(model: nn.Module, batch: Batch) -> tuple[Any, Any]:
    """The default forward: ``batch = (inputs, targets)`` → ``(model(inputs), targets)``."""
    inputs, targets = batch
    return model(inputs), targets


def batch_size(batch: Batch) -> int:
    """Number of samples in a batch: the length of its first tensor."""
    first = batch
    while isinstance(first, (tuple, list)):
        first = first[0]
    return len(first)


@dataclass
class History:
    """Record of a training run: per-epoch losses and accuracy, per-step learning rate."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    learning_rate: list[float] = field(default_factory=list)


def train_step(
    model: nn.Module,
    batch: Batch,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None = None,
    forward: Forward = call_model,
) -> float:
    """Run the five steps of training on one batch and return its loss.

    The model (step 1) already exists; this does the rest. ``forward`` turns
    the batch into ``(outputs, targets)`` (default :func:`call_model`). With
    ``max_grad_norm``, the gradients of all parameters together are rescaled
    so that their norm is at most that value before the update (gradient
    clipping, ``torch.nn.utils.clip_grad_norm_``).
    """
    predictions, targets = forward(model, batch)  # 2. forward pass
    loss = loss_fn(predictions, targets)  # 3. loss
    optimizer.zero_grad()  # clear gradients left from the previous step
    loss.backward()  # 4. backward pass: fill every parameter's .grad
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()  # 5. update the parameters
    return loss.item()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    device: torch.device | str = "cpu",
    forward: Forward = call_model,
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``batches``, in eval mode.

    Accuracy counts rows whose highest output is the target; it is only
    meaningful for classifiers (outputs ``[N, classes]``, targets ``[N]``) and
    is 0 for other models: read the loss.
    """
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for batch in batches:
        outputs, targets = forward(model, to_device(batch, device))
        n = batch_size(batch)
        total_loss += loss_fn(outputs, targets).item() * n
        if isinstance(outputs, torch.Tensor) and outputs.ndim == 2 and targets.ndim == 1:
            correct += (outputs.argmax(dim=1) == targets).sum().item()
        count += n
    model.train(was_training)
    return total_loss / count, correct / count


def current_lr(optimizer: Any) -> float:
    """The learning rate ``optimizer`` uses for its next step.

    Works for ``torch.optim`` optimizers (the first parameter group's rate)
    and for any object with an ``lr`` attribute, such as the from-scratch
    optimizers of the neural-networks chapter.

    Raises:
        TypeError: if ``optimizer`` has neither ``param_groups`` nor ``lr``.
    """
    groups = getattr(optimizer, "param_groups", None)
    if groups:
        return float(groups[0]["lr"])
    if hasattr(optimizer, "lr"):
        return float(optimizer.lr)
    raise TypeError(
        f"optimizer must have param_groups or an lr attribute, got {type(optimizer).__name__}"
    )


def fit(
    model: nn.Module,
    train_batches: Iterable[Batch],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device | str = "cpu",
    val_batches: Iterable[Batch] | None = None,
    max_grad_norm: float | None = None,
    scheduler: torch.optim.lr_scheduler.LRScheduler | None = None,
    forward: Forward = call_model,
    log: bool = False,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_batches``.

    ``train_batches`` and ``val_batches`` are re-iterated every epoch, so pass
    a :class:`~torch.utils.data.DataLoader` or a list, not a generator. Each
    batch is moved to ``device`` (tensors nested in tuples, lists and dicts
    too) and handed to ``forward``.

    Args:
        scheduler: stepped after every optimizer step (a per-step schedule such
            as warm-up or one-cycle); the learning rate of every step is kept
            in ``History.learning_rate``.
        forward: ``forward(model, batch) -> (outputs, targets)``; the loss is
            ``loss_fn(outputs, targets)``. Default :func:`call_model`.
        max_grad_norm: clip the gradient norm of every step to this value.
        log: print the losses (and accuracy) after every epoch.

    Returns:
        the :class:`History`: mean training loss per epoch (weighted by batch
        size) and, when ``val_batches`` is given, validation loss and accuracy
        per epoch.

    Raises:
        ValueError: if ``epochs`` is not a positive integer, or
            ``max_grad_norm`` is not positive.
    """
    check_positive(epochs, "epochs")
    if max_grad_norm is not None:
        check_positive(max_grad_norm, "max_grad_norm")
    model.to(device)
    history = History()
    for epoch in range(epochs):  # one epoch = one full pass over the training data
        model.train()
        total, count = 0.0, 0
        for batch in train_batches:
            batch = to_device(batch, device)
            history.learning_rate.append(current_lr(optimizer))
            loss = train_step(model, batch, loss_fn, optimizer, max_grad_norm, forward)
            if scheduler is not None:
                scheduler.step()
            n = batch_size(batch)
            total, count = total + loss * n, count + n
        history.train_loss.append(total / count)
        message = f"epoch {epoch + 1}: train loss {history.train_loss[-1]:.4f}"
        if val_batches is not None:
            val_loss, val_acc = evaluate(model, val_batches, loss_fn, device, forward)
            history.val_loss.append(val_loss)
            history.val_accuracy.append(val_acc)
            message += f", val loss {val_loss:.4f}, val accuracy {val_acc:.4f}"
        if log:
            print(message)
    return history
