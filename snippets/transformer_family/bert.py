"""BERT: a post-norm Transformer encoder with token, position and segment embeddings.

:class:`Bert` is built from the site's own
:class:`~snippets.transformers.transformer.EncoderLayer` (post-norm, GELU):

* :class:`BertEmbeddings`: token + learned position + segment embeddings,
  summed, then LayerNorm and dropout;
* ``encoder``: ``num_layers`` encoder layers;
* ``pooler`` (optional): ``tanh(Linear(h_[CLS]))``, one vector per sequence.

:class:`BertForMaskedLM` adds the masked-language-model head (dense, GELU,
LayerNorm, then a decoder tied to the token embedding with a bias of its
own); :class:`BertForClassification` adds a classifier on the ``[CLS]``
position. :data:`BERT_BASE`, :data:`ROBERTA_BASE` and :data:`DISTILBERT_BASE`
are the published sizes; :func:`released_name` maps each parameter name to
the name it has in the released checkpoints, so that released weights can be
copied in. :class:`BertCharTokenizer` and :meth:`BertCharTokenizer.encode_pair`
build ``[CLS] A [SEP] B [SEP]`` inputs with their segment ids.

All tensors are batch first: ids ``[N, T]``, hidden states ``[N, T, d_model]``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.common.tokenizers import SPECIALS, CharTokenizer, Tokenizer
from snippets.transformers.attention import padding_mask
from snippets.transformers.embeddings import check_token_ids
from snippets.transformers.gpt import _init_gpt2
from snippets.transformers.transformer import Encoder, EncoderLayer

CLS, SEP, MASK = "[CLS]", "[SEP]", "[MASK]"


@dataclass(frozen=True)
class BertConfig:
    """The sizes of a BERT-style encoder (defaults: BERT-base).

    Attributes:
        vocab_size: number of token ids.
        max_positions: longest sequence (rows of the position embedding).
        type_vocab_size: number of segment types; ``0`` means no segment
            embedding at all (DistilBERT).
        d_model: width of every hidden state (``hidden_size``).
        num_layers: number of encoder layers.
        nhead: attention heads per layer (``d_model`` must be divisible by it).
        dim_feedforward: width of the feed-forward layer (``intermediate_size``).
        dropout: dropout probability, everywhere.
        pooler: whether to add the ``[CLS]`` pooler (dense + tanh).
        layer_norm_eps: the LayerNorms' epsilon (1e-12 in BERT).
        pad_id: the padding id; attention never looks at padding positions.

    Raises:
        ValueError: if a size is not positive, ``type_vocab_size`` is
            negative, ``d_model`` is not divisible by ``nhead``, ``dropout``
            is not in ``[0, 1)`` or ``pad_id`` is not an id of the vocabulary.
        TypeError: if a size is not a number.
    """

    vocab_size: int = 30_522
    max_positions: int = 512
    type_vocab_size: int = 2
    d_model: int = 768
    num_layers: int = 12
    nhead: int = 12
    dim_feedforward: int = 3072
    dropout: float = 0.1
    pooler: bool = True
    layer_norm_eps: float = 1e-12
    pad_id: int = 0

    def __post_init__(self) -> None:
        for name in ("vocab_size", "max_positions", "d_model", "num_layers", "nhead"):
            check_positive(getattr(self, name), name)
        check_positive(self.dim_feedforward, "dim_feedforward")
        check_positive(self.type_vocab_size, "type_vocab_size", allow_zero=True)
        check_positive(self.layer_norm_eps, "layer_norm_eps")
        if self.d_model % self.nhead:
            raise ValueError(
                f"d_model must be divisible by nhead, got {self.d_model} and {self.nhead}"
            )
        check_positive(self.dropout, "dropout", allow_zero=True)
        if self.dropout >= 1:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(
                f"pad_id must be an id from 0 to {self.vocab_size - 1}, got {self.pad_id}"
            )


#: BERT-base (Devlin et al., 2019): 12 layers of width 768, WordPiece vocabulary of 30,522.
BERT_BASE = BertConfig()
#: RoBERTa-base (Liu et al., 2019): BERT-base's network with a byte-level BPE of 50,265
#: tokens, one segment type and 514 positions (its positions start after the padding id).
ROBERTA_BASE = BertConfig(vocab_size=50_265, max_positions=514, type_vocab_size=1, pad_id=1)
#: DistilBERT-base (Sanh et al., 2019): half of BERT-base's layers, no segments, no pooler.
DISTILBERT_BASE = BertConfig(num_layers=6, type_vocab_size=0, pooler=False)


class BertEmbeddings(nn.Module):
    """``LayerNorm(token[ids] + position[0..T-1] + segment[segments])``, then dropout.

    All three are learned tables (no sinusoids, no ``√d_model`` scaling).
    With ``type_vocab_size = 0`` there is no segment table and ``segments``
    must be ``None``; otherwise ``segments=None`` means segment 0 everywhere.

    Shapes:
        ``ids`` ``[N, T]`` (int64, ``T <= max_positions``), ``segments``
        ``[N, T]`` (int64) → ``[N, T, d_model]``.

    Raises:
        TypeError: if ``ids`` or ``segments`` is not an int64 tensor.
        ValueError: if ``ids`` is not ``[N, T]``, holds an id outside the
            vocabulary or is longer than ``max_positions``, or ``segments``
            does not have the shape of ``ids``, holds an unknown segment, or
            is given to a model without segments.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.config = config
        self.token = nn.Embedding(config.vocab_size, config.d_model)
        self.position = nn.Embedding(config.max_positions, config.d_model)
        self.segment = (
            nn.Embedding(config.type_vocab_size, config.d_model) if config.type_vocab_size else None
        )
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        """Embed ids, positions and segments."""
        check_token_ids(ids, "ids", self.config.vocab_size)
        if ids.shape[1] > self.config.max_positions:
            raise ValueError(
                f"ids has {ids.shape[1]} positions, more than max_positions="
                f"{self.config.max_positions}"
            )
        positions = torch.arange(ids.shape[1], device=ids.device)
        x = self.token(ids) + self.position(positions)
        if segments is not None:
            if self.segment is None:
                raise ValueError("segments given, but this model has no segment embedding")
            check_tensor(segments, "segments", ndim=2, dtype=torch.int64)
            if segments.shape != ids.shape:
                raise ValueError(
                    f"segments must have the shape of ids, {tuple(ids.shape)}, "
                    f"got {tuple(segments.shape)}"
                )
            check_token_ids(segments, "segments", self.config.type_vocab_size)
            x = x + self.segment(segments)
        elif self.segment is not None:
            x = x + self.segment.weight[0]
        return self.dropout(self.norm(x))


