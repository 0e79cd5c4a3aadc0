"""BERT's training objective: hide some tokens and predict them from both sides.

A masked language model is an encoder-only Transformer (no causal mask, so
every position sees the whole sequence). :func:`mask_tokens` corrupts a batch
the way BERT does; :class:`MaskedLM` predicts the original tokens.
"""

from __future__ import annotations

import torch
from torch import nn

from snippets.common.checks import check_tensor
from snippets.transformers.positional import LearnedPositionalEmbedding
from snippets.transformers.transformer import Encoder, EncoderLayer

#: Label value that ``F.cross_entropy`` ignores: positions that were not masked.
IGNORE = -100


def mask_tokens(
    ids: torch.Tensor,
    mask_id: int,
    vocab_size: int,
    prob: float = 0.15,
    special_ids: tuple[int, ...] = (0,),
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Pick ``prob`` of the positions: 80 % become ``mask_id``, 10 % random, 10 % unchanged.

    Returns the corrupted inputs and the labels: the original id at chosen
    positions, :data:`IGNORE` elsewhere. Special tokens are never chosen.

    Shapes:
        ``ids`` ``[N, T]`` (int64) → inputs and labels ``[N, T]``.

    Raises:
        ValueError: if ``prob`` is not in ``(0, 1]``.
    """
    check_tensor(ids, "ids", ndim=2, dtype=torch.int64)
    if not 0.0 < prob <= 1.0:
        raise ValueError(f"prob must be in (0, 1], got {prob}")
    chosen = torch.rand(ids.shape, generator=generator) < prob
    for special in special_ids:
        chosen &= ids != special
    labels = ids.masked_fill(~chosen, IGNORE)
    roll = torch.rand(ids.shape, generator=generator)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = mask_id
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    inputs[swap] = torch.randint(vocab_size, (int(swap.sum()),), generator=generator)
    return inputs, labels


class MaskedLM(nn.Module):
    """Encoder-only model that predicts a token at every position from the whole sequence.

    Shapes:
        ``ids`` ``[N, T]`` → logits ``[N, T, vocab_size]``.
    """

    def __init__(
        self,
        vocab_size: int,
        context: int,
        d_model: int = 128,
        nhead: int = 4,
        num_layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.token = nn.Embedding(vocab_size, d_model)
        self.position = LearnedPositionalEmbedding(d_model, context, dropout)
        block = EncoderLayer(d_model, nhead, 4 * d_model, dropout, "gelu", norm_first=True)
        self.blocks = Encoder(block, num_layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, vocab_size)

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits for the original token at every position (no causal mask)."""
        check_tensor(ids, "ids", ndim=2, dtype=torch.int64)
        return self.head(self.blocks(self.position(self.token(ids))))
