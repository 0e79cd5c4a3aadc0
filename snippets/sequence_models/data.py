"""Data for the sequence-models chapter: a memory task and a date translation task.

Both tasks are drawn at random, so two independent draws can produce the same
sample. :func:`date_split` and :func:`recall_split` draw a training and a
test set with no sample in common (and no sample twice), so that a test score
measures generalization, not recall of the training set.
"""

from __future__ import annotations

import calendar
import functools
import random

import torch

from snippets.common.checks import check_positive
from snippets.common.data import Split

_MONTHS = (
    "January February March April May June July August September October November December"
).split()


_DATE_FORMATS = (
    "{d} {M} {y}",
    "{M} {d}, {y}",
    "{d:02d}/{m:02d}/{y}",
    "{d} {Mon} {y}",
    "{Mon} {d} {y}",
)
_YEARS = range(1950, 2050)


def _check_count(value: object, name: str) -> int:
    """A number of samples: a positive ``int``."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    check_positive(value, name)
    return value


def _draw_date(rng: random.Random) -> tuple[str, str]:
    """One ``(source, target)`` pair from ``rng``: a random date in a random format."""
    y, m = rng.randint(_YEARS[0], _YEARS[-1]), rng.randint(1, 12)
    d = rng.randint(1, calendar.monthrange(y, m)[1])
    fmt = rng.choice(_DATE_FORMATS)
    month = _MONTHS[m - 1]
    source = fmt.format(d=d, m=m, y=y, M=month, Mon=month[:3])
    if rng.random() < 0.3:
        source = source.lower()
    return source, f"{y:04d}-{m:02d}-{d:02d}"


def date_pairs(n: int = 1000, seed: int = 0) -> list[tuple[str, str]]:
    """A synthetic translation task: human-written dates to ISO 8601.

    Each pair is ``(source, target)``, e.g. ``("March 7, 1998", "1998-03-07")``
    or ``("07/03/1998", "1998-03-07")`` (day first). Years run from 1950 to
    2049; days are valid for their month (29 February only in leap years).
    The pairs are independent draws, so a source can occur twice, and two
    calls with different seeds can share sources: for a held-out set use
    :func:`date_split`.

    Raises:
        TypeError: if ``n`` is not an int.
        ValueError: if ``n`` is not positive.
    """
    _check_count(n, "n")
    rng = random.Random(seed)
    return [_draw_date(rng) for _ in range(n)]


def distinct_date_sources() -> int:
    """How many distinct source strings :func:`date_pairs` can produce.

    Every date in every format, capitalized and in lower case, counted once
    (a numeric date has one spelling; "7 May 1998" comes from two formats).
    """
    return _count_date_sources()


@functools.cache
def _count_date_sources() -> int:
    sources = set()
    for y in _YEARS:
        for m, month in enumerate(_MONTHS, 1):
            for d in range(1, calendar.monthrange(y, m)[1] + 1):
                for fmt in _DATE_FORMATS:
                    source = fmt.format(d=d, m=m, y=y, M=month, Mon=month[:3])
                    sources.update((source, source.lower()))
    return len(sources)


def date_split(
    n_train: int, n_test: int, seed: int = 0
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Training and test pairs of the date task with no source string in common.

    Pairs are drawn as by :func:`date_pairs` (the same stream for the same
    ``seed``), and a pair whose source was already drawn is skipped, until
    ``n_train + n_test`` distinct sources are collected: the first
    ``n_train`` form the training set, the rest the test set. No source
    occurs twice in either set, nor in both.

    Raises:
        TypeError: if a size is not an int.
        ValueError: if a size is not positive, or there are fewer than
            ``n_train + n_test`` distinct sources (:func:`distinct_date_sources`).
    """
    _check_count(n_train, "n_train")
    _check_count(n_test, "n_test")
    available = distinct_date_sources()
    if n_train + n_test > available:
        raise ValueError(
            f"n_train + n_test must be at most {available} (the distinct date strings), "
            f"got {n_train + n_test}"
        )
    rng = random.Random(seed)
    pairs: dict[str, str] = {}  # source -> target, in the order drawn
    while len(pairs) < n_train + n_test:
        source, target = _draw_date(rng)
        pairs.setdefault(source, target)  # a repeated source is skipped
    unique = list(pairs.items())
    return unique[:n_train], unique[n_train:]