class Bert(nn.Module):
    """BERT's encoder: embeddings, post-norm GELU encoder layers, an optional pooler.

    ``hidden = Encoder(BertEmbeddings(ids, segments))``; attention skips the
    positions holding ``config.pad_id``. :meth:`pool` turns the ``[CLS]``
    hidden state (position 0) into one vector per sequence,
    ``tanh(W h_0 + b)``. Initialization as in BERT: every weight matrix and
    embedding ``N(0, 0.02²)``, biases zero, LayerNorms the identity.

    Shapes:
        ``ids`` ``[N, T]`` (int64), ``segments`` ``[N, T]`` or ``None`` →
        hidden states ``[N, T, d_model]``.

    Raises:
        TypeError: if ``config`` is not a :class:`BertConfig`; in ``forward``,
            as :class:`BertEmbeddings`.
        ValueError: in ``forward``, as :class:`BertEmbeddings`.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"config must be a BertConfig, got {type(config).__name__}")
        self.config = config
        self.embeddings = BertEmbeddings(config)
        layer = EncoderLayer(
            config.d_model,
            config.nhead,
            config.dim_feedforward,
            config.dropout,
            activation="gelu",
            norm_first=False,
            layer_norm_eps=config.layer_norm_eps,
        )
        self.encoder = Encoder(layer, config.num_layers)
        self.pooler = nn.Linear(config.d_model, config.d_model) if config.pooler else None
        _init_bert(self)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        """Hidden states of every position."""
        x = self.embeddings(ids, segments)
        return self.encoder(x, src_key_padding_mask=padding_mask(ids, self.config.pad_id))

    def pool(self, hidden: torch.Tensor) -> torch.Tensor:
        """``tanh(pooler(hidden[:, 0]))``: the ``[CLS]`` summary ``[N, d_model]``.

        Raises:
            ValueError: if the model has no pooler or ``hidden`` is not
                ``[N, T, d_model]`` with ``T >= 1``.
        """
        if self.pooler is None:
            raise ValueError("this model has no pooler (config.pooler=False)")
        _check_hidden(hidden, self.config.d_model)
        return torch.tanh(self.pooler(hidden[:, 0]))


def _init_bert(module: nn.Module) -> None:
    """BERT's initialization: weights and embeddings ``N(0, 0.02²)``, biases 0, LayerNorms 1 and 0.

    A model built on the meta device (shapes only, to count parameters) has
    no values to set, so it is left alone.
    """
    if next(module.parameters()).device.type != "meta":
        module.apply(_init_gpt2)


def _check_hidden(hidden: object, d_model: int) -> None:
    check_tensor(hidden, "hidden", ndim=3, floating=True)
    if hidden.shape[1] == 0 or hidden.shape[2] != d_model:
        raise ValueError(f"hidden must be [N, T >= 1, {d_model}], got shape {tuple(hidden.shape)}")


class MaskedLMHead(nn.Module):
    """BERT's prediction head: ``decoder(LayerNorm(GELU(dense(h))))``.

    ``decoder`` shares its weight with the token embedding (it is the same
    ``[vocab_size, d_model]`` matrix) and has a bias of its own.

    Shapes:
        ``hidden`` ``[N, T, d_model]`` → logits ``[N, T, vocab_size]``.
    """

    def __init__(self, config: BertConfig, token_embedding: nn.Embedding) -> None:
        super().__init__()
        self.dense = nn.Linear(config.d_model, config.d_model)
        self.norm = nn.LayerNorm(config.d_model, eps=config.layer_norm_eps)
        self.decoder = nn.Linear(config.d_model, config.vocab_size)
        _init_bert(self)
        self.decoder.weight = token_embedding.weight  # tied

    def forward(self, hidden: torch.Tensor) -> torch.Tensor:
        """Logits over the vocabulary at every position."""
        return self.decoder(self.norm(F.gelu(self.dense(hidden))))


class BertForMaskedLM(nn.Module):
    """:class:`Bert` plus the :class:`MaskedLMHead`: logits for every position.

    Train it with :func:`~snippets.transformers.masked_lm.mask_tokens` and
    :func:`~snippets.transformers.masked_lm.masked_lm_loss`.

    Shapes:
        ``ids`` ``[N, T]``, ``segments`` ``[N, T]`` or ``None`` → ``[N, T, vocab_size]``.
    """

    def __init__(self, config: BertConfig) -> None:
        super().__init__()
        self.bert = Bert(config)
        self.head = MaskedLMHead(config, self.bert.embeddings.token)

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        """Masked-token logits."""
        return self.head(self.bert(ids, segments))


class BertForClassification(nn.Module):
    """:class:`Bert` plus a linear classifier on the ``[CLS]`` position.

    The sequence summary is the pooler's output when the model has one,
    otherwise the ``[CLS]`` hidden state itself (DistilBERT); dropout, then
    ``Linear(d_model, num_classes)``.

    Shapes:
        ``ids`` ``[N, T]`` (``T >= 1``), ``segments`` ``[N, T]`` or ``None`` →
        logits ``[N, num_classes]``.

    Raises:
        ValueError: if ``num_classes`` is not positive; in ``classify``, if
            ``hidden`` is not ``[N, T >= 1, d_model]``.
    """

    def __init__(self, config: BertConfig, num_classes: int) -> None:
        super().__init__()
        check_positive(num_classes, "num_classes")
        self.bert = Bert(config)
        self.dropout = nn.Dropout(config.dropout)
        self.classifier = nn.Linear(config.d_model, num_classes)
        _init_bert(self.classifier)

    def classify(self, hidden: torch.Tensor) -> torch.Tensor:
        """Class logits ``[N, num_classes]`` from hidden states ``[N, T, d_model]``."""
        if self.bert.pooler is not None:
            summary = self.bert.pool(hidden)
        else:
            _check_hidden(hidden, self.bert.config.d_model)
            summary = hidden[:, 0]
        return self.classifier(self.dropout(summary))

    def forward(self, ids: torch.Tensor, segments: torch.Tensor | None = None) -> torch.Tensor:
        """Class logits."""
        return self.classify(self.bert(ids, segments))


_LAYER_NAMES = {
    "self_attn.in_proj_weight": "attention.self.{query,key,value}.weight",
    "self_attn.in_proj_bias": "attention.self.{query,key,value}.bias",
    "self_attn.out_proj.weight": "attention.output.dense.weight",
    "self_attn.out_proj.bias": "attention.output.dense.bias",
    "norm1.weight": "attention.output.LayerNorm.weight",
    "norm1.bias": "attention.output.LayerNorm.bias",
    "linear1.weight": "intermediate.dense.weight",
    "linear1.bias": "intermediate.dense.bias",
    "linear2.weight": "output.dense.weight",
    "linear2.bias": "output.dense.bias",
    "norm2.weight": "output.LayerNorm.weight",
    "norm2.bias": "output.LayerNorm.bias",
}
_OTHER_NAMES = {
    "embeddings.token.weight": "embeddings.word_embeddings.weight",
    "embeddings.position.weight": "embeddings.position_embeddings.weight",
    "embeddings.segment.weight": "embeddings.token_type_embeddings.weight",
    "embeddings.norm.weight": "embeddings.LayerNorm.weight",
    "embeddings.norm.bias": "embeddings.LayerNorm.bias",
    "pooler.weight": "pooler.dense.weight",
    "pooler.bias": "pooler.dense.bias",
    "head.dense.weight": "cls.predictions.transform.dense.weight",
    "head.dense.bias": "cls.predictions.transform.dense.bias",
    "head.norm.weight": "cls.predictions.transform.LayerNorm.weight",
    "head.norm.bias": "cls.predictions.transform.LayerNorm.bias",
    "head.decoder.weight": "cls.predictions.decoder.weight",
    "head.decoder.bias": "cls.predictions.bias",
    "classifier.weight": "classifier.weight",
    "classifier.bias": "classifier.bias",
}


def released_name(name: str) -> str:
    """The name a parameter of this module has in the released BERT checkpoints.

    ``name`` is a key of the state dict of :class:`Bert`,
    :class:`BertForMaskedLM` or :class:`BertForClassification`. The released
    names follow Hugging Face's layout: the encoder's keep their ``bert.``
    prefix, the heads' are those of ``BertForMaskedLM``
    (``cls.predictions.…``) and ``BertForSequenceClassification``
    (``classifier.…``). The released checkpoints store the query, key and
    value projections as three matrices; ``in_proj_weight`` is them stacked
    in that order along dimension 0 (``torch.cat([q, k, v])``), written
    ``{query,key,value}`` in the name returned. RoBERTa uses the same
    names under ``roberta.``; DistilBERT renames the layers
    (``transformer.layer.{i}.attention.q_lin`` …).

    Raises:
        TypeError: if ``name`` is not a string.
        ValueError: if ``name`` is not a parameter name of these modules.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    prefix = "bert." if name.startswith("bert.") else ""
    bare = name.removeprefix(prefix)
    match = re.fullmatch(r"encoder\.layers\.(\d+)\.(.+)", bare)
    if match and match.group(2) in _LAYER_NAMES:
        return f"{prefix}encoder.layer.{match.group(1)}.{_LAYER_NAMES[match.group(2)]}"
    is_head = bare.startswith(("head.", "classifier."))
    if bare in _OTHER_NAMES and not (is_head and prefix):  # a head has no "bert." prefix
        return _OTHER_NAMES[bare] if is_head else prefix + _OTHER_NAMES[bare]
    raise ValueError(f"name must be a parameter name of Bert, got {name!r}")


