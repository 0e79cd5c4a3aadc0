"""Coding exercises of the language-model chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import math

import torch

from snippets.common.exercises import Case, exercise


def _rms_cases():
    g = torch.Generator().manual_seed(20)
    for shape, eps, dtype in [
        ((4, 6), 1e-6, torch.float32),
        ((2, 3, 5), 1e-6, torch.float64),
        ((3, 1), 1e-6, torch.float32),  # one feature
        ((1, 2), 1e-2, torch.float64),  # a large eps matters
        ((0, 4), 1e-6, torch.float32),  # no tokens: the weight's gradient is zero
    ]:
        x = torch.randn(shape, generator=g, dtype=dtype) * 2 + 1
        weight = torch.randn(shape[-1], generator=g, dtype=dtype)
        grad = torch.randn(shape, generator=g, dtype=dtype)
        yield Case((x, weight, grad, eps), label=f"x {list(shape)}, eps={eps}, {dtype}")


def _wrong_rms_constant(x, weight, grad_out, eps):
    rms = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()
    grad_weight = (grad_out * x / rms).reshape(-1, x.shape[-1]).sum(0)
    return grad_out * weight / rms, grad_weight  # the RMS depends on x as well


def _wrong_layer_norm_style(x, weight, grad_out, eps):
    rms = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()
    x_hat = x / rms
    h = grad_out * weight
    grad_x = (h - h.mean(-1, keepdim=True) - x_hat * (h * x_hat).mean(-1, keepdim=True)) / rms
    return grad_x, (grad_out * x_hat).reshape(-1, x.shape[-1]).sum(0)  # there is no mean here


def _wrong_forgets_the_weight(x, weight, grad_out, eps):
    rms = (x.pow(2).mean(-1, keepdim=True) + eps).sqrt()
    x_hat = x / rms
    grad_x = (grad_out - x_hat * (grad_out * x_hat).mean(-1, keepdim=True)) / rms  # no g
    return grad_x, (grad_out * x_hat).reshape(-1, x.shape[-1]).sum(0)


@exercise(
    "rms-norm-backward",
    page="llm/rms-norm",
    task="Given x [..., D], the weight g [D], eps and the gradient grad_out of a loss with "
    "respect to y = x / √(mean(x²) + eps) · g (over the last dimension), return the gradients "
    "(with respect to x [..., D], with respect to g [D]) without autograd.",
    cases=_rms_cases,
    wrong=[_wrong_rms_constant, _wrong_layer_norm_style, _wrong_forgets_the_weight],
)
def rms_norm_backward(
    x: torch.Tensor, weight: torch.Tensor, grad_out: torch.Tensor, eps: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``h = grad_out · g``; ``∂L/∂x = (h − x̂ · mean(h · x̂)) / RMS``; ``∂L/∂g = Σ grad_out · x̂``.

    The RMS depends on every feature of the token, which gives the second
    term; unlike LayerNorm's gradient there is no ``− mean(h)``, because no
    mean was subtracted.
    """
    rms = (x.pow(2).mean(dim=-1, keepdim=True) + eps).sqrt()  # [..., 1]
    x_hat = x / rms
    h = grad_out * weight  # the gradient with respect to x̂
    grad_x = (h - x_hat * (h * x_hat).mean(dim=-1, keepdim=True)) / rms
    grad_weight = (grad_out * x_hat).reshape(-1, x.shape[-1]).sum(dim=0)  # over every token
    return grad_x, grad_weight


def _shift_cases():
    g = torch.Generator().manual_seed(21)
    for shape, offset, base, dtype in [
        ((1, 4, 8), 3, 10000.0, torch.float32),
        ((2, 3, 5, 4), -2, 10000.0, torch.float64),  # back towards the start
        ((1, 2, 16), 1000, 10000.0, torch.float64),  # a long jump: the slow pairs turn too
        ((3, 6), 5, 100.0, torch.float32),
        ((1, 1, 2), 7, 10000.0, torch.float32),  # one pair
        ((2, 0, 6), 4, 10000.0, torch.float32),  # no positions
        ((1, 3, 4), 0, 10000.0, torch.float32),
    ]:
        k = torch.randn(shape, generator=g, dtype=dtype)
        yield Case((k, offset, base), label=f"k {list(shape)}, offset={offset}, base={base}")


def _rotate(k, angles, layout):
    cos, sin = angles.cos().to(k.dtype), angles.sin().to(k.dtype)
    if layout == "halves":
        a, b = k.chunk(2, dim=-1)
        return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)
    a, b = k[..., 0::2], k[..., 1::2]
    return torch.stack((a * cos - b * sin, a * sin + b * cos), dim=-1).flatten(-2)


