"""A small BERT on the three offline sources: the passages, and masked-token pretraining.

:class:`SourcePassages` turns the texts of
:func:`~snippets.transformer_family.text_sources.source_texts` into BERT
inputs: a byte-pair encoding learned on the training parts, BERT's
``[CLS]``, ``[SEP]`` and ``[MASK]`` on the next three ids, and
:meth:`SourcePassages.passages` to draw ``[CLS] window [SEP]`` passages,
labelled by source, from the training or the held-out part;
:meth:`SourcePassages.pretrained_bert` pretrains a small BERT on them.
:func:`pretrain_masked_lm` trains a
:class:`~snippets.transformer_family.bert.BertForMaskedLM` on unlabelled
passages, masking every batch afresh with BERT's 80/10/10 rule.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from snippets.common.checks import check_positive, check_tensor
from snippets.common.train import History, fit
from snippets.transformer_family.bert import BertConfig, BertForMaskedLM
from snippets.transformer_family.text_sources import source_texts, source_windows
from snippets.transformers.bpe import BPETokenizer
from snippets.transformers.masked_lm import IGNORE, mask_tokens

PARTS = ("train", "held out")


class SourcePassages:
    """The three sources, tokenized for BERT, and passages drawn from them.

    The byte-pair encoding (``bpe_vocab`` tokens) is learned on the first
    ``bpe_chars`` characters of every source's training part; ``[CLS]``,
    ``[SEP]`` and ``[MASK]`` take the ids after it. Each part of each
    source is then encoded whole, once.

    Args:
        texts: ``{source: (train part, held-out part)}``; default
            :func:`~snippets.transformer_family.text_sources.source_texts`.
        length: tokens per passage, not counting ``[CLS]`` and ``[SEP]``.
        bpe_vocab: size of the byte-pair vocabulary.
        bpe_chars: characters of each training part the encoding learns from.

    Attributes:
        bpe: the :class:`~snippets.transformers.bpe.BPETokenizer`.
        cls_id, sep_id, mask_id: BERT's three extra ids.
        vocab_size: ``len(bpe) + 3``, the ids a model must embed.
        special_ids: the ids masking must never pick (padding and the three).
        streams: ``{"train": [...], "held out": [...]}``, one 1-D int64 tensor
            of token ids per source.

    Raises:
        ValueError: if ``texts`` is empty or a size is not positive.
        TypeError: if ``texts`` is not a dict of pairs of strings.
    """

    def __init__(
        self,
        texts: dict[str, tuple[str, str]] | None = None,
        length: int = 24,
        bpe_vocab: int = 500,
        bpe_chars: int = 60_000,
    ) -> None:
        for name, value in (("length", length), ("bpe_vocab", bpe_vocab), ("bpe_chars", bpe_chars)):
            check_positive(value, name)
        texts = source_texts() if texts is None else texts
        if not isinstance(texts, dict):
            raise TypeError(f"texts must be a dict of (train, held out) pairs, got {type(texts)}")
        if not texts:
            raise ValueError("texts must hold at least one source, got none")
        for name, pair in texts.items():
            if not (
                isinstance(pair, tuple) and len(pair) == 2 and all(isinstance(t, str) for t in pair)
            ):
                raise TypeError(f"texts[{name!r}] must be a (train, held out) pair of str")
        self.length = length
        self.bpe = BPETokenizer.train(
            " ".join(train[:bpe_chars] for train, _ in texts.values()), bpe_vocab
        )
        self.cls_id, self.sep_id, self.mask_id = len(self.bpe), len(self.bpe) + 1, len(self.bpe) + 2
        self.vocab_size = len(self.bpe) + 3
        self.special_ids = (self.bpe.pad_id, self.cls_id, self.sep_id, self.mask_id)
        self.streams = {
            part: [torch.tensor(self.bpe.encode(pair[i])) for pair in texts.values()]
            for i, part in enumerate(PARTS)
        }

    def config(self, d_model: int, num_layers: int, nhead: int = 4) -> BertConfig:
        """A small BERT for these passages: their vocabulary, length and padding id.

        The feed-forward layer is ``2 · d_model`` wide and dropout is off: at
        this size the runs are too short for dropout to pay.

        Raises:
            ValueError: as :class:`~snippets.transformer_family.bert.BertConfig`.
        """
        return BertConfig(
            vocab_size=self.vocab_size,
            max_positions=self.length + 2,
            d_model=d_model,
            num_layers=num_layers,
            nhead=nhead,
            dim_feedforward=2 * d_model,
            dropout=0.0,
            pad_id=self.bpe.pad_id,
        )

    def passages(
        self, part: str, per_source: int, generator: torch.Generator, shuffle: bool = False
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``per_source`` passages ``[CLS] window [SEP]`` from each source of ``part``.

        The passages come source by source, or in a random order (drawn
        with ``generator``) with ``shuffle``.

        Shapes:
            → ids ``[S · per_source, length + 2]`` (int64) and labels
            ``[S · per_source]`` (the index of the source), for ``S`` sources.

        Raises:
            ValueError: if ``part`` is not ``"train"`` or ``"held out"``, or
                ``per_source`` is not positive.
        """
        if part not in self.streams:
            raise ValueError(f"part must be one of {PARTS}, got {part!r}")
        windows, labels = source_windows(self.streams[part], self.length, per_source, generator)
        n = len(windows)
        ids = torch.cat(
            [torch.full((n, 1), self.cls_id), windows, torch.full((n, 1), self.sep_id)], dim=1
        )
        if shuffle:
            order = torch.randperm(n, generator=generator)
            ids, labels = ids[order], labels[order]
        return ids, labels

    def pretrained_bert(
        self,
        config: BertConfig,
        per_source: int,
        epochs: int,
        generator: torch.Generator,
        device: torch.device | str = "cpu",
        mask_seed: int = 1,
    ) -> tuple[BertForMaskedLM, History]:
        """A :class:`~snippets.transformer_family.bert.BertForMaskedLM` pretrained on these sources.

        Draws ``per_source`` training passages of each source in a random
        order with ``generator`` (their labels are not used) and trains a new
        model of ``config`` on them with :func:`pretrain_masked_lm` for
        ``epochs``; the masks come from a generator of their own, seeded with
        ``mask_seed``.

        Returns:
            the model (on ``device``) and the
            :class:`~snippets.common.train.History` of its training.

        Raises:
            ValueError: if ``per_source`` or ``epochs`` is not positive.
        """
        ids, _ = self.passages("train", per_source, generator, shuffle=True)
        model = BertForMaskedLM(config)
        history = pretrain_masked_lm(
            model,
            ids,
            self.mask_id,
            self.special_ids,
            epochs,
            device=device,
            generator=torch.Generator().manual_seed(mask_seed),
        )
        return model, history


