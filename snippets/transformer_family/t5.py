"""T5: the whole encoder-decoder, with relative position buckets and text in, text out.

T5 keeps the Transformer's two stacks and changes the details:

* no position embeddings; instead every attention score gets a learned
  scalar per head that depends only on the (bucketed) offset between key and
  query (:func:`relative_position_bucket`, :class:`RelativePositionBias`).
  Only the first layer of each stack holds the table; the other layers reuse
  the bias it computes. The encoder's buckets tell left from right, the
  decoder's see the past only;
* pre-norm blocks whose norm is RMSNorm (:class:`~snippets.llm.rms_norm.RMSNorm`:
  a scale, no mean, no bias), projections without bias, a ReLU feed-forward;
* no ``1/√d`` in the attention scores: the initialization of the query
  projection carries that factor instead;
* one embedding matrix shared by the encoder input, the decoder input and the
  output layer, whose input is scaled by ``d_model^-1/2``.

:class:`T5` has ``encode``/``decode`` like
:class:`~snippets.transformers.transformer.Seq2SeqTransformer`, so
:func:`~snippets.sequence_models.seq2seq.teacher_forcing` trains it and
:func:`~snippets.sequence_models.seq2seq.greedy_decode` generates with it.
:data:`T5_SMALL` is the published small size, :func:`count_parameters` counts
a model (on the ``meta`` device too) and :func:`released_name` gives each
parameter's name in the released checkpoints.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.llm.rms_norm import RMSNorm
from snippets.transformers.attention import scaled_dot_product_attention
from snippets.transformers.embeddings import check_token_ids


def _check_buckets(num_buckets: int, max_distance: int, bidirectional: bool) -> None:
    for value, name in ((num_buckets, "num_buckets"), (max_distance, "max_distance")):
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
    least = 4 if bidirectional else 2
    if num_buckets < least or num_buckets % 2:
        raise ValueError(f"num_buckets must be an even number >= {least}, got {num_buckets}")
    exact = num_buckets // (4 if bidirectional else 2)
    if max_distance <= exact:
        raise ValueError(f"max_distance must exceed the {exact} exact buckets, got {max_distance}")


@dataclass(frozen=True)
class T5Config:
    """The sizes of a T5 model; the defaults are T5-small.

    ``d_kv`` is the size of one head, so the attention works in
    ``num_heads · d_kv`` dimensions, which need not equal ``d_model``.

    Raises:
        ValueError: if a size is not positive, ``num_buckets`` is below 4 or
            odd, ``max_distance`` does not exceed ``num_buckets // 4`` (the
            encoder's exact buckets), or ``dropout`` is not in ``[0, 1)``.
        TypeError: if a size is not a number.
    """

    vocab_size: int = 32128
    d_model: int = 512
    num_layers: int = 6
    num_decoder_layers: int = 6
    num_heads: int = 8
    d_kv: int = 64
    d_ff: int = 2048
    num_buckets: int = 32
    max_distance: int = 128
    dropout: float = 0.1
    eps: float = 1e-6
    pad_id: int = 0

    def __post_init__(self) -> None:
        for name in (
            "vocab_size",
            "d_model",
            "num_layers",
            "num_decoder_layers",
            "num_heads",
            "d_kv",
            "d_ff",
            "num_buckets",
            "max_distance",
            "eps",
        ):
            check_positive(getattr(self, name), name)
        _check_buckets(self.num_buckets, self.max_distance, bidirectional=True)
        check_positive(self.dropout, "dropout", allow_zero=True)
        if self.dropout >= 1:
            raise ValueError(f"dropout must be < 1, got {self.dropout}")
        if not 0 <= self.pad_id < self.vocab_size:
            raise ValueError(
                f"pad_id must be an id of the vocabulary, 0 to {self.vocab_size - 1}, "
                f"got {self.pad_id}"
            )


T5_SMALL = T5Config()  # 60,506,624 parameters


def relative_position_bucket(
    relative_position: torch.Tensor,
    bidirectional: bool = True,
    num_buckets: int = 32,
    max_distance: int = 128,
) -> torch.Tensor:
    """The bucket of each offset ``key − query``: exact when near, log-spaced when far.

    Bidirectional (the encoder): half the buckets for keys at or before the
    query, half for keys after it. Causal (the decoder): all buckets for the
    past; every key after the query falls in bucket 0 (it is masked anyway).
    Within a direction with ``B`` buckets, distances ``0 … B/2 − 1`` get a
    bucket each; larger distances share the other ``B/2`` buckets on a
    logarithmic scale up to ``max_distance``, and every distance beyond that
    lands in the last bucket.

    Shapes:
        ``relative_position`` any shape, integer → buckets of the same shape,
        int64, in ``0 … num_buckets − 1``.

    Raises:
        TypeError: if ``relative_position`` is not an integer tensor or a size
            is not an int.
        ValueError: if ``num_buckets`` is odd or too small, or ``max_distance``
            does not exceed the exact buckets.
    """
    check_tensor(
        relative_position, "relative_position", dtype=(torch.int64, torch.int32, torch.int16)
    )
    _check_buckets(num_buckets, max_distance, bidirectional)
    relative_position = relative_position.long()
    if bidirectional:
        num_buckets //= 2  # one half per direction
        offset = (relative_position > 0).long() * num_buckets  # keys after the query
        distance = relative_position.abs()
    else:
        offset = torch.zeros_like(relative_position)
        distance = (-relative_position).clamp(min=0)  # the future counts as distance 0
    exact = num_buckets // 2
    far = distance.clamp(min=exact).float() / exact  # >= 1, so the log is >= 0
    log_bucket = (
        exact + (torch.log(far) / math.log(max_distance / exact) * (num_buckets - exact)).long()
    )
    log_bucket = log_bucket.clamp(max=num_buckets - 1)
    return offset + torch.where(distance < exact, distance, log_bucket)


class RelativePositionBias(nn.Module):
    """A learned scalar per head and bucket, added to the attention scores.

    ``embedding`` ``[num_buckets, num_heads]`` is the whole table; the bias of
    a (query ``i``, key ``j``) pair in head ``h`` is
    ``embedding[bucket(j − i), h]``.

    Shapes:
        ``forward(query_length, key_length)`` → ``[1, num_heads, L, S]``,
        on the table's device and in its dtype.
    """

    def __init__(
        self, num_heads: int, num_buckets: int = 32, max_distance: int = 128, bidirectional=True
    ) -> None:
        super().__init__()
        check_positive(num_heads, "num_heads")
        _check_buckets(num_buckets, max_distance, bidirectional)
        self.num_buckets, self.max_distance = num_buckets, max_distance
        self.bidirectional = bidirectional
        self.embedding = nn.Embedding(num_buckets, num_heads)

    def forward(self, query_length: int, key_length: int) -> torch.Tensor:
        """The bias for queries ``0 … L−1`` and keys ``0 … S−1``.

        Raises:
            ValueError: if a length is negative.
        """
        check_positive(query_length, "query_length", allow_zero=True)
        check_positive(key_length, "key_length", allow_zero=True)
        device = self.embedding.weight.device
        query = torch.arange(query_length, device=device)[:, None]
        key = torch.arange(key_length, device=device)[None, :]
        buckets = relative_position_bucket(
            key - query, self.bidirectional, self.num_buckets, self.max_distance
        )  # [L, S]
        return self.embedding(buckets).permute(2, 0, 1)[None]  # [1, H, L, S]


class T5Attention(nn.Module):
    """Multi-head attention without biases and without the ``1/√d`` scale.

    ``q``, ``k``, ``v`` map ``d_model`` to ``num_heads · d_kv`` and ``o`` maps
    back. The scores ``Q Kᵀ`` get ``bias`` added (the relative position bias
    plus the masks, ``-inf`` where blocked) before the softmax. With
    ``relative_bias=True`` the layer owns a :class:`RelativePositionBias`
    (only the first layer of a stack does).

    Shapes:
        ``x`` ``[N, L, d_model]``, ``memory`` ``[N, S, d_model]`` (``x`` itself
        for self-attention), ``bias`` broadcastable to ``[N, H, L, S]`` →
        ``[N, L, d_model]``.
    """

    def __init__(
        self,
        config: T5Config,
        relative_bias: bool = False,
        bidirectional: bool = True,
    ) -> None:
        super().__init__()
        inner = config.num_heads * config.d_kv
        self.num_heads, self.d_kv = config.num_heads, config.d_kv
        self.q = nn.Linear(config.d_model, inner, bias=False)
        self.k = nn.Linear(config.d_model, inner, bias=False)
        self.v = nn.Linear(config.d_model, inner, bias=False)
        self.o = nn.Linear(inner, config.d_model, bias=False)
        self.dropout = config.dropout
        self.relative_bias = (
            RelativePositionBias(
                config.num_heads, config.num_buckets, config.max_distance, bidirectional
            )
            if relative_bias
            else None
        )

    def forward(
        self, x: torch.Tensor, memory: torch.Tensor | None = None, bias: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Attend from ``x`` to ``memory`` (or to ``x``), scores plus ``bias``."""
        memory = x if memory is None else memory
        n = x.shape[0]

        def split(t: torch.Tensor) -> torch.Tensor:  # [N, T, H·d_kv] -> [N, H, T, d_kv]
            return t.reshape(n, t.shape[1], self.num_heads, self.d_kv).transpose(1, 2)

        q, k, v = split(self.q(x)), split(self.k(memory)), split(self.v(memory))
        out, weights = scaled_dot_product_attention(q, k, v, attn_mask=bias, scale=1.0)
        if self.training and self.dropout > 0:
            out = F.dropout(weights, self.dropout) @ v
        return self.o(out.transpose(1, 2).reshape(n, x.shape[1], -1))


