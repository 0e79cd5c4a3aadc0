"""Attention from scratch: scaled dot-product, multi-head attention and masks.

Two mask conventions exist in PyTorch and this module keeps both, so that each
piece can be compared with its PyTorch counterpart:

* :func:`scaled_dot_product_attention` follows
  ``torch.nn.functional.scaled_dot_product_attention``: a boolean mask is
  ``True`` where a query **may** attend to a key; a float mask is **added** to
  the scores.
* :class:`MultiHeadAttention` follows :class:`torch.nn.MultiheadAttention`
  (and the Transformer layers): a boolean ``attn_mask`` or
  ``key_padding_mask`` is ``True`` where attention is **blocked**.

:func:`causal_mask` and :func:`padding_mask` build masks in the second, "blocked"
convention; ``~mask`` turns one into the first.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_dim, check_positive, check_tensor


def scaled_dot_product_attention(
    query: torch.Tensor,
    key: torch.Tensor,
    value: torch.Tensor,
    attn_mask: torch.Tensor | None = None,
    is_causal: bool = False,
    scale: float | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Attention(Q, K, V) = softmax(Q Kᵀ / √d + mask) V, written out.

    Shapes:
        ``query`` ``[..., L, E]``, ``key`` ``[..., S, E]``, ``value``
        ``[..., S, Ev]``; the leading dimensions (batch, heads) must match.
        ``attn_mask`` broadcasts to ``[..., L, S]``: boolean (``True`` = may
        attend) or float (added to the scores). Returns the output
        ``[..., L, Ev]`` and the attention weights ``[..., L, S]``.

    ``is_causal=True`` lets query ``i`` see keys ``0..i`` only (the top-left
    aligned lower triangle, as in PyTorch). A query row whose keys are all
    masked gets zero weights and a zero output instead of NaN.

    Raises:
        TypeError: if an input is not a floating-point tensor.
        ValueError: if the shapes do not fit, or both ``attn_mask`` and
            ``is_causal`` are given.
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        check_tensor(t, name, floating=True)
        if t.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions, got shape {tuple(t.shape)}")
    check_dim(key, "key", -1, query.shape[-1])
    check_dim(value, "value", -2, key.shape[-2])
    if attn_mask is not None and is_causal:
        raise ValueError("give either attn_mask or is_causal=True, not both")
    d = query.shape[-1]
    scale = 1.0 / math.sqrt(d) if scale is None else scale
    scores = query @ key.transpose(-2, -1) * scale  # [..., L, S]: one score per (query, key)
    if is_causal:
        length, source = scores.shape[-2:]
        attn_mask = torch.ones(length, source, dtype=torch.bool, device=scores.device).tril()
    if attn_mask is not None:
        check_tensor(attn_mask, "attn_mask")
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
        else:
            scores = scores + attn_mask
    weights = torch.softmax(scores, dim=-1)
    if attn_mask is not None and not is_causal and _has_empty_row(attn_mask):
        weights = weights.nan_to_num(0.0)  # softmax of a row of -inf is NaN; make it 0
    return weights @ value, weights


def _has_empty_row(mask: torch.Tensor) -> bool:
    """Whether some query may attend to no key at all (its whole mask row is blocked)."""
    blocked = ~mask if mask.dtype == torch.bool else mask == float("-inf")
    return bool(blocked.all(dim=-1).any())


def causal_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``[size, size]`` mask, ``True`` above the diagonal (the future is blocked).

    The same pattern as ``nn.Transformer.generate_square_subsequent_mask``,
    as booleans instead of ``0``/``-inf``.

    Raises:
        ValueError: if ``size`` is not positive.
    """
    check_positive(size, "size")
    return torch.ones(size, size, dtype=torch.bool, device=device).triu(diagonal=1)


def padding_mask(ids: torch.Tensor, pad_id: int = 0) -> torch.Tensor:
    """Boolean ``[N, S]`` key padding mask, ``True`` where ``ids`` holds padding.

    Raises:
        TypeError: if ``ids`` is not an integer tensor.
        ValueError: if ``ids`` is not ``[N, S]``.
    """
    check_tensor(ids, "ids", ndim=2, dtype=(torch.int64, torch.int32))
    return ids == pad_id


