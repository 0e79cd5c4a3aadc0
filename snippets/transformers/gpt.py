"""A small decoder-only language model (GPT), its optimizer groups and how to sample from it.

GPT is a stack of pre-norm :class:`~snippets.transformers.transformer.EncoderLayer` blocks
whose self-attention is causal: position ``t`` sees positions ``0..t`` only,
so the model can be trained to predict token ``t+1`` at every position at
once. There is no encoder and no cross-attention. :class:`TransformerLM` is
the shared body of GPT and of the bidirectional
:class:`~snippets.transformers.masked_lm.MaskedLM`; its initialization and
:func:`param_groups` (weight decay on matrices only) follow GPT-2 and minGPT.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.sequence_models.char_lm import lm_loss
from snippets.transformers.attention import MultiHeadAttention
from snippets.transformers.embeddings import check_token_ids
from snippets.transformers.positional import LearnedPositionalEmbedding
from snippets.transformers.transformer import Encoder, EncoderLayer


class TransformerLM(nn.Module):
    """Token and learned position embeddings, pre-norm blocks, a final norm, a linear head.

    The output layer shares its weight with the token embedding (weight
    tying), which saves ``vocab_size × d_model`` parameters. Subclasses set
    ``causal``: ``True`` for GPT (position ``t`` sees ``0..t``), ``False``
    for a masked language model (every position sees the whole sequence).

    Initialization as in GPT-2: every weight matrix and embedding
    ``N(0, 0.02²)``, biases zero, LayerNorms the identity; the two
    projections that write into the residual stream in each block (the
    attention output and the second feed-forward layer) start with standard
    deviation ``0.02 / √(2 · num_layers)``, so that the sum of
    ``2 · num_layers`` residual branches keeps the same scale whatever the
    depth.

    Shapes:
        ``ids`` ``[N, T]`` (int64, ``T <= context``) → logits ``[N, T, vocab_size]``.

    Raises:
        ValueError: if a size is not positive or ``d_model`` is not divisible by ``nhead``.
    """

    causal: bool = True

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
        check_positive(d_model, "d_model")
        check_positive(nhead, "nhead")
        check_positive(num_layers, "num_layers")
        if d_model % nhead:
            raise ValueError(f"d_model must be divisible by nhead, got {d_model} and {nhead}")
        self.context = context
        self.token = nn.Embedding(vocab_size, d_model)
        self.position = LearnedPositionalEmbedding(d_model, context, dropout)
        block = EncoderLayer(
            d_model, nhead, 4 * d_model, dropout, activation="gelu", norm_first=True
        )
        self.blocks = Encoder(block, num_layers, norm=nn.LayerNorm(d_model))
        self.head = nn.Linear(d_model, vocab_size, bias=False)
        self.head.weight = self.token.weight  # weight tying
        self.apply(_init_gpt2)
        for layer in self.blocks.layers:  # the residual projections
            for weight in (layer.self_attn.out_proj.weight, layer.linear2.weight):
                nn.init.normal_(weight, std=0.02 / math.sqrt(2 * num_layers))

    def forward(self, ids: torch.Tensor) -> torch.Tensor:
        """Logits at every position: next-token for GPT, the original token for a masked LM.

        Raises:
            TypeError: if ``ids`` is not an int64 tensor.
            ValueError: if ``ids`` is not ``[N, T]``, longer than the context, or
                holds an id outside the vocabulary.
        """
        check_token_ids(ids, "ids", self.token.num_embeddings)
        if ids.shape[1] > self.context:
            raise ValueError(f"ids has {ids.shape[1]} positions, more than context={self.context}")
        x = self.position(self.token(ids))
        return self.head(self.blocks(x, is_causal=self.causal))


def _init_gpt2(module: nn.Module) -> None:
    """GPT-2's initialization of one module (its own parameters only)."""
    if isinstance(module, nn.Linear):
        nn.init.normal_(module.weight, std=0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.Embedding):
        nn.init.normal_(module.weight, std=0.02)
    elif isinstance(module, MultiHeadAttention):  # W_Q, W_K, W_V stacked in one matrix
        nn.init.normal_(module.in_proj_weight, std=0.02)
        if module.in_proj_bias is not None:
            nn.init.zeros_(module.in_proj_bias)
    elif isinstance(module, nn.LayerNorm):
        nn.init.ones_(module.weight)
        nn.init.zeros_(module.bias)


