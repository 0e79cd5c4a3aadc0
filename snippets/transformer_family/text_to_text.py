"""Several tasks in one model: every task written as text in, text out, with a prefix.

T5 casts translation, classification and question answering alike as
"read a string, write a string"; a short prefix in the input says which task
is meant. The tasks here are small and offline:

* ``"date: march 7, 1998"`` → ``"1998-03-07"`` (the dates of
  :func:`snippets.sequence_models.data.date_split`);
* ``"words: 347"`` → ``"three hundred forty-seven"``;
* ``"number: three hundred forty-seven"`` → ``"347"``.

:func:`number_to_words` spells a number, :func:`text_to_text_split` draws the
training and held-out pairs of all three tasks with nothing in common, and
:class:`TaskBatches` batches them one task at a time, so that short inputs
are not padded to the length of long ones.
"""

from __future__ import annotations

import random
from collections.abc import Iterator

import torch

from snippets.common.checks import check_positive, check_tensor
from snippets.sequence_models.data import date_split

_ONES = (
    "zero one two three four five six seven eight nine ten eleven twelve thirteen "
    "fourteen fifteen sixteen seventeen eighteen nineteen"
).split()
_TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()

PREFIXES = ("date: ", "words: ", "number: ")


def number_to_words(n: int) -> str:
    """English words for ``0 ≤ n ≤ 999``, e.g. ``347`` → ``"three hundred forty-seven"``.

    Tens and units are joined by a hyphen (``"forty-seven"``); there is no
    "and" (``"one hundred five"``).

    Raises:
        TypeError: if ``n`` is not an int.
        ValueError: if ``n`` is outside ``0 … 999``.
    """
    if isinstance(n, bool) or not isinstance(n, int):
        raise TypeError(f"n must be an int, got {type(n).__name__}")
    if not 0 <= n <= 999:
        raise ValueError(f"n must be in 0 … 999, got {n}")
    hundreds, rest = divmod(n, 100)
    words = [f"{_ONES[hundreds]} hundred"] if hundreds else []
    if rest >= 20:
        tens, ones = divmod(rest, 10)
        words.append(_TENS[tens] + (f"-{_ONES[ones]}" if ones else ""))
    elif rest or not hundreds:
        words.append(_ONES[rest])
    return " ".join(words)


