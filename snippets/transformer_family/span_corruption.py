"""T5's pretraining objective: span corruption.

A fraction of the tokens (the *noise density*, 15 %) is dropped in spans of a
few tokens (on average ``mean_span_length``, 3). Each dropped span is replaced
in the input by one sentinel token, ``<extra_id_0>``, ``<extra_id_1>``, … in
order; the target lists each sentinel followed by the tokens it replaced,
and ends with one more sentinel. From Raffel et al.::

    original: Thank you for inviting me to your party last week .
    input:    Thank you <extra_id_0> me to your party <extra_id_1> week .
    target:   <extra_id_0> for inviting <extra_id_1> last <extra_id_2>

The input is shorter than the original and the target much shorter, which
makes pretraining cheaper than predicting every token.
:func:`noise_mask` draws which tokens are dropped, :func:`corrupt` applies a
mask, :func:`span_corruption` does both and :func:`restore` undoes it;
:func:`corrupt_ids` corrupts a batch of token ids, ready for a model.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TypeVar

import torch

from snippets.common.checks import check_positive, check_tensor

T = TypeVar("T")

SENTINEL = "<extra_id_{}>"
_SENTINEL = re.compile(r"<extra_id_(\d+)>")


def sentinel(index: int) -> str:
    """The ``index``-th sentinel token, ``<extra_id_{index}>``.

    Raises:
        TypeError: if ``index`` is not an int.
        ValueError: if ``index`` is negative.
    """
    if isinstance(index, bool) or not isinstance(index, int):
        raise TypeError(f"index must be an int, got {type(index).__name__}")
    check_positive(index, "index", allow_zero=True)
    return SENTINEL.format(index)


def _segments(total: int, count: int, generator: torch.Generator | None) -> list[int]:
    """Cut ``total`` items into ``count`` runs of at least one, uniformly at random."""
    cuts = torch.randperm(total - 1, generator=generator)[: count - 1] + 1  # run starts
    bounds = [0, *sorted(cuts.tolist()), total]
    return [b - a for a, b in zip(bounds, bounds[1:])]


def noise_mask(
    length: int,
    noise_density: float = 0.15,
    mean_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> list[bool]:
    """Which of ``length`` tokens to drop: ``True`` marks a dropped (noise) token.

    As in T5: ``round(length · noise_density)`` tokens are dropped (at least
    one, and at least one is kept), in ``round(noise / mean_span_length)``
    spans (at least one, and no more than there are kept tokens). The noise
    tokens and the kept tokens are each cut into that many runs at random,
    and the runs alternate, kept first: the sequence never starts with a
    dropped span, and two dropped spans are never adjacent.

    Raises:
        TypeError: if ``length`` is not an int.
        ValueError: if ``length`` is below 2, or ``noise_density`` is not in
            ``(0, 1)``, or ``mean_span_length`` is below 1.
    """
    if isinstance(length, bool) or not isinstance(length, int):
        raise TypeError(f"length must be an int, got {type(length).__name__}")
    if length < 2:
        raise ValueError(f"length must be at least 2 (one token dropped, one kept), got {length}")
    check_positive(noise_density, "noise_density")
    if noise_density >= 1:
        raise ValueError(f"noise_density must be < 1, got {noise_density}")
    check_positive(mean_span_length, "mean_span_length")
    if mean_span_length < 1:
        raise ValueError(f"mean_span_length must be >= 1, got {mean_span_length}")
    noise = min(max(round(length * noise_density), 1), length - 1)
    kept = length - noise
    spans = min(max(round(noise / mean_span_length), 1), kept)
    mask: list[bool] = []
    for keep_run, noise_run in zip(
        _segments(kept, spans, generator), _segments(noise, spans, generator)
    ):
        mask += [False] * keep_run + [True] * noise_run
    return mask


def corrupt(
    tokens: Sequence[T], mask: Sequence[bool], sentinels: Sequence[T] | None = None
) -> tuple[list[T], list[T]]:
    """Replace each run of masked tokens by a sentinel; return ``(input, target)``.

    The input keeps the unmasked tokens, with ``<extra_id_k>`` where the
    ``k``-th masked run was. The target is ``<extra_id_k>`` followed by that
    run, for every run, then one final sentinel that closes the last run.
    ``sentinels`` replaces the strings ``<extra_id_k>`` by tokens of one's
    own, ``sentinels[k]`` for the ``k``-th (token ids, say); it needs one more
    entry than there are runs.

    Raises:
        TypeError: if ``tokens`` is a plain string or ``mask`` holds a non-bool.
        ValueError: if ``tokens`` and ``mask`` differ in length, a token is
            already a sentinel, or ``sentinels`` is too short.
    """
    if isinstance(tokens, str):
        raise TypeError("tokens must be a sequence of tokens, got a str (split it first)")
    if len(tokens) != len(mask):
        raise ValueError(
            f"mask must have one entry per token, {len(tokens)}, got {len(mask)} entries"
        )
    if not all(isinstance(m, bool) for m in mask):
        raise TypeError("mask must hold bools only")
    if sentinels is None:
        mark = sentinel
        if any(isinstance(t, str) and _SENTINEL.fullmatch(t) for t in tokens):
            raise ValueError("tokens must not contain sentinel tokens <extra_id_k>")
    else:
        runs = sum(m and (i == 0 or not mask[i - 1]) for i, m in enumerate(mask))
        if len(sentinels) < runs + 1:
            raise ValueError(
                f"sentinels must hold one more token than the {runs} masked runs, "
                f"{runs + 1}, got {len(sentinels)}"
            )
        if set(tokens) & set(sentinels):
            raise ValueError("tokens must not contain any of the sentinels")
        mark = sentinels.__getitem__
    inputs: list[T] = []
    targets: list[T] = []
    spans = 0
    for i, (token, dropped) in enumerate(zip(tokens, mask)):
        if dropped:
            if i == 0 or not mask[i - 1]:  # a new span starts
                inputs.append(mark(spans))
                targets.append(mark(spans))
                spans += 1
            targets.append(token)
        else:
            inputs.append(token)
    targets.append(mark(spans))  # closes the last span
    return inputs, targets


def corrupt_ids(
    ids: torch.Tensor,
    sentinel_ids: Sequence[int],
    noise_density: float = 0.15,
    mean_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Span corruption of a batch of token ids, with a new :func:`noise_mask` for every row.

    ``sentinel_ids[k]`` is the id of ``<extra_id_k>`` (T5 gives its sentinels
    the last ids of the vocabulary). How many tokens and spans are dropped
    depends only on the length, so every row of the batch gives an input and
    a target of the same lengths.

    Shapes:
        ``ids`` ``[N, L]`` (int64, ``L >= 2``) → ``(inputs [N, L − noise +
        spans], targets [N, noise + spans + 1])``.

    Raises:
        TypeError: if ``ids`` is not an int64 tensor.
        ValueError: if ``ids`` is not 2-D, holds a sentinel id, or there are
            fewer sentinel ids than spans + 1; as :func:`noise_mask` otherwise.
    """
    check_tensor(ids, "ids", ndim=2, dtype=torch.int64)
    sentinel_ids = [int(i) for i in sentinel_ids]
    rows = [
        corrupt(
            row,
            noise_mask(len(row), noise_density, mean_span_length, generator),
            sentinel_ids,
        )
        for row in ids.tolist()
    ]
    if not rows:
        raise ValueError(f"ids must hold at least one row, got shape {tuple(ids.shape)}")
    inputs, targets = zip(*rows)
    return torch.tensor(inputs, dtype=torch.int64), torch.tensor(targets, dtype=torch.int64)


