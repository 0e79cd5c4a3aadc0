"""Encoder-decoder (seq2seq) with Luong attention, and the same model without attention.

The encoder is a bidirectional GRU over the source characters. The decoder is
a GRU that starts from the encoder's final state. With ``attention=True``, at
every output step the decoder state scores every encoder state (Luong's
"general" score), the softmax of the scores weights an average of the
encoder states (the *context*), and state and context together predict the
next token. This is Luong's global attention *without input feeding*: the
context goes to the output layer only and never enters the decoder's
recurrence, so the decoder GRU can read a whole target in one call.
Without attention the decoder sees the source only through its initial
state: one fixed-size vector for the whole input.

Training, decoding and scoring work for any encoder-decoder with two methods,
``encode(src) -> memory`` and ``decode(tgt_in, memory, src) -> logits``
(``forward`` being ``decode(tgt_in, encode(src), src)``): :class:`Seq2Seq`
here and the Transformer's
:class:`~snippets.transformers.transformer.Seq2SeqTransformer`.
:func:`teacher_forcing` is the forward function that
:func:`snippets.common.train.fit` trains them with, :func:`greedy_decode`
generates with them and :func:`exact_match` scores the strings.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from snippets.common.checks import check_dim, check_positive, check_tensor
from snippets.common.tokenizers import CharTokenizer
from snippets.sequence_models.rnn import check_ids


def encode_pairs(
    pairs: Sequence[tuple[str, str]], src_tokenizer: CharTokenizer, tgt_tokenizer: CharTokenizer
) -> tuple[torch.Tensor, torch.Tensor]:
    """Turn ``(source, target)`` strings into padded id tensors.

    Targets are framed as ``<bos> … <eos>`` so that ``tgt[:, :-1]`` is the
    decoder's input and ``tgt[:, 1:]`` what it must predict (teacher forcing).

    Shapes:
        returns ``src`` ``[N, S]`` and ``tgt`` ``[N, T + 2]``, int64, padded with 0.

    Raises:
        ValueError: if ``pairs`` is empty.
    """
    if len(pairs) == 0:
        raise ValueError("pairs must hold at least one (source, target) pair, got none")
    src = src_tokenizer.encode_batch([s for s, _ in pairs])
    tgt = tgt_tokenizer.encode_batch([t for _, t in pairs], add_bos=True, add_eos=True)
    return src, tgt


class LuongAttention(nn.Module):
    """Global attention with Luong's "general" score ``score(s_t, m_j) = s_t^T W m_j``.

    Shapes:
        ``query`` ``[N, T, Hq]`` (decoder states), ``memory`` ``[N, S, Hm]``
        (encoder states), ``mask`` ``[N, S]`` (True at real source tokens).
        Returns ``context`` ``[N, T, Hm]`` and ``weights`` ``[N, T, S]``; each
        row of ``weights`` sums to 1 over the real source positions.

    Raises:
        TypeError: if ``query`` and ``memory`` are not of the layer's
            floating-point dtype, or ``mask`` is not boolean.
        ValueError: if the shapes disagree, or a row of ``mask`` keeps no
            position (its weights would be NaN).
    """

    def __init__(self, query_size: int, memory_size: int) -> None:
        super().__init__()
        check_positive(query_size, "query_size")
        check_positive(memory_size, "memory_size")
        self.w = nn.Linear(memory_size, query_size, bias=False)

    def forward(
        self, query: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        self.check_inputs(query, memory, mask)
        scores = query @ self.w(memory).transpose(1, 2)  # [N, T, S]
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))  # never attend to padding
        weights = scores.softmax(dim=-1)
        return weights @ memory, weights  # context [N, T, Hm]

    def check_inputs(self, query: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor) -> None:
        """The checks of :meth:`forward`: shapes that agree, one dtype, a usable mask."""
        check_tensor(query, "query", ndim=3, floating=True)
        check_tensor(query, "query", dtype=self.w.weight.dtype)  # the layer's dtype
        check_tensor(memory, "memory", ndim=3, dtype=query.dtype)
        check_tensor(mask, "mask", ndim=2, dtype=torch.bool)
        check_dim(query, "query", -1, self.w.out_features)
        check_dim(memory, "memory", -1, self.w.in_features)
        check_dim(memory, "memory", 0, len(query))
        if mask.shape != memory.shape[:2]:
            raise ValueError(
                f"mask must have memory's shape (N, S) = {tuple(memory.shape[:2])}, "
                f"got {tuple(mask.shape)}"
            )
        empty = torch.nonzero(~mask.any(dim=1)).flatten().tolist()
        if empty:
            raise ValueError(
                f"mask must keep at least one source position in every row, rows {empty} keep none"
            )


class Seq2Seq(nn.Module):
    """Bidirectional-GRU encoder, GRU decoder, optional Luong attention.

    ``encode`` reads the source once; ``decode`` predicts every position of
    a decoder input from that memory, and ``forward`` chains the two
    (teacher forcing). After a pass with attention, ``last_attention`` holds
    the weights ``[N, T, S]`` (output step × source position) for plotting.

    Shapes:
        ``src`` ``[N, S]`` and ``tgt_in`` ``[N, T]`` (int64, 0 = padding) ->
        logits ``[N, T, tgt_vocab]``.
    """

    def __init__(
        self,
        src_vocab: int,
        tgt_vocab: int,
        embed: int = 32,
        hidden: int = 64,
        attention: bool = True,
    ) -> None:
        super().__init__()
        for value, name in ((src_vocab, "src_vocab"), (tgt_vocab, "tgt_vocab")):
            check_positive(value, name)
        check_positive(embed, "embed")
        check_positive(hidden, "hidden")
        self.attention = attention
        self.src_embed = nn.Embedding(src_vocab, embed, padding_idx=0)
        self.tgt_embed = nn.Embedding(tgt_vocab, embed, padding_idx=0)
        self.encoder = nn.GRU(embed, hidden, batch_first=True, bidirectional=True)
        self.bridge = nn.Linear(2 * hidden, 2 * hidden)  # encoder summary -> decoder's first state
        self.decoder = nn.GRU(embed, 2 * hidden, batch_first=True)
        self.attend = LuongAttention(2 * hidden, 2 * hidden) if attention else None
        self.combine = nn.Linear((4 if attention else 2) * hidden, 2 * hidden)
        self.out = nn.Linear(2 * hidden, tgt_vocab)
        self.last_attention: torch.Tensor | None = None

    def encode(self, src: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The memory: encoder states ``[N, S, 2H]`` and the decoder's first state ``[1, N, 2H]``.

        Shapes:
            ``src`` ``[N, S]`` (int64, 0 = padding).

        Raises:
            TypeError: if ``src`` is not int64.
            ValueError: if ``src`` is not 2-D, holds an id outside the
                vocabulary, a row of padding only, or padding before a real
                token (the encoder reads the first ``length`` positions of a
                row, so padding must come last).
        """
        check_ids(src, "src", self.src_embed.num_embeddings)
        real = src != 0
        lengths = real.sum(dim=1)
        if not lengths.all():
            rows = torch.nonzero(lengths == 0).flatten().tolist()
            raise ValueError(f"src must hold at least one token per row, rows {rows} are padding")
        right_padded = torch.arange(src.shape[1], device=src.device)[None] < lengths[:, None]
        if not torch.equal(real, right_padded):
            rows = torch.nonzero((real != right_padded).any(dim=1)).flatten().tolist()
            raise ValueError(f"src must be padded on the right (0s last), rows {rows} are not")
        lengths = lengths.cpu()
        packed = pack_padded_sequence(
            self.src_embed(src), lengths, batch_first=True, enforce_sorted=False
        )
        states, h_n = self.encoder(packed)  # packing: each direction stops at the real end
        memory, _ = pad_packed_sequence(states, batch_first=True, total_length=src.shape[1])
        summary = torch.cat([h_n[0], h_n[1]], dim=-1)  # last forward and last backward state
        return memory, torch.tanh(self.bridge(summary))[None]

    def decode(
        self, tgt_in: torch.Tensor, memory: tuple[torch.Tensor, torch.Tensor], src: torch.Tensor
    ) -> torch.Tensor:
        """Logits ``[N, T, tgt_vocab]`` for decoder inputs ``[N, T]``, given ``encode(src)``.

        The decoder GRU runs over all ``T`` inputs in one call, starting from
        the memory's initial state; with attention, every step also reads the
        encoder states of the real (non-padding) source positions.

        Raises:
            TypeError: if ``tgt_in`` or ``src`` is not int64, or ``memory`` is
                not the pair that :meth:`encode` returns.
            ValueError: if ``tgt_in`` is not 2-D, empty or out of the
                vocabulary, or ``src``, ``tgt_in`` and ``memory`` disagree in
                batch size or source length.
        """
        check_ids(tgt_in, "tgt_in", self.tgt_embed.num_embeddings)
        check_tensor(src, "src", ndim=2, dtype=torch.int64)
        if len(src) != len(tgt_in):
            raise ValueError(
                f"src and tgt_in must hold the same batch size, got {len(src)} and {len(tgt_in)}"
            )
        if not (isinstance(memory, tuple) and len(memory) == 2):
            raise TypeError(
                f"memory must be the pair (encoder states, first state) from encode(src), "
                f"got {type(memory).__name__}"
            )
        encoder_states, h0 = memory
        if encoder_states.shape[:2] != src.shape:
            raise ValueError(
                f"memory must come from encode(src): its encoder states cover (N, S) = "
                f"{tuple(encoder_states.shape[:2])}, src has shape {tuple(src.shape)}"
            )
        states, _ = self.decoder(self.tgt_embed(tgt_in), h0)  # all T steps in one call
        if self.attend is not None:
            context, self.last_attention = self.attend(states, encoder_states, src != 0)
            states = torch.cat([states, context], dim=-1)  # [N, T, 4H]
        return self.out(torch.tanh(self.combine(states)))

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits for every position of ``tgt_in`` at once."""
        return self.decode(tgt_in, self.encode(src), src)


def teacher_forcing(
    model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Forward function for :func:`~snippets.common.train.fit`: feed the true target, shifted.

    ``batch`` is ``(src, tgt)`` with targets framed as ``<bos> … <eos>`` (as
    from :func:`encode_pairs`). The decoder input is ``tgt[:, :-1]`` and the
    target ``tgt[:, 1:]``: at every step the model predicts the next token
    given the *true* previous ones. Both come back flattened over batch and
    time, ready for ``nn.CrossEntropyLoss(ignore_index=pad_id)``.

    Shapes:
        ``src`` ``[N, S]``, ``tgt`` ``[N, T + 1]`` -> logits ``[N·T, V]`` and
        targets ``[N·T]``.

    Raises:
        TypeError: if ``tgt`` is not int64.
        ValueError: if ``tgt`` is not 2-D or has fewer than 2 positions
            (``<bos>`` and at least one token to predict).
    """
    src, tgt = batch
    check_tensor(tgt, "tgt", ndim=2, dtype=torch.int64)
    if tgt.shape[1] < 2:
        raise ValueError(
            f"tgt must hold at least 2 positions (<bos> and a token to predict), "
            f"got shape {tuple(tgt.shape)}"
        )
    logits = model(src, tgt[:, :-1])  # [N, T, V]
    return logits.flatten(0, 1), tgt[:, 1:].flatten()


