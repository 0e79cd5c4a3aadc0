import itertools
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.sequence_models.beam_search import (
    Hypothesis,
    beam_search,
    beam_search_hypotheses,
    format_trace,
)
from snippets.sequence_models.seq2seq import Seq2Seq, greedy_decode
from snippets.transformers.transformer import Seq2SeqTransformer

BOS, EOS = 1, 2


def small_model(kind, tgt_vocab=9, seed=0):
    torch.manual_seed(seed)
    if kind == "transformer":
        sizes = dict(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1)
        model = Seq2SeqTransformer(12, tgt_vocab, **sizes, dim_feedforward=32, dropout=0.0)
        head = model.generator
    else:
        model = Seq2Seq(12, tgt_vocab, embed=8, hidden=8, attention=True)
        head = model.out
    with torch.no_grad():  # larger output weights: peaked outputs, <eos> comes early
        nn.init.normal_(head.weight, std=2.0)
    return model.eval()


def random_src(n, seed):
    generator = torch.Generator().manual_seed(seed)
    src = torch.randint(1, 12, (n, 5), generator=generator)
    lengths = torch.randint(1, 6, (n,), generator=generator)
    src[torch.arange(5)[None] >= lengths[:, None]] = 0  # right padding
    return src


@pytest.mark.parametrize("kind", ["rnn", "transformer"])
def test_beam_width_one_is_greedy_decoding(kind):
    for seed in range(2):
        model = small_model(kind, seed=seed)
        src = random_src(5, seed)
        ids, scores = beam_search(model, src, BOS, EOS, max_len=8, beam_width=1)
        assert torch.equal(ids, greedy_decode(model, src, BOS, EOS, max_len=8))
        assert scores.shape == (5,) and (scores <= 0).all()


def candidates(vocab, max_len):
    """Every output the search can return: ended by <eos> at any length, or cut at max_len."""
    others = [t for t in range(vocab) if t != EOS]
    for length in range(1, max_len + 1):
        for body in itertools.product(others, repeat=length - 1):
            yield (BOS, *body, EOS)
    for body in itertools.product(others, repeat=max_len):
        yield (BOS, *body)


def brute_force_best(model, src_row, vocab, max_len, length_penalty):
    """The best ranking score over every candidate, each scored by re-running the whole model."""
    best = -math.inf
    for ids in candidates(vocab, max_len):
        seq = torch.tensor([ids])
        log_probs = model(src_row[None], seq[:, :-1]).log_softmax(-1)[0]  # [len - 1, V]
        total = log_probs.gather(1, seq[0, 1:, None]).sum().item()
        best = max(best, total / (len(ids) - 1) ** length_penalty)
    return best


@pytest.mark.parametrize("length_penalty", [0.0, 1.0])
@pytest.mark.parametrize("kind", ["rnn", "transformer"])
def test_a_wide_enough_beam_finds_the_brute_force_maximum(kind, length_penalty):
    vocab, max_len = 4, 3  # 3 + 9 + 27 + 1 = 40 candidates
    for seed in range(1):
        model = small_model(kind, tgt_vocab=vocab, seed=seed)
        src = random_src(2, seed)
        with torch.no_grad():
            _, scores = beam_search(
                model, src, BOS, EOS, max_len, vocab**max_len, length_penalty=length_penalty
            )
            for row, score in zip(src, scores):
                expected = brute_force_best(model, row, vocab, max_len, length_penalty)
                assert score.item() == pytest.approx(expected, abs=1e-5)


def toy_log_probs(table):
    """Next-token log-probabilities that depend on the prefix only, from a dict of rows."""

    def next_log_probs(prefixes):
        rows = [table.get(tuple(p.tolist()[1:]), table[None]) for p in prefixes]
        return torch.tensor(rows, dtype=torch.float64).log()

    return next_log_probs


# tokens: 0 = pad, 1 = <bos>, 2 = <eos>, 3 = "a", 4 = "b"
TABLE = {
    (): [0.0, 0.0, 0.1, 0.5, 0.4],  # first token: "a" is the most likely
    (3,): [0.0, 0.0, 0.3, 0.4, 0.3],  # after "a" everything is uncertain
    (4,): [0.0, 0.0, 0.9, 0.05, 0.05],  # after "b", <eos> almost surely
    None: [0.0, 0.0, 0.6, 0.2, 0.2],
}


def test_a_beam_of_two_beats_greedy_on_a_garden_path():
    greedy = beam_search_hypotheses(toy_log_probs(TABLE), BOS, EOS, 4, beam_width=1)[0]
    beam = beam_search_hypotheses(toy_log_probs(TABLE), BOS, EOS, 4, beam_width=2)[0]
    assert greedy.ids == (BOS, 3, 3, EOS)  # commits to "a": 0.5 * 0.4 * 0.6
    assert beam.ids == (BOS, 4, 2)  # "b" then <eos>: 0.4 * 0.9
    assert beam.log_prob == pytest.approx(math.log(0.36))
    assert greedy.log_prob == pytest.approx(math.log(0.12))