def span_corruption(
    tokens: Sequence[str],
    noise_density: float = 0.15,
    mean_span_length: float = 3.0,
    generator: torch.Generator | None = None,
) -> tuple[list[str], list[str]]:
    """:func:`corrupt` ``tokens`` with a random :func:`noise_mask`; return ``(input, target)``.

    Raises:
        ValueError, TypeError: as :func:`noise_mask` and :func:`corrupt`.
    """
    if isinstance(tokens, str):
        raise TypeError("tokens must be a sequence of tokens, got a str (split it first)")
    mask = noise_mask(len(tokens), noise_density, mean_span_length, generator)
    return corrupt(tokens, mask)


def restore(inputs: Sequence[str], targets: Sequence[str]) -> list[str]:
    """Put the target's spans back in place of the input's sentinels: the original tokens.

    Raises:
        ValueError: if the sentinels of ``inputs`` are not ``<extra_id_0>``,
            ``<extra_id_1>``, … in order or ``targets`` lacks one of them.
    """
    spans: dict[str, list[str]] = {}
    current: list[str] | None = None
    for token in targets:
        if _SENTINEL.fullmatch(token):
            current = spans.setdefault(token, [])
        elif current is not None:
            current.append(token)
    out: list[str] = []
    expected = 0
    for token in inputs:
        if _SENTINEL.fullmatch(token):
            if token != sentinel(expected) or token not in spans:
                raise ValueError(
                    f"inputs must hold the sentinels in order with a span each in targets: "
                    f"expected {sentinel(expected)}, got {token}"
                )
            out += spans[token]
            expected += 1
        else:
            out.append(token)
    return out
