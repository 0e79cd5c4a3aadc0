"""Loss functions written from their formulas, and one-hot encoding.

Every loss returns the mean over the batch, as PyTorch's losses do by
default. ``one_hot`` turns class indices into rows of an identity matrix;
multiplying a one-hot row by a weight matrix picks out one row of it, which
is exactly what ``nn.Embedding`` does without the multiplication
(:func:`snippets.transformers.embeddings.embed_by_one_hot`).
:func:`label_smoothed_cross_entropy` is the cross-entropy the Transformer is
trained with.
"""

from __future__ import annotations

import torch

from snippets.common.checks import check_positive, check_tensor
from snippets.neural_networks.activations import log_softmax


def _check_same_shape(a: torch.Tensor, b: torch.Tensor, names: str) -> None:
    if a.shape != b.shape:
        raise ValueError(
            f"{names} must have the same shape, got {tuple(a.shape)} and {tuple(b.shape)}"
        )


def _check_indices(targets: torch.Tensor, n: int, classes: int) -> None:
    check_tensor(targets, "targets", ndim=1, dtype=torch.int64)
    if len(targets) != n:
        raise ValueError(f"targets must hold {n} labels (one per row), got {len(targets)}")
    if len(targets) and (targets.min() < 0 or targets.max() >= classes):
        raise ValueError(
            f"targets must lie in [0, {classes}), got values in "
            f"[{targets.min().item()}, {targets.max().item()}]"
        )


