"""Measures of a classifier: accuracy, the confusion matrix, and predictions to feed them.

Shapes follow PyTorch's losses: logits ``[N, classes]``, integer labels ``[N]``.
"""

from __future__ import annotations

import torch
from torch import nn

from snippets.common.device import to_device


@torch.no_grad()
def predict(
    model: nn.Module, inputs: torch.Tensor, device: torch.device | str = "cpu"
) -> torch.Tensor:
    """Run ``model`` on ``inputs`` in eval mode and return its outputs on the CPU.

    The model's training mode is restored afterwards, so dropout and batch
    norm behave as before the call.

    Shapes:
        ``inputs`` ``[N, ...]`` → the model's outputs, e.g. logits ``[N, classes]``.
    """
    was_training = model.training
    model.eval()
    try:
        return model(to_device(inputs, device)).cpu()
    finally:
        model.train(was_training)


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


def confusion_matrix(predicted: torch.Tensor, target: torch.Tensor, classes: int) -> torch.Tensor:
    """Count matrix ``C[true, predicted]`` of shape ``[classes, classes]``.

    Raises:
        ValueError: if the label tensors differ in shape or hold a label
            outside ``[0, classes)``.
    """
    if predicted.shape != target.shape:
        raise ValueError(
            f"predicted and target must have the same shape, got {tuple(predicted.shape)} "
            f"and {tuple(target.shape)}"
        )
    both = torch.cat([predicted.flatten(), target.flatten()])
    if len(both) and (both.min() < 0 or both.max() >= classes):
        raise ValueError(
            f"labels must lie in [0, {classes}), got values in [{both.min()}, {both.max()}]"
        )
    flat = target.flatten().long() * classes + predicted.flatten().long()
    return torch.bincount(flat, minlength=classes * classes).reshape(classes, classes)
