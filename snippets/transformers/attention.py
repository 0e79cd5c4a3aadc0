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
convention; ``~mask`` turns one into the first. :func:`attention_cost` counts
the memory of the score matrices and the floating-point operations of a
layer in closed form.
"""

from __future__ import annotations

import math
from typing import NamedTuple

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
        ``[..., S, Ev]``; the leading dimensions (batch, heads) must be equal
        or broadcast, as in PyTorch (a size-1 dimension is shared).
        ``attn_mask`` must broadcast to the scores ``[..., L, S]``: boolean
        (``True`` = may attend) or of the query's float dtype (added to the
        scores). Returns the output ``[..., L, Ev]`` and the attention weights
        ``[..., L, S]``. Any size may be 0, as in PyTorch.

    ``is_causal=True`` lets query ``i`` see keys ``0..i`` only (the top-left
    aligned lower triangle, as in PyTorch). A query row whose keys are all
    masked gets zero weights and a zero output instead of NaN (as
    ``F.scaled_dot_product_attention`` does).

    Raises:
        TypeError: if an input is not a floating-point tensor, the three
            dtypes differ, or ``attn_mask`` is neither boolean nor of the
            query's dtype.
        ValueError: if the shapes do not fit, or both ``attn_mask`` and
            ``is_causal`` are given.
    """
    _check_query_key_value(query, key, value)
    if attn_mask is not None and is_causal:
        raise ValueError("give either attn_mask or is_causal=True, not both")
    if scale is not None and (isinstance(scale, bool) or not isinstance(scale, (int, float))):
        raise TypeError(f"scale must be a number or None, got {type(scale).__name__}")
    d = query.shape[-1]
    if scale is None:
        scale = 1.0 / math.sqrt(d) if d else 1.0  # with d = 0 every score is 0 anyway
    scores = query @ key.transpose(-2, -1) * scale  # [..., L, S]: one score per (query, key)
    if is_causal:  # query i sees keys 0..i
        length, source = scores.shape[-2:]
        attn_mask = torch.ones(length, source, dtype=torch.bool, device=scores.device).tril()
    elif attn_mask is not None:
        _check_mask_for_scores(attn_mask, "attn_mask", tuple(scores.shape), query.dtype)
    if attn_mask is not None:
        if attn_mask.dtype == torch.bool:
            scores = scores.masked_fill(~attn_mask, float("-inf"))
            blocked = ~attn_mask
        else:
            scores = scores + attn_mask
            blocked = attn_mask == float("-inf")
    weights = torch.softmax(scores, dim=-1)
    if attn_mask is not None:
        # a query that may read no key has softmax 0/0 = NaN: give it zero weights
        # instead (always filled: asking first whether any row is empty would
        # wait for a GPU to answer)
        empty_row = blocked.all(dim=-1, keepdim=True)
        weights = weights.masked_fill(empty_row, 0.0)
    return weights @ value, weights


def _check_query_key_value(query: object, key: object, value: object) -> None:
    """Types, dtypes and shared sizes of the three inputs of attention."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        check_tensor(t, name, floating=True)
        if t.ndim < 2:
            raise ValueError(f"{name} must have at least 2 dimensions, got shape {tuple(t.shape)}")
    for name, t in (("key", key), ("value", value)):
        if t.dtype != query.dtype:
            raise TypeError(f"{name} must have the dtype of query, {query.dtype}, got {t.dtype}")
    if key.shape[-1] != query.shape[-1]:
        raise ValueError(
            f"key must have the feature size of query, {query.shape[-1]}, in its last "
            f"dimension, got key shape {tuple(key.shape)} and query shape {tuple(query.shape)}"
        )
    if value.shape[-2] != key.shape[-2]:
        raise ValueError(
            f"value must have as many positions as key, {key.shape[-2]}, in dimension -2, "
            f"got value shape {tuple(value.shape)} and key shape {tuple(key.shape)}"
        )
    try:
        torch.broadcast_shapes(query.shape[:-2], key.shape[:-2], value.shape[:-2])
    except RuntimeError:
        raise ValueError(
            "query, key and value must have equal or broadcastable leading (batch, head) "
            f"dimensions, got shapes {tuple(query.shape)}, {tuple(key.shape)} and "
            f"{tuple(value.shape)}"
        ) from None


def _check_mask_for_scores(
    mask: object, name: str, scores: tuple[int, ...], dtype: torch.dtype
) -> None:
    """A mask must be boolean or of the scores' dtype and broadcast to their shape."""
    check_tensor(mask, name)
    _check_mask_dtype(mask, name, dtype)
    try:
        fits = torch.broadcast_shapes(mask.shape, scores) == scores
    except RuntimeError:
        fits = False
    if not fits:
        raise ValueError(
            f"{name} must broadcast to the scores' shape [..., L, S] = {scores}, "
            f"got shape {tuple(mask.shape)}"
        )