def pretrain_masked_lm(
    model: BertForMaskedLM,
    ids: torch.Tensor,
    mask_id: int,
    special_ids: tuple[int, ...],
    epochs: int,
    *,
    lr: float = 3e-3,
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    generator: torch.Generator | None = None,
) -> History:
    """Train ``model`` to predict masked tokens of ``ids``, masks drawn afresh for every batch.

    Every batch of ``batch_size`` passages is masked by
    :func:`~snippets.transformers.masked_lm.mask_tokens` (15 % of the
    positions that are not ``special_ids``: 80 % ``mask_id``, 10 % a random
    id, 10 % unchanged) with ``generator``, and the loss is the
    cross-entropy on the picked positions, the value of
    :func:`~snippets.transformers.masked_lm.masked_lm_loss`. The prediction
    head runs on the picked positions only: the others do not count in the
    loss, and skipping them saves the largest matrix product of the head
    (``d_model × vocab_size`` at every position). AdamW with weight decay 0.01.

    Shapes:
        ``ids`` ``[N, T]`` (int64, in ``model``'s vocabulary).

    Returns:
        the :class:`~snippets.common.train.History` of :func:`~snippets.common.train.fit`.

    Raises:
        TypeError: if ``model`` is not a ``BertForMaskedLM`` or ``ids`` not
            an int64 tensor.
        ValueError: if ``ids`` is not 2-D or a size is not positive.
    """
    if not isinstance(model, BertForMaskedLM):
        raise TypeError(f"model must be a BertForMaskedLM, got {type(model).__name__}")
    check_tensor(ids, "ids", ndim=2, dtype=torch.int64)
    check_positive(batch_size, "batch_size")
    vocab_size = model.bert.config.vocab_size

    def masked_forward(model: BertForMaskedLM, batch: torch.Tensor):
        inputs, labels = mask_tokens(
            batch, mask_id, vocab_size, special_ids=special_ids, generator=generator
        )
        picked = labels != IGNORE
        return model.head(model.bert(inputs)[picked]), labels[picked]  # [P, V], [P]

    return fit(
        model,
        list(ids.split(batch_size)),
        F.cross_entropy,
        torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01),
        epochs=epochs,
        device=device,
        forward=masked_forward,
    )
