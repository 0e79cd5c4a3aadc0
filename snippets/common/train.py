"""One small training loop, shared by every example.

``train_step`` is the five steps of training written out once;
``fit`` repeats it over batches and epochs and records a :class:`History`.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import torch
from torch import nn

from snippets.common.checks import check_positive

Batch = tuple[torch.Tensor, torch.Tensor]
LossFn = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


@dataclass
class History:
    """Per-epoch record of a training run."""

    train_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def train_step(
    model: nn.Module,
    batch: Batch,
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    max_grad_norm: float | None = None,
) -> float:
    """Run the five steps of training on one batch and return its loss.

    The model (step 1) already exists; this does the rest. With
    ``max_grad_norm``, the gradients of all parameters together are rescaled
    so that their norm is at most that value before the update (gradient
    clipping, ``torch.nn.utils.clip_grad_norm_``).
    """
    inputs, targets = batch
    predictions = model(inputs)  # 2. forward pass
    loss = loss_fn(predictions, targets)  # 3. loss
    optimizer.zero_grad()  # clear gradients left from the previous step
    loss.backward()  # 4. backward pass: fill every parameter's .grad
    if max_grad_norm is not None:
        nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
    optimizer.step()  # 5. update the parameters
    return loss.item()


def accuracy(logits: torch.Tensor, targets: torch.Tensor) -> float:
    """Fraction of rows whose highest logit is the target class.

    Shapes:
        ``logits`` ``[N, classes]``, ``targets`` ``[N]``.

    Raises:
        ValueError: if the shapes do not fit together.
    """
    if logits.ndim != 2 or targets.shape != logits.shape[:1]:
        raise ValueError(
            f"logits must be [N, classes] and targets [N], got {tuple(logits.shape)} "
            f"and {tuple(targets.shape)}"
        )
    return (logits.argmax(dim=1) == targets).float().mean().item()


@torch.no_grad()
def evaluate(
    model: nn.Module,
    batches: Iterable[Batch],
    loss_fn: LossFn,
    device: torch.device | str = "cpu",
) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` over ``batches``, in eval mode.

    Accuracy is only meaningful for classifiers; for other models read the loss.
    """
    was_training = model.training
    model.eval()
    total_loss, correct, count = 0.0, 0, 0
    for inputs, targets in batches:
        inputs, targets = inputs.to(device), targets.to(device)
        outputs = model(inputs)
        total_loss += loss_fn(outputs, targets).item() * len(inputs)
        if isinstance(outputs, torch.Tensor) and outputs.ndim == 2 and targets.ndim == 1:
            correct += (outputs.argmax(dim=1) == targets).sum().item()
        count += len(inputs)
    model.train(was_training)
    return total_loss / count, correct / count


def fit(
    model: nn.Module,
    train_batches: Iterable[Batch],
    loss_fn: LossFn,
    optimizer: torch.optim.Optimizer,
    epochs: int,
    device: torch.device | str = "cpu",
    val_batches: Iterable[Batch] | None = None,
    max_grad_norm: float | None = None,
) -> History:
    """Train ``model`` for ``epochs`` passes over ``train_batches``.

    ``train_batches`` and ``val_batches`` are re-iterated every epoch, so pass
    a :class:`~torch.utils.data.DataLoader` or a list, not a generator.

    Returns:
        the :class:`History`: mean training loss per epoch and, when
        ``val_batches`` is given, validation loss and accuracy per epoch.
        ``max_grad_norm`` (optional) clips the gradient norm of every step.

    Raises:
        ValueError: if ``epochs`` is not a positive integer, or
            ``max_grad_norm`` is not positive.
    """
    check_positive(epochs, "epochs")
    if max_grad_norm is not None:
        check_positive(max_grad_norm, "max_grad_norm")
    model.to(device)
    history = History()
    for _ in range(epochs):  # one epoch = one full pass over the training data
        model.train()
        losses, sizes = [], []
        for inputs, targets in train_batches:
            batch = (inputs.to(device), targets.to(device))
            losses.append(train_step(model, batch, loss_fn, optimizer, max_grad_norm))
            sizes.append(len(inputs))
        history.train_loss.append(sum(l * n for l, n in zip(losses, sizes)) / sum(sizes))
        if val_batches is not None:
            val_loss, val_acc = evaluate(model, val_batches, loss_fn, device)
            history.val_loss.append(val_loss)
            history.val_accuracy.append(val_acc)
    return history
