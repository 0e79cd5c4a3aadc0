"""Coding exercises of the Transformer-family chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import torch

from snippets.common.exercises import Case, exercise

# ---------------------------------------------------------------- BERT: segment ids


def _segment_cases():
    g = torch.Generator().manual_seed(11)
    cls, sep, pad = 4, 5, 0
    for n, t, pairs in [(2, 9, True), (3, 7, False), (1, 3, False), (2, 12, True), (1, 5, True)]:
        rows = []
        for _ in range(n):
            if pairs:
                a = int(torch.randint(1, max(2, t - 4), (1,), generator=g))
                b = int(torch.randint(1, max(2, t - 3 - a), (1,), generator=g))
                b = max(1, min(b, t - 3 - a))
                body = [cls, *[7] * a, sep, *[8] * b, sep]
            else:
                a = int(torch.randint(1, t - 1, (1,), generator=g))
                body = [cls, *[7] * a, sep]
            body = body[:t]
            rows.append(body + [pad] * (t - len(body)))
        ids = torch.tensor(rows)
        ids[ids > 6] = torch.randint(7, 30, (int((ids > 6).sum()),), generator=g)
        kind = "pairs" if pairs else "single texts"
        yield Case((ids, sep, pad), label=f"N={n}, T={t}, {kind}, padded")
    yield Case((torch.zeros(2, 0, dtype=torch.long), sep, pad), label="T=0")


def _wrong_sep_starts_segment(ids, sep_id, pad_id):
    seps = (ids == sep_id).long()
    return (seps.cumsum(-1).clamp(max=1) * (ids != pad_id)).long()  # the first [SEP] counts as 1


def _wrong_padding_in_segment_one(ids, sep_id, pad_id):
    seps = (ids == sep_id).long()
    return (seps.cumsum(-1) - seps).clamp(max=1)  # padding after the first [SEP] becomes 1


@exercise(
    "segment-ids",
    page="transformer-family/bert",
    task="From padded BERT inputs ids [N, T] ([CLS] a [SEP] or [CLS] a [SEP] b [SEP], then "
    "padding), build the segment ids [N, T]: 1 for b and the [SEP] after it, 0 elsewhere "
    "(padding included).",
    cases=_segment_cases,
    wrong=[_wrong_sep_starts_segment, _wrong_padding_in_segment_one],
)
def segment_ids(ids: torch.Tensor, sep_id: int, pad_id: int) -> torch.Tensor:
    """Segment 1 is where exactly one ``[SEP]`` came strictly before, minus the padding."""
    seps = (ids == sep_id).long()
    before = seps.cumsum(dim=-1) - seps  # [N, T]: separators strictly before each position
    return ((before == 1) & (ids != pad_id)).long()


# ---------------------------------------------------------------- RoBERTa: position ids


def _position_cases():
    g = torch.Generator().manual_seed(12)
    for n, t, pad in [(2, 6, 1), (3, 9, 1), (1, 1, 1), (4, 5, 0), (2, 8, 1)]:
        ids = torch.randint(pad + 1, 50, (n, t), generator=g)
        lengths = torch.randint(1, t + 1, (n,), generator=g)
        ids[torch.arange(t)[None, :] >= lengths[:, None]] = pad  # right padding
        yield Case((ids, pad), label=f"N={n}, T={t}, pad_id={pad}, right padding")
    ids = torch.tensor([[1, 1, 9, 8, 7], [1, 6, 5, 4, 3]])
    yield Case((ids, 1), label="left padding")
    yield Case((torch.ones(1, 0, dtype=torch.long), 1), label="T=0")


def _wrong_ignores_padding(ids, pad_id):
    return torch.arange(ids.shape[1]).expand_as(ids) + pad_id + 1  # padding gets a position too


def _wrong_count_runs_on(ids, pad_id):
    real = (ids != pad_id).long()
    return real.cumsum(-1) + pad_id  # forgets to send padding back to pad_id


@exercise(
    "roberta-position-ids",
    page="transformer-family/roberta",
    task="RoBERTa's position ids of ids [N, T]: real tokens are numbered pad_id + 1, pad_id + 2, "
    "… in order (padding skipped), and every padding position gets pad_id.",
    cases=_position_cases,
    wrong=[_wrong_ignores_padding, _wrong_count_runs_on],
)
def roberta_position_ids(ids: torch.Tensor, pad_id: int) -> torch.Tensor:
    """A running count of the real tokens, zeroed at padding, shifted by ``pad_id``."""
    real = (ids != pad_id).long()
    return real.cumsum(dim=-1) * real + pad_id


# ---------------------------------------------------------------- DistilBERT: gradient


def _distill_cases():
    g = torch.Generator().manual_seed(13)
    for n, c, t, dtype in [
        (4, 5, 2.0, torch.float32),
        (1, 3, 1.0, torch.float32),
        (3, 7, 4.0, torch.float64),
        (2, 1, 2.0, torch.float32),
        (5, 4, 0.5, torch.float64),
    ]:
        student = torch.randn(n, c, generator=g, dtype=dtype) * 3
        teacher = torch.randn(n, c, generator=g, dtype=dtype) * 3
        yield Case((student, teacher, t), label=f"N={n}, C={c}, T={t}, {dtype}")


def _wrong_without_t(student_logits, teacher_logits, temperature):
    p_s = (student_logits / temperature).softmax(-1)
    p_t = (teacher_logits / temperature).softmax(-1)
    return (p_s - p_t) / student_logits.shape[0]  # forgets that T² and 1/T leave a T


def _wrong_not_averaged(student_logits, teacher_logits, temperature):
    p_s = (student_logits / temperature).softmax(-1)
    p_t = (teacher_logits / temperature).softmax(-1)
    return temperature * (p_s - p_t)  # a sum over the batch, not its mean


@exercise(
    "soft-target-gradient",
    page="transformer-family/distilbert",
    task="The gradient of the soft-target loss T²·KL(p_teacher ‖ p_student), averaged over the "
    "batch, with respect to the student's logits [N, C], without autograd.",
    cases=_distill_cases,
    wrong=[_wrong_without_t, _wrong_not_averaged],
)
def soft_target_gradient(
    student_logits: torch.Tensor, teacher_logits: torch.Tensor, temperature: float
) -> torch.Tensor:
    """``T² · (1/T) · (p_s − p_t) / N``: softmax minus target, scaled once by ``T``."""
    p_student = (student_logits / temperature).softmax(dim=-1)
    p_teacher = (teacher_logits / temperature).softmax(dim=-1)
    return temperature * (p_student - p_teacher) / student_logits.shape[0]


# ---------------------------------------------------------------- sizes: GPT-2 count


def _gpt2_cases():
    for v, p, d, layers in [
        (50_257, 1024, 768, 12),
        (50_257, 1024, 1024, 24),
        (100, 16, 8, 1),
        (7, 3, 4, 3),
        (65, 256, 128, 0),
    ]:
        yield Case((v, p, d, layers), label=f"V={v}, P={p}, d={d}, L={layers}")


def _wrong_untied(vocab_size, context, d_model, num_layers):
    d = d_model
    layer = 2 * 2 * d + 4 * (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    return (vocab_size + context) * d + num_layers * layer + 2 * d + vocab_size * d  # own head


def _wrong_no_final_norm(vocab_size, context, d_model, num_layers):
    d = d_model
    layer = 2 * 2 * d + 4 * (d * d + d) + (d * 4 * d + 4 * d) + (4 * d * d + d)
    return (vocab_size + context) * d + num_layers * layer  # forgets the last LayerNorm


@exercise(
    "gpt2-parameter-count",
    page="transformer-family/sizes",
    task="Count the parameters of a GPT-2 style model without building it: token and position "
    "tables, num_layers pre-norm blocks (feed-forward width 4·d, biases everywhere), a final "
    "LayerNorm and an output layer tied to the token table.",
    cases=_gpt2_cases,
    wrong=[_wrong_untied, _wrong_no_final_norm],
)
def gpt2_parameter_count(vocab_size: int, context: int, d_model: int, num_layers: int) -> int:
    """Embeddings + L · (2 LayerNorms, attention, feed-forward) + a LayerNorm; the head is free."""
    d = d_model
    attention = 4 * (d * d + d)  # W_Q, W_K, W_V, W_O with biases
    feed_forward = (d * 4 * d + 4 * d) + (4 * d * d + d)
    layer = attention + feed_forward + 2 * 2 * d
    return (vocab_size + context) * d + num_layers * layer + 2 * d


# ---------------------------------------------------------------- T5: span corruption lengths


def _span_cases():
    for length, density, span in [
        (20, 0.15, 3.0),
        (512, 0.15, 3.0),
        (2, 0.5, 1.0),
        (3, 0.15, 3.0),
        (10, 0.5, 1.0),
        (7, 0.9, 2.0),
        (101, 0.3, 8.0),
    ]:
        yield Case((length, density, span), label=f"length={length}")


def _wrong_no_closing_sentinel(length, noise_density, mean_span_length):
    noise = min(max(round(length * noise_density), 1), length - 1)
    spans = min(max(round(noise / mean_span_length), 1), length - noise)
    return length - noise + spans, noise + spans  # forgets the final sentinel


def _wrong_no_limits(length, noise_density, mean_span_length):
    noise = round(length * noise_density)  # can be 0 tokens, or all of them
    spans = round(noise / mean_span_length)
    return length - noise + spans, noise + spans + 1


@exercise(
    "span-corruption-lengths",
    page="transformer-family/t5",
    task="The lengths (input, target) of T5's span corruption of `length` tokens: "
    "round(length·density) noise tokens (at least 1, at most length − 1) in "
    "round(noise/mean_span_length) spans (at least 1, at most the kept tokens).",
    cases=_span_cases,
    wrong=[_wrong_no_closing_sentinel, _wrong_no_limits],
)
def span_corruption_lengths(
    length: int, noise_density: float, mean_span_length: float
) -> tuple[int, int]:
    """Input: kept tokens + one sentinel per span. Target: a sentinel per span + noise + 1."""
    noise = min(max(round(length * noise_density), 1), length - 1)
    kept = length - noise
    spans = min(max(round(noise / mean_span_length), 1), kept)
    return kept + spans, spans + noise + 1
