"""Coding exercises of the Transformer chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import math

import torch

from snippets.common.exercises import Case, exercise


def _qkv():
    g = torch.Generator().manual_seed(5)
    for n, t, d in [(1, 3, 4), (2, 5, 8), (3, 1, 2), (2, 7, 16), (1, 6, 3)]:
        q, k, v = (torch.randn(n, t, d, generator=g) for _ in range(3))
        yield Case((q, k, v), label=f"N={n}, T={t}, d={d}")


def _wrong_future(q, k, v):
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    mask = torch.ones(q.shape[1], k.shape[1], dtype=torch.bool).triu()  # sees the future
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def _wrong_unscaled(q, k, v):
    scores = q @ k.transpose(-2, -1)  # forgets 1/√d
    mask = torch.ones(q.shape[1], k.shape[1], dtype=torch.bool).tril()
    return scores.masked_fill(~mask, float("-inf")).softmax(-1) @ v


def _wrong_mask_after_softmax(q, k, v):
    weights = (q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])).softmax(-1)
    mask = torch.ones(q.shape[1], k.shape[1]).tril()
    return (weights * mask) @ v  # rows no longer sum to 1


@exercise(
    "causal-attention",
    page="transformers/attention",
    task="Scaled dot-product attention of q, k, v [N, T, d] in which "
    "position i only attends to positions 0..i.",
    cases=_qkv,
    wrong=[_wrong_future, _wrong_unscaled, _wrong_mask_after_softmax],
)
def causal_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """``softmax(QKᵀ/√d + causal mask) V``: a lower-triangular mask, applied before the softmax."""
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])  # [N, T, T]
    allowed = torch.ones(q.shape[1], k.shape[1], dtype=torch.bool, device=q.device).tril()
    return scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1) @ v


def _window_cases():
    g = torch.Generator().manual_seed(6)
    for n, t, d, w in [(1, 5, 4, 2), (2, 8, 8, 3), (1, 4, 2, 1), (2, 6, 4, 6), (1, 7, 3, 4)]:
        q, k, v = (torch.randn(n, t, d, generator=g) for _ in range(3))
        yield Case((q, k, v, w), label=f"N={n}, T={t}, d={d}, window={w}")


def _wrong_plain_causal(q, k, v, window):
    return causal_attention(q, k, v)  # ignores the window


def _wrong_off_by_one(q, k, v, window):
    t = q.shape[1]
    i, j = torch.arange(t)[:, None], torch.arange(t)[None, :]
    allowed = (j <= i) & (i - j <= window)  # window + 1 positions
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~allowed, float("-inf")).softmax(-1) @ v


@exercise(
    "sliding-window-attention",
    page="transformers/attention",
    task="Causal attention in which position i attends only to the last `window` positions "
    "i − window + 1 .. i (itself included).",
    cases=_window_cases,
    wrong=[_wrong_plain_causal, _wrong_off_by_one],
)
def sliding_window_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, window: int
) -> torch.Tensor:
    """A band below the diagonal: ``0 <= i − j < window``."""
    t = q.shape[1]
    i = torch.arange(t, device=q.device)[:, None]
    j = torch.arange(t, device=q.device)[None, :]
    allowed = (i - j >= 0) & (i - j < window)  # [T, T]
    scores = q @ k.transpose(-2, -1) / math.sqrt(q.shape[-1])
    return scores.masked_fill(~allowed, float("-inf")).softmax(dim=-1) @ v


def _prediction_cases():
    g = torch.Generator().manual_seed(7)
    for n, t, vocab in [(2, 5, 7), (1, 1, 3), (4, 9, 11), (3, 6, 5)]:
        logits = torch.randn(n, t, vocab, generator=g)
        targets = torch.randint(1, vocab, (n, t), generator=g)
        targets[:, t // 2 + 1 :] = 0  # the tail of each sequence is padding (id 0)
        yield Case((logits, targets, 0), label=f"N={n}, T={t}, vocabulary {vocab}")


def _wrong_counts_padding(logits, targets, pad_id):
    return (logits.argmax(-1) == targets).double().mean()  # padding counts too


def _wrong_first_axis(logits, targets, pad_id):
    keep = targets != pad_id
    return (logits.argmax(0) == targets)[keep].double().mean()  # arg-max over the batch


@exercise(
    "masked-token-accuracy",
    page="transformers/training",
    task="The fraction of non-padding positions where the arg-max of logits [N, T, V] equals "
    "the target [N, T] (padding has id pad_id), as a float64 tensor.",
    cases=_prediction_cases,
    wrong=[_wrong_counts_padding, _wrong_first_axis],
)
def masked_token_accuracy(logits: torch.Tensor, targets: torch.Tensor, pad_id: int) -> torch.Tensor:
    """Count hits only where the target is a real token."""
    keep = targets != pad_id
    hits = logits.argmax(dim=-1) == targets
    return hits[keep].double().mean()


def _block_cases():
    g = torch.Generator().manual_seed(8)
    for n, t, s, d, block, dtype in [
        (2, 5, 7, 4, 3, torch.float32),
        (1, 1, 4, 2, 1, torch.float32),
        (3, 6, 6, 8, 6, torch.float64),
        (1, 4, 9, 3, 16, torch.float32),
        (2, 3, 1, 5, 2, torch.float64),
    ]:
        q = torch.randn(n, t, d, generator=g, dtype=dtype)
        k = torch.randn(n, s, d, generator=g, dtype=dtype) * 3  # large scores: the max matters
        v = torch.randn(n, s, d, generator=g, dtype=dtype)
        yield Case((q, k, v, block), label=f"N={n}, T={t}, S={s}, d={d}, block={block}, {dtype}")


def _wrong_no_rescale(q, k, v, block):
    scale = 1 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1] + (1,), float("-inf"), dtype=q.dtype)
    total = torch.zeros(q.shape[:-1] + (1,), dtype=q.dtype)
    out = torch.zeros(q.shape[:-1] + (v.shape[-1],), dtype=q.dtype)
    for start in range(0, k.shape[1], block):
        scores = q @ k[:, start : start + block].transpose(-2, -1) * scale
        m = torch.maximum(m, scores.amax(-1, keepdim=True))
        p = (scores - m).exp()
        total = total + p.sum(-1, keepdim=True)  # the old sums keep their old maximum
        out = out + p @ v[:, start : start + block]
    return out / total


def _wrong_average_of_blocks(q, k, v, block):
    scale = 1 / math.sqrt(q.shape[-1])
    outs = [
        (q @ k[:, s : s + block].transpose(-2, -1) * scale).softmax(-1) @ v[:, s : s + block]
        for s in range(0, k.shape[1], block)
    ]
    return torch.stack(outs).mean(0)  # a softmax per block, then a plain average


@exercise(
    "blockwise-attention",
    page="transformers/complexity",
    task="Scaled dot-product attention of q [N, T, d] over k, v [N, S, d] that reads the keys "
    "`block` at a time and keeps a running maximum, sum and output (an online softmax), "
    "never forming the whole [T, S] matrix.",
    cases=_block_cases,
    wrong=[_wrong_no_rescale, _wrong_average_of_blocks],
)
def blockwise_attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, block: int
) -> torch.Tensor:
    """A running max per query; when a block raises it, rescale sum and output by exp(old − new)."""
    scale = 1 / math.sqrt(q.shape[-1])
    m = torch.full(q.shape[:-1] + (1,), float("-inf"), dtype=q.dtype, device=q.device)
    total = torch.zeros(q.shape[:-1] + (1,), dtype=q.dtype, device=q.device)  # [N, T, 1]
    out = torch.zeros(q.shape[:-1] + (v.shape[-1],), dtype=q.dtype, device=q.device)
    for start in range(0, k.shape[1], block):
        scores = q @ k[:, start : start + block].transpose(-2, -1) * scale  # [N, T, block]
        m_new = torch.maximum(m, scores.amax(dim=-1, keepdim=True))
        correction = (m - m_new).exp()  # 0 on the first block, where m = −∞
        p = (scores - m_new).exp()
        total = total * correction + p.sum(dim=-1, keepdim=True)
        out = out * correction + p @ v[:, start : start + block]
        m = m_new
    return out / total


def _top_p_cases():
    g = torch.Generator().manual_seed(9)
    for n, vocab, p, dtype in [
        (3, 10, 0.9, torch.float32),
        (2, 6, 0.05, torch.float32),  # only the most likely token survives
        (4, 20, 0.5, torch.float64),
        (1, 1, 0.7, torch.float32),
        (2, 8, 0.999, torch.float32),
    ]:
        logits = torch.randn(n, vocab, generator=g, dtype=dtype) * 2
        yield Case((logits, p), label=f"N={n}, V={vocab}, p={p}, {dtype}")


def _wrong_drops_the_crossing_token(logits, p):
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    remove = sorted_logits.softmax(-1).cumsum(-1) > p  # the token that reaches p goes too
    return logits.masked_fill(remove.scatter(-1, order, remove), float("-inf"))


def _wrong_left_sorted(logits, p):
    sorted_logits, _ = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(-1)
    remove = probs.cumsum(-1) - probs >= p
    return sorted_logits.masked_fill(remove, float("-inf"))  # never puts the tokens back


@exercise(
    "top-p-filter",
    page="transformers/gpt",
    task="Nucleus (top-p) filtering of logits [N, V]: keep the fewest most likely tokens whose "
    "probabilities sum to at least p and set every other logit to −∞, in the original order.",
    cases=_top_p_cases,
    wrong=[_wrong_drops_the_crossing_token, _wrong_left_sorted],
)
def top_p_filter(logits: torch.Tensor, p: float) -> torch.Tensor:
    """Sort, drop a token when the mass of the tokens before it already reaches p, unsort."""
    sorted_logits, order = logits.sort(dim=-1, descending=True)
    probs = sorted_logits.softmax(dim=-1)
    remove_sorted = probs.cumsum(dim=-1) - probs >= p  # the most likely token is always kept
    remove = remove_sorted.scatter(-1, order, remove_sorted)  # back to vocabulary order
    return logits.masked_fill(remove, float("-inf"))


def _merge_cases():
    yield Case(({"low": 5, "lower": 2, "newest": 6, "widest": 3}, 10), label="Sennrich's words")
    yield Case(({"abab": 1, "ab": 3, "ba": 4}, 4), label="ties")
    yield Case(({"aaaa": 3, "aa": 1}, 3), label="repeated symbols")
    yield Case(({"abc": 2, "bcd": 2, "cab": 1}, 5), label="two symbols merged in one word")
    yield Case(({"ab": 5, "bc": 4, "abc": 3}, 4), label="a merge inside a merged symbol")
    yield Case(({"xy": 1, "z": 9}, 2), label="every pair occurs once: no merge")
    yield Case(({}, 3), label="no words")


def _count_pairs(words, counts):
    pairs: dict = {}
    for symbols, count in zip(words, counts):
        for pair in zip(symbols, symbols[1:]):
            pairs[pair] = pairs.get(pair, 0) + count
    return pairs


def _wrong_unweighted(word_counts, num_merges):
    return bpe_merges(dict.fromkeys(word_counts, 1), num_merges)  # each word counted once


def _wrong_string_replace(word_counts, num_merges):
    words, counts = [" ".join(w) for w in word_counts], list(word_counts.values())
    merges = []
    for _ in range(num_merges):
        pairs = _count_pairs([w.split() for w in words], counts)
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        if pairs[best] < 2:
            break
        merges.append(best)
        # "a b" inside "xa b" or "a bc" is merged too: the match crosses symbol boundaries
        words = [w.replace(f"{best[0]} {best[1]}", best[0] + best[1]) for w in words]
    return merges


@exercise(
    "bpe-merges",
    page="transformers/tokenization",
    task="Learn up to num_merges BPE merges from pre-tokens with their counts {word: count}, "
    "recounting the pairs at every step: merge the most frequent pair (ties: the pair that "
    "sorts first), stop when it occurs fewer than 2 times; return the pairs in order.",
    cases=_merge_cases,
    wrong=[_wrong_unweighted, _wrong_string_replace],
)
def bpe_merges(word_counts: dict[str, int], num_merges: int) -> list[tuple[str, str]]:
    """The slow, plain BPE: count every pair weighted by word count, merge the best, repeat."""
    words = [tuple(word) for word in word_counts]
    counts = list(word_counts.values())
    merges: list[tuple[str, str]] = []
    for _ in range(num_merges):
        pairs = _count_pairs(words, counts)
        if not pairs:
            break
        best = min(pairs, key=lambda pair: (-pairs[pair], pair))
        if pairs[best] < 2:
            break
        merges.append(best)
        merged = []
        for symbols in words:
            out, i = [], 0
            while i < len(symbols):
                if symbols[i : i + 2] == best:
                    out.append(best[0] + best[1])
                    i += 2
                else:
                    out.append(symbols[i])
                    i += 1
            merged.append(tuple(out))
        words = merged
    return merges


def _norm_cases():
    g = torch.Generator().manual_seed(10)
    for shape, eps, dtype in [
        ((4, 6), 1e-5, torch.float32),
        ((2, 3, 5), 1e-5, torch.float64),
        ((3, 1), 1e-5, torch.float32),  # one feature: the output is constant, the gradient 0
        ((1, 2), 1e-3, torch.float64),
        ((0, 4), 1e-5, torch.float32),
    ]:
        x = torch.randn(shape, generator=g, dtype=dtype) * 3 + 1
        grad = torch.randn(shape, generator=g, dtype=dtype)
        yield Case((x, grad, eps), label=f"x {list(shape)}, eps={eps}, {dtype}")


def _wrong_sigma_constant(x, grad_out, eps):
    sigma = (((x - x.mean(-1, keepdim=True)) ** 2).mean(-1, keepdim=True) + eps).sqrt()
    return (grad_out - grad_out.mean(-1, keepdim=True)) / sigma  # σ depends on x as well


def _wrong_unbiased(x, grad_out, eps):
    sigma = (x.var(-1, keepdim=True) + eps).sqrt()  # divides by d − 1: NaN for d = 1
    x_hat = (x - x.mean(-1, keepdim=True)) / sigma
    g = grad_out
    return (g - g.mean(-1, keepdim=True) - x_hat * (g * x_hat).mean(-1, keepdim=True)) / sigma


@exercise(
    "layer-norm-backward",
    page="transformers/transformer",
    task="Given x [..., d] and the gradient grad_out of a loss with respect to "
    "y = (x − μ)/√(σ² + eps) (no scale or shift, over the last dimension), return the "
    "gradient with respect to x, without autograd.",
    cases=_norm_cases,
    wrong=[_wrong_sigma_constant, _wrong_unbiased],
)
def layer_norm_backward(x: torch.Tensor, grad_out: torch.Tensor, eps: float) -> torch.Tensor:
    """``(g − mean(g) − x̂ · mean(g · x̂)) / σ``: the mean and σ both depend on every feature."""
    centred = x - x.mean(dim=-1, keepdim=True)
    sigma = ((centred**2).mean(dim=-1, keepdim=True) + eps).sqrt()  # biased variance
    x_hat = centred / sigma
    g = grad_out
    return (
        g - g.mean(dim=-1, keepdim=True) - x_hat * (g * x_hat).mean(dim=-1, keepdim=True)
    ) / sigma


def _mask_cases():
    g = torch.Generator().manual_seed(11)
    for n, t, causal in [(2, 5, False), (3, 6, True), (1, 1, True), (2, 4, False), (2, 7, True)]:
        ids = torch.randint(1, 20, (n, t), generator=g)
        lengths = torch.randint(1, t + 1, (n,), generator=g)
        ids[torch.arange(t)[None, :] >= lengths[:, None]] = 0
        ids[0, t - 1] = 0  # at least one padded key
        yield Case((ids, 0, causal), label=f"N={n}, T={t}, causal={causal}")
    yield Case((torch.zeros(2, 0, dtype=torch.long), 0, True), label="T=0")


def _wrong_masks_queries(ids, pad_id, causal):
    t = ids.shape[1]
    allowed = (ids != pad_id)[:, :, None].expand(-1, t, t)  # hides padded queries, not keys
    if causal:
        allowed = allowed & torch.ones(t, t, dtype=torch.bool).tril()
    return allowed


def _wrong_upper_triangle(ids, pad_id, causal):
    t = ids.shape[1]
    allowed = (ids != pad_id)[:, None, :].expand(-1, t, t)
    if causal:
        allowed = allowed & torch.ones(t, t, dtype=torch.bool).triu()  # lets i read the future
    return allowed


@exercise(
    "attention-mask",
    page="transformers/models",
    task="The boolean mask [N, T, T] of self-attention over ids [N, T]: True where query i may "
    "attend key j, that is key j is not padding and, when causal (a decoder), j ≤ i.",
    cases=_mask_cases,
    wrong=[_wrong_masks_queries, _wrong_upper_triangle],
)
def attention_mask(ids: torch.Tensor, pad_id: int, causal: bool) -> torch.Tensor:
    """Padding hides columns (keys); causality hides the upper triangle."""
    t = ids.shape[1]
    allowed = (ids != pad_id)[:, None, :].expand(-1, t, t)  # [N, 1, T] → [N, T, T]
    if causal:
        allowed = allowed & torch.ones(t, t, dtype=torch.bool, device=ids.device).tril()
    return allowed
