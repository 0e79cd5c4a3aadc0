"""Choosing the next token: temperature, top-k and top-p (nucleus) sampling.

A language model gives logits over the vocabulary; generation must turn them
into one token. Greedy decoding takes the arg-max and repeats itself; plain
sampling follows the model's distribution, long tail included. The three
knobs here reshape the distribution before drawing from it:

- temperature ``T`` divides the logits: ``T < 1`` sharpens, ``T > 1`` flattens;
- top-k keeps the ``k`` most likely tokens;
- top-p keeps the smallest set of most likely tokens whose probability
  reaches ``p`` (the nucleus), so the number kept adapts to the distribution.

Shapes: ``logits`` ``[..., V]``; filtering keeps the shape and sets dropped
entries to ``-inf``; :func:`sample` returns ``[...]`` token ids.
"""

from __future__ import annotations

import math

import torch

from snippets.common.checks import check_positive, check_tensor


def _check_options(temperature: float, top_k: int | None, top_p: float | None) -> None:
    if isinstance(temperature, bool) or not isinstance(temperature, (int, float)):
        raise TypeError(f"temperature must be a number, got {type(temperature).__name__}")
    if not temperature > 0:  # also rejects NaN
        raise ValueError(f"temperature must be > 0, got {temperature}")
    if top_k is not None:
        if isinstance(top_k, bool) or not isinstance(top_k, int):
            raise TypeError(f"top_k must be an int or None, got {type(top_k).__name__}")
        check_positive(top_k, "top_k")
    if top_p is not None:
        if isinstance(top_p, bool) or not isinstance(top_p, (int, float)):
            raise TypeError(f"top_p must be a number or None, got {type(top_p).__name__}")
        if math.isnan(top_p) or not 0.0 < top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {top_p}")


def filter_logits(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
) -> torch.Tensor:
    """Logits divided by ``temperature``, with the tokens outside top-k and top-p set to ``-inf``.

    Top-k and top-p are applied to the tempered distribution, top-k first.
    The most likely token always survives, so at least one entry is finite.
    ``softmax`` of the result is the distribution :func:`sample` draws from.

    Raises:
        TypeError: if ``logits`` is not floating point or an option has the wrong type.
        ValueError: if ``logits`` is a scalar or has an empty vocabulary,
            ``temperature`` is not positive, ``top_k`` is not positive or
            ``top_p`` is not in ``(0, 1]`` (NaN included).
    """
    check_tensor(logits, "logits", floating=True)
    if logits.ndim == 0 or logits.shape[-1] == 0:
        raise ValueError(f"logits must be [..., V] with V > 0, got shape {tuple(logits.shape)}")
    _check_options(temperature, top_k, top_p)
    scaled = logits / temperature
    if top_k is not None and top_k < scaled.shape[-1]:
        kth = scaled.topk(top_k, dim=-1).values[..., -1:]  # the k-th largest logit
        scaled = scaled.masked_fill(scaled < kth, float("-inf"))
    if top_p is not None and top_p < 1.0:
        ordered, order = scaled.sort(dim=-1, descending=True)
        probs = ordered.softmax(dim=-1)
        before = probs.cumsum(dim=-1) - probs  # mass of the tokens ranked above each one
        drop_sorted = before >= top_p  # the nucleus is complete before this token
        drop = drop_sorted.scatter(-1, order, drop_sorted)  # back to vocabulary order
        scaled = scaled.masked_fill(drop, float("-inf"))
    return scaled


def sample(
    logits: torch.Tensor,
    temperature: float = 1.0,
    top_k: int | None = None,
    top_p: float | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Draw one token id per row from the filtered distribution.

    Shapes:
        ``logits`` ``[..., V]`` → ids ``[...]`` (int64).

    Raises:
        the errors of :func:`filter_logits`.
    """
    probs = filter_logits(logits, temperature, top_k, top_p).softmax(dim=-1)
    flat = probs.reshape(-1, probs.shape[-1])
    ids = torch.multinomial(flat, 1, generator=generator)
    return ids.reshape(probs.shape[:-1])