class T5FeedForward(nn.Module):
    """``wo(ReLU(wi(x)))``, both without bias.

    Shapes:
        ``[..., d_model]`` → ``[..., d_model]``.
    """

    def __init__(self, config: T5Config) -> None:
        super().__init__()
        self.wi = nn.Linear(config.d_model, config.d_ff, bias=False)
        self.wo = nn.Linear(config.d_ff, config.d_model, bias=False)
        self.dropout = nn.Dropout(config.dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.wo(self.dropout(F.relu(self.wi(x))))


class T5Layer(nn.Module):
    """One pre-norm block: self-attention, cross-attention (decoder only), feed-forward.

    ::

        x = x + SelfAttention(norm1(x), bias=self_bias)
        x = x + CrossAttention(norm2(x), memory, bias=cross_bias)   # decoder
        x = x + FeedForward(norm3(x))

    Every norm is an :class:`~snippets.llm.rms_norm.RMSNorm`, every residual
    branch ends in dropout.

    Shapes:
        ``x`` ``[N, T, d_model]``, ``memory`` ``[N, S, d_model]``, ``self_bias``
        broadcastable to ``[N, H, T, T]``, ``cross_bias`` to ``[N, H, T, S]``
        → ``[N, T, d_model]``.
    """

    def __init__(self, config: T5Config, decoder: bool, relative_bias: bool) -> None:
        super().__init__()
        self.self_attn = T5Attention(config, relative_bias, bidirectional=not decoder)
        self.norm1 = RMSNorm(config.d_model, config.eps)
        self.cross_attn = T5Attention(config) if decoder else None
        self.norm2 = RMSNorm(config.d_model, config.eps) if decoder else None
        self.feed_forward = T5FeedForward(config)
        self.norm3 = RMSNorm(config.d_model, config.eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        self_bias: torch.Tensor,
        memory: torch.Tensor | None = None,
        cross_bias: torch.Tensor | None = None,
    ) -> torch.Tensor:
        x = x + self.dropout(self.self_attn(self.norm1(x), bias=self_bias))
        if self.cross_attn is not None:
            x = x + self.dropout(self.cross_attn(self.norm2(x), memory, bias=cross_bias))
        return x + self.dropout(self.feed_forward(self.norm3(x)))


class T5Stack(nn.Module):
    """``num_layers`` :class:`T5Layer` blocks and a final RMSNorm.

    The first layer's self-attention holds the stack's
    :class:`RelativePositionBias`; the bias is computed once per call and
    added, with the masks, in every layer. ``keep`` blocks the encoder's
    padding keys; the decoder's self-attention is causal instead (padding at
    the end of a target is never read by an earlier position), and its
    cross-attention blocks the source's padding (``memory_keep``).

    Shapes:
        ``x`` ``[N, T, d_model]`` (embedded), ``keep`` ``[N, T]`` (True at real
        tokens) or None, ``memory`` ``[N, S, d_model]``, ``memory_keep``
        ``[N, S]`` → ``[N, T, d_model]``.
    """

    def __init__(self, config: T5Config, decoder: bool) -> None:
        super().__init__()
        count = config.num_decoder_layers if decoder else config.num_layers
        self.decoder = decoder
        self.layers = nn.ModuleList(
            T5Layer(config, decoder, relative_bias=i == 0) for i in range(count)
        )
        self.final_norm = RMSNorm(config.d_model, config.eps)
        self.dropout = nn.Dropout(config.dropout)

    def forward(
        self,
        x: torch.Tensor,
        keep: torch.Tensor | None = None,
        memory: torch.Tensor | None = None,
        memory_keep: torch.Tensor | None = None,
    ) -> torch.Tensor:
        length = x.shape[1]
        bias = self.layers[0].self_attn.relative_bias(length, length).to(x.dtype)  # [1, H, T, T]
        if self.decoder:  # key j > query i is blocked: [T, T]
            bias = bias.masked_fill(
                torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1),
                float("-inf"),
            )
        if keep is not None:  # padding keys are blocked: [N, 1, 1, T]
            bias = bias.masked_fill(~keep[:, None, None, :], float("-inf"))
        cross_bias = None
        if memory is not None:
            cross_bias = torch.zeros(memory_keep.shape, dtype=x.dtype, device=x.device)
            cross_bias = cross_bias.masked_fill(~memory_keep, float("-inf"))[:, None, None, :]
        x = self.dropout(x)
        for layer in self.layers:
            x = layer(x, bias, memory, cross_bias)
        return self.dropout(self.final_norm(x))