def _check_recall_sizes(length: int, classes: int, noise_tokens: int) -> None:
    _check_count(classes, "classes")
    _check_count(noise_tokens, "noise_tokens")
    if isinstance(length, bool) or not isinstance(length, int):
        raise TypeError(f"length must be an int, got {type(length).__name__}")
    if length < 2:
        raise ValueError(f"length must be >= 2, got {length}")


def recall_task(
    n: int = 1000, length: int = 50, classes: int = 8, noise_tokens: int = 8, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A long-range memory task: remember the first token of a sequence until its end.

    Each sequence starts with a *key*, one of ``classes`` tokens (ids
    ``0 … classes-1``), followed by ``length - 1`` random distractor tokens
    (ids ``classes … classes+noise_tokens-1``). The label is the key, so a
    model that reads the sequence left to right must carry it across
    ``length - 1`` steps of noise. Chance level is ``1 / classes``.

    There are ``classes · noise_tokens^(length-1)`` different sequences; with
    ``noise_tokens=1`` only ``classes``. Independent calls can therefore
    share sequences: for a held-out set use :func:`recall_split`.

    Shapes:
        tokens ``[n, length]`` and labels ``[n]``, both int64.

    Raises:
        TypeError: if a size is not an int.
        ValueError: if a size is not positive or ``length`` is below 2.
    """
    _check_count(n, "n")
    _check_recall_sizes(length, classes, noise_tokens)
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=generator)
    noise = torch.randint(classes, classes + noise_tokens, (n, length - 1), generator=generator)
    return torch.cat([labels[:, None], noise], dim=1), labels


def recall_split(
    n_train: int,
    n_test: int,
    length: int = 50,
    classes: int = 8,
    noise_tokens: int = 8,
    seed: int = 0,
) -> Split:
    """The memory task of :func:`recall_task` split into training and test sequences.

    Sequences are drawn in batches from one seeded generator; a sequence that
    was already drawn is dropped, until ``n_train + n_test`` distinct ones are
    collected. The first ``n_train`` form the training set, the rest the test
    set, so no test sequence occurs in training (and none occurs twice).

    Shapes:
        ``x_train`` ``[n_train, length]``, ``y_train`` ``[n_train]``,
        ``x_test`` ``[n_test, length]``, ``y_test`` ``[n_test]``, all int64.

    Raises:
        TypeError: if a size is not an int.
        ValueError: if a size is not positive, ``length`` is below 2, or the
            task has fewer than ``n_train + n_test`` distinct sequences
            (``classes · noise_tokens^(length-1)``; ``noise_tokens=1`` gives
            only ``classes``).
    """
    _check_count(n_train, "n_train")
    _check_count(n_test, "n_test")
    _check_recall_sizes(length, classes, noise_tokens)
    needed = n_train + n_test
    distinct = classes * noise_tokens ** (length - 1)
    if needed > distinct:
        raise ValueError(
            f"n_train + n_test must be at most classes * noise_tokens ** (length - 1) = "
            f"{distinct} (the distinct sequences), got {needed}"
        )
    generator = torch.Generator().manual_seed(seed)
    seen: set[bytes] = set()
    kept: list[torch.Tensor] = []
    while len(kept) < needed:
        labels = torch.randint(classes, (needed - len(kept),), generator=generator)
        noise = torch.randint(
            classes, classes + noise_tokens, (len(labels), length - 1), generator=generator
        )
        for row in torch.cat([labels[:, None], noise], dim=1):
            key = row.numpy().tobytes()
            if key not in seen:  # a repeat of an earlier sequence is dropped
                seen.add(key)
                kept.append(row)
    x = torch.stack(kept)
    return Split(x[:n_train], x[:n_train, 0], x[n_train:], x[n_train:, 0])
