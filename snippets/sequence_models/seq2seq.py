"""Encoder-decoder (seq2seq) with Luong attention, and the same model without attention.

The encoder is a bidirectional GRU over the source characters. The decoder is
a GRU that starts from the encoder's final state. With ``attention=True``, at
every output step the decoder state scores every encoder state (Luong's
"general" score), the softmax of the scores weights an average of the
encoder states (the *context*), and state and context together predict the
next token. Without attention the decoder sees the source only through its
initial state: one fixed-size vector for the whole input.

The API is model-agnostic: any module with ``model(src, tgt_in) -> logits``
can be trained with :func:`train_seq2seq`, decoded with :func:`greedy_decode`
and scored with :func:`exact_match`.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from snippets.common.checks import check_positive, check_tensor
from snippets.common.tokenizers import CharTokenizer


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
    """

    def __init__(self, query_size: int, memory_size: int) -> None:
        super().__init__()
        self.w = nn.Linear(memory_size, query_size, bias=False)

    def forward(
        self, query: torch.Tensor, memory: torch.Tensor, mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        scores = query @ self.w(memory).transpose(1, 2)  # [N, T, S]
        scores = scores.masked_fill(~mask[:, None, :], float("-inf"))  # never attend to padding
        weights = scores.softmax(dim=-1)
        return weights @ memory, weights  # context [N, T, Hm]


class Seq2Seq(nn.Module):
    """Bidirectional-GRU encoder, GRU decoder, optional Luong attention.

    After a forward pass with attention, ``last_attention`` holds the weights
    ``[N, T, S]`` (output step × source position) for plotting.

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
        """Encoder states ``[N, S, 2H]`` and the decoder's initial state ``[1, N, 2H]``."""
        lengths = (src != 0).sum(dim=1).clamp(min=1).cpu()
        packed = pack_padded_sequence(
            self.src_embed(src), lengths, batch_first=True, enforce_sorted=False
        )
        states, h_n = self.encoder(packed)  # packing: each direction stops at the real end
        memory, _ = pad_packed_sequence(states, batch_first=True, total_length=src.shape[1])
        summary = torch.cat([h_n[0], h_n[1]], dim=-1)  # last forward and last backward state
        return memory, torch.tanh(self.bridge(summary))[None]

    def forward(self, src: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        check_tensor(src, "src", ndim=2, dtype=torch.int64)
        check_tensor(tgt_in, "tgt_in", ndim=2, dtype=torch.int64)
        if len(src) != len(tgt_in):
            raise ValueError(
                f"src and tgt_in must hold the same batch size, got {len(src)} and {len(tgt_in)}"
            )
        memory, h0 = self.encode(src)
        states, _ = self.decoder(self.tgt_embed(tgt_in), h0)  # all T steps in one call
        if self.attend is not None:
            context, self.last_attention = self.attend(states, memory, src != 0)
            states = torch.cat([states, context], dim=-1)  # [N, T, 4H]
        return self.out(torch.tanh(self.combine(states)))


def train_seq2seq(
    model: nn.Module,
    src: torch.Tensor,
    tgt: torch.Tensor,
    epochs: int,
    batch_size: int = 64,
    lr: float = 3e-3,
    max_grad_norm: float | None = 1.0,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> list[float]:
    """Train ``model(src, tgt_in) -> logits`` with teacher forcing; return the mean loss per epoch.

    The decoder input is ``tgt[:, :-1]`` (starting with ``<bos>``) and the
    target ``tgt[:, 1:]``: at every step the model predicts the next token
    given the *true* previous ones. Padding (id 0) is left out of the loss.

    Shapes:
        ``src`` ``[N, S]``, ``tgt`` ``[N, T]`` (int64, as from :func:`encode_pairs`).

    Raises:
        ValueError: if the shapes disagree or a size is not positive.
    """
    check_tensor(src, "src", ndim=2, dtype=torch.int64)
    check_tensor(tgt, "tgt", ndim=2, dtype=torch.int64)
    if len(src) != len(tgt):
        raise ValueError(
            f"src and tgt must hold the same number of pairs, got {len(src)} and {len(tgt)}"
        )
    check_positive(epochs, "epochs")
    check_positive(batch_size, "batch_size")
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    history = []
    for _ in range(epochs):
        order = torch.randperm(len(src), generator=generator)
        total = 0.0
        for start in range(0, len(src), batch_size):
            idx = order[start : start + batch_size]
            s, t = src[idx].to(device), tgt[idx].to(device)
            logits = model(s, t[:, :-1])  # [B, T-1, V]
            loss = F.cross_entropy(logits.flatten(0, 1), t[:, 1:].flatten(), ignore_index=0)
            optimizer.zero_grad()
            loss.backward()
            if max_grad_norm is not None:
                nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
            optimizer.step()
            total += loss.item() * len(idx)
        history.append(total / len(src))
    return history


@torch.no_grad()
def greedy_decode(
    model: nn.Module, src: torch.Tensor, bos_id: int, eos_id: int, max_len: int
) -> torch.Tensor:
    """Generate outputs token by token, always taking the most likely next token.

    At step ``k`` the model sees the source and the ``k`` tokens generated so
    far (recomputed from scratch, which keeps this usable for any
    ``model(src, tgt_in)``, a Transformer included). Positions after an
    ``<eos>`` are set to padding (0).

    Shapes:
        ``src`` ``[N, S]`` -> generated ids ``[N, max_len]`` (without ``<bos>``).

    Raises:
        ValueError: if ``max_len`` is not positive.
    """
    check_tensor(src, "src", ndim=2, dtype=torch.int64)
    check_positive(max_len, "max_len")
    was_training = model.training
    model.eval()
    ys = torch.full((len(src), 1), bos_id, dtype=torch.int64, device=src.device)
    for _ in range(max_len):
        next_id = model(src, ys)[:, -1].argmax(dim=-1)  # [N]
        ys = torch.cat([ys, next_id[:, None]], dim=1)
    model.train(was_training)
    out = ys[:, 1:]
    after_eos = (out == eos_id).long().cumsum(dim=1) - (out == eos_id).long() > 0
    return out.masked_fill(after_eos, 0)


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
