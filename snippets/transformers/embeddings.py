"""Token embeddings for the Transformer.

An embedding layer holds a matrix ``W`` ``[vocab, d_model]``; token id ``t``
becomes row ``W[t]``, which is exactly ``one_hot(t) @ W`` without building the
one-hot vector (:func:`snippets.neural_networks.losses.embed_by_one_hot` computes it the long
way). :class:`TokenEmbedding` adds the Transformer's initialization and
scaling.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor


class TokenEmbedding(nn.Module):
    """``nn.Embedding`` scaled by ``√d_model``, as in the original Transformer.

    The weights start with standard deviation ``1/√d_model``, so after the
    scaling each entry is of order 1, the same scale as the sinusoidal
    positions added next (with ``nn.Embedding``'s default N(0, 1) start, the
    tokens would drown the positions). ``padding_idx`` gets a zero vector that
    is never trained.

    Shapes:
        ``ids`` ``[N, T]`` (int64) → ``[N, T, d_model]``.
    """

    def __init__(self, vocab_size: int, d_model: int, padding_idx: int | None = None) -> None:
        super().__init__()
        check_positive(vocab_size, "vocab_size")
        check_positive(d_model, "d_model")
        self.embedding = nn.Embedding(vocab_size, d_model, padding_idx=padding_idx)
        nn.init.normal_(self.embedding.weight, std=d_model**-0.5)
        if padding_idx is not None:
            with torch.no_grad():
                self.embedding.weight[padding_idx].zero_()
        self.scale = math.sqrt(d_model)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Look up and scale.

        Raises:
            TypeError: if ``ids`` is not an integer tensor.
        """
        check_tensor(ids, "ids", dtype=(torch.int64, torch.int32))
        return self.embedding(ids) * self.scale
