import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.llm.sampling import filter_logits, sample


def _logits(seed: int, shape=(3, 11), dtype=torch.float64) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=dtype) * 2


def test_no_filter_is_the_tempered_softmax():
    logits = _logits(0)
    for t in (0.5, 1.0, 3.0):
        got = filter_logits(logits, temperature=t, top_k=None, top_p=1.0).softmax(-1)
        torch.testing.assert_close(got, torch.softmax(logits / t, dim=-1))


def test_top_k_keeps_exactly_the_k_largest():
    logits = torch.tensor([[0.1, 2.0, -1.0, 3.0, 0.5]])
    kept = filter_logits(logits, top_k=2).isfinite()
    assert kept.tolist() == [[False, True, False, True, False]]
    assert filter_logits(logits, top_k=10).isfinite().all()  # k ≥ V keeps everything


def test_top_p_keeps_the_smallest_set_that_reaches_p():
    probs = torch.tensor([0.5, 0.05, 0.3, 0.15])
    logits = probs.log()[None]
    # ranked: 0.5, 0.3, 0.15, 0.05; cumulative 0.5, 0.8, 0.95, 1.0
    assert filter_logits(logits, top_p=0.5).isfinite().tolist() == [[True, False, False, False]]
    assert filter_logits(logits, top_p=0.6).isfinite().tolist() == [[True, False, True, False]]
    assert filter_logits(logits, top_p=0.9).isfinite().tolist() == [[True, False, True, True]]
    assert filter_logits(logits, top_p=0.01).isfinite().tolist() == [[True, False, False, False]]


@settings(max_examples=60, deadline=None)
@given(
    seed=st.integers(0, 10_000),
    vocab=st.integers(1, 40),
    top_k=st.one_of(st.none(), st.integers(1, 50)),
    top_p=st.one_of(st.none(), st.floats(0.01, 1.0)),
    temperature=st.floats(0.1, 5.0),
)
def test_kept_mass_order_and_renormalisation(seed, vocab, top_k, top_p, temperature):
    logits = _logits(seed, (4, vocab))
    filtered = filter_logits(logits, temperature, top_k, top_p)
    kept = filtered.isfinite()
    tempered = torch.softmax(logits / temperature, dim=-1)
    assert kept.any(dim=-1).all()  # the most likely token always survives
    assert kept.gather(-1, tempered.argmax(-1, keepdim=True)).all()
    if top_k is not None:
        assert (kept.sum(-1) <= top_k).all()
    if top_p is not None and top_k is None:
        mass = (tempered * kept).sum(-1)
        assert (mass >= top_p - 1e-9).all()  # the nucleus reaches p ...
        smallest = (tempered.masked_fill(~kept, 2.0)).min(-1).values
        assert (mass - smallest < top_p + 1e-9).all()  # ... and is the smallest such set
    # kept tokens keep their order and their ratios: the filtered distribution is
    # the tempered one restricted to the kept set and renormalised
    probs = filtered.softmax(-1)
    expected = tempered * kept / (tempered * kept).sum(-1, keepdim=True)
    torch.testing.assert_close(probs, expected)


def test_sample_follows_the_filtered_distribution():
    logits = torch.tensor([1.0, 0.0, 2.0, -1.0, 0.5])
    generator = torch.Generator().manual_seed(0)
    draws = sample(logits.expand(20_000, 5), top_k=3, generator=generator)
    assert draws.shape == (20_000,) and draws.dtype == torch.int64
    freq = torch.bincount(draws, minlength=5).double() / len(draws)
    target = filter_logits(logits.double(), top_k=3).softmax(-1)
    assert freq[[1, 3]].sum() == 0  # the dropped tokens are never drawn
    torch.testing.assert_close(freq, target, atol=0.015, rtol=0)


def test_low_temperature_is_greedy_and_sampling_is_reproducible():
    logits = _logits(3, (6, 9), torch.float32)
    greedy = sample(logits, temperature=1e-4, generator=torch.Generator().manual_seed(1))
    assert torch.equal(greedy, logits.argmax(-1))
    a = sample(logits, generator=torch.Generator().manual_seed(5))
    b = sample(logits, generator=torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_bad_input_names_the_argument():
    logits = torch.randn(2, 5)
    with pytest.raises(TypeError, match="logits"):
        filter_logits(torch.tensor([1, 2, 3]))
    with pytest.raises(ValueError, match="V > 0"):
        filter_logits(torch.zeros(2, 0))
    with pytest.raises(ValueError, match="temperature must be > 0"):
        filter_logits(logits, temperature=0.0)
    with pytest.raises(ValueError, match="temperature must be > 0"):
        filter_logits(logits, temperature=math.nan)
    with pytest.raises(TypeError, match="top_k must be an int"):
        filter_logits(logits, top_k=2.5)
    with pytest.raises(ValueError, match="top_k"):
        filter_logits(logits, top_k=0)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        filter_logits(logits, top_p=0.0)
    with pytest.raises(ValueError, match=r"top_p must be in \(0, 1\]"):
        filter_logits(logits, top_p=math.nan)
    with pytest.raises(ValueError, match="temperature"):
        sample(logits, temperature=-1.0)