class T5(nn.Module):
    """The T5 encoder-decoder, with a shared embedding and a tied, scaled output layer.

    ``logits = (Decoder(E[tgt_in], Encoder(E[src])) · d_model^-1/2) Eᵀ`` for the
    shared embedding ``E`` ``[vocab, d_model]``. Token ``pad_id`` is padding in
    both the source and the decoder input. Initialization as in T5 (all
    normal, mean 0): ``E`` std 1, ``q`` std ``(d_model · d_kv)^-1/2`` (the
    attention's missing ``1/√d_kv``), ``k``, ``v``, ``wi`` and the position
    table std ``d_model^-1/2``, ``o`` std ``(num_heads · d_kv)^-1/2``, ``wo``
    std ``d_ff^-1/2``; norms start at 1.

    Shapes:
        ``src`` ``[N, S]`` and ``tgt_in`` ``[N, T]`` (int64, the same ``N``) →
        logits ``[N, T, vocab_size]``.

    Raises:
        TypeError: if ``config`` is not a :class:`T5Config`, or ids are not int64.
        ValueError: if ids are not 2-D or out of the vocabulary, batch sizes
            differ or ``memory`` does not come from ``encode(src)``.
    """

    def __init__(self, config: T5Config = T5_SMALL) -> None:
        super().__init__()
        if not isinstance(config, T5Config):
            raise TypeError(f"config must be a T5Config, got {type(config).__name__}")
        self.config = config
        self.shared = nn.Embedding(config.vocab_size, config.d_model)
        self.encoder = T5Stack(config, decoder=False)
        self.decoder = T5Stack(config, decoder=True)
        self.apply(self._init_weights)

    def _init_weights(self, module: nn.Module) -> None:
        c = self.config
        if module is self.shared:
            nn.init.normal_(module.weight, std=1.0)
        elif isinstance(module, T5Attention):
            nn.init.normal_(module.q.weight, std=(c.d_model * c.d_kv) ** -0.5)
            nn.init.normal_(module.k.weight, std=c.d_model**-0.5)
            nn.init.normal_(module.v.weight, std=c.d_model**-0.5)
            nn.init.normal_(module.o.weight, std=(c.num_heads * c.d_kv) ** -0.5)
            if module.relative_bias is not None:
                nn.init.normal_(module.relative_bias.embedding.weight, std=c.d_model**-0.5)
        elif isinstance(module, T5FeedForward):
            nn.init.normal_(module.wi.weight, std=c.d_model**-0.5)
            nn.init.normal_(module.wo.weight, std=c.d_ff**-0.5)

    def _check_ids(self, ids: object, name: str) -> torch.Tensor:
        return check_token_ids(ids, name, self.config.vocab_size)

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """Encoder output ``[N, S, d_model]`` for source ids ``[N, S]``."""
        self._check_ids(src, "src")
        return self.encoder(self.shared(src), src != self.config.pad_id)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, T, vocab_size]`` for decoder inputs ``[N, T]`` given ``encode(src)``."""
        self._check_ids(tgt_in, "tgt_in")
        self._check_ids(src, "src")
        check_tensor(memory, "memory", ndim=3, floating=True)
        if tgt_in.shape[0] != src.shape[0]:
            raise ValueError(
                f"tgt_in must have the batch size of src, {src.shape[0]}, in dimension 0, "
                f"got shape {tuple(tgt_in.shape)}"
            )
        if memory.shape != (*src.shape, self.config.d_model):
            raise ValueError(
                f"memory must come from encode(src): shape (N, S, d_model) = "
                f"{(*src.shape, self.config.d_model)}, got {tuple(memory.shape)}"
            )
        keep = src != self.config.pad_id
        hidden = self.decoder(self.shared(tgt_in), None, memory, keep)
        return (hidden * self.config.d_model**-0.5) @ self.shared.weight.T  # tied, scaled

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits for every position of ``tgt_in`` at once."""
        return self.decode(tgt_in, self.encode(src), src)