def test_eos_finishes_a_hypothesis_and_max_len_cuts_the_others():
    never_eos = {None: [0.0, 0.0, 0.0, 0.5, 0.5]}
    hyps = beam_search_hypotheses(toy_log_probs(never_eos), BOS, EOS, 3, beam_width=2)
    assert all(len(h.ids) == 4 and not h.finished for h in hyps)  # cut at max_len = 3
    hyps = beam_search_hypotheses(toy_log_probs(TABLE), BOS, EOS, 5, beam_width=3)
    for h in hyps:
        assert h.finished == (h.ids[-1] == EOS)
        assert EOS not in h.ids[:-1]  # nothing is generated after <eos>
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)


def test_length_penalty_prefers_longer_outputs():
    # <eos> now or two tokens of probability 0.8 each: 0.5 vs 0.64 * 0.8 per-token wins
    table = {(): [0, 0, 0.5, 0.5, 0], (3,): [0, 0, 0.2, 0.8, 0], (3, 3): [0, 0, 0.8, 0.2, 0]}
    table[None] = [0, 0, 1.0, 0, 0]
    short = beam_search_hypotheses(toy_log_probs(table), BOS, EOS, 4, 4, length_penalty=0.0)[0]
    long = beam_search_hypotheses(toy_log_probs(table), BOS, EOS, 4, 4, length_penalty=1.0)[0]
    assert short.ids == (BOS, EOS)
    assert long.ids == (BOS, 3, 3, EOS)
    assert long.score == pytest.approx(math.log(0.5 * 0.8 * 0.8) / 3)


@settings(max_examples=15, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(0, 2**16))
def test_hypotheses_are_sorted_and_scores_are_their_log_probabilities(width, max_len, seed):
    generator = torch.Generator().manual_seed(seed)
    logits = torch.randn(6, 5, generator=generator, dtype=torch.float64)

    def next_log_probs(prefixes):  # depends on the last token only
        return logits[prefixes[:, -1]].log_softmax(-1)

    hyps = beam_search_hypotheses(next_log_probs, BOS, EOS, max_len, width)
    assert [h.score for h in hyps] == sorted((h.score for h in hyps), reverse=True)
    for h in hyps:
        expected = sum(
            next_log_probs(torch.tensor([h.ids[:i]]))[0, h.ids[i]] for i in range(1, len(h.ids))
        )
        assert h.log_prob == pytest.approx(float(expected))


def test_beam_search_pads_rows_with_eos_and_keeps_the_training_mode():
    model = small_model("rnn").train()
    src = random_src(4, 0)
    ids, _ = beam_search(model, src, BOS, EOS, max_len=6, beam_width=3)
    assert model.training
    assert (ids[:, 0] == BOS).all() and ids.shape[1] <= 7
    for row in ids.tolist():
        if EOS in row:
            assert all(t == EOS for t in row[row.index(EOS) :])


def test_format_trace_marks_kept_extensions():
    trace = []
    beam_search_hypotheses(toy_log_probs(TABLE), BOS, EOS, 4, beam_width=2, trace=trace)
    text = format_trace(trace, ["<pad>", "<bos>", "<eos>", "a", "b"])
    assert "step 1" in text and "b <eos>" in text
    assert text.count("kept") == sum(kept for step in trace for *_, kept in step)


def test_bad_input():
    model = small_model("rnn")
    src = random_src(2, 0)
    with pytest.raises(ValueError, match="beam_width must be > 0"):
        beam_search(model, src, BOS, EOS, max_len=4, beam_width=0)
    with pytest.raises(ValueError, match="max_len must be > 0"):
        beam_search(model, src, BOS, EOS, max_len=0, beam_width=2)
    with pytest.raises(ValueError, match="length_penalty must be >= 0"):
        beam_search(model, src, BOS, EOS, max_len=4, beam_width=2, length_penalty=-1.0)
    with pytest.raises(TypeError, match="src must"):
        beam_search(model, src.float(), BOS, EOS, max_len=4, beam_width=2)
    with pytest.raises(ValueError, match="at least one row"):
        beam_search(model, src[:0], BOS, EOS, max_len=4, beam_width=2)
    with pytest.raises(TypeError, match="has no encode"):
        beam_search(nn.Linear(2, 2), src, BOS, EOS, max_len=4, beam_width=2)
    with pytest.raises(ValueError, match=r"next_log_probs must return \[B, V\]"):
        beam_search_hypotheses(lambda p: torch.zeros(5), BOS, EOS, 3, 2)
    assert isinstance(beam_search_hypotheses(toy_log_probs(TABLE), BOS, EOS, 1, 1)[0], Hypothesis)