def _check_mask_dtype(mask: torch.Tensor, name: str, dtype: torch.dtype) -> None:
    if mask.dtype not in (torch.bool, dtype):
        raise TypeError(
            f"{name} must have dtype torch.bool or the query's dtype {dtype}, got {mask.dtype}"
        )


def check_attention_masks(
    attn_mask: torch.Tensor | None,
    key_padding_mask: torch.Tensor | None,
    *,
    batch: int,
    heads: int,
    length: int,
    source: int,
    dtype: torch.dtype,
    names: tuple[str, str] = ("attn_mask", "key_padding_mask"),
) -> None:
    """Check the masks of multi-head attention against the shapes they apply to.

    ``attn_mask`` must be ``[L, S]`` or ``[N·H, L, S]`` and ``key_padding_mask``
    ``[N, S]`` (the shapes ``nn.MultiheadAttention`` accepts), each boolean or
    of the float ``dtype`` of the inputs. ``names`` are the argument names
    used in the error messages (a decoder layer calls them ``tgt_mask``,
    ``memory_key_padding_mask``, ...).

    Raises:
        TypeError: if a mask is not a tensor or has another dtype.
        ValueError: if a mask has the wrong shape.
    """
    mask_name, padding_name = names
    if attn_mask is not None:
        check_tensor(attn_mask, mask_name, ndim=(2, 3))
        _check_mask_dtype(attn_mask, mask_name, dtype)
        want = (length, source) if attn_mask.ndim == 2 else (batch * heads, length, source)
        if tuple(attn_mask.shape) != want:
            meaning = "(L, S)" if attn_mask.ndim == 2 else "(N·H, L, S)"
            raise ValueError(
                f"{mask_name} must have shape {meaning} = {want}, got {tuple(attn_mask.shape)}"
            )
    if key_padding_mask is not None:
        check_tensor(key_padding_mask, padding_name, ndim=2)
        _check_mask_dtype(key_padding_mask, padding_name, dtype)
        if tuple(key_padding_mask.shape) != (batch, source):
            raise ValueError(
                f"{padding_name} must have shape (N, S) = {(batch, source)}, "
                f"got {tuple(key_padding_mask.shape)}"
            )


def causal_mask(size: int, device: torch.device | str | None = None) -> torch.Tensor:
    """Boolean ``[size, size]`` mask, ``True`` above the diagonal (the future is blocked).

    The same pattern as ``nn.Transformer.generate_square_subsequent_mask``,
    as booleans instead of ``0``/``-inf``; ``size`` 0 gives an empty mask, as
    in PyTorch.

    Raises:
        TypeError: if ``size`` is not an int.
        ValueError: if ``size`` is negative.
    """
    if isinstance(size, bool) or not isinstance(size, int):
        raise TypeError(f"size must be an int, got {type(size).__name__}")
    check_positive(size, "size", allow_zero=True)
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


class AttentionCost(NamedTuple):
    """What one self-attention layer costs; see :func:`attention_cost`."""

    scores: int  #: numbers in the score (and weight) matrices, ``N·h·T²``
    score_bytes: int  #: their memory, ``N·h·T²·bytes_per_number``
    attention_flops: int  #: ``Q Kᵀ`` and weights × ``V``: ``4·N·h·T²·d_h``
    projection_flops: int  #: the ``Q``, ``K``, ``V`` and output projections: ``8·N·T·d²``


def attention_cost(
    length: int, batch: int = 1, heads: int = 1, head_dim: int = 64, bytes_per_number: int = 4
) -> AttentionCost:
    """Closed-form cost of multi-head self-attention over ``length`` positions.

    With ``T = length``, ``N = batch``, ``h = heads``, ``d_h = head_dim`` and
    ``d = h·d_h``: the score matrices hold ``N·h·T²`` numbers (one per query,
    key and head; the weights after the softmax are as many again);
    ``Q Kᵀ`` and the product of the weights with ``V`` each take
    ``N·h·T²·d_h`` multiply-adds; the four ``d × d`` projections (``W_Q``,
    ``W_K``, ``W_V``, ``W_O``) take ``N·T·d²`` each. A multiply-add counts as
    two floating-point operations, as in ``torch.utils.flop_counter``, which
    counts exactly these matrix products of :class:`MultiHeadAttention` (the
    softmax, the scaling and the biases, ``O(N·h·T²)`` and ``O(N·T·d)``, are
    not counted). Attention overtakes the projections when ``T > 2d``.

    Returns:
        :class:`AttentionCost` with ``scores``, ``score_bytes``,
        ``attention_flops`` and ``projection_flops``.

    Raises:
        TypeError: if an argument is not an int.
        ValueError: if ``length`` or ``batch`` is negative, or ``heads``,
            ``head_dim`` or ``bytes_per_number`` is not positive.
    """
    sizes = {
        "length": length,
        "batch": batch,
        "heads": heads,
        "head_dim": head_dim,
        "bytes_per_number": bytes_per_number,
    }
    for name, value in sizes.items():
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be an int, got {type(value).__name__}")
        check_positive(value, name, allow_zero=name in ("length", "batch"))
    d = heads * head_dim
    scores = batch * heads * length * length
    return AttentionCost(
        scores=scores,
        score_bytes=scores * bytes_per_number,
        attention_flops=2 * 2 * scores * head_dim,
        projection_flops=4 * 2 * batch * length * d * d,
    )