def _wrong_shift_pairs_layout(k, offset, base):
    d = k.shape[-1]
    angles = offset * base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)
    return _rotate(k, angles, "pairs")  # neighbours turn together: the other layout


def _wrong_shift_frequencies(k, offset, base):
    d = k.shape[-1]
    angles = offset * base ** (-torch.arange(d // 2, dtype=torch.float64) / d)  # i/d, not 2i/d
    return _rotate(k, angles, "halves")


def _wrong_shift_backwards(k, offset, base):
    d = k.shape[-1]
    angles = -offset * base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # undoes it
    return _rotate(k, angles, "halves")


@exercise(
    "rope-shift",
    page="llm/rope",
    task="Keys k [..., T, head_dim] already rotated by RoPE (halves layout, base `base`) at "
    "their positions: return them as if every key sat `offset` positions later (offset may "
    "be negative), without knowing the positions.",
    cases=_shift_cases,
    wrong=[_wrong_shift_pairs_layout, _wrong_shift_frequencies, _wrong_shift_backwards],
)
def rope_shift(k: torch.Tensor, offset: int, base: float = 10000.0) -> torch.Tensor:
    """Rotations compose: turning pair ``i`` by ``offset · θ_i`` moves ``m`` to ``m + offset``.

    The same angle for every row, so the positions are not needed; the
    halves layout pairs feature ``i`` with feature ``i + head_dim / 2``.
    """
    d = k.shape[-1]
    theta = base ** (-torch.arange(0, d, 2, dtype=torch.float64) / d)  # [d / 2], θ_i
    angles = offset * theta  # float64: exact enough for long jumps
    cos, sin = angles.cos().to(k.dtype), angles.sin().to(k.dtype)
    a, b = k[..., : d // 2], k[..., d // 2 :]
    return torch.cat((a * cos - b * sin, a * sin + b * cos), dim=-1)


def _expand_cases():
    g = torch.Generator().manual_seed(22)
    for n, kv_heads, heads, s, d, dtype in [
        (2, 2, 8, 5, 4, torch.float32),
        (1, 1, 4, 3, 2, torch.float32),  # multi-query: one head for all
        (3, 4, 4, 2, 3, torch.float64),  # plain multi-head: nothing to share
        (1, 3, 6, 1, 5, torch.float32),
        (2, 2, 6, 0, 4, torch.float32),  # an empty cache
        (1, 4, 6, 3, 2, torch.float32),  # 6 query heads cannot share 4 key/value heads
    ]:
        k = torch.randn(n, kv_heads, s, d, generator=g, dtype=dtype)
        yield Case((k, heads), label=f"k [{n}, {kv_heads}, {s}, {d}] {dtype}, heads={heads}")


def _wrong_tiled(k, heads):
    if heads % k.shape[1]:
        raise ValueError("heads must be a multiple of the key/value heads")
    return k.repeat(1, heads // k.shape[1], 1, 1)  # head h reads h % kv_heads


def _wrong_no_check(k, heads):
    group = heads // k.shape[1]  # 6 // 4 = 1: silently too few heads
    return k.repeat_interleave(group, dim=1)


@exercise(
    "expand-kv-heads",
    page="llm/gqa",
    task="Given keys (or values) k [N, kv_heads, S, d] shared by `heads` query heads, return "
    "[N, heads, S, d] in which query head h reads key/value head h // (heads / kv_heads); "
    "raise ValueError if heads is not a multiple of kv_heads.",
    cases=_expand_cases,
    wrong=[_wrong_tiled, _wrong_no_check],
)
def expand_kv_heads(k: torch.Tensor, heads: int) -> torch.Tensor:
    """Each key/value head serves a block of ``heads / kv_heads`` consecutive query heads.

    ``expand`` repeats each key/value head ``group`` times as a view, and
    ``reshape`` lays the group out next to its head: one axis of ``heads``.
    """
    n, kv_heads, s, d = k.shape
    if heads % kv_heads:
        raise ValueError(f"heads must be a multiple of kv_heads = {kv_heads}, got {heads}")
    group = heads // kv_heads
    return k[:, :, None].expand(n, kv_heads, group, s, d).reshape(n, heads, s, d)


def _step_cases():
    g = torch.Generator().manual_seed(23)
    for n, h, past, new, d, dtype in [
        (1, 2, 4, 1, 4, torch.float32),  # a decoding step: one new token
        (2, 1, 0, 5, 3, torch.float32),  # the prefill: no cache yet
        (1, 2, 3, 4, 2, torch.float64),  # a chunk of four after three cached tokens
        (2, 3, 6, 2, 4, torch.float32),
        (1, 1, 1, 1, 1, torch.float64),
    ]:
        q, k, v = (torch.randn(n, h, new, d, generator=g, dtype=dtype) for _ in range(3))
        past_k, past_v = (torch.randn(n, h, past, d, generator=g, dtype=dtype) for _ in range(2))
        yield Case((q, k, v, past_k, past_v), label=f"N={n}, heads={h}, S={past}, T={new}, d={d}")


def _attend(q, k, v, allowed):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    if allowed is not None:
        scores = scores.masked_fill(~allowed, float("-inf"))
    return scores.softmax(dim=-1) @ v


def _wrong_no_mask(q, k, v, past_k, past_v):
    k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
    return _attend(q, k, v, None), k, v  # right for one token, not for a chunk


def _wrong_mask_from_zero(q, k, v, past_k, past_v):
    k, v = torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)
    allowed = torch.ones(q.shape[2], k.shape[2], dtype=torch.bool).tril()  # forgets the S
    return _attend(q, k, v, allowed), k, v


def _wrong_past_only(q, k, v, past_k, past_v):
    out = _attend(q, past_k, past_v, None)  # attends before appending: misses itself
    return out, torch.cat([past_k, k], dim=2), torch.cat([past_v, v], dim=2)


@exercise(
    "cached-attention-step",
    page="llm/kv-cache",
    task="Attention for T new tokens (q, k, v [N, heads, T, d]) after S cached ones "
    "(past_k, past_v [N, heads, S, d]): append the new keys and values to the cache; new "
    "token i sits at position S + i and sees keys 0..S + i. Return (output [N, heads, T, d], "
    "keys [N, heads, S + T, d], values [N, heads, S + T, d]).",
    cases=_step_cases,
    wrong=[_wrong_no_mask, _wrong_mask_from_zero, _wrong_past_only],
)
def cached_attention_step(
    q: torch.Tensor,
    k: torch.Tensor,
    v: torch.Tensor,
    past_k: torch.Tensor,
    past_v: torch.Tensor,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Concatenate along the positions, then a causal mask shifted right by the past length S."""
    k = torch.cat([past_k, k], dim=2)  # [N, heads, S + T, d]
    v = torch.cat([past_v, v], dim=2)
    new, past = q.shape[2], past_k.shape[2]
    ones = torch.ones(new, past + new, dtype=torch.bool, device=q.device)
    allowed = ones.tril(diagonal=past)  # row i: keys 0..S + i
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # [N, heads, T, S + T]
    out = scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1) @ v
    return out, k, v


def _ffn_cases():
    for dim, multiple_of, multiplier in [
        (4096, 256, None),
        (5120, 256, None),
        (4096, 1024, 1.3),
        (8192, 4096, 1.3),
        (16384, 4096, 1.2),
        (768, 8, None),
        (64, 32, 1.5),
        (10, 1, None),
        (1, 8, None),
    ]:
        label = f"dim={dim}, multiple_of={multiple_of}, multiplier={multiplier}"
        yield Case((dim, multiple_of, multiplier), label=label)


def _wrong_rounds_down(dim, multiple_of, multiplier):
    hidden = int(2 * 4 * dim / 3)
    if multiplier is not None:
        hidden = int(multiplier * hidden)
    return multiple_of * (hidden // multiple_of)  # down, not up


def _wrong_multiplier_last(dim, multiple_of, multiplier):
    hidden = int(2 * 4 * dim / 3)
    hidden = multiple_of * -(-hidden // multiple_of)
    return hidden if multiplier is None else int(multiplier * hidden)  # after the rounding


def _wrong_rounds_to_nearest(dim, multiple_of, multiplier):
    hidden = int(2 * 4 * dim / 3)
    if multiplier is not None:
        hidden = int(multiplier * hidden)
    return multiple_of * round(hidden / multiple_of)  # the nearest multiple, maybe below


@exercise(
    "llama-ffn-hidden",
    page="llm/swiglu",
    task="Llama's SwiGLU hidden size: int(2/3 · 4 · dim), times ffn_dim_multiplier (truncated "
    "to an int) when it is not None, then rounded up to a multiple of multiple_of.",
    cases=_ffn_cases,
    wrong=[_wrong_rounds_down, _wrong_multiplier_last, _wrong_rounds_to_nearest],
)
def llama_ffn_hidden(dim: int, multiple_of: int, ffn_dim_multiplier: float | None) -> int:
    """The 2/3 rule, an optional widening factor, then the rounding up, in that order.

    Llama 2 7B (4096, 256, None) gets 11,008; Llama 3 8B (4096, 1024, 1.3)
    gets 14,336.
    """
    hidden = int(2 * (4 * dim) / 3)  # two thirds of the ReLU MLP's 4 · dim
    if ffn_dim_multiplier is not None:
        hidden = int(ffn_dim_multiplier * hidden)
    return multiple_of * ((hidden + multiple_of - 1) // multiple_of)


def _min_p_cases():
    g = torch.Generator().manual_seed(24)
    for shape, min_p, dtype in [
        ((3, 10), 0.1, torch.float32),
        ((2, 6), 0.5, torch.float64),
        ((4, 20), 0.05, torch.float32),
        ((2, 3, 7), 0.2, torch.float32),  # [N, T, V]
        ((1, 1), 0.9, torch.float32),  # one token always survives
        ((2, 8), 0.0, torch.float32),  # keeps everything
        ((2, 8), 1.0, torch.float64),  # only the most likely token
    ]:
        logits = torch.randn(shape, generator=g, dtype=dtype) * 2
        yield Case((logits, min_p), label=f"logits {list(shape)}, min_p={min_p}, {dtype}")


def _wrong_absolute_threshold(logits, min_p):
    probs = logits.softmax(dim=-1)
    return logits.masked_fill(probs < min_p, float("-inf"))  # not scaled by the top probability


def _wrong_logit_threshold(logits, min_p):
    top = logits.amax(dim=-1, keepdim=True)
    return logits.masked_fill(logits < min_p * top, float("-inf"))  # on logits, not probabilities


def _wrong_renormalized(logits, min_p):
    probs = logits.softmax(dim=-1)
    keep = probs >= min_p * probs.amax(dim=-1, keepdim=True)
    return (probs * keep).log()  # log-probabilities, not the logits


@exercise(
    "min-p-filter",
    page="llm/sampling",
    task="Min-p filtering of logits [..., V]: keep the tokens whose probability is at least "
    "min_p times the probability of the most likely token, set the other logits to −∞ "
    "(the kept logits unchanged).",
    cases=_min_p_cases,
    wrong=[_wrong_absolute_threshold, _wrong_logit_threshold, _wrong_renormalized],
)
def min_p_filter(logits: torch.Tensor, min_p: float) -> torch.Tensor:
    """The threshold scales with the model's confidence: ``p ≥ min_p · p_max``.

    In logits: ``z ≥ z_max + log(min_p)``, since the softmax's normalizer
    cancels in the ratio ``p / p_max``; compared here as probabilities.
    """
    probs = logits.softmax(dim=-1)
    threshold = min_p * probs.amax(dim=-1, keepdim=True)  # one threshold per row
    return logits.masked_fill(probs < threshold, float("-inf"))


def _delta_cases():
    g = torch.Generator().manual_seed(25)
    for out, inp, rank, dtype in [
        (6, 4, 2, torch.float64),
        (5, 7, 1, torch.float64),
        (8, 8, 3, torch.float32),
        (3, 2, 2, torch.float64),  # full rank: the whole update
        (4, 5, 0, torch.float64),  # rank 0: no update
        (1, 1, 1, torch.float32),
    ]:
        base = torch.randn(out, inp, generator=g, dtype=dtype)
        tuned = base + 0.1 * torch.randn(out, inp, generator=g, dtype=dtype)
        yield Case((base, tuned, rank), label=f"W [{out}, {inp}] {dtype}, rank={rank}")


def _wrong_no_singular_values(base, tuned, rank):
    u, s, vh = torch.linalg.svd(tuned - base, full_matrices=False)
    return u[:, :rank] @ vh[:rank]  # B = U_r, A = V_rᵀ: the sizes are lost


def _wrong_columns_of_vh(base, tuned, rank):
    u, s, vh = torch.linalg.svd(tuned - base, full_matrices=False)
    return (u[:, :rank] * s[:rank]) @ vh.T[:rank]  # rows of V where rows of Vᵀ were meant


def _wrong_truncated_rows(base, tuned, rank):
    delta = (tuned - base).clone()
    delta[rank:] = 0  # keeps the first rank rows: rank r, but not the closest
    return delta


@exercise(
    "lora-from-delta",
    page="llm/lora",
    task="Given a pretrained weight base [out, in] and its fully fine-tuned version tuned, "
    "return the update B·A of rank `rank` [out, in] closest to tuned − base (in the "
    "Frobenius norm): the best LoRA adapter of that rank, merged.",
    cases=_delta_cases,
    wrong=[_wrong_no_singular_values, _wrong_columns_of_vh, _wrong_truncated_rows],
)
def lora_from_delta(base: torch.Tensor, tuned: torch.Tensor, rank: int) -> torch.Tensor:
    """The truncated SVD (Eckart–Young): keep the ``rank`` largest singular values of the change.

    ``B = U_r · diag(s_r)`` ``[out, r]`` and ``A = V_rᵀ`` ``[r, in]`` would be
    the adapter's factors; their product is returned, which is unique.
    """
    u, s, vh = torch.linalg.svd(tuned - base, full_matrices=False)  # s sorted, largest first
    b = u[:, :rank] * s[:rank]  # [out, r]
    a = vh[:rank]  # [r, in]
    return b @ a
