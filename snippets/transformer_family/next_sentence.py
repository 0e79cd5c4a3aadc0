"""BERT's second pretraining objective: does the second segment follow the first?

Next-sentence prediction (NSP) reads a pair ``[CLS] A [SEP] B [SEP]``; half
the time ``B`` is the text that really follows ``A``, otherwise it is a
segment taken from a random place in the corpus. A binary classifier on the
``[CLS]`` summary says which, and its loss is added to the masked-token loss.

* :func:`sentence_pairs` draws the pairs of token windows and their labels
  from token streams (one per document or source);
* :func:`pack_pairs` writes them as ``[CLS] A [SEP] B [SEP]`` with segment
  ids 0 for ``[CLS] A [SEP]`` and 1 for ``B [SEP]``;
* :class:`NextSentenceHead` is the classifier, :class:`BertForPreTraining`
  BERT with both heads, and :func:`pretraining_loss` the sum of both losses.

RoBERTa dropped this objective; ``examples/transformer-family/plot_roberta_ablation.py``
measures it against masked-token prediction alone at the same budget.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.transformer_family.bert import Bert, BertConfig, MaskedLMHead, _init_bert
from snippets.transformers.masked_lm import masked_lm_loss

#: Label of a pair whose second segment really follows the first.
IS_NEXT = 1
#: Label of a pair whose second segment was drawn at random.
NOT_NEXT = 0


def sentence_pairs(
    streams: list[torch.Tensor],
    first_length: int,
    second_length: int,
    per_stream: int,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``per_stream`` pairs of windows ``(A, B)`` from each stream, half of them consecutive.

    ``A`` is a window of ``first_length`` tokens at a random place of its
    stream. Exactly ``N // 2`` of the ``N = len(streams) · per_stream``
    pairs, picked at random, are labelled :data:`IS_NEXT`: their ``B`` is the
    ``second_length`` tokens right after ``A``. The others are labelled
    :data:`NOT_NEXT`: their ``B`` is a window at a random place of a random
    stream (any stream, as BERT draws from the whole corpus), drawn again
    if it happens to be the true continuation.

    Shapes:
        ``streams``: 1-D int64 tensors → ``first`` ``[N, first_length]``,
        ``second`` ``[N, second_length]``, ``is_next`` ``[N]`` (int64, 0 or 1),
        stream by stream.

    Raises:
        TypeError: if a stream is not an int64 tensor or a length or
            ``per_stream`` is not an int.
        ValueError: if ``streams`` is empty, a length or ``per_stream`` is not
            positive, a stream is not 1-D or shorter than
            ``first_length + second_length`` tokens.
    """
    for value, name in (
        (first_length, "first_length"),
        (second_length, "second_length"),
        (per_stream, "per_stream"),
    ):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        check_positive(value, name)
    if not isinstance(streams, (list, tuple)) or not streams:
        raise ValueError("streams must be a non-empty list of 1-D int64 tensors")
    span = first_length + second_length
    for k, stream in enumerate(streams):
        check_tensor(stream, f"streams[{k}]", ndim=1, dtype=torch.int64)
        if len(stream) < span:
            raise ValueError(
                f"streams[{k}] must hold at least first_length + second_length = {span} "
                f"tokens, got {len(stream)}"
            )
    sizes = torch.tensor([len(s) for s in streams])
    source = torch.arange(len(streams)).repeat_interleave(per_stream)  # [N]
    n = len(source)
    start = (torch.rand(n, generator=generator) * (sizes[source] - span + 1)).long()
    is_next = torch.full((n,), NOT_NEXT, dtype=torch.int64)
    is_next[torch.randperm(n, generator=generator)[: n // 2]] = IS_NEXT
    # B's stream and start: the true continuation, or a random window anywhere
    other = torch.randint(len(streams), (n,), generator=generator)
    other_start = (torch.rand(n, generator=generator) * (sizes[other] - second_length + 1)).long()
    clash = (other == source) & (other_start == start + first_length)
    while clash.any():  # a random window that is the true continuation: draw it again
        other_start[clash] = (
            torch.rand(int(clash.sum()), generator=generator)
            * (sizes[other[clash]] - second_length + 1)
        ).long()
        clash = (other == source) & (other_start == start + first_length)
    b_source = torch.where(is_next == IS_NEXT, source, other)
    b_start = torch.where(is_next == IS_NEXT, start + first_length, other_start)
    first = torch.stack([streams[s][i : i + first_length] for s, i in zip(source, start)])
    second = torch.stack([streams[s][i : i + second_length] for s, i in zip(b_source, b_start)])
    return first, second, is_next


def pack_pairs(
    first: torch.Tensor, second: torch.Tensor, cls_id: int, sep_id: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """``[CLS] A [SEP] B [SEP]`` for every row, and its segment ids.

    Segment 0 covers ``[CLS] A [SEP]``, segment 1 covers ``B [SEP]``, as in
    BERT.

    Shapes:
        ``first`` ``[N, La]``, ``second`` ``[N, Lb]`` (int64) → ``ids`` and
        ``segments`` ``[N, La + Lb + 3]`` (int64).

    Raises:
        TypeError: if ``first`` or ``second`` is not an int64 tensor.
        ValueError: if they are not 2-D or differ in ``N``.
    """
    check_tensor(first, "first", ndim=2, dtype=torch.int64)
    check_tensor(second, "second", ndim=2, dtype=torch.int64)
    if len(first) != len(second):
        raise ValueError(f"second must hold as many rows as first, {len(first)}, got {len(second)}")
    n, la, lb = len(first), first.shape[1], second.shape[1]
    cls = torch.full((n, 1), cls_id, dtype=torch.int64)
    sep = torch.full((n, 1), sep_id, dtype=torch.int64)
    ids = torch.cat([cls, first, sep, second, sep], dim=1)
    segments = torch.cat(
        [torch.zeros(n, la + 2, dtype=torch.int64), torch.ones(n, lb + 1, dtype=torch.int64)],
        dim=1,
    )
    return ids, segments


class NextSentenceHead(nn.Module):
    """``Linear(d_model, 2)`` on the pooled ``[CLS]`` state: is ``B`` the next segment?

    Column :data:`IS_NEXT` of the logits scores "``B`` follows ``A``",
    column :data:`NOT_NEXT` "``B`` is random", as in BERT's ``seq_relationship``
    layer (whose index 0 is "is next": map the rows when loading weights).

    Shapes:
        ``pooled`` ``[N, d_model]`` → logits ``[N, 2]``.
    """

    def __init__(self, d_model: int) -> None:
        super().__init__()
        check_positive(d_model, "d_model")
        self.classifier = nn.Linear(d_model, 2)
        _init_bert(self)

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        """The two logits of every pair."""
        check_tensor(pooled, "pooled", ndim=2, floating=True)
        return self.classifier(pooled)


class BertForPreTraining(nn.Module):
    """:class:`~snippets.transformer_family.bert.Bert` with both of BERT's pretraining heads.

    The masked-token head (:class:`~snippets.transformer_family.bert.MaskedLMHead`,
    tied to the token embedding) reads every position; the
    :class:`NextSentenceHead` reads the pooled ``[CLS]`` state.

    Shapes:
        ``ids``, ``segments`` ``[N, T]`` (int64) → ``(token logits
        [N, T, vocab_size], next-sentence logits [N, 2])``.

    Raises:
        TypeError: if ``config`` is not a ``BertConfig``.
        ValueError: if ``config`` has no pooler or fewer than two segment types.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"config must be a BertConfig, got {type(config).__name__}")
        if not config.pooler or config.type_vocab_size < 2:
            raise ValueError(
                "config must have a pooler and at least 2 segment types for sentence pairs, "
                f"got pooler={config.pooler}, type_vocab_size={config.type_vocab_size}"
            )
        self.bert = Bert(config)
        self.head = MaskedLMHead(config, self.bert.embeddings.token)
        self.next_sentence = NextSentenceHead(config.d_model)

    def forward(
        self, ids: torch.Tensor, segments: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Token logits and next-sentence logits."""
        hidden = self.bert(ids, segments)
        return self.head(hidden), self.next_sentence(self.bert.pool(hidden))


def pretraining_loss(
    outputs: tuple[torch.Tensor, torch.Tensor], targets: tuple[torch.Tensor, torch.Tensor]
) -> torch.Tensor:
    """BERT's loss: masked-token cross-entropy plus next-sentence cross-entropy.

    ``outputs`` is ``(token logits [N, T, V], next-sentence logits [N, 2])``,
    ``targets`` is ``(token labels [N, T], is_next [N])``; the token labels
    are those of :func:`~snippets.transformers.masked_lm.mask_tokens`.

    Raises:
        TypeError, ValueError: as
            :func:`~snippets.transformers.masked_lm.masked_lm_loss`, or if
            ``is_next`` is not int64 ``[N]`` of zeros and ones.
    """
    (token_logits, pair_logits), (labels, is_next) = outputs, targets
    check_tensor(pair_logits, "pair_logits", ndim=2, floating=True)
    check_tensor(is_next, "is_next", ndim=1, dtype=torch.int64)
    if pair_logits.shape != (len(is_next), 2):
        raise ValueError(
            f"pair_logits must have shape ({len(is_next)}, 2), got {tuple(pair_logits.shape)}"
        )
    if ((is_next != 0) & (is_next != 1)).any():
        raise ValueError("is_next must hold 0 (random second segment) or 1 (the next one) only")
    return masked_lm_loss(token_logits, labels) + F.cross_entropy(pair_logits, is_next)