class GPT(TransformerLM):
    """The decoder-only language model: a :class:`TransformerLM` with causal attention.

    Shapes:
        ``ids`` ``[N, T]`` (int64, ``T <= context``) → next-token logits ``[N, T, vocab_size]``.
    """

    causal = True


def param_groups(model: nn.Module, weight_decay: float) -> list[dict]:
    """Split the parameters for ``torch.optim.AdamW``: weight decay on matrices only.

    Decayed: the weights of ``nn.Linear`` layers and the stacked query, key
    and value projection of :class:`~snippets.transformers.attention.MultiHeadAttention`,
    the matrices that mix features. Not decayed: biases, LayerNorm
    parameters and embeddings (as in minGPT). Shrinking a bias or a
    LayerNorm gain towards 0 is no regularization, only a bias of its own,
    and an embedding row moves only when its token occurs, so decay would
    pull rare tokens towards zero between their updates. A parameter shared
    by an embedding and a linear layer (weight tying) counts as an embedding.
    Every parameter lands in exactly one group.

    Returns:
        two groups: the decayed parameters with ``weight_decay``, the others
        with ``0.0`` (``[{"params": ..., "weight_decay": ...}, ...]``).

    Raises:
        ValueError: if ``weight_decay`` is negative.
    """
    check_positive(weight_decay, "weight_decay", allow_zero=True)
    matrices, embeddings = set(), set()  # ids of the parameters
    for module in model.modules():
        if isinstance(module, nn.Linear):
            matrices.add(id(module.weight))
        elif isinstance(module, MultiHeadAttention):
            matrices.add(id(module.in_proj_weight))
        elif isinstance(module, nn.Embedding):
            embeddings.add(id(module.weight))
    decay = matrices - embeddings
    decayed = [p for p in model.parameters() if id(p) in decay]
    others = [p for p in model.parameters() if id(p) not in decay]
    return [
        {"params": decayed, "weight_decay": weight_decay},
        {"params": others, "weight_decay": 0.0},
    ]


@torch.no_grad()
def evaluate_lm(model: nn.Module, data: torch.Tensor, context: int, batch_size: int = 64) -> float:
    """Mean next-token loss (nats per token) over consecutive windows of ``data``.

    ``model`` is any language model with a ``context`` attribute that maps ids
    ``[N, T]`` to logits ``[N, T, V]``, or to a tuple whose first item is the
    logits (a model that also returns its key/value cache).

    ``data`` is cut into ``(len(data) - 1) // context`` non-overlapping windows
    of ``context`` tokens (a shorter remainder at the end is left out); the
    loss is :func:`~snippets.sequence_models.char_lm.lm_loss`, averaged over
    every position of every window.

    Raises:
        TypeError: if ``data`` is not an int64 tensor.
        ValueError: if ``data`` is not 1-D or shorter than ``context + 1``, or
            ``context`` or ``batch_size`` is not positive, or ``context`` is
            longer than the model's.
    """
    check_tensor(data, "data", ndim=1, dtype=torch.int64)
    check_positive(context, "context")
    check_positive(batch_size, "batch_size")
    if context > model.context:
        raise ValueError(f"context must be at most the model's, {model.context}, got {context}")
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
        logits = model(x)
        logits = logits[0] if isinstance(logits, tuple) else logits
        total += lm_loss(logits, y).item() * len(x)
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
        ``ids`` ``[N, T]`` (``T >= 1``) → ``[N, T + max_new_tokens]``; only the
        last ``model.context`` tokens are fed to the model.

    Raises:
        TypeError: if ``ids`` is not an int64 tensor.
        ValueError: if ``ids`` is not ``[N, T]`` with ``T >= 1`` or holds an id
            outside the vocabulary, ``max_new_tokens`` is negative, or
            ``temperature`` or ``top_k`` is not positive.
    """
    check_token_ids(ids, "ids", model.token.num_embeddings)
    if ids.shape[1] == 0:
        raise ValueError(f"ids must hold at least one token, got shape {tuple(ids.shape)}")
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