def to_additive(mask: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Turn a boolean "blocked" mask into an additive one: ``0`` allowed, ``-inf`` blocked.

    Raises:
        TypeError: if ``mask`` is not boolean.
    """
    check_tensor(mask, "mask", dtype=torch.bool)
    return torch.zeros(mask.shape, dtype=dtype, device=mask.device).masked_fill(mask, float("-inf"))


class MultiHeadAttention(nn.Module):
    """Multi-head attention, batch first, with the parameters of ``nn.MultiheadAttention``.

    The query, key and value projections are stacked in one matrix
    ``in_proj_weight`` ``[3E, E]`` (rows ``0:E`` are ``W_Q``, ``E:2E`` are
    ``W_K``, ``2E:3E`` are ``W_V``), followed by ``out_proj``. The names match
    PyTorch's, so ``load_state_dict`` copies weights either way.

    Shapes:
        ``query`` ``[N, L, E]``, ``key`` and ``value`` ``[N, S, E]``;
        ``key_padding_mask`` ``[N, S]`` and ``attn_mask`` ``[L, S]`` or
        ``[N·H, L, S]``, boolean (``True`` = blocked) or float (added).
        Returns the output ``[N, L, E]`` and, with ``need_weights``, the
        weights ``[N, L, S]`` averaged over heads (or ``[N, H, L, S]`` with
        ``average_attn_weights=False``).

    Raises:
        ValueError: if ``embed_dim`` is not divisible by ``num_heads``.
    """

    def __init__(
        self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True
    ) -> None:
        super().__init__()
        check_positive(embed_dim, "embed_dim")
        check_positive(num_heads, "num_heads")
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim must be divisible by num_heads, got {embed_dim} and {num_heads}"
            )
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.in_proj_weight = nn.Parameter(torch.empty(3 * embed_dim, embed_dim))
        self.in_proj_bias = nn.Parameter(torch.zeros(3 * embed_dim)) if bias else None
        self.out_proj = nn.Linear(embed_dim, embed_dim, bias=bias)
        nn.init.xavier_uniform_(self.in_proj_weight)
        if bias:
            nn.init.zeros_(self.out_proj.bias)

    def forward(
        self,
        query: torch.Tensor,
        key: torch.Tensor,
        value: torch.Tensor,
        key_padding_mask: torch.Tensor | None = None,
        need_weights: bool = True,
        attn_mask: torch.Tensor | None = None,
        average_attn_weights: bool = True,
        is_causal: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """Project, split into heads, attend, merge the heads and project back."""
        for name, t in (("query", query), ("key", key), ("value", value)):
            check_tensor(t, name, ndim=3, floating=True)
            check_dim(t, name, -1, self.embed_dim)
        n, length, _ = query.shape
        source = key.shape[1]
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        q, k, v = F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)

        def split(x: torch.Tensor) -> torch.Tensor:  # [N, T, E] -> [N, H, T, E/H]
            return x.reshape(n, -1, self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        mask = self._merge_masks(attn_mask, key_padding_mask, is_causal, n, length, source, q.dtype)
        out, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask)
        if self.training and self.dropout > 0:
            weights = F.dropout(weights, self.dropout)
            out = weights @ v
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, self.embed_dim))
        if not need_weights:
            return out, None
        return out, weights.mean(dim=1) if average_attn_weights else weights

    def _merge_masks(
        self,
        attn_mask: torch.Tensor | None,
        key_padding_mask: torch.Tensor | None,
        is_causal: bool,
        n: int,
        length: int,
        source: int,
        dtype: torch.dtype,
    ) -> torch.Tensor | None:
        """Combine the masks into one mask for :func:`scaled_dot_product_attention`.

        Returns ``None``, a boolean "may attend" mask, or an additive mask
        broadcastable to ``[N, H, L, S]``.
        """
        if is_causal and attn_mask is None:
            attn_mask = causal_mask(length, device=self.in_proj_weight.device)
        if key_padding_mask is None and attn_mask is not None and attn_mask.dtype == torch.bool:
            if attn_mask.ndim == 3:  # [N*H, L, S] -> [N, H, L, S]
                attn_mask = attn_mask.reshape(n, self.num_heads, length, source)
            return ~attn_mask  # one boolean mask: pass it on as "may attend"
        merged = None
        if attn_mask is not None:
            additive = to_additive(attn_mask, dtype) if attn_mask.dtype == torch.bool else attn_mask
            if additive.ndim == 3:  # [N*H, L, S] -> [N, H, L, S]
                additive = additive.reshape(n, self.num_heads, length, source)
            merged = additive
        if key_padding_mask is not None:
            check_tensor(key_padding_mask, "key_padding_mask", ndim=2)
            check_dim(key_padding_mask, "key_padding_mask", 1, source)
            if key_padding_mask.dtype == torch.bool:
                key_padding_mask = to_additive(key_padding_mask, dtype)
            padding = key_padding_mask[:, None, None, :]  # [N, 1, 1, S]
            merged = padding if merged is None else merged + padding
        return merged