def count_parameters(model: nn.Module) -> int:
    """Number of distinct parameters (a tied weight counts once); works on the meta device."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    return sum(p.numel() for p in model.parameters())


_T5_PARTS = {  # our name inside a layer -> (sub-layer index in the encoder, in the decoder, name)
    "self_attn": (0, 0, "SelfAttention"),
    "norm1": (0, 0, "layer_norm"),
    "cross_attn": (None, 1, "EncDecAttention"),
    "norm2": (None, 1, "layer_norm"),
    "feed_forward": (1, 2, "DenseReluDense"),
    "norm3": (1, 2, "layer_norm"),
}


def released_name(name: str) -> str:
    """The name a parameter of :class:`T5` has in the released T5 checkpoints.

    The released checkpoints (Hugging Face's ``T5ForConditionalGeneration``
    layout) number the sub-layers of a block: in the encoder ``layer.0`` is
    self-attention and ``layer.1`` the feed-forward, in the decoder
    ``layer.1`` is the cross-attention (``EncDecAttention``) and ``layer.2``
    the feed-forward; each sub-layer holds its own ``layer_norm``. The
    matrices have the same shapes as ours, so a state dict copies over key by
    key; ``shared.weight`` also serves as ``lm_head.weight`` in T5 (v1.0).

    Raises:
        TypeError: if ``name`` is not a string.
        ValueError: if ``name`` is not a parameter name of :class:`T5`.
    """
    if not isinstance(name, str):
        raise TypeError(f"name must be a str, got {type(name).__name__}")
    if name == "shared.weight":
        return name
    match = re.fullmatch(r"(encoder|decoder)\.final_norm\.weight", name)
    if match:
        return f"{match.group(1)}.final_layer_norm.weight"
    match = re.fullmatch(
        r"(encoder|decoder)\.layers\.(\d+)\.(\w+)\."
        r"(q|k|v|o|wi|wo|weight|relative_bias\.embedding)(\.weight)?",
        name,
    )
    if match and match.group(3) in _T5_PARTS:
        stack, block, part, leaf = match.group(1), match.group(2), match.group(3), match.group(4)
        index = _T5_PARTS[part][0 if stack == "encoder" else 1]
        if index is not None and (leaf == "weight") == part.startswith("norm"):
            prefix = f"{stack}.block.{block}.layer.{index}.{_T5_PARTS[part][2]}"
            if leaf == "weight":
                return f"{prefix}.weight"
            if leaf == "relative_bias.embedding":
                return f"{prefix}.relative_attention_bias.weight"
            return f"{prefix}.{leaf}.weight"
    raise ValueError(f"name must be a parameter name of T5, got {name!r}")
