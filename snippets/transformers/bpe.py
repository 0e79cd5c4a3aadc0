"""Byte-pair encoding (BPE), trained from scratch on a text.

BPE starts from single characters and repeatedly merges the most frequent
pair of adjacent symbols into a new symbol, until the vocabulary has the
wanted size. Frequent words end up as one token, rare words as a few
pieces, and any text made of known characters can still be encoded.

Text is first cut into *pre-tokens* (a word with its leading space, a run of
punctuation, or a run of whitespace) so that merges never cross a word
boundary. The special tokens and their ids are those of
:class:`snippets.common.tokenizers.CharTokenizer`: ``<pad>`` = 0, ``<bos>``,
``<eos>``, ``<unk>``.
"""

from __future__ import annotations

import heapq
import re
from collections import Counter, defaultdict
from collections.abc import Sequence

from snippets.common.checks import check_positive
from snippets.common.tokenizers import SPECIALS, Tokenizer

#: A word with an optional leading space, a run of punctuation, or whitespace.
PRETOKEN = re.compile(r" ?\w+| ?[^\w\s]+|\s+")

Pair = tuple[str, str]


def pretokenize(text: str) -> list[str]:
    """Cut ``text`` into pre-tokens; joining them gives ``text`` back.

    >>> pretokenize("The cat sat.")
    ['The', ' cat', ' sat', '.']

    Raises:
        TypeError: if ``text`` is not a string.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return PRETOKEN.findall(text)


def _merge_word(symbols: tuple[str, ...], pair: Pair) -> tuple[str, ...]:
    """Replace every occurrence of ``pair`` in ``symbols`` by the joined symbol."""
    out, i = [], 0
    while i < len(symbols):
        if i + 1 < len(symbols) and (symbols[i], symbols[i + 1]) == pair:
            out.append(symbols[i] + symbols[i + 1])
            i += 2
        else:
            out.append(symbols[i])
            i += 1
    return tuple(out)


def learn_merges(text: str, num_merges: int, min_count: int = 2) -> list[tuple[Pair, int]]:
    """Learn up to ``num_merges`` merges from ``text``, most frequent pair first.

    Pair counts are kept up to date incrementally: a merge only touches the
    words that contain the merged pair. Ties go to the pair that sorts first.

    Returns:
        ``[((left, right), count), ...]`` in the order they were learned.

    Raises:
        ValueError: if ``num_merges`` is negative or ``min_count`` < 1.
    """
    check_positive(num_merges, "num_merges", allow_zero=True)
    check_positive(min_count, "min_count")
    word_counts = Counter(pretokenize(text))
    words = [tuple(w) for w in word_counts]
    freqs = list(word_counts.values())
    pair_counts: Counter[Pair] = Counter()
    where: defaultdict[Pair, set[int]] = defaultdict(set)  # pair -> words containing it
    for idx, symbols in enumerate(words):
        for pair in zip(symbols, symbols[1:]):
            pair_counts[pair] += freqs[idx]
            where[pair].add(idx)
    heap = [(-count, pair) for pair, count in pair_counts.items()]  # most frequent on top
    heapq.heapify(heap)
    merges = []
    while len(merges) < num_merges and heap:
        negative, best = heapq.heappop(heap)
        count = pair_counts.get(best, 0)
        if count != -negative:  # a stale entry: the count has changed since it was pushed
            continue
        if count < min_count:
            break
        merges.append((best, count))
        changed: set[Pair] = set()
        for idx in list(where[best]):
            old = words[idx]
            new = _merge_word(old, best)
            for pair in zip(old, old[1:]):  # remove the word's old pairs ...
                pair_counts[pair] -= freqs[idx]
                if pair_counts[pair] <= 0:
                    del pair_counts[pair]
                where[pair].discard(idx)
                changed.add(pair)
            for pair in zip(new, new[1:]):  # ... and add its new ones
                pair_counts[pair] += freqs[idx]
                where[pair].add(idx)
                changed.add(pair)
            words[idx] = new
        where.pop(best, None)
        pair_counts.pop(best, None)
        for pair in changed - {best}:  # re-file the pairs whose counts changed
            if pair in pair_counts:
                heapq.heappush(heap, (-pair_counts[pair], pair))
    return merges


class BPETokenizer(Tokenizer):
    """A byte-pair-encoding tokenizer: an alphabet of characters plus learned merges.

    The vocabulary is the four special tokens, then the characters of the
    training text (sorted), then one token per merge in the order learned.
    Characters never seen in training map to ``<unk>``.

    Build one with :meth:`train`.
    """

    def __init__(self, alphabet: Sequence[str], merges: Sequence[Pair]) -> None:
        self.merges: list[Pair] = [tuple(m) for m in merges]
        self.ranks: dict[Pair, int] = {m: r for r, m in enumerate(self.merges)}
        super().__init__(list(SPECIALS) + sorted(set(alphabet)) + [a + b for a, b in self.merges])
        self._cache: dict[str, list[int]] = {}

    @classmethod
    def train(cls, text: str, vocab_size: int, min_count: int = 2) -> BPETokenizer:
        """Learn merges from ``text`` until the vocabulary holds ``vocab_size`` tokens.

        Stops early when no pair occurs ``min_count`` times any more.

        Raises:
            ValueError: if ``vocab_size`` is smaller than the specials plus the alphabet.
        """
        alphabet = sorted(set(text))
        base = len(SPECIALS) + len(alphabet)
        if vocab_size < base:
            raise ValueError(
                f"vocab_size must be at least {base} (4 specials + {len(alphabet)} characters), "
                f"got {vocab_size}"
            )
        learned = learn_merges(text, vocab_size - base, min_count)
        tokenizer = cls(alphabet, [pair for pair, _ in learned])
        tokenizer.merge_counts = [count for _, count in learned]
        return tokenizer

    def tokenize(self, text: str) -> list[str]:
        """The tokens of ``text`` as strings (unknown characters stay as they are)."""
        return [
            self.itos[i] if i != self.unk_id else "<unk>"
            for word in pretokenize(text)
            for i in self._encode_word(word)
        ]

    def _encode_word(self, word: str) -> list[int]:
        if word in self._cache:
            return self._cache[word]
        symbols = tuple(word)
        while len(symbols) > 1:  # apply the earliest-learned merge present, until none applies
            pairs = [p for p in zip(symbols, symbols[1:]) if p in self.ranks]
            if not pairs:
                break
            symbols = _merge_word(symbols, min(pairs, key=self.ranks.__getitem__))
        ids = [self.stoi.get(s, self.unk_id) for s in symbols]
        if len(self._cache) < 100_000:
            self._cache[word] = ids
        return ids

    def encode(self, text: str, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Token ids of ``text``, optionally framed by ``<bos>``/``<eos>``.

        Raises:
            TypeError: if ``text`` is not a string.
        """
        ids = [i for word in pretokenize(text) for i in self._encode_word(word)]
        return [self.bos_id] * add_bos + ids + [self.eos_id] * add_eos
