"""Token embeddings for the Transformer.

An embedding layer holds a matrix ``W`` ``[vocab, d_model]``; token id ``t``
becomes row ``W[t]``, which is exactly ``one_hot(t) @ W`` without building the
one-hot vector (:func:`embed_by_one_hot` computes it the long way).
:class:`TokenEmbedding` adds the Transformer's initialization and scaling.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.neural_networks.losses import one_hot


def check_token_ids(ids: object, name: str, vocab_size: int) -> torch.Tensor:
    """Check a batch of token ids ``[N, T]``: int64 and every id in ``0 … vocab_size-1``.

    An id outside the vocabulary would otherwise fail inside ``nn.Embedding``
    with an ``IndexError`` (on a GPU, a device-side assert). ``N`` and ``T``
    may be 0. Ids on the ``meta`` device have shapes but no values, so only
    their shape and dtype are checked.

    Raises:
        TypeError: if ``ids`` is not an int64 tensor.
        ValueError: if ``ids`` is not 2-D or holds an id out of range.
    """
    check_tensor(ids, name, ndim=2, dtype=torch.int64)
    if ids.is_meta:
        return ids
    if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= vocab_size):
        raise ValueError(
            f"{name} must hold ids from 0 to {vocab_size - 1} (the vocabulary), got ids "
            f"from {int(ids.min())} to {int(ids.max())}"
        )
    return ids


def embed_by_one_hot(indices: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Embedding as a matrix product: ``one_hot(indices) @ weight``.

    A one-hot row selects one row of ``weight``, so this equals
    ``nn.Embedding``'s lookup ``weight[indices]``, but costs a full
    ``[vocab, dim]`` multiplication per token. The lookup is the same
    computation with the zeros skipped.

    Shapes:
        ``indices`` ``[...]`` (int64), ``weight`` ``[vocab, dim]`` → ``[..., dim]``.

    Raises:
        ValueError: if ``weight`` is not 2-D or an index is out of range.
    """
    check_tensor(weight, "weight", ndim=2, floating=True)
    return one_hot(indices, weight.shape[0]).to(weight.dtype) @ weight


class TokenEmbedding(nn.Module):
    """``nn.Embedding`` scaled by ``√d_model``, as in the original Transformer.

    The weights start with standard deviation ``1/√d_model``, so after the
    scaling each entry is of order 1, the same scale as the sinusoidal
    positions added next (with ``nn.Embedding``'s default N(0, 1) start, the
    tokens would drown the positions). ``padding_idx`` gets a zero vector that
    is never trained.

    Shapes:
        ``ids`` ``[N, T]`` (int64) → ``[N, T, d_model]``.

    Raises:
        ValueError: if a size is not positive or ``padding_idx`` is not an id
            of the vocabulary.
    """

    def __init__(self, vocab_size: int, d_model: int, padding_idx: int | None = None) -> None:
        super().__init__()
        check_positive(vocab_size, "vocab_size")
        check_positive(d_model, "d_model")
        if padding_idx is not None and not 0 <= padding_idx < vocab_size:
            raise ValueError(
                f"padding_idx must be an id from 0 to {vocab_size - 1}, got {padding_idx}"
            )
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)
        if padding_idx is not None:
            with torch.no_grad():
                self.embedding.weight[padding_idx].zero_()
        self.scale = math.sqrt(d_model)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Look up and scale.

        Raises:
            TypeError: if ``ids`` is not an int64 tensor.
            ValueError: if ``ids`` is not ``[N, T]`` or holds an id outside the vocabulary.
        """
        check_token_ids(ids, "ids", self.embedding.num_embeddings)
        return self.embedding(ids) * self.scale