class MultiHeadAttention(nn.Module):
    """Multi-head attention, batch first, with the parameters of ``nn.MultiheadAttention``.

    The query, key and value projections are stacked in one matrix
    ``in_proj_weight`` ``[3E, E]`` (rows ``0:E`` are ``W_Q``, ``E:2E`` are
    ``W_K``, ``2E:3E`` are ``W_V``), followed by ``out_proj``. The names match
    PyTorch's, so ``load_state_dict`` copies weights either way.

    Shapes:
        ``query`` ``[N, L, E]``, ``key`` and ``value`` ``[N, S, E]`` (the same
        ``N`` and ``E`` for all three, the same ``S`` for key and value);
        ``key_padding_mask`` ``[N, S]`` and ``attn_mask`` ``[L, S]`` or
        ``[N·H, L, S]``, boolean (``True`` = blocked) or float (added).
        Returns the output ``[N, L, E]`` and, with ``need_weights``, the
        weights ``[N, L, S]`` averaged over heads (or ``[N, H, L, S]`` with
        ``average_attn_weights=False``). ``N``, ``L`` and ``S`` may be 0.

    In training mode, dropout with probability ``dropout`` zeroes attention
    weights (and scales the others by ``1/(1 - dropout)``) before they
    multiply the values; the weights returned are those dropped-out weights,
    as in PyTorch. ``is_causal=True`` without ``attn_mask`` blocks key ``j``
    for query ``i < j``. A query whose keys are all blocked gets a zero
    output (PyTorch returns NaN for it when ``need_weights=True``).

    With ``fused=True`` (or after :func:`use_fused_attention`) a call with
    ``need_weights=False`` hands the attention itself to PyTorch's fused
    kernel, ``F.scaled_dot_product_attention``, which never stores the
    ``[N, H, L, S]`` weights (on a GPU: FlashAttention or memory-efficient
    attention). The outputs equal those of the from-scratch path, except for
    a query whose keys are all blocked (the fused kernel returns NaN for it)
    and for which links dropout removes (its random numbers differ). Calls
    that ask for the weights always take the from-scratch path.

    Raises:
        ValueError: if ``embed_dim`` is not divisible by ``num_heads`` or
            ``dropout`` is not in ``[0, 1]``; in ``forward``, if the shapes
            of the inputs and masks do not fit together.
        TypeError: in ``forward``, if an input's dtype differs from the
            parameters' or a mask is neither boolean nor of that dtype.
    """

    def __init__(
        self,
        embed_dim: int,
        num_heads: int,
        dropout: float = 0.0,
        bias: bool = True,
        fused: bool = False,
    ) -> None:
        super().__init__()
        check_positive(embed_dim, "embed_dim")
        check_positive(num_heads, "num_heads")
        check_positive(dropout, "dropout", allow_zero=True)
        if dropout > 1:
            raise ValueError(f"dropout must be <= 1, got {dropout}")
        if embed_dim % num_heads:
            raise ValueError(
                f"embed_dim must be divisible by num_heads, got {embed_dim} and {num_heads}"
            )
        self.embed_dim, self.num_heads = embed_dim, num_heads
        self.head_dim = embed_dim // num_heads
        self.dropout = dropout
        self.fused = fused
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
        n, length, source = self.check_inputs(query, key, value)
        check_attention_masks(
            attn_mask,
            key_padding_mask,
            batch=n,
            heads=self.num_heads,
            length=length,
            source=source,
            dtype=query.dtype,
        )
        w_q, w_k, w_v = self.in_proj_weight.chunk(3)
        b_q, b_k, b_v = (None,) * 3 if self.in_proj_bias is None else self.in_proj_bias.chunk(3)
        q, k, v = F.linear(query, w_q, b_q), F.linear(key, w_k, b_k), F.linear(value, w_v, b_v)

        def split(x: torch.Tensor) -> torch.Tensor:  # [N, T, E] -> [N, H, T, E/H]
            return x.reshape(n, x.shape[1], self.num_heads, self.head_dim).transpose(1, 2)

        q, k, v = split(q), split(k), split(v)
        mask = self._merge_masks(attn_mask, key_padding_mask, is_causal, n, length, source, q.dtype)
        if self.fused and not need_weights:  # PyTorch's kernel: no [N, H, L, S] weights stored
            p = self.dropout if self.training else 0.0
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p)
            out = self.out_proj(out.transpose(1, 2).reshape(n, length, self.embed_dim))
            return out, None
        out, weights = scaled_dot_product_attention(q, k, v, attn_mask=mask)
        if self.training and self.dropout > 0:
            weights = F.dropout(weights, self.dropout)  # drop (query, key) links at random
            out = weights @ v
        out = self.out_proj(out.transpose(1, 2).reshape(n, length, self.embed_dim))
        if not need_weights:
            return out, None
        return out, weights.mean(dim=1) if average_attn_weights else weights

    def check_inputs(
        self,
        query: object,
        key: object,
        value: object,
        names: tuple[str, str, str] = ("query", "key", "value"),
    ) -> tuple[int, int, int]:
        """Check the three inputs against each other and the parameters; return ``N, L, S``.

        ``names`` are the argument names for the error messages (a decoder
        layer checks ``tgt``, ``memory``, ``memory``).

        Raises:
            TypeError: if an input is not a tensor of the parameters' dtype.
            ValueError: if an input is not 3-D, its last size is not
                ``embed_dim``, the batch sizes differ, or key and value
                differ in length.
        """
        dtype = self.in_proj_weight.dtype
        for name, t in zip(names, (query, key, value)):
            check_tensor(t, name, ndim=3)
            if t.dtype != dtype:
                raise TypeError(
                    f"{name} must have the dtype of the module's parameters, {dtype}, got {t.dtype}"
                )
            check_dim(t, name, 2, self.embed_dim)
        q_name, k_name, v_name = names
        n = query.shape[0]
        for name, t in ((k_name, key), (v_name, value)):
            if t.shape[0] != n:
                raise ValueError(
                    f"{name} must have the batch size of {q_name}, {n}, in dimension 0, "
                    f"got shape {tuple(t.shape)}"
                )
        if value.shape[1] != key.shape[1]:
            raise ValueError(
                f"{v_name} must have as many positions as {k_name}, {key.shape[1]}, in "
                f"dimension 1, got shape {tuple(value.shape)}"
            )
        return n, query.shape[1], key.shape[1]

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

        Returns ``None``, a boolean "may attend" mask, or an additive mask of
        the projections' ``dtype`` (which differs from the inputs' under
        ``torch.autocast``), broadcastable to ``[N, H, L, S]``.
        """
        if is_causal and attn_mask is None:  # top-left aligned, as in PyTorch
            ones = torch.ones(length, source, dtype=torch.bool, device=self.in_proj_weight.device)
            attn_mask = ones.triu(diagonal=1)
        if key_padding_mask is None and attn_mask is not None and attn_mask.dtype == torch.bool:
            if attn_mask.ndim == 3:  # [N*H, L, S] -> [N, H, L, S]
                attn_mask = attn_mask.reshape(n, self.num_heads, length, source)
            return ~attn_mask  # one boolean mask: pass it on as "may attend"
        merged = None
        if attn_mask is not None:
            bool_mask = attn_mask.dtype == torch.bool
            additive = to_additive(attn_mask, dtype) if bool_mask else attn_mask.to(dtype)
            if additive.ndim == 3:  # [N*H, L, S] -> [N, H, L, S]
                additive = additive.reshape(n, self.num_heads, length, source)
            merged = additive
        if key_padding_mask is not None:
            if key_padding_mask.dtype == torch.bool:
                key_padding_mask = to_additive(key_padding_mask, dtype)
            padding = key_padding_mask.to(dtype)[:, None, None, :]  # [N, 1, 1, S]
            merged = padding if merged is None else merged + padding
        return merged


def use_fused_attention(model: nn.Module, fused: bool = True) -> int:
    """Switch every attention layer of ``model`` to PyTorch's fused kernel (or back).

    Sets ``fused`` on each module that has the switch
    (:class:`MultiHeadAttention`, :class:`snippets.llm.gqa.GroupedQueryAttention`)
    and returns how many were switched. The weights stay as they are, so a
    trained model can be switched either way.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module`` or ``fused`` not a bool.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if not isinstance(fused, bool):
        raise TypeError(f"fused must be a bool, got {type(fused).__name__}")
    switched = 0
    for module in model.modules():
        if isinstance(getattr(module, "fused", None), bool):
            module.fused = fused
            switched += 1
    return switched
