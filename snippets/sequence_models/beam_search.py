"""Beam search: keep the ``k`` best partial outputs instead of only the best one.

Greedy decoding (:func:`~snippets.sequence_models.seq2seq.greedy_decode`)
commits to the most likely token at every step, and a token that looked best
early can lead to a poor sequence. Beam search keeps ``beam_width`` partial
hypotheses (*beams*), each scored by the sum of the log-probabilities of its
tokens. At every step each beam is extended by every token, and the
``beam_width`` best extensions survive. An extension ending in ``<eos>`` is
*finished*: it leaves the beam and its score is frozen. The search stops when
no beam is left, after ``max_len`` generated tokens, or as soon as no
surviving beam can still beat the best finished one (log-probabilities only
add negative terms, so a beam's score can only fall).

:func:`beam_search_hypotheses` is the search itself, over any function that
returns next-token log-probabilities for a batch of prefixes;
:func:`beam_search` runs it with an encoder-decoder (the ``encode`` /
``decode`` interface of :class:`~snippets.sequence_models.seq2seq.Seq2Seq` and
:class:`~snippets.transformers.transformer.Seq2SeqTransformer`).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor


@dataclass(frozen=True)
class Hypothesis:
    """One candidate output: ``ids`` (starting with ``<bos>``), its total log-probability
    ``log_prob``, whether it ended with ``<eos>``, and ``score``, the value beams are ranked by
    at the end (``log_prob`` divided by ``generated ** length_penalty``)."""

    ids: tuple[int, ...]
    log_prob: float
    finished: bool
    score: float


def length_normalized(log_prob: float, generated: int, length_penalty: float) -> float:
    """``log_prob / generated ** length_penalty``: 0 ranks by total log-probability, 1 by
    the mean per token (longer outputs are no longer penalised for having more terms)."""
    return log_prob / generated**length_penalty


def beam_search_hypotheses(
    next_log_probs: Callable[[torch.Tensor], torch.Tensor],
    bos_id: int,
    eos_id: int,
    max_len: int,
    beam_width: int,
    length_penalty: float = 0.0,
    trace: list | None = None,
) -> list[Hypothesis]:
    """Search for likely outputs; return every finished or surviving hypothesis, best first.

    ``next_log_probs(prefixes)`` maps prefixes ``[B, t]`` (int64, each
    starting with ``bos_id``) to next-token log-probabilities ``[B, V]``.
    The search keeps at most ``beam_width`` unfinished beams. With
    ``length_penalty > 0`` the final ranking uses :func:`length_normalized`
    (pruning still uses the raw log-probability, and the search runs to
    ``max_len`` or until no beam is left). If ``trace`` is a list, one entry
    per step is appended: a list of ``(ids, log_prob, kept)`` for every
    extension considered, so the search tree can be printed.

    Raises:
        ValueError: if ``max_len`` or ``beam_width`` is not positive,
            ``length_penalty`` is negative, or ``next_log_probs`` returns a
            tensor of the wrong shape.
    """
    check_positive(max_len, "max_len")
    check_positive(beam_width, "beam_width")
    check_positive(length_penalty, "length_penalty", allow_zero=True)
    beams: list[tuple[tuple[int, ...], float]] = [((bos_id,), 0.0)]  # (ids, log-probability)
    finished: list[Hypothesis] = []
    for _ in range(max_len):
        prefixes = torch.tensor([ids for ids, _ in beams], dtype=torch.int64)
        log_probs = next_log_probs(prefixes)
        if log_probs.ndim != 2 or log_probs.shape[0] != len(beams):
            raise ValueError(
                f"next_log_probs must return [B, V] = [{len(beams)}, V] log-probabilities, "
                f"got shape {tuple(log_probs.shape)}"
            )
        totals = torch.tensor([lp for _, lp in beams], dtype=torch.float64)[:, None]
        totals = totals + log_probs.double()  # [B, V]: every beam extended by every token
        k = min(beam_width, totals.numel())
        best = totals.flatten().topk(k).indices.tolist()  # the k best extensions overall
        vocab = totals.shape[1]
        beams = []
        for flat in best:
            ids = tuple(prefixes[flat // vocab].tolist() + [flat % vocab])
            log_prob = totals.flatten()[flat].item()
            if flat % vocab == eos_id:  # finished: leaves the beam with its score frozen
                generated = len(ids) - 1
                score = length_normalized(log_prob, generated, length_penalty)
                finished.append(Hypothesis(ids, log_prob, True, score))
            else:
                beams.append((ids, log_prob))
        if trace is not None:
            kept = set(best)
            trace.append(
                [
                    (tuple(prefixes[flat // vocab].tolist() + [flat % vocab]), value, flat in kept)
                    for flat, value in enumerate(totals.flatten().tolist())
                ]
            )
        if not beams:
            break
        best_finished = max((h.log_prob for h in finished), default=float("-inf"))
        if length_penalty == 0 and best_finished >= max(lp for _, lp in beams):
            break  # no surviving beam can overtake the best finished hypothesis
    unfinished = [
        Hypothesis(ids, lp, False, length_normalized(lp, len(ids) - 1, length_penalty))
        for ids, lp in beams
    ]
    return sorted(finished + unfinished, key=lambda h: h.score, reverse=True)


@torch.no_grad()
def beam_search(
    model: nn.Module,
    src: torch.Tensor,
    bos_id: int,
    eos_id: int,
    max_len: int,
    beam_width: int,
    length_penalty: float = 0.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Beam search with an encoder-decoder, one source row at a time.

    ``model`` has ``encode(src) -> memory`` and
    ``decode(prefix, memory, src) -> logits``. The encoder reads each source
    once, repeated ``beam_width`` times so that the decoder scores all beams in
    one batch (fewer beams are padded with copies of the first). With
    ``beam_width=1`` this is :func:`~snippets.sequence_models.seq2seq.greedy_decode`.

    Shapes:
        ``src`` ``[N, S]`` -> ids ``[N, 1 + steps]`` (the best hypothesis of
        every row, starting with ``bos_id`` and padded with ``eos_id``, as
        ``greedy_decode`` returns them) and scores ``[N]`` (float64, each
        best hypothesis's ranking score).

    Raises:
        TypeError: if ``model`` has no ``encode`` or ``decode`` method, or
            ``src`` is not int64.
        ValueError: if ``src`` is not 2-D or has no rows, or ``max_len``,
            ``beam_width`` or ``length_penalty`` is out of range.
    """
    check_tensor(src, "src", ndim=2, dtype=torch.int64)
    if len(src) == 0:
        raise ValueError(f"src must hold at least one row, got shape {tuple(src.shape)}")
    check_positive(max_len, "max_len")
    check_positive(beam_width, "beam_width")
    check_positive(length_penalty, "length_penalty", allow_zero=True)
    for method in ("encode", "decode"):
        if not callable(getattr(model, method, None)):
            raise TypeError(
                f"model must have encode(src) and decode(prefix, memory, src) methods, "
                f"{type(model).__name__} has no {method}()"
            )
    was_training = model.training
    model.eval()
    best: list[Hypothesis] = []
    for row in src:
        src_rep = row[None].expand(beam_width, -1).contiguous()  # one copy per beam
        next_log_probs = _decoder_log_probs(model, model.encode(src_rep), src_rep)
        hyps = beam_search_hypotheses(
            next_log_probs, bos_id, eos_id, max_len, beam_width, length_penalty
        )
        best.append(hyps[0])
    model.train(was_training)
    longest = max(len(h.ids) for h in best)
    ids = torch.full((len(src), longest), eos_id, dtype=torch.int64)
    for i, h in enumerate(best):
        ids[i, : len(h.ids)] = torch.tensor(h.ids)
    scores = torch.tensor([h.score for h in best], dtype=torch.float64)
    return ids.to(src.device), scores


