"""A character-level language model: an LSTM that predicts the next character.

Trained on windows of text, the model outputs a distribution over the next
character at every position. Generating text means sampling from that
distribution one character at a time; the *temperature* divides the logits
before the softmax and so trades safe, repetitive text (low) for varied,
error-prone text (high).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from snippets.common.checks import check_positive, check_tensor
from snippets.common.tokenizers import CharTokenizer
from snippets.sequence_models.rnn import check_ids


class CharLM(nn.Module):
    """Embedding → LSTM → linear layer over the vocabulary.

    Shapes:
        ``forward``: ``ids`` ``[N, T]`` int64 -> logits ``[N, T, vocab]``.
        ``step``: the same plus an optional LSTM state ``(h, c)``, each
        ``[layers, N, hidden]``, returned updated for the next call.

    Raises:
        TypeError: if ``ids`` is not int64, or ``state`` is not a pair of
            tensors of the model's dtype.
        ValueError: if ``ids`` is not 2-D, empty or out of the vocabulary, or
            ``state`` does not have shape ``[layers, N, hidden]``.
    """

    def __init__(self, vocab: int, embed: int = 32, hidden: int = 256, layers: int = 1) -> None:
        super().__init__()
        check_positive(vocab, "vocab")
        check_positive(embed, "embed")
        check_positive(hidden, "hidden")
        check_positive(layers, "layers")
        self.embed = nn.Embedding(vocab, embed)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, batch_first=True)
        self.head = nn.Linear(hidden, vocab)

    def step(
        self, ids: torch.Tensor, state: tuple[torch.Tensor, torch.Tensor] | None = None
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        check_ids(ids, "ids", self.embed.num_embeddings)
        if state is not None:
            self.check_state(state, len(ids))
        output, state = self.lstm(self.embed(ids), state)
        return self.head(output), state

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        return self.step(ids)[0]

    def check_state(self, state: object, batch: int) -> None:
        """Check an LSTM state ``(h, c)`` for a batch of ``batch`` sequences."""
        if not (isinstance(state, tuple) and len(state) == 2):
            raise TypeError(f"state must be a pair (h, c), got {type(state).__name__}")
        shape = (self.lstm.num_layers, batch, self.lstm.hidden_size)
        for value, name in zip(state, ("state[0] (h)", "state[1] (c)")):
            check_tensor(value, name, ndim=3, dtype=self.head.weight.dtype)
            if tuple(value.shape) != shape:
                raise ValueError(
                    f"{name} must have shape {shape} (layers, ids' batch size, hidden), "
                    f"got {tuple(value.shape)}"
                )


def random_windows(
    ids: torch.Tensor, seq_len: int, count: int, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """Cut ``count`` random windows from a long id sequence: inputs and next-character targets.

    ``targets[:, t] == inputs[:, t + 1]``: the target is the input shifted
    left by one.

    Shapes:
        ``ids`` ``[L]`` -> ``inputs`` and ``targets`` ``[count, seq_len]``.

    Raises:
        ValueError: if ``ids`` is shorter than ``seq_len + 1``.
    """
    check_tensor(ids, "ids", ndim=1, dtype=torch.int64)
    check_positive(seq_len, "seq_len")
    check_positive(count, "count")
    if len(ids) < seq_len + 1:
        raise ValueError(f"ids must hold at least seq_len + 1 = {seq_len + 1} ids, got {len(ids)}")
    starts = torch.randint(len(ids) - seq_len, (count,), generator=generator)
    offsets = torch.arange(seq_len + 1)
    windows = ids[starts[:, None] + offsets]  # [count, seq_len + 1]
    return windows[:, :-1], windows[:, 1:]


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of next-token logits ``[N, T, V]`` against targets ``[N, T]``.

    Every position of every window counts once; the result is in nats per
    token (per character for :class:`CharLM`). The GPT of the Transformer
    chapter (:mod:`snippets.transformers.gpt`) is trained with it too.

    Raises:
        TypeError: if ``logits`` is not floating-point or ``targets`` not int64.
        ValueError: if ``logits`` is not ``[N, T, V]``, ``targets`` not
            ``[N, T]``, or a target is outside ``0 … V-1``.
    """
    check_tensor(logits, "logits", ndim=3, floating=True)
    check_tensor(targets, "targets", ndim=2, dtype=torch.int64)
    if targets.shape != logits.shape[:2]:
        raise ValueError(
            f"targets must have shape {tuple(logits.shape[:2])}, got {tuple(targets.shape)}"
        )
    if targets.numel() and (int(targets.min()) < 0 or int(targets.max()) >= logits.shape[2]):
        raise ValueError(
            f"targets must hold ids from 0 to {logits.shape[2] - 1} (the logits' last "
            f"dimension), got ids from {int(targets.min())} to {int(targets.max())}"
        )
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


def temperature_probs(logits: torch.Tensor, temperature: float) -> torch.Tensor:
    """``softmax(logits / temperature)`` over the last dimension.

    Temperature 1 is the model's own distribution; below 1 it sharpens towards
    the most likely token (the limit 0 is greedy argmax), above 1 it flattens
    towards uniform.

    Shapes:
        ``logits`` ``[..., V]`` -> probabilities ``[..., V]``.

    Raises:
        ValueError: if ``temperature`` is not positive.
    """
    check_tensor(logits, "logits", floating=True)
    check_positive(temperature, "temperature")
    return torch.softmax(logits / temperature, dim=-1)


@torch.no_grad()
def generate(
    model: CharLM,
    tokenizer: CharTokenizer,
    prompt: str,
    length: int,
    temperature: float = 1.0,
    generator: torch.Generator | None = None,
) -> str:
    """Continue ``prompt`` by ``length`` characters sampled at ``temperature``.

    The prompt is read once to set the LSTM state; then each sampled character
    is fed back in, carrying the state forward (no recomputation). Special
    tokens (padding, ``<bos>``, ``<eos>``, ``<unk>``) are never sampled.

    Raises:
        ValueError: if ``prompt`` is empty or ``length``/``temperature`` is not positive.
    """
    if not prompt:
        raise ValueError("prompt must hold at least one character, got ''")
    check_positive(length, "length")
    check_positive(temperature, "temperature")
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    ids = torch.tensor([tokenizer.encode(prompt)], device=device)  # [1, P]
    specials = [tokenizer.pad_id, tokenizer.bos_id, tokenizer.eos_id, tokenizer.unk_id]
    logits, state = model.step(ids)
    out = []
    for _ in range(length):
        last = logits[0, -1].cpu()
        last[specials] = float("-inf")  # sample characters only, never special tokens
        probs = temperature_probs(last, temperature)
        next_id = torch.multinomial(probs, 1, generator=generator)  # [1]
        out.append(int(next_id))
        logits, state = model.step(next_id[None].to(device), state)
    model.train(was_training)
    return prompt + tokenizer.decode(out, stop_at_eos=False)
