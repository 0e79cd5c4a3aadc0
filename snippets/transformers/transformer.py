"""The Transformer, layer by layer, batch first.

:class:`EncoderLayer` and :class:`DecoderLayer` are written out from
:class:`~snippets.transformers.attention.MultiHeadAttention`, ``nn.Linear`` and
``nn.LayerNorm``, in the post-norm arrangement of the original paper
(``norm_first=False``) or the pre-norm arrangement used by GPT-2 and ViT
(``norm_first=True``). Their parameter names match
:class:`torch.nn.TransformerEncoderLayer` and
:class:`torch.nn.TransformerDecoderLayer`, so weights copy over with
``load_state_dict``. :class:`Transformer` stacks them like
:class:`torch.nn.Transformer`; :class:`Seq2SeqTransformer` adds embeddings,
positions and the output layer. Its training helpers live with the other
losses and schedules: label smoothing in :mod:`snippets.neural_networks.losses`,
the warm-up schedule in :mod:`snippets.neural_networks.schedules`.

All tensors are batch first: ``[N, T, d_model]``.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_choice, check_positive, check_tensor
from snippets.transformers.attention import (
    MultiHeadAttention,
    causal_mask,
    check_attention_masks,
    padding_mask,
)
from snippets.transformers.embeddings import TokenEmbedding, check_token_ids
from snippets.transformers.positional import SinusoidalPositionalEncoding

_ACTIVATIONS = {"relu": F.relu, "gelu": F.gelu}


def _check_layer_sizes(d_model: int, nhead: int, dim_feedforward: int, activation: str) -> None:
    check_positive(d_model, "d_model")
    check_positive(nhead, "nhead")
    check_positive(dim_feedforward, "dim_feedforward")
    if d_model % nhead:
        raise ValueError(f"d_model must be divisible by nhead, got {d_model} and {nhead}")
    check_choice(activation, "activation", tuple(_ACTIVATIONS))


class EncoderLayer(nn.Module):
    """Self-attention then a position-wise feed-forward network, each with a residual.

    Post-norm (``norm_first=False``, the original paper)::

        x = norm1(x + SelfAttention(x))
        x = norm2(x + FeedForward(x))

    Pre-norm (``norm_first=True``)::

        x = x + SelfAttention(norm1(x))
        x = x + FeedForward(norm2(x))

    This is the building block of the encoder, of decoder-only language models
    (with a causal mask) and of the Vision Transformer (on patch embeddings).
    Set ``keep_weights = True`` to store the last attention weights
    ``[N, H, T, T]`` in ``self.attention_weights``.

    Shapes:
        ``src`` ``[N, T, d_model]`` → ``[N, T, d_model]``; ``src_mask``
        ``[T, T]`` (or ``[N·nhead, T, T]``) and ``src_key_padding_mask``
        ``[N, T]``, boolean with ``True`` = blocked (PyTorch's convention) or
        float (added). ``is_causal=True`` without ``src_mask`` makes the
        self-attention causal; with ``src_mask`` it is ignored (in PyTorch it
        is a hint that ``src_mask`` is causal).

    Raises:
        ValueError: if a size is not positive, ``d_model`` is not divisible by
            ``nhead``, ``activation`` is unknown; in ``forward``, if ``src``
            or a mask has the wrong shape.
        TypeError: in ``forward``, if ``src`` does not have the parameters'
            dtype or a mask is neither boolean nor of that dtype.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        _check_layer_sizes(d_model, nhead, dim_feedforward, activation)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm_first = norm_first
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.activation = _ACTIVATIONS[activation]
        self.keep_weights = False
        self.attention_weights: torch.Tensor | None = None

    def forward(
        self,
        src: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        src_key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """Apply the layer."""
        self.check_inputs(src, src_mask, src_key_padding_mask)
        x = src
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._feed_forward(self.norm2(x))
        else:
            x = self.norm1(x + self._self_attention(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._feed_forward(x))
        return x

    def check_inputs(
        self,
        src: object,
        src_mask: object = None,
        src_key_padding_mask: object = None,
        names: tuple[str, str, str] = ("src", "src_mask", "src_key_padding_mask"),
    ) -> None:
        """Check ``src`` and its masks against each other and the layer.

        Raises:
            TypeError: if ``src`` does not have the parameters' dtype or a
                mask is neither boolean nor of that dtype.
            ValueError: if ``src`` is not ``[N, T, d_model]`` or a mask does
                not fit it.
        """
        n, t, _ = self.self_attn.check_inputs(src, src, src, names=(names[0],) * 3)
        check_attention_masks(
            src_mask,
            src_key_padding_mask,
            batch=n,
            heads=self.self_attn.num_heads,
            length=t,
            source=t,
            dtype=src.dtype,
            names=names[1:],
        )

    def _self_attention(self, x, mask, key_padding_mask, is_causal) -> torch.Tensor:
        out, weights = self.self_attn(
            x,
            x,
            x,
            attn_mask=mask,
            key_padding_mask=key_padding_mask,
            need_weights=self.keep_weights,
            average_attn_weights=False,
            is_causal=is_causal and mask is None,
        )
        self.attention_weights = weights
        return self.dropout1(out)

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class DecoderLayer(nn.Module):
    """Masked self-attention, cross-attention to the encoder output, feed-forward.

    Post-norm (``norm_first=False``)::

        x = norm1(x + SelfAttention(x, causal))
        x = norm2(x + CrossAttention(x, memory))
        x = norm3(x + FeedForward(x))

    Pre-norm applies each norm to the sub-layer's input instead. In the
    cross-attention the queries come from the decoder and the keys and values
    from ``memory`` (the encoder output). Set ``keep_weights = True`` to store
    the last weights ``[N, H, T, T]`` in ``self.attention_weights`` and
    ``[N, H, T, S]`` in ``self.cross_attention_weights``.

    Shapes:
        ``tgt`` ``[N, T, d_model]``, ``memory`` ``[N, S, d_model]`` (the same
        ``N``) → ``[N, T, d_model]``; masks as in :class:`EncoderLayer`
        (``tgt_mask`` ``[T, T]``, ``memory_mask`` ``[T, S]``, or either with
        ``N·nhead`` in front; key padding masks ``[N, T]`` and ``[N, S]``).

    Raises:
        ValueError: as :class:`EncoderLayer`, and if ``memory`` does not have
            ``tgt``'s batch size or ``d_model`` features.
        TypeError: as :class:`EncoderLayer`, for ``tgt`` and ``memory``.
    """

    def __init__(
        self,
        d_model: int,
        nhead: int,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        _check_layer_sizes(d_model, nhead, dim_feedforward, activation)
        self.self_attn = MultiHeadAttention(d_model, nhead, dropout=dropout)
        self.multihead_attn = MultiHeadAttention(d_model, nhead, dropout=dropout)
        self.linear1 = nn.Linear(d_model, dim_feedforward)
        self.dropout = nn.Dropout(dropout)
        self.linear2 = nn.Linear(dim_feedforward, d_model)
        self.norm_first = norm_first
        self.norm1 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm2 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.norm3 = nn.LayerNorm(d_model, eps=layer_norm_eps)
        self.dropout1 = nn.Dropout(dropout)
        self.dropout2 = nn.Dropout(dropout)
        self.dropout3 = nn.Dropout(dropout)
        self.activation = _ACTIVATIONS[activation]
        self.keep_weights = False
        self.attention_weights: torch.Tensor | None = None
        self.cross_attention_weights: torch.Tensor | None = None

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        memory_key_padding_mask: torch.Tensor | None = None,
        tgt_is_causal: bool = False,
    ) -> torch.Tensor:
        """Apply the layer."""
        self.check_inputs(
            tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask
        )
        x = tgt
        self_args = (tgt_mask, tgt_key_padding_mask, tgt_is_causal)
        cross_args = (memory, memory_mask, memory_key_padding_mask)
        if self.norm_first:
            x = x + self._self_attention(self.norm1(x), *self_args)
            x = x + self._cross_attention(self.norm2(x), *cross_args)
            x = x + self._feed_forward(self.norm3(x))
        else:
            x = self.norm1(x + self._self_attention(x, *self_args))
            x = self.norm2(x + self._cross_attention(x, *cross_args))
            x = self.norm3(x + self._feed_forward(x))
        return x

    def check_inputs(
        self,
        tgt: object,
        memory: object,
        tgt_mask: object = None,
        memory_mask: object = None,
        tgt_key_padding_mask: object = None,
        memory_key_padding_mask: object = None,
    ) -> None:
        """Check ``tgt``, ``memory`` and the four masks against each other and the layer.

        Raises:
            TypeError: if ``tgt`` or ``memory`` does not have the parameters'
                dtype or a mask is neither boolean nor of that dtype.
            ValueError: if a shape does not fit.
        """
        n, t, _ = self.self_attn.check_inputs(tgt, tgt, tgt, names=("tgt",) * 3)
        _, _, s = self.multihead_attn.check_inputs(
            tgt, memory, memory, names=("tgt", "memory", "memory")
        )
        heads = self.self_attn.num_heads
        check_attention_masks(
            tgt_mask,
            tgt_key_padding_mask,
            batch=n,
            heads=heads,
            length=t,
            source=t,
            dtype=tgt.dtype,
            names=("tgt_mask", "tgt_key_padding_mask"),
        )
        check_attention_masks(
            memory_mask,
            memory_key_padding_mask,
            batch=n,
            heads=heads,
            length=t,
            source=s,
            dtype=tgt.dtype,
            names=("memory_mask", "memory_key_padding_mask"),
        )

    def _self_attention(self, x, mask, key_padding_mask, is_causal) -> torch.Tensor:
        out, self.attention_weights = self.self_attn(
            x,
            x,
            x,
            attn_mask=mask,
            key_padding_mask=key_padding_mask,
            need_weights=self.keep_weights,
            average_attn_weights=False,
            is_causal=is_causal and mask is None,
        )
        return self.dropout1(out)

    def _cross_attention(self, x, memory, mask, key_padding_mask) -> torch.Tensor:
        out, self.cross_attention_weights = self.multihead_attn(
            x,
            memory,
            memory,
            attn_mask=mask,
            key_padding_mask=key_padding_mask,
            need_weights=self.keep_weights,
            average_attn_weights=False,
        )
        return self.dropout2(out)

    def _feed_forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))


class Encoder(nn.Module):
    """``num_layers`` copies of an :class:`EncoderLayer`, then an optional final LayerNorm.

    A pre-norm stack needs the final norm (its residual stream is never
    normalized otherwise).

    Shapes:
        ``src`` ``[N, S, d_model]`` → ``[N, S, d_model]``.
    """

    def __init__(self, layer: EncoderLayer, num_layers: int, norm: nn.Module | None = None):
        super().__init__()
        check_positive(num_layers, "num_layers")
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = norm

    def forward(
        self,
        src: torch.Tensor,
        mask: torch.Tensor | None = None,
        src_key_padding_mask: torch.Tensor | None = None,
        is_causal: bool = False,
    ) -> torch.Tensor:
        """Apply every layer in turn."""
        self.layers[0].check_inputs(
            src, mask, src_key_padding_mask, names=("src", "mask", "src_key_padding_mask")
        )
        for layer in self.layers:
            src = layer(src, mask, src_key_padding_mask, is_causal)
        return src if self.norm is None else self.norm(src)


class Decoder(nn.Module):
    """``num_layers`` copies of a :class:`DecoderLayer`, then an optional final LayerNorm.

    Shapes:
        ``tgt`` ``[N, T, d_model]``, ``memory`` ``[N, S, d_model]`` → ``[N, T, d_model]``.
    """

    def __init__(self, layer: DecoderLayer, num_layers: int, norm: nn.Module | None = None):
        super().__init__()
        check_positive(num_layers, "num_layers")
        self.layers = nn.ModuleList(copy.deepcopy(layer) for _ in range(num_layers))
        self.norm = norm

    def forward(
        self,
        tgt: torch.Tensor,
        memory: torch.Tensor,
        tgt_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        memory_key_padding_mask: torch.Tensor | None = None,
        tgt_is_causal: bool = False,
    ) -> torch.Tensor:
        """Apply every layer in turn, each attending to the same ``memory``."""
        for layer in self.layers:
            tgt = layer(
                tgt,
                memory,
                tgt_mask,
                memory_mask,
                tgt_key_padding_mask,
                memory_key_padding_mask,
                tgt_is_causal,
            )
        return tgt if self.norm is None else self.norm(tgt)


class Transformer(nn.Module):
    """Encoder and decoder stacks with the structure of :class:`torch.nn.Transformer`.

    Like PyTorch's, both stacks end with a LayerNorm; the state dicts match
    key for key.

    Shapes:
        ``src`` ``[N, S, d_model]``, ``tgt`` ``[N, T, d_model]`` (the same
        ``N``) → ``[N, T, d_model]``.

    Raises:
        ValueError: if ``src`` and ``tgt`` differ in batch size or a shape
            does not fit (as :class:`EncoderLayer` and :class:`DecoderLayer`).
        TypeError: if an input does not have the parameters' dtype.
    """

    def __init__(
        self,
        d_model: int = 512,
        nhead: int = 8,
        num_encoder_layers: int = 6,
        num_decoder_layers: int = 6,
        dim_feedforward: int = 2048,
        dropout: float = 0.1,
        activation: str = "relu",
        norm_first: bool = False,
        layer_norm_eps: float = 1e-5,
    ) -> None:
        super().__init__()
        args = (d_model, nhead, dim_feedforward, dropout, activation, norm_first, layer_norm_eps)
        self.encoder = Encoder(
            EncoderLayer(*args), num_encoder_layers, nn.LayerNorm(d_model, eps=layer_norm_eps)
        )
        self.decoder = Decoder(
            DecoderLayer(*args), num_decoder_layers, nn.LayerNorm(d_model, eps=layer_norm_eps)
        )

    def forward(
        self,
        src: torch.Tensor,
        tgt: torch.Tensor,
        src_mask: torch.Tensor | None = None,
        tgt_mask: torch.Tensor | None = None,
        memory_mask: torch.Tensor | None = None,
        src_key_padding_mask: torch.Tensor | None = None,
        tgt_key_padding_mask: torch.Tensor | None = None,
        memory_key_padding_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Encode ``src`` once, then decode ``tgt`` against it."""
        check_tensor(src, "src", ndim=3)
        check_tensor(tgt, "tgt", ndim=3)
        if tgt.shape[0] != src.shape[0]:
            raise ValueError(
                f"tgt must have the batch size of src, {src.shape[0]}, in dimension 0, "
                f"got shape {tuple(tgt.shape)}"
            )
        self.encoder.layers[0].check_inputs(src, src_mask, src_key_padding_mask)
        memory = self.encoder(src, src_mask, src_key_padding_mask)
        return self.decoder(
            tgt, memory, tgt_mask, memory_mask, tgt_key_padding_mask, memory_key_padding_mask
        )


class Seq2SeqTransformer(nn.Module):
    """A complete translation model: embeddings, positions, Transformer, output layer.

    ``logits = Linear(Decoder(Embed(tgt_in), Encoder(Embed(src))))``; a softmax
    over the last dimension turns the logits into next-token probabilities.
    Padding (``pad_id``) is masked out of every attention; the decoder's
    self-attention is causal.

    Shapes:
        ``src`` ``[N, S]`` and ``tgt_in`` ``[N, T]`` (int64 token ids, the
        same ``N``, ``S`` and ``T`` at most ``max_len``) → logits
        ``[N, T, tgt_vocab]``.

    Raises:
        ValueError: if a size is not positive or ``pad_id`` is not an id of
            both vocabularies; in the methods, if ids are out of their
            vocabulary, sequences longer than ``max_len``, batch sizes differ
            or ``memory`` does not come from ``encode(src)``.
        TypeError: if ids are not int64 tensors.
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        d_model: int = 128,
        nhead: int = 4,
        num_encoder_layers: int = 2,
        num_decoder_layers: int = 2,
        dim_feedforward: int = 256,
        dropout: float = 0.1,
        norm_first: bool = False,
        pad_id: int = 0,
        max_len: int = 256,
    ) -> None:
        super().__init__()
        check_positive(src_vocab, "src_vocab")
        check_positive(tgt_vocab, "tgt_vocab")
        if not 0 <= pad_id < min(src_vocab, tgt_vocab):
            raise ValueError(
                f"pad_id must be an id of both vocabularies, from 0 to "
                f"{min(src_vocab, tgt_vocab) - 1}, got {pad_id}"
            )
        check_positive(max_len, "max_len")
        self.pad_id, self.max_len = pad_id, max_len
        self.src_embed = TokenEmbedding(src_vocab, d_model, padding_idx=pad_id)
        self.tgt_embed = TokenEmbedding(tgt_vocab, d_model, padding_idx=pad_id)
        self.positions = SinusoidalPositionalEncoding(d_model, max_len, dropout)
        self.transformer = Transformer(
            d_model,
            nhead,
            num_encoder_layers,
            num_decoder_layers,
            dim_feedforward,
            dropout,
            norm_first=norm_first,
        )
        self.generator = nn.Linear(d_model, tgt_vocab)

    def _check_ids(self, ids: object, name: str, embed: TokenEmbedding) -> None:
        check_token_ids(ids, name, embed.embedding.num_embeddings)
        if ids.shape[1] > self.max_len:
            raise ValueError(
                f"{name} has {ids.shape[1]} positions, more than max_len={self.max_len}"
            )

    def encode(self, src: torch.Tensor) -> torch.Tensor:
        """Encoder output ``[N, S, d_model]`` for source ids ``[N, S]``."""
        self._check_ids(src, "src", self.src_embed)
        return self.transformer.encoder(
            self.positions(self.src_embed(src)), src_key_padding_mask=padding_mask(src, self.pad_id)
        )

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, T, tgt_vocab]`` for decoder inputs ``[N, T]`` given the encoder output."""
        self._check_ids(tgt_in, "tgt_in", self.tgt_embed)
        check_tensor(src, "src", ndim=2, dtype=torch.int64)
        _check_same_batch(src, tgt_in)
        check_tensor(memory, "memory", ndim=3)
        if memory.shape[:2] != src.shape:
            raise ValueError(
                f"memory must come from encode(src): its (N, S) = {tuple(memory.shape[:2])}, "
                f"src has shape {tuple(src.shape)}"
            )
        hidden = self.transformer.decoder(
            self.positions(self.tgt_embed(tgt_in)),
            memory,
            tgt_mask=causal_mask(tgt_in.shape[1], device=tgt_in.device),
            tgt_key_padding_mask=padding_mask(tgt_in, self.pad_id),
            memory_key_padding_mask=padding_mask(src, self.pad_id),
        )
        return self.generator(hidden)

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits for every position of ``tgt_in`` at once."""
        check_tensor(src, "src", ndim=2)
        check_tensor(tgt_in, "tgt_in", ndim=2)
        _check_same_batch(src, tgt_in)
        return self.decode(tgt_in, self.encode(src), src)


def _check_same_batch(src: torch.Tensor, tgt_in: torch.Tensor) -> None:
    if tgt_in.shape[0] != src.shape[0]:
        raise ValueError(
            f"tgt_in must have the batch size of src, {src.shape[0]}, in dimension 0, "
            f"got shape {tuple(tgt_in.shape)}"
        )
