"""Word2Vec: skip-gram with negative sampling.

A word is known by the company it keeps. Skip-gram turns that idea into a
training task: from a word (the *center*), tell the words that really occur
within ``window`` positions of it (its *contexts*) from random words
(*negatives*, drawn from the unigram distribution raised to the power 3/4).
Each word has two vectors, ``v`` when it is a center and ``u`` when it is a
context, and the score of a pair is their dot product ``u_o · v_c``. The loss
for one true pair and ``K`` negatives is

    -log σ(u_o · v_c) - Σ_k log σ(-u_k · v_c),

a logistic regression of "real pair" against "random pair". Words used in
similar contexts end up with similar center vectors, which are the word
embeddings.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_positive, check_tensor

WORD = re.compile(r"[a-z]+")


def word_tokens(text: str) -> list[str]:
    """Lower-cased runs of letters: ``"The cat's mat."`` -> ``["the", "cat", "s", "mat"]``."""
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    return WORD.findall(text.lower())


def build_vocab(tokens: Sequence[str], min_count: int) -> tuple[list[str], torch.Tensor]:
    """Words seen at least ``min_count`` times, most frequent first, and their counts.

    Returns ``itos`` (id -> word) and ``counts`` ``[V]`` (int64). Ties are
    broken alphabetically, so the ids do not depend on the order of the text.

    Raises:
        ValueError: if ``min_count`` is not positive or no word is frequent enough.
    """
    check_positive(min_count, "min_count")
    frequent = [(w, c) for w, c in Counter(tokens).items() if c >= min_count]
    if not frequent:
        raise ValueError(f"no word occurs at least min_count = {min_count} times")
    frequent.sort(key=lambda wc: (-wc[1], wc[0]))
    return [w for w, _ in frequent], torch.tensor([c for _, c in frequent], dtype=torch.int64)


def encode_words(tokens: Sequence[str], itos: Sequence[str]) -> torch.Tensor:
    """Ids ``[L]`` of the tokens found in ``itos``; words outside it are dropped.

    Dropping (rather than mapping to an unknown id) is what Word2Vec does with
    rare words: their neighbours become neighbours of each other.
    """
    stoi = {w: i for i, w in enumerate(itos)}
    return torch.tensor([stoi[t] for t in tokens if t in stoi], dtype=torch.int64)


def skipgram_pairs(ids: torch.Tensor, window: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Every (center, context) pair of positions at most ``window`` apart.

    Shapes:
        ``ids`` ``[L]`` (int64) -> ``centers`` ``[P]`` and ``contexts`` ``[P]``,
        ``P = Σ_{o=1..window} 2 (L - o)`` (both directions, ``o`` the offset);
        ordered by offset, then by position.

    Raises:
        TypeError: if ``ids`` is not int64.
        ValueError: if ``ids`` is not 1-D or ``window`` is not positive.
    """
    check_tensor(ids, "ids", ndim=1, dtype=torch.int64)
    check_positive(window, "window")
    centers, contexts = [], []
    for offset in range(1, min(window, len(ids) - 1) + 1):
        centers += [ids[:-offset], ids[offset:]]  # context to the right, then to the left
        contexts += [ids[offset:], ids[:-offset]]
    if not centers:
        empty = torch.zeros(0, dtype=torch.int64)
        return empty, empty.clone()
    return torch.cat(centers), torch.cat(contexts)


def noise_distribution(counts: torch.Tensor, power: float = 0.75) -> torch.Tensor:
    """Probabilities ``[V]`` of drawing each word as a negative: ``counts**power``, normalised.

    The power 3/4 draws rare words more often than their frequency would.

    Raises:
        ValueError: if ``counts`` is not 1-D, is negative, or sums to zero.
    """
    check_tensor(counts, "counts", ndim=1)
    if (counts < 0).any() or counts.sum() <= 0:
        raise ValueError("counts must be non-negative with a positive sum")
    weights = counts.double() ** power
    return (weights / weights.sum()).float()


class SkipGram(nn.Module):
    """Center vectors ``v`` and context vectors ``u`` for ``vocab`` words; the loss of SGNS.

    ``forward(centers, contexts, negatives)`` returns the mean over the batch
    of ``-log σ(u_o · v_c) - Σ_k log σ(-u_k · v_c)``.

    Shapes:
        ``centers`` ``[B]``, ``contexts`` ``[B]``, ``negatives`` ``[B, K]``
        (int64) -> a scalar loss. ``score(centers, words)`` gives ``u_w · v_c``
        for ``centers`` ``[B]`` and ``words`` ``[B, ...]``.
    """

    def __init__(self, vocab: int, dim: int) -> None:
        super().__init__()
        check_positive(vocab, "vocab")
        check_positive(dim, "dim")
        self.center = nn.Embedding(vocab, dim)
        self.context = nn.Embedding(vocab, dim)
        nn.init.uniform_(self.center.weight, -0.5 / dim, 0.5 / dim)  # word2vec's start
        nn.init.zeros_(self.context.weight)

    def _check(self, ids: torch.Tensor, name: str) -> None:
        check_tensor(ids, name, dtype=torch.int64)
        if ids.numel() and (int(ids.min()) < 0 or int(ids.max()) >= self.center.num_embeddings):
            raise ValueError(
                f"{name} must hold ids from 0 to {self.center.num_embeddings - 1}, got ids "
                f"from {int(ids.min())} to {int(ids.max())}"
            )

    def score(self, centers: torch.Tensor, words: torch.Tensor) -> torch.Tensor:
        """Scores ``u_w · v_c``: centers ``[B]``, words ``[B]`` or ``[B, K]`` (same shape out)."""
        check_tensor(centers, "centers", ndim=1)
        self._check(centers, "centers")
        self._check(words, "words")
        if words.shape[:1] != centers.shape:
            raise ValueError(
                f"words must have centers' batch size {len(centers)} first, got shape "
                f"{tuple(words.shape)}"
            )
        v = self.center(centers)  # [B, d]
        u = self.context(words)  # [B, d] or [B, K, d]
        return (u * (v[:, None] if words.ndim == 2 else v)).sum(dim=-1)

    def forward(
        self, centers: torch.Tensor, contexts: torch.Tensor, negatives: torch.Tensor
    ) -> torch.Tensor:
        check_tensor(contexts, "contexts", ndim=1)
        check_tensor(negatives, "negatives", ndim=2)
        positive = self.score(centers, contexts)  # [B]
        negative = self.score(centers, negatives)  # [B, K]
        return -(F.logsigmoid(positive) + F.logsigmoid(-negative).sum(dim=1)).mean()