def text_to_text_split(
    n_dates: int, n_test_dates: int, n_test_numbers: int = 200, seed: int = 0
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Training and held-out ``(input, target)`` pairs of the three tasks, prefixed.

    The dates come from :func:`~snippets.sequence_models.data.date_split`
    (no held-out date string occurs in training). The three-digit numbers
    ``100 … 999`` are shuffled with ``seed`` and ``n_test_numbers`` of them
    are held out of both number tasks; the others, and all of ``0 … 99``
    (too few to spare any), appear in training once in each direction. Both
    lists are shuffled with ``seed``.

    Returns:
        ``(train, test)``: lists of pairs such as ``("words: 347",
        "three hundred forty-seven")``.

    Raises:
        TypeError: if a size is not an int.
        ValueError: if a size is not positive, ``n_test_numbers`` is 900 or
            more, or there are not enough distinct dates.
    """
    if isinstance(n_test_numbers, bool) or not isinstance(n_test_numbers, int):
        raise TypeError(f"n_test_numbers must be an int, got {type(n_test_numbers).__name__}")
    check_positive(n_test_numbers, "n_test_numbers")
    if n_test_numbers >= 900:
        raise ValueError(f"n_test_numbers must be below 900 (of 100 … 999), got {n_test_numbers}")
    date_train, date_test = date_split(n_dates, n_test_dates, seed=seed)
    rng = random.Random(seed)
    numbers = list(range(100, 1000))
    rng.shuffle(numbers)
    numbers += range(100)  # the few short numbers all go to training

    def number_pairs(values: list[int]) -> list[tuple[str, str]]:
        pairs = []
        for n in values:
            words = number_to_words(n)
            pairs += [(f"words: {n}", words), (f"number: {words}", str(n))]
        return pairs

    train = [(f"date: {s}", t) for s, t in date_train] + number_pairs(numbers[n_test_numbers:])
    test = [(f"date: {s}", t) for s, t in date_test] + number_pairs(numbers[:n_test_numbers])
    rng.shuffle(train)
    rng.shuffle(test)
    return train, test


class TaskBatches:
    """Batches of one task each, trimmed to their longest sequence, reshuffled every epoch.

    The tasks' inputs and outputs differ in length (``"words: 7"`` against
    ``"number: seven hundred seventy-seven"``): a batch that mixes them is
    padded to its longest member and spends most of its compute on padding.
    Here the samples of each task are shuffled and cut into batches, the
    batches of all tasks are shuffled together, and each batch drops the
    columns that hold only padding. Iterating again gives a new order, from
    a generator seeded once with ``seed``, so a run is reproducible; pass it
    to :func:`snippets.common.train.fit` like a ``DataLoader``.

    Shapes:
        ``src`` ``[N, S]``, ``tgt`` ``[N, T]`` (int64, right-padded with
        ``pad_id``), ``tasks`` ``[N]`` (int64); yields ``(src_b, tgt_b)`` of
        ``[B, S_b]`` and ``[B, T_b]`` with ``B <= batch_size``.

    Raises:
        TypeError: if a tensor is not int64.
        ValueError: if the tensors disagree in ``N`` or ``batch_size`` is not positive.
    """

    def __init__(
        self,
        src: torch.Tensor,
        tgt: torch.Tensor,
        tasks: torch.Tensor,
        batch_size: int = 32,
        seed: int = 0,
        pad_id: int = 0,
    ) -> None:
        check_tensor(src, "src", ndim=2, dtype=torch.int64)
        check_tensor(tgt, "tgt", ndim=2, dtype=torch.int64)
        check_tensor(tasks, "tasks", ndim=1, dtype=torch.int64)
        if not len(src) == len(tgt) == len(tasks):
            raise ValueError(
                f"src, tgt and tasks must hold the same number of samples, got "
                f"{len(src)}, {len(tgt)} and {len(tasks)}"
            )
        check_positive(batch_size, "batch_size")
        self.src, self.tgt, self.tasks = src, tgt, tasks
        self.batch_size, self.pad_id = batch_size, pad_id
        self.generator = torch.Generator().manual_seed(seed)
        counts = torch.bincount(tasks)
        self._length = sum(-(-int(c) // batch_size) for c in counts if c)

    def __len__(self) -> int:
        return self._length

    def _trim(self, x: torch.Tensor) -> torch.Tensor:
        return x[:, : int((x != self.pad_id).sum(1).max())]

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        chunks: list[torch.Tensor] = []
        for task in torch.unique(self.tasks).tolist():
            rows = torch.nonzero(self.tasks == task).flatten()
            rows = rows[torch.randperm(len(rows), generator=self.generator)]
            chunks += list(rows.split(self.batch_size))
        for j in torch.randperm(len(chunks), generator=self.generator).tolist():
            rows = chunks[j]
            yield self._trim(self.src[rows]), self._trim(self.tgt[rows])


def task_ids(pairs: list[tuple[str, str]], prefixes: tuple[str, ...] = PREFIXES) -> torch.Tensor:
    """The index in ``prefixes`` of each input's prefix, int64 ``[len(pairs)]``.

    Raises:
        ValueError: if an input starts with none of ``prefixes``.
    """
    ids = []
    for source, _ in pairs:
        match = [i for i, p in enumerate(prefixes) if source.startswith(p)]
        if not match:
            raise ValueError(f"every input must start with one of {prefixes}, got {source!r}")
        ids.append(match[0])
    return torch.tensor(ids, dtype=torch.int64)