def _decoder_log_probs(
    model: nn.Module, memory: object, src_rep: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """Decoder log-probabilities ``[B, V]`` of the next token for ``B <= len(src_rep)`` prefixes."""

    def next_log_probs(prefixes: torch.Tensor) -> torch.Tensor:
        prefixes = prefixes.to(src_rep.device)
        filler = prefixes[:1].expand(len(src_rep) - len(prefixes), -1)  # copies of the first beam
        logits = model.decode(torch.cat([prefixes, filler]), memory, src_rep)
        return logits[: len(prefixes), -1].log_softmax(dim=-1).cpu()

    return next_log_probs


def format_trace(trace: list, itos: list[str]) -> str:
    """The search tree recorded by :func:`beam_search_hypotheses`, one line per extension.

    Each step lists the extensions it considered, most likely first, with
    their total log-probability and probability; ``kept`` marks the
    ``beam_width`` that survived (an extension ending in ``<eos>`` survives as
    a finished hypothesis). Extensions of probability 0 are left out.
    """
    lines = []
    for step, extensions in enumerate(trace, start=1):
        lines.append(f"step {step}")
        for ids, log_prob, kept in sorted(extensions, key=lambda e: e[1], reverse=True):
            if log_prob == float("-inf"):
                continue
            text = " ".join(itos[i] for i in ids[1:])
            mark = "kept" if kept else "pruned"
            lines.append(
                f"  {text:<16} log p = {log_prob:7.3f}  p = {math.exp(log_prob):.3f}  {mark}"
            )
    return "\n".join(lines)