@torch.no_grad()
def greedy_decode(
    model: nn.Module, src: torch.Tensor, bos_id: int, eos_id: int, max_len: int
) -> torch.Tensor:
    """Generate target ids one token at a time, always taking the most likely one.

    ``model`` is any encoder-decoder with ``encode(src) -> memory`` and
    ``decode(prefix, memory, src) -> logits`` (:class:`Seq2Seq`, or
    :class:`~snippets.transformers.transformer.Seq2SeqTransformer`). The
    encoder runs once; at every step the decoder re-reads the prefix generated
    so far and the most likely next token is appended. Rows that produced
    ``<eos>`` are padded with ``eos_id`` afterwards, and decoding stops as soon
    as every row has produced it.

    Shapes:
        ``src`` ``[N, S]`` -> ids ``[N, 1 + steps]`` starting with ``bos_id``,
        ``steps <= max_len``.

    Raises:
        TypeError: if ``model`` has no ``encode`` or ``decode`` method, or
            ``src`` is not int64.
        ValueError: if ``src`` is not 2-D or ``max_len`` is not positive.
    """
    check_tensor(src, "src", ndim=2, dtype=torch.int64)
    check_positive(max_len, "max_len")
    for method in ("encode", "decode"):
        if not callable(getattr(model, method, None)):
            raise TypeError(
                f"model must have encode(src) and decode(prefix, memory, src) methods, "
                f"{type(model).__name__} has no {method}()"
            )
    was_training = model.training
    model.eval()
    memory = model.encode(src)  # the source is read once
    out = torch.full((len(src), 1), bos_id, dtype=torch.int64, device=src.device)
    done = torch.zeros(len(src), dtype=torch.bool, device=src.device)
    for _ in range(max_len):
        next_id = model.decode(out, memory, src)[:, -1].argmax(dim=-1)  # [N]
        next_id = next_id.masked_fill(done, eos_id)  # finished rows only repeat <eos>
        out = torch.cat([out, next_id[:, None]], dim=1)
        done |= next_id == eos_id
        if done.all():
            break
    model.train(was_training)
    return out


def exact_match(predictions: Sequence[str], targets: Sequence[str]) -> float:
    """Fraction of predictions equal to their target, character for character.

    Raises:
        ValueError: if the two lists differ in length or are empty.
    """
    if len(predictions) != len(targets):
        raise ValueError(
            f"predictions and targets must have the same length, got {len(predictions)} "
            f"and {len(targets)}"
        )
    if len(targets) == 0:
        raise ValueError("targets must hold at least one string, got none")
    return sum(p == t for p, t in zip(predictions, targets)) / len(targets)
