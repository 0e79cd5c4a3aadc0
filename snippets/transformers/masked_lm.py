"""BERT's training objective: hide some tokens and predict them from both sides.

A masked language model is an encoder-only Transformer (no causal mask, so
every position sees the whole sequence). :func:`mask_tokens` corrupts a batch
the way BERT does; :class:`MaskedLM` predicts the original tokens and
:func:`masked_lm_loss` scores it on the hidden positions only. The model is
:class:`~snippets.transformers.gpt.GPT`'s body with the causal mask removed.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from snippets.common.checks import check_positive, check_tensor
from snippets.transformers.embeddings import check_token_ids
from snippets.transformers.gpt import TransformerLM

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
        TypeError: if ``ids`` is not an int64 tensor or ``prob`` not a number.
        ValueError: if ``prob`` is not in ``(0, 1]``, ``vocab_size`` is not
            positive, or ``ids`` or ``mask_id`` is outside the vocabulary.
    """
    check_positive(vocab_size, "vocab_size")
    check_token_ids(ids, "ids", vocab_size)
    if not 0 <= mask_id < vocab_size:
        raise ValueError(f"mask_id must be an id from 0 to {vocab_size - 1}, got {mask_id}")
    if isinstance(prob, bool) or not isinstance(prob, (int, float)):
        raise TypeError(f"prob must be a number, got {type(prob).__name__}")
    if not 0.0 < prob <= 1.0:  # also rejects NaN
        raise ValueError(f"prob must be in (0, 1], got {prob}")
    # random numbers are drawn on the CPU (where ``generator`` lives), then moved to ids
    chosen = torch.rand(ids.shape, generator=generator).to(ids.device) < prob
    for special in special_ids:
        chosen &= ids != special
    labels = ids.masked_fill(~chosen, IGNORE)
    roll = torch.rand(ids.shape, generator=generator).to(ids.device)
    inputs = ids.clone()
    inputs[chosen & (roll < 0.8)] = mask_id
    swap = chosen & (roll >= 0.8) & (roll < 0.9)
    random_ids = torch.randint(vocab_size, (int(swap.sum()),), generator=generator)
    inputs[swap] = random_ids.to(ids.device)
    return inputs, labels


class MaskedLM(TransformerLM):
    """A :class:`~snippets.transformers.gpt.TransformerLM` whose attention sees both directions.

    The same embeddings, blocks, initialization and tied output layer as
    :class:`~snippets.transformers.gpt.GPT`; only the causal mask is gone, so
    the logits at every position may use the whole sequence.

    Shapes:
        ``ids`` ``[N, T]`` (int64, ``T <= context``) → logits ``[N, T, vocab_size]``.
    """

    causal = False


def masked_lm_loss(logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy over the positions :func:`mask_tokens` picked.

    Positions whose label is :data:`IGNORE` (not picked) do not count, so the
    model is graded only on the tokens it has to reconstruct.

    Shapes:
        ``logits`` ``[N, T, V]``, ``labels`` ``[N, T]`` → a scalar.

    Raises:
        TypeError: if ``logits`` is not floating-point or ``labels`` not int64.
        ValueError: if the shapes do not fit, a label is neither :data:`IGNORE`
            nor an id of the vocabulary, or no position was picked.
    """
    check_tensor(logits, "logits", ndim=3, floating=True)
    check_tensor(labels, "labels", ndim=2, dtype=torch.int64)
    if labels.shape != logits.shape[:2]:
        raise ValueError(
            f"labels must have shape {tuple(logits.shape[:2])}, got {tuple(labels.shape)}"
        )
    picked = labels[labels != IGNORE]
    if picked.numel() == 0:
        raise ValueError("no position is picked: every label is IGNORE")
    if int(picked.min()) < 0 or int(picked.max()) >= logits.shape[2]:
        raise ValueError(
            f"labels must be IGNORE ({IGNORE}) or ids from 0 to {logits.shape[2] - 1} (the "
            f"logits' last dimension), got ids from {int(picked.min())} to {int(picked.max())}"
        )
    return F.cross_entropy(logits.flatten(0, 1), labels.flatten(), ignore_index=IGNORE)
