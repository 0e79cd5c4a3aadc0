"""Grouped-query attention (GQA) and multi-query attention (MQA) with a KV cache.

Multi-head attention gives every one of its ``heads`` query heads its own key
and value head. Grouped-query attention keeps all the query heads but only
``kv_heads`` key/value heads: each key/value head is shared by a group of
``heads // kv_heads`` query heads. ``kv_heads == heads`` is ordinary multi-head
attention, ``kv_heads == 1`` is multi-query attention. During generation the
keys and values of all earlier tokens are kept (the *KV cache*); sharing them
shrinks that cache by the factor ``heads / kv_heads``, which
:func:`kv_cache_bytes` counts.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_positive, check_tensor


class GroupedQueryAttention(nn.Module):
    """Causal self-attention with ``heads`` query heads sharing ``kv_heads`` key/value heads.

    Four bias-free projections: ``q`` (``dim → dim``), ``k`` and ``v``
    (``dim → kv_heads·head_dim``) and ``out`` (``dim → dim``), with
    ``head_dim = dim // heads``. With ``rope=True`` the rotary position
    embedding (:func:`snippets.llm.rope.apply_rope`) rotates the queries and
    keys by their positions before the scores are taken.

    Shapes:
        ``x`` ``[N, T, dim]``; ``positions`` ``[T]`` integer positions of the
        new tokens (default ``S, S+1, …, S+T-1``, with ``S`` the past length);
        ``past`` an optional pair ``(k, v)``, each ``[N, kv_heads, S,
        head_dim]``, the (already rotated) keys and values of earlier steps.
        Returns the output ``[N, T, dim]`` and the pair ``(k, v)``, each
        ``[N, kv_heads, S+T, head_dim]``: the cache to pass as ``past`` next.

    With ``causal=True`` query ``i`` (absolute position ``S+i``) sees keys
    ``0..S+i``: all the past and the new tokens up to itself. With
    ``fused=True`` PyTorch's fused kernel ``F.scaled_dot_product_attention``
    does the attention (the same outputs; on a GPU much less memory).

    Raises:
        ValueError: if ``heads`` is not divisible by ``kv_heads`` or ``dim``
            by ``heads``, or (with ``rope``) ``head_dim`` is odd; in
            ``forward``, if ``x``, ``past`` or ``positions`` has the wrong shape.
        TypeError: in ``forward``, if an input is not a tensor of the
            parameters' dtype or ``positions`` is not an integer tensor.
    """

    def __init__(
        self, dim: int, heads: int, kv_heads: int, rope: bool = True, fused: bool = False
    ) -> None:
        super().__init__()
        for name, value in (("dim", dim), ("heads", heads), ("kv_heads", kv_heads)):
            if isinstance(value, bool) or not isinstance(value, int):
                raise TypeError(f"{name} must be an int, got {type(value).__name__}")
            check_positive(value, name)
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads, got {dim} and {heads}")
        if heads % kv_heads:
            raise ValueError(f"heads must be divisible by kv_heads, got {heads} and {kv_heads}")
        self.dim, self.heads, self.kv_heads, self.rope = dim, heads, kv_heads, rope
        self.fused = fused
        self.head_dim = dim // heads
        self.group = heads // kv_heads  # query heads per key/value head
        if rope and self.head_dim % 2:
            raise ValueError(f"rope needs an even head_dim = dim // heads, got {self.head_dim}")
        self.q = nn.Linear(dim, dim, bias=False)
        self.k = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.v = nn.Linear(dim, kv_heads * self.head_dim, bias=False)
        self.out = nn.Linear(dim, dim, bias=False)

    def forward(
        self,
        x: torch.Tensor,
        positions: torch.Tensor | None = None,
        past: tuple[torch.Tensor, torch.Tensor] | None = None,
        causal: bool = True,
    ) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
        """Project, rotate, append to the cache, share K/V per group, attend, project back."""
        n, length, past_len = self._check_inputs(x, positions, past)
        if positions is None:
            positions = torch.arange(past_len, past_len + length, device=x.device)
        q = self.q(x).view(n, length, self.heads, self.head_dim).transpose(1, 2)  # [N, H, T, hd]
        k = self.k(x).view(n, length, self.kv_heads, self.head_dim).transpose(1, 2)  # [N, G, T, hd]
        v = self.v(x).view(n, length, self.kv_heads, self.head_dim).transpose(1, 2)
        if self.rope:
            from snippets.llm.rope import apply_rope  # imported here: rope=False needs no rope

            q, k = apply_rope(q, positions), apply_rope(k, positions)
        if past is not None:  # the cache: keys and values of every earlier token
            k, v = torch.cat([past[0], k], dim=2), torch.cat([past[1], v], dim=2)
        # each key/value head serves `group` consecutive query heads: [N, G, S+T, hd] -> [N, H, ...]
        k_shared = k.repeat_interleave(self.group, dim=1)
        v_shared = v.repeat_interleave(self.group, dim=1)
        allowed = None
        if causal:  # query i sits at position S+i and sees keys 0..S+i
            ones = torch.ones(length, past_len + length, dtype=torch.bool, device=x.device)
            allowed = ones.tril(diagonal=past_len)
        if self.fused:  # PyTorch's kernel, the same arithmetic without storing the scores
            out = F.scaled_dot_product_attention(q, k_shared, v_shared, attn_mask=allowed)
        else:
            scores = q @ k_shared.transpose(-2, -1) / math.sqrt(self.head_dim)  # [N, H, T, S+T]
            if allowed is not None:
                scores = scores.masked_fill(~allowed, float("-inf"))
            out = torch.softmax(scores, dim=-1) @ v_shared  # [N, H, T, hd]
        out = self.out(out.transpose(1, 2).reshape(n, length, self.dim))
        return out, (k, v)

    def _check_inputs(
        self,
        x: object,
        positions: object,
        past: object,
    ) -> tuple[int, int, int]:
        """Check ``x``, ``positions`` and ``past``; return ``N``, ``T`` and the past's ``S``."""
        dtype = self.q.weight.dtype
        check_tensor(x, "x", ndim=3)
        if x.shape[-1] != self.dim:
            raise ValueError(f"x must be [N, T, dim] with dim = {self.dim}, got {tuple(x.shape)}")
        if x.dtype != dtype:
            raise TypeError(f"x must have the parameters' dtype {dtype}, got {x.dtype}")
        n, length = x.shape[0], x.shape[1]
        past_len = 0
        if past is not None:
            if not isinstance(past, (tuple, list)) or len(past) != 2:
                raise TypeError(f"past must be a (k, v) pair of tensors, got {type(past).__name__}")
            for name, t in zip(("past[0] (k)", "past[1] (v)"), past):
                check_tensor(t, name, ndim=4)
                if t.dtype != dtype:
                    raise TypeError(
                        f"{name} must have the parameters' dtype {dtype}, got {t.dtype}"
                    )
            past_len = past[0].shape[2]
            want = (n, self.kv_heads, past_len, self.head_dim)
            for name, t in zip(("past[0] (k)", "past[1] (v)"), past):
                if tuple(t.shape) != want:
                    raise ValueError(
                        f"{name} must have shape [N, kv_heads, S, head_dim] = {want}, "
                        f"got {tuple(t.shape)}"
                    )
        if positions is not None:
            check_tensor(positions, "positions", ndim=1)
            if positions.is_floating_point() or positions.is_complex():
                raise TypeError(f"positions must be an integer tensor, got {positions.dtype}")
            if positions.shape[0] != length:
                raise ValueError(
                    f"positions must have one entry per token of x, {length}, "
                    f"got {positions.shape[0]}"
                )
        return n, length, past_len


def kv_cache_bytes(
    layers: int,
    kv_heads: int,
    head_dim: int,
    length: int,
    batch: int = 1,
    bytes_per_number: int = 2,
) -> int:
    """Memory of the KV cache: ``2·layers·kv_heads·head_dim·length·batch·bytes_per_number``.

    Every layer keeps one key and one value (the 2) of ``kv_heads·head_dim``
    numbers for each of the ``length`` tokens of each of the ``batch``
    sequences; ``bytes_per_number`` is 2 for float16/bfloat16.

    Raises:
        TypeError: if an argument is not an int.
        ValueError: if ``length`` or ``batch`` is negative or another size is not positive.
    """
    sizes = {
        "layers": layers,
        "kv_heads": kv_heads,
        "head_dim": head_dim,
        "length": length,
        "batch": batch,
        "bytes_per_number": bytes_per_number,
    }
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        check_positive(value, name, allow_zero=name in ("length", "batch"))
    return 2 * layers * kv_heads * head_dim * length * batch * bytes_per_number
