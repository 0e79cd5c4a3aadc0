"""Data for the sequence-models chapter: a memory task and a date translation task."""

from __future__ import annotations

import calendar
import random

import torch

from snippets.common.checks import check_positive

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


def date_pairs(n: int = 1000, seed: int = 0) -> list[tuple[str, str]]:
    """A synthetic translation task: human-written dates to ISO 8601.

    Each pair is ``(source, target)``, e.g. ``("March 7, 1998", "1998-03-07")``
    or ``("07/03/1998", "1998-03-07")`` (day first). Years run from 1950 to
    2049; days are valid for their month (29 February only in leap years).

    Raises:
        ValueError: if ``n`` is not positive.
    """

    check_positive(n, "n")
    rng = random.Random(seed)
    pairs = []
    for _ in range(n):
        y, m = rng.randint(1950, 2049), rng.randint(1, 12)
        d = rng.randint(1, calendar.monthrange(y, m)[1])
        fmt = rng.choice(_DATE_FORMATS)
        month = _MONTHS[m - 1]
        source = fmt.format(d=d, m=m, y=y, M=month, Mon=month[:3])
        if rng.random() < 0.3:
            source = source.lower()
        pairs.append((source, f"{y:04d}-{m:02d}-{d:02d}"))
    return pairs


def recall_task(
    n: int = 1000, length: int = 50, classes: int = 8, noise_tokens: int = 8, seed: int = 0
) -> tuple[torch.Tensor, torch.Tensor]:
    """A long-range memory task: remember the first token of a sequence until its end.

    Each sequence starts with a *key*, one of ``classes`` tokens (ids
    ``0 … classes-1``), followed by ``length - 1`` random distractor tokens
    (ids ``classes … classes+noise_tokens-1``). The label is the key, so a
    model that reads the sequence left to right must carry it across
    ``length - 1`` steps of noise. Chance level is ``1 / classes``.

    Shapes:
        tokens ``[n, length]`` and labels ``[n]``, both int64.

    Raises:
        ValueError: if a size is not positive or ``length`` is below 2.
    """
    for value, name in ((n, "n"), (classes, "classes"), (noise_tokens, "noise_tokens")):
        check_positive(value, name)
    if length < 2:
        raise ValueError(f"length must be >= 2, got {length}")
    generator = torch.Generator().manual_seed(seed)
    labels = torch.randint(classes, (n,), generator=generator)
    noise = torch.randint(classes, classes + noise_tokens, (n, length - 1), generator=generator)
    return torch.cat([labels[:, None], noise], dim=1), labels
