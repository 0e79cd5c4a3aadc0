"""A small decoder-only language model (GPT) and how to sample from it.

GPT is a stack of pre-norm :class:`~snippets.transformers.transformer.EncoderLayer` blocks
whose self-attention is causal: position ``t`` sees positions ``0..t`` only,
so the model can be trained to predict token ``t+1`` at every position at
once. There is no encoder and no cross-attention.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.transformers.positional import LearnedPositionalEmbedding
from snippets.transformers.transformer import Encoder, EncoderLayer


class GPT(nn.Module):
    """Token and learned position embeddings, causal pre-norm blocks, a final norm, a linear head.

    The output layer shares its weight with the token embedding (weight
    tying), which saves ``vocab_size × d_model`` parameters.

    Shapes:
        ``ids`` ``[N, T]`` (int64, ``T <= context``) → logits ``[N, T, vocab_size]``.
    """

    def __init__(
        self,
        vocab_size: int,
        context: int,
        d_model: int = 128,
        nhead: int = 4,
        num_layers: int = 2,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        check_positive(vocab_size, "vocab_size")
        check_positive(context, "context")
        self.context = context
        self.token = nn.Embedding(vocab_size, d_model)
        nn.init.normal_(self.token.weight, std=0.02)
        self.position = LearnedPositionalEmbedding(d_model, context, dropout)
        block = EncoderLayer(
            d_model, nhead, 4 * d_model, dropout, activation="gelu", norm_first=True
        )
        self.blocks = Encoder(block, num_layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.token.weight  # weight tying

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Next-token logits at every position.

        Raises:
            ValueError: if ``ids`` is not ``[N, T]`` or longer than the context.
        """
        check_tensor(ids, "ids", ndim=2, dtype=torch.int64)
        if ids.shape[1] > self.context:
            raise ValueError(f"ids has {ids.shape[1]} positions, more than context={self.context}")
        x = self.position(self.token(ids))
        return self.head(self.blocks(x, is_causal=True))


def lm_loss(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean cross-entropy of next-token logits ``[N, T, V]`` against targets ``[N, T]``."""
    return F.cross_entropy(logits.flatten(0, 1), targets.flatten())


@torch.no_grad()
def evaluate_lm(model: nn.Module, data: torch.Tensor, context: int, batch_size: int = 64) -> float:
    """Mean next-token loss (nats per token) over consecutive windows covering ``data``.

    Raises:
        ValueError: if ``data`` is not 1-D or shorter than ``context + 1``.
    """
    check_tensor(data, "data", ndim=1)
    if len(data) <= context:
        raise ValueError(f"data must hold more than context={context} tokens, got {len(data)}")
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    count = (len(data) - 1) // context
    inputs = data[: count * context].reshape(count, context)
    targets = data[1 : count * context + 1].reshape(count, context)
    total = 0.0
    for i in range(0, count, batch_size):
        x, y = inputs[i : i + batch_size].to(device), targets[i : i + batch_size].to(device)
        total += lm_loss(model(x), y).item() * len(x)
    model.train(was_training)
    return total / count


@torch.no_grad()
def generate(
    model: GPT,
    ids: torch.Tensor,
    max_new_tokens: int,
    temperature: float = 1.0,
    top_k: int | None = None,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Sample ``max_new_tokens`` tokens, one at a time, each fed back as input.

    The logits of the last position are divided by ``temperature`` (below 1:
    safer, above 1: more varied), optionally cut to the ``top_k`` most likely
    tokens, turned into probabilities by a softmax and sampled.

    Shapes:
        ``ids`` ``[N, T]`` → ``[N, T + max_new_tokens]``.

    Raises:
        ValueError: if ``temperature`` or ``top_k`` is not positive.
    """
    check_tensor(ids, "ids", ndim=2, dtype=torch.int64)
    check_positive(max_new_tokens, "max_new_tokens", allow_zero=True)
    check_positive(temperature, "temperature")
    if top_k is not None:
        check_positive(top_k, "top_k")
    was_training = model.training
    model.eval()
    for _ in range(max_new_tokens):
        logits = model(ids[:, -model.context :])[:, -1] / temperature  # [N, V]
        if top_k is not None:
            kth = logits.topk(min(top_k, logits.shape[-1])).values[:, -1:]
            logits = logits.masked_fill(logits < kth, float("-inf"))
        probs = torch.softmax(logits, dim=-1)
        next_id = torch.multinomial(probs.cpu(), 1, generator=generator).to(ids.device)
        ids = torch.cat([ids, next_id], dim=1)
    model.train(was_training)
    return ids