def mse(predictions: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean squared error ``mean((ŷ − y)²)`` over every element.

    Shapes:
        ``predictions`` and ``targets`` of the same shape; returns a scalar.

    Raises:
        ValueError: if the shapes differ.
    """
    check_tensor(predictions, "predictions", floating=True)
    check_tensor(targets, "targets", floating=True)
    _check_same_shape(predictions, targets, "predictions and targets")
    return ((predictions - targets) ** 2).mean()


def nll(log_probs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Negative log-likelihood: ``−mean_i log p_i[y_i]`` from log-probabilities.

    Shapes:
        ``log_probs`` ``[N, classes]``, ``targets`` ``[N]`` (int64); returns a scalar.

    Raises:
        ValueError: if ``targets`` has the wrong length or a label out of range.
    """
    check_tensor(log_probs, "log_probs", ndim=2, floating=True)
    _check_indices(targets, log_probs.shape[0], log_probs.shape[1])
    picked = log_probs.gather(1, targets.unsqueeze(1)).squeeze(1)  # [N]: log p_i[y_i]
    return -picked.mean()


def cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Cross-entropy from raw scores: ``nll(log_softmax(logits), targets)``.

    Shapes:
        ``logits`` ``[N, classes]``, ``targets`` ``[N]`` (int64); returns a scalar.

    Raises:
        ValueError: if ``targets`` has the wrong length or a label out of range.
    """
    check_tensor(logits, "logits", ndim=2, floating=True)
    return nll(log_softmax(logits, dim=1), targets)


def cross_entropy_grad(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Gradient of :func:`cross_entropy` with respect to the logits: ``(softmax − onehot) / N``.

    The softmax and the logarithm cancel so neatly that the gradient is just
    "predicted probabilities minus the truth", averaged over the batch.

    Shapes:
        ``logits`` ``[N, classes]``, ``targets`` ``[N]``; returns ``[N, classes]``.
    """
    check_tensor(logits, "logits", ndim=2, floating=True)
    _check_indices(targets, logits.shape[0], logits.shape[1])
    probs = torch.exp(log_softmax(logits, dim=1))
    return (probs - one_hot(targets, logits.shape[1]).to(logits.dtype)) / logits.shape[0]


def binary_cross_entropy(
    probs: torch.Tensor, targets: torch.Tensor, eps: float = 1e-12
) -> torch.Tensor:
    """Binary cross-entropy ``−mean(y log p + (1 − y) log(1 − p))`` from probabilities.

    ``p`` is clamped to ``[eps, 1 − eps]`` inside the logarithms; PyTorch
    instead clamps each log at −100. Prefer :func:`binary_cross_entropy_with_logits`.

    Shapes:
        ``probs`` and ``targets`` of the same shape, values in ``[0, 1]``; returns a scalar.

    Raises:
        ValueError: if the shapes differ or ``probs`` leaves ``[0, 1]``.
    """
    check_tensor(probs, "probs", floating=True)
    check_tensor(targets, "targets", floating=True)
    _check_same_shape(probs, targets, "probs and targets")
    if probs.numel() and (probs.min() < 0 or probs.max() > 1):
        raise ValueError(
            f"probs must lie in [0, 1], got values in [{probs.min().item()}, {probs.max().item()}]"
        )
    p = probs.clamp(eps, 1 - eps)
    return -(targets * torch.log(p) + (1 - targets) * torch.log(1 - p)).mean()


def binary_cross_entropy_with_logits(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy from a raw score ``z``: ``mean(max(z, 0) − z y + log(1 + e^{−|z|}))``.

    The same value as ``binary_cross_entropy(sigmoid(z), y)``, rewritten so
    that no ``exp`` can overflow and no ``log`` sees 0.

    Shapes:
        ``logits`` and ``targets`` of the same shape; returns a scalar.

    Raises:
        ValueError: if the shapes differ.
    """
    check_tensor(logits, "logits", floating=True)
    check_tensor(targets, "targets", floating=True)
    _check_same_shape(logits, targets, "logits and targets")
    z = logits
    return (z.clamp(min=0) - z * targets + torch.log1p(torch.exp(-z.abs()))).mean()


def label_smoothed_cross_entropy(
    logits: torch.Tensor, target: torch.Tensor, smoothing: float = 0.1, ignore_index: int = -100
) -> torch.Tensor:
    """Cross-entropy against a smoothed target distribution.

    The target puts ``1 - ε`` on the true class and spreads ``ε`` evenly over
    all ``K`` classes, so the loss is
    ``(1 - ε) · (-log p_true) + ε · mean_k(-log p_k)``, averaged over the
    positions whose target is not ``ignore_index`` (the same definition as
    ``F.cross_entropy(..., label_smoothing=ε)``).

    Shapes:
        ``logits`` ``[M, K]``, ``target`` ``[M]`` (int64) → a scalar.

    Raises:
        ValueError: if ``smoothing`` is outside ``[0, 1)``, the shapes do not
            fit, or a target (other than ``ignore_index``) is not a class index.
    """
    check_tensor(logits, "logits", ndim=2, floating=True)
    check_tensor(target, "target", ndim=1, dtype=torch.int64)
    if not 0.0 <= smoothing < 1.0:
        raise ValueError(f"smoothing must be in [0, 1), got {smoothing}")
    if len(target) != len(logits):
        raise ValueError(f"target must have {len(logits)} entries, got {len(target)}")
    log_p = torch.log_softmax(logits, dim=-1)
    keep = target != ignore_index
    log_p, target = log_p[keep], target[keep]
    classes = logits.shape[1]
    if target.numel() and (target.min() < 0 or target.max() >= classes):
        raise ValueError(
            f"target must lie in [0, {classes}) or equal ignore_index={ignore_index}, "
            f"got values in [{target.min().item()}, {target.max().item()}]"
        )
    true = -log_p.gather(1, target[:, None]).squeeze(1)  # -log p of the true class
    uniform = -log_p.mean(dim=1)  # cross-entropy against the uniform distribution
    return ((1.0 - smoothing) * true + smoothing * uniform).mean()


def one_hot(indices: torch.Tensor, classes: int) -> torch.Tensor:
    """One-hot encode integer labels: row ``i`` is all zeros but a 1 at ``indices[i]``.

    Shapes:
        ``indices`` ``[...]`` (int64) → ``[..., classes]`` (int64).

    Raises:
        ValueError: if ``classes`` is not positive or an index is out of range.
    """
    check_tensor(indices, "indices", dtype=torch.int64)
    check_positive(classes, "classes")
    if indices.numel() and (indices.min() < 0 or indices.max() >= classes):
        raise ValueError(
            f"indices must lie in [0, {classes}), got values in "
            f"[{indices.min().item()}, {indices.max().item()}]"
        )
    return (indices.unsqueeze(-1) == torch.arange(classes, device=indices.device)).long()
