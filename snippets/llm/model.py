"""A small modern decoder-only language model and greedy generation with a key/value cache.

:class:`ModernLM` is GPT (:class:`snippets.transformers.gpt.GPT`) with the parts
today's open models use instead: RMSNorm in place of LayerNorm
(:class:`~snippets.llm.rms_norm.RMSNorm`), rotary position embeddings inside
the attention in place of learned positions, grouped-query attention with
fewer key/value heads than query heads
(:class:`~snippets.llm.gqa.GroupedQueryAttention`) and a SwiGLU feed-forward
(:class:`~snippets.llm.swiglu.SwiGLU`), all without biases. Its
:meth:`ModernLM.forward` takes and returns the keys and values of every layer,
so that :func:`generate` can feed one new token per step instead of the whole
prefix.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from snippets.common.checks import check_positive
from snippets.llm.gqa import GroupedQueryAttention
from snippets.llm.rms_norm import RMSNorm
from snippets.llm.swiglu import SwiGLU
from snippets.transformers.embeddings import check_token_ids

KVCache = list[tuple[torch.Tensor, torch.Tensor]]


class ModernBlock(nn.Module):
    """One pre-norm block: ``x + attn(norm(x))``, then ``x + mlp(norm(x))``.

    Shapes:
        ``x`` ``[N, T, dim]``, ``positions`` ``[T]`` → ``[N, T, dim]`` and the
        layer's keys and values ``[N, kv_heads, S + T, dim // heads]`` each.
    """

    def __init__(
        self, dim: int, heads: int, kv_heads: int, hidden: int | None = None, fused: bool = False
    ) -> None:
        super().__init__()
        self.attn_norm = RMSNorm(dim)
        self.attn = GroupedQueryAttention(dim, heads, kv_heads, rope=True, fused=fused)
        self.mlp_norm = RMSNorm(dim)
        self.mlp = SwiGLU(dim, hidden)

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """The block's output and its keys and values (the past's and the new ones)."""
        attended, kv = self.attn(self.attn_norm(x), positions=positions, past=past)
        x = x + attended
        return x + self.mlp(self.mlp_norm(x)), kv


class ModernLM(nn.Module):
    """Token embedding, pre-norm RMSNorm/GQA-with-RoPE/SwiGLU blocks, final RMSNorm, tied head.

    There is no position embedding: the rotary embedding inside each
    attention layer tells it where the tokens are. The output layer shares
    its weight with the token embedding (weight tying). ``fused=True`` lets
    PyTorch's fused kernel do the attention (the same outputs). Weights are
    initialized as in GPT-2: ``N(0, 0.02²)``, the two projections that write
    into the residual stream scaled down by ``√(2 · layers)``.

    Shapes:
        ``ids`` ``[N, T]`` (int64) and ``past`` (``layers`` pairs of
        ``[N, kv_heads, S, dim // heads]``, or ``None`` for ``S = 0``, with
        ``S + T <= context``) → next-token logits ``[N, T, vocab_size]`` and
        the new cache (``layers`` pairs of ``[N, kv_heads, S + T, dim // heads]``).

    Raises:
        ValueError: if a size is not positive, ``dim`` is not divisible by
            ``heads`` or ``heads`` by ``kv_heads``.
    """

    def __init__(
        self,
        vocab_size: int,
        dim: int,
        layers: int,
        heads: int,
        kv_heads: int,
        context: int,
        hidden: int | None = None,
        fused: bool = False,
    ) -> None:
        super().__init__()
        for value, name in [
            (vocab_size, "vocab_size"),
            (dim, "dim"),
            (layers, "layers"),
            (heads, "heads"),
            (kv_heads, "kv_heads"),
            (context, "context"),
        ]:
            check_positive(value, name)
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads, got {dim} and {heads}")
        if heads % kv_heads:
            raise ValueError(f"heads must be divisible by kv_heads, got {heads} and {kv_heads}")
        self.context = context
        self.token = nn.Embedding(vocab_size, dim)
        self.blocks = nn.ModuleList(
            ModernBlock(dim, heads, kv_heads, hidden, fused) for _ in range(layers)
        )
        self.norm = RMSNorm(dim)
        self.head = nn.Linear(dim, vocab_size, bias=False)
        self.head.weight = self.token.weight  # weight tying
        for module in self.modules():
            if isinstance(module, (nn.Linear, nn.Embedding)):
                nn.init.normal_(module.weight, std=0.02)
        for block in self.blocks:  # the residual projections
            for weight in (block.attn.out.weight, block.mlp.down.weight):
                nn.init.normal_(weight, std=0.02 / math.sqrt(2 * layers))

    def forward(
        self, ids: torch.Tensor, past: KVCache | None = None
    ) -> tuple[torch.Tensor, KVCache]:
        """Logits for the tokens ``ids``, which follow the ``S`` tokens already in ``past``.

        Raises:
            TypeError: if ``ids`` is not an int64 tensor.
            ValueError: if ``ids`` is not ``[N, T]`` or holds an id outside the
                vocabulary, ``past`` does not hold one pair per layer, or
                ``S + T`` is longer than the context.
        """
        check_token_ids(ids, "ids", self.token.num_embeddings)
        if past is not None and len(past) != len(self.blocks):
            raise ValueError(f"past must hold {len(self.blocks)} (k, v) pairs, got {len(past)}")
        start = 0 if past is None else past[0][0].shape[2]
        if start + ids.shape[1] > self.context:
            raise ValueError(
                f"ids has {ids.shape[1]} positions after {start} cached ones, "
                f"more than context={self.context}"
            )
        positions = torch.arange(start, start + ids.shape[1], device=ids.device)
        x = self.token(ids)
        cache = []
        for i, block in enumerate(self.blocks):
            x, kv = block(x, positions, None if past is None else past[i])
            cache.append(kv)
        return self.head(self.norm(x)), cache


def cache_bytes(past: KVCache) -> int:
    """Memory held by a key/value cache: every element of every key and value tensor."""
    return sum(t.numel() * t.element_size() for kv in past for t in kv)


@torch.no_grad()
def generate(
    model: ModernLM, prompt_ids: torch.Tensor, steps: int, use_cache: bool = True
) -> torch.Tensor:
    """Greedy decoding: append the most likely next token ``steps`` times.

    Without the cache every step runs the model on the whole prefix (its last
    ``model.context`` tokens) and keeps only the last position's logits. With
    the cache the prompt runs once; then each step feeds only the newest
    token, whose query attends to the keys and values cached from the
    earlier steps. Once the cache fills the context, a step re-runs the last
    ``context`` tokens as the uncached path does, so both give the same tokens.

    Shapes:
        ``prompt_ids`` ``[N, T]`` (``T >= 1``) → ``[N, T + steps]``.

    Raises:
        TypeError: if ``prompt_ids`` is not an int64 tensor.
        ValueError: if ``prompt_ids`` is not ``[N, T]`` with ``T >= 1`` or holds
            an id outside the vocabulary, or ``steps`` is negative.
    """
    check_token_ids(prompt_ids, "prompt_ids", model.token.num_embeddings)
    if prompt_ids.shape[1] == 0:
        raise ValueError(
            f"prompt_ids must hold at least one token, got shape {tuple(prompt_ids.shape)}"
        )
    check_positive(steps, "steps", allow_zero=True)
    was_training = model.training
    model.eval()
    ids, past = prompt_ids, None
    for _ in range(steps):
        if use_cache and past is not None and past[0][0].shape[2] < model.context:
            logits, past = model(ids[:, -1:], past)  # one new token, the rest is cached
        else:
            logits, past = model(ids[:, -model.context :])  # the whole (cropped) prefix
        next_id = logits[:, -1].argmax(dim=-1, keepdim=True)  # [N, 1]
        ids = torch.cat([ids, next_id], dim=1)
    model.train(was_training)
    return ids
