"""Offline datasets every chapter uses: handwritten digits, a text corpus, loaders.

Nothing here touches the network. The digits ship inside scikit-learn and the
text inside the standard library. Every loader is seeded, so the same call
returns the same tensors on every machine. Each chapter's own tasks live in
that chapter's ``data`` module.
"""

from __future__ import annotations

from collections.abc import Sequence
from pydoc_data.topics import topics
from typing import Any, NamedTuple

import torch
from torch.utils.data import DataLoader, Dataset, TensorDataset

from snippets.common.checks import check_positive, check_tensor


class Split(NamedTuple):
    """Train and test tensors of one dataset."""

    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor


def digits(test_fraction: float = 0.25, seed: int = 0, flat: bool = False) -> Split:
    """Handwritten digits (8×8 grey images, 10 classes) from scikit-learn.

    The 1,797 images ship inside scikit-learn, so this never downloads. Pixel
    values are scaled from 0–16 to 0–1. The split is stratified and fixed by
    ``seed``.

    Shapes:
        images ``[N, 1, 8, 8]`` (PyTorch's ``[N, C, H, W]``), or ``[N, 64]``
        with ``flat=True``; labels ``[N]`` of dtype ``int64``.

    Raises:
        ValueError: if ``test_fraction`` is not strictly between 0 and 1.
    """
    if not 0.0 < test_fraction < 1.0:
        raise ValueError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    # imported here: scikit-learn takes a second or two to import, and most
    # pages that import this module never load the digits
    from sklearn.datasets import load_digits

    bunch = load_digits()
    x = torch.tensor(bunch.data, dtype=torch.float32) / 16.0
    y = torch.tensor(bunch.target, dtype=torch.int64)
    generator = torch.Generator().manual_seed(seed)
    test_idx, train_idx = [], []
    for label in range(10):  # stratify: the same fraction of every class in the test set
        idx = torch.nonzero(y == label).flatten()
        idx = idx[torch.randperm(len(idx), generator=generator)]
        n_test = round(len(idx) * test_fraction)
        test_idx.append(idx[:n_test])
        train_idx.append(idx[n_test:])
    train, test = torch.cat(train_idx).sort().values, torch.cat(test_idx).sort().values
    if not flat:
        x = x.reshape(-1, 1, 8, 8)
    return Split(x[train], y[train], x[test], y[test])


def make_loader(
    x: torch.Tensor,
    y: torch.Tensor | Sequence[Any],
    batch_size: int = 64,
    shuffle: bool = True,
    seed: int = 0,
) -> DataLoader:
    """Wrap inputs and targets in a seeded :class:`~torch.utils.data.DataLoader`.

    ``y`` is a tensor (one target per sample, batches ``(x_batch, y_batch)``)
    or a list whose items differ in size from sample to sample, such as the
    boxes of a detection task. Then a batch keeps its targets as lists: with
    items ``(labels_i, boxes_i)`` a batch is ``(x_batch, (labels, boxes))``,
    each a list of one tensor per sample.

    Raises:
        ValueError: if ``x`` and ``y`` hold different numbers of samples, or
            ``batch_size`` is not positive.
    """
    check_tensor(x, "x")
    if not isinstance(y, (torch.Tensor, Sequence)):
        raise TypeError(f"y must be a tensor or a list, got {type(y).__name__}")
    if len(x) != len(y):
        raise ValueError(f"x and y must hold the same number of samples, got {len(x)} and {len(y)}")
    check_positive(batch_size, "batch_size")
    if isinstance(y, torch.Tensor):
        dataset: Dataset = TensorDataset(x, y)
        collate = None
    else:
        dataset, collate = _Paired(x, list(y)), _stack_inputs_list_targets
    generator = torch.Generator().manual_seed(seed)
    return DataLoader(
        dataset, batch_size=batch_size, shuffle=shuffle, generator=generator, collate_fn=collate
    )


class _Paired(Dataset):
    def __init__(self, x: torch.Tensor, y: list[Any]) -> None:
        self.x, self.y = x, y

    def __len__(self) -> int:
        return len(self.x)

    def __getitem__(self, i: int) -> tuple[torch.Tensor, Any]:
        return self.x[i], self.y[i]


def _stack_inputs_list_targets(items: list[tuple[torch.Tensor, Any]]) -> tuple[torch.Tensor, Any]:
    inputs = torch.stack([x for x, _ in items])
    targets = [y for _, y in items]
    if targets and isinstance(targets[0], tuple):  # per-sample tuples → a tuple of lists
        return inputs, tuple(list(parts) for parts in zip(*targets))
    return inputs, targets


def text_corpus() -> str:
    """About 465 KB of English prose: the Python reference manual's topic pages.

    The text ships inside the standard library (``pydoc_data.topics``), so every
    Python has it offline. Topics are joined in sorted order, so the string is
    the same on every machine with the same Python version.
    """
    return "\n\n".join(topics[key] for key in sorted(topics))
