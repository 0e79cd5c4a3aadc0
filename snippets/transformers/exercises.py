"""Coding exercises of the Transformer chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import math

import torch

from snippets.common.exercises import Case, exercise


def _qkv():
    g = torch.Generator().manual_seed(5)
    for n, t, d in [(1, 3, 4), (2, 5, 8), (3, 1, 2), (2, 7, 16), (1, 6, 3)]:
        q, k, v = (torch.randn(n, t, d, generator=g) for _ in range(3))
        yield Case((q, k, v), label=f"N={n}, T={t}, d={d}")


def _wrong_future(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    mask = torch.ones(q.shape[1], k.shape[1], dtype=torch.bool).triu()  # sees the future
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def _wrong_unscaled(q, k, v):
    scores = q @ k.transpose(-2, -1)  # forgets 1/√d
    mask = torch.ones(q.shape[1], k.shape[1], dtype=torch.bool).tril()
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def _wrong_mask_after_softmax(q, k, v):
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
    mask = torch.ones(q.shape[1], k.shape[1]).tril()
    return (weights * mask) @ v  # rows no longer sum to 1


@exercise(
    "causal-attention",
    page="transformers/attention",
    task="Scaled dot-product attention of q, k, v [N, T, d] in which "
    "position i only attends to positions 0..i.",
    cases=_qkv,
    wrong=[_wrong_future, _wrong_unscaled, _wrong_mask_after_softmax],
)
def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``softmax(QKᵀ/√d + causal mask) V``: a lower-triangular mask, applied before the softmax."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # [N, T, T]
    allowed = torch.ones(q.shape[1], k.shape[1], dtype=torch.bool, device=q.device).tril()
    return scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1) @ v


def _window_cases():
    g = torch.Generator().manual_seed(6)
    for n, t, d, w in [(1, 5, 4, 2), (2, 8, 8, 3), (1, 4, 2, 1), (2, 6, 4, 6), (1, 7, 3, 4)]:
        q, k, v = (torch.randn(n, t, d, generator=g) for _ in range(3))
        yield Case((q, k, v, w), label=f"N={n}, T={t}, d={d}, window={w}")


def _wrong_plain_causal(q, k, v, window):
    return causal_attention(q, k, v)  # ignores the window


def _wrong_off_by_one(q, k, v, window):
    t = q.shape[1]
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
    allowed = (j <= i) & (i - j <= window)  # window + 1 positions
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v


@exercise(
    "sliding-window-attention",
    page="transformers/attention",
    task="Causal attention in which position i attends only to the last `window` positions "
    "i − window + 1 .. i (itself included).",
    cases=_window_cases,
    wrong=[_wrong_plain_causal, _wrong_off_by_one],
)
def sliding_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int
) -> torch.Tensor:
    """A band below the diagonal: ``0 <= i − j < window``."""
    t = q.shape[1]
    i = torch.arange(t, device=q.device)[:, None]
    j = torch.arange(t, device=q.device)[None, :]
    allowed = (i - j >= 0) & (i - j < window)  # [T, T]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1) @ v


def _prediction_cases():
    g = torch.Generator().manual_seed(7)
    for n, t, vocab in [(2, 5, 7), (1, 1, 3), (4, 9, 11), (3, 6, 5)]:
        logits = torch.randn(n, t, vocab, generator=g)
        targets = torch.randint(1, vocab, (n, t), generator=g)
        targets[:, t // 2 + 1 :] = 0  # the tail of each sequence is padding (id 0)
        yield Case((logits, targets, 0), label=f"N={n}, T={t}, vocabulary {vocab}")


def _wrong_counts_padding(logits, targets, pad_id):
    return (logits.argmax(-1) == targets).double().mean()  # padding counts too


def _wrong_first_axis(logits, targets, pad_id):
    keep = targets != pad_id
    return (logits.argmax(0) == targets)[keep].double().mean()  # arg-max over the batch


@exercise(
    "masked-token-accuracy",
    page="transformers/training",
    task="The fraction of non-padding positions where the arg-max of logits [N, T, V] equals "
    "the target [N, T] (padding has id pad_id), as a float64 tensor.",
    cases=_prediction_cases,
    wrong=[_wrong_counts_padding, _wrong_first_axis],
)
def masked_token_accuracy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Count hits only where the target is a real token."""
    keep = targets != pad_id
    hits = logits.argmax(dim=-1) == targets
    return hits[keep].double().mean()