def skipgram_forward(model: SkipGram, batch: tuple) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward function for :func:`~snippets.common.train.fit`: the loss is already computed.

    ``batch`` is ``(centers, contexts, negatives)``; returns ``(loss, loss)``
    so that ``fit`` can be used with ``loss_fn = lambda loss, _: loss``.
    """
    centers, contexts, negatives = batch
    loss = model(centers, contexts, negatives)
    return loss, loss


def nearest_neighbours(embeddings: torch.Tensor, query: int, k: int) -> list[tuple[int, float]]:
    """The ``k`` rows most similar to row ``query`` by cosine similarity, itself excluded.

    Shapes:
        ``embeddings`` ``[V, d]`` -> ``k`` pairs ``(id, similarity)``, most similar first.

    Raises:
        ValueError: if ``embeddings`` is not 2-D, ``query`` is out of range or
            ``k`` is not between 1 and ``V - 1``.
    """
    check_tensor(embeddings, "embeddings", ndim=2, floating=True)
    if not 0 <= query < len(embeddings):
        raise ValueError(
            f"query must be a row of embeddings (0 to {len(embeddings) - 1}), got {query}"
        )
    if not 1 <= k < len(embeddings):
        raise ValueError(f"k must be between 1 and {len(embeddings) - 1}, got {k}")
    unit = F.normalize(embeddings, dim=1)
    similarity = unit @ unit[query]
    similarity[query] = float("-inf")  # not its own neighbour
    values, ids = similarity.topk(k)
    return list(zip(ids.tolist(), values.tolist()))


class NegativeSamplingBatches:
    """Shuffled ``(centers, contexts, negatives)`` batches, fresh negatives at every pass.

    Iterating once is one epoch: every pair appears exactly once, in a new
    random order, with ``negatives`` ``[B, K]`` drawn anew from ``noise``.
    Pass it to :func:`~snippets.common.train.fit` as ``train_batches``.

    Raises:
        ValueError: if the pair tensors differ in length or are empty, or
            ``num_negatives`` or ``batch_size`` is not positive.
    """

    def __init__(
        self,
        centers: torch.Tensor,
        contexts: torch.Tensor,
        noise: torch.Tensor,
        num_negatives: int,
        batch_size: int,
        generator: torch.Generator | None = None,
    ) -> None:
        check_tensor(centers, "centers", ndim=1, dtype=torch.int64)
        check_tensor(contexts, "contexts", ndim=1, dtype=torch.int64)
        if len(centers) != len(contexts) or len(centers) == 0:
            raise ValueError(
                f"centers and contexts must hold the same, non-zero number of pairs, got "
                f"{len(centers)} and {len(contexts)}"
            )
        check_positive(num_negatives, "num_negatives")
        check_positive(batch_size, "batch_size")
        self.centers, self.contexts, self.noise = centers, contexts, noise
        self.num_negatives, self.batch_size, self.generator = num_negatives, batch_size, generator

    def __len__(self) -> int:
        return -(-len(self.centers) // self.batch_size)

    def __iter__(self):
        order = torch.randperm(len(self.centers), generator=self.generator)
        negatives = torch.multinomial(
            self.noise, len(order) * self.num_negatives, replacement=True, generator=self.generator
        ).view(len(order), self.num_negatives)
        for start in range(0, len(order), self.batch_size):
            rows = order[start : start + self.batch_size]
            yield self.centers[rows], self.contexts[rows], negatives[start : start + len(rows)]


@torch.no_grad()
def pair_accuracy(
    model: SkipGram, centers: torch.Tensor, contexts: torch.Tensor, impostors: torch.Tensor
) -> float:
    """Fraction of pairs where the true context outscores an impostor: ``u_o·v_c > u_i·v_c``.

    With impostors drawn from the unigram distribution (the words' own
    frequencies) and never equal to the true context, a model that ignores
    the center word scores 0.5 in expectation: the bar of chance.

    Shapes:
        ``centers``, ``contexts``, ``impostors`` ``[P]`` (int64) -> a float.
    """
    if not len(centers) == len(contexts) == len(impostors) > 0:
        raise ValueError(
            f"centers, contexts and impostors must hold the same, non-zero number of ids, got "
            f"{len(centers)}, {len(contexts)} and {len(impostors)}"
        )
    true = model.score(centers, contexts)
    false = model.score(centers, impostors)
    return (true > false).double().mean().item()