class BertCharTokenizer(CharTokenizer):
    """A character vocabulary with BERT's ``[CLS]``, ``[SEP]`` and ``[MASK]`` tokens.

    Ids 0–3 are the site's special tokens (``<pad>`` = 0), 4–6 are
    ``[CLS]``, ``[SEP]``, ``[MASK]``; the characters of ``texts`` follow.
    """

    def __init__(self, texts: Iterable[str]) -> None:
        Tokenizer.__init__(self, list(SPECIALS) + [CLS, SEP, MASK] + sorted(set("".join(texts))))
        self.cls_id, self.sep_id, self.mask_id = (self.stoi[s] for s in (CLS, SEP, MASK))

    @property
    def special_ids(self) -> tuple[int, ...]:
        """The ids that masking must never pick: the seven special tokens."""
        return tuple(range(len(SPECIALS) + 3))

    def encode_pair(
        self, first: str, second: str | None = None, length: int | None = None
    ) -> tuple[list[int], list[int]]:
        """``[CLS] first [SEP] second [SEP]`` and its segment ids (0 for the first part, 1 after).

        With ``length``, the two texts are cut (the longer one first) so the
        whole fits, then padded with ``<pad>`` (segment 0) to exactly
        ``length`` ids.

        Raises:
            TypeError: if a text is not a string.
            ValueError: if ``length`` is too short for the special tokens.
        """
        a = self.encode(first)
        b = [] if second is None else self.encode(second)
        specials = 2 if second is None else 3
        if length is not None:
            check_positive(length, "length")
            if length < specials:
                raise ValueError(f"length must be at least {specials}, got {length}")
            while len(a) + len(b) + specials > length:
                if len(a) >= len(b):
                    a.pop()
                else:
                    b.pop()
        ids = [self.cls_id, *a, self.sep_id]
        segments = [0] * len(ids)
        if second is not None:
            ids += [*b, self.sep_id]
            segments += [1] * (len(b) + 1)
        if length is not None:
            pad = length - len(ids)
            ids += [self.pad_id] * pad
            segments += [0] * pad
        return ids, segments
