"""Span corruption: exact strings on hand-made masks, and its invariants on random ones."""

from __future__ import annotations

import re

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.transformer_family.span_corruption import (
    corrupt,
    corrupt_ids,
    noise_mask,
    restore,
    sentinel,
    span_corruption,
)

DENSITIES = st.floats(0.05, 0.5)  # the share of tokens dropped
SEEDS = st.integers(0, 10_000)
SENTENCE = "Thank you for inviting me to your party last week .".split()


def test_the_papers_example():
    mask = [w in ("for", "inviting", "last") for w in SENTENCE]
    inputs, targets = corrupt(SENTENCE, mask)
    assert " ".join(inputs) == "Thank you <extra_id_0> me to your party <extra_id_1> week ."
    assert " ".join(targets) == "<extra_id_0> for inviting <extra_id_1> last <extra_id_2>"


@pytest.mark.parametrize(
    ("mask", "inputs", "targets"),
    [
        ("..x", "a b <extra_id_0>", "<extra_id_0> c <extra_id_1>"),
        ("x..", "<extra_id_0> b c", "<extra_id_0> a <extra_id_1>"),
        ("x.x", "<extra_id_0> b <extra_id_1>", "<extra_id_0> a <extra_id_1> c <extra_id_2>"),
        ("...", "a b c", "<extra_id_0>"),
    ],
)
def test_hand_made_masks(mask, inputs, targets):
    got_inputs, got_targets = corrupt(["a", "b", "c"], [m == "x" for m in mask])
    assert (" ".join(got_inputs), " ".join(got_targets)) == (inputs, targets)


def test_own_sentinels_replace_the_strings():
    inputs, targets = corrupt([5, 6, 7, 8], [False, True, False, True], sentinels=[90, 91, 92])
    assert (inputs, targets) == ([5, 90, 7, 91], [90, 6, 91, 8, 92])


def test_corrupt_ids_by_hand():
    # 20 tokens: 3 dropped in one span, as in the test below, for every row
    ids = torch.arange(10, 30).repeat(2, 1)
    sentinels = [100, 101]
    inputs, targets = corrupt_ids(ids, sentinels, generator=torch.Generator().manual_seed(0))
    assert inputs.shape == (2, 18) and targets.shape == (2, 5)
    assert inputs.dtype == targets.dtype == torch.int64
    for row_in, row_out in zip(inputs.tolist(), targets.tolist()):
        assert row_in.count(100) == 1 and 101 not in row_in
        at = row_in.index(100)
        assert row_out == [100, *range(10 + at, 13 + at), 101]  # the three tokens it hid


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 5), st.integers(2, 80), DENSITIES, SEEDS)
def test_corrupt_ids_is_corrupt_row_by_row(rows, length, density, seed):
    ids = torch.randint(0, 50, (rows, length), generator=torch.Generator().manual_seed(seed))
    sentinels = list(range(50, 50 + length))
    inputs, targets = corrupt_ids(
        ids, sentinels, density, 3.0, generator=torch.Generator().manual_seed(seed)
    )
    generator = torch.Generator().manual_seed(seed)
    names = {i: sentinel(k) for k, i in enumerate(sentinels)}
    for row, row_in, row_out in zip(ids.tolist(), inputs.tolist(), targets.tolist()):
        mask = noise_mask(length, density, 3.0, generator)
        assert (row_in, row_out) == corrupt(row, mask, sentinels)
        words = [f"w{t}" for t in row]
        restored = restore(
            [names.get(t, f"w{t}") for t in row_in], [names.get(t, f"w{t}") for t in row_out]
        )
        assert restored == words


def test_noise_mask_of_twenty_tokens_drops_three_in_one_span():
    mask = noise_mask(20, generator=torch.Generator().manual_seed(0))
    assert sum(mask) == 3  # round(20 · 0.15), in round(3 / 3) = 1 span
    assert "".join("x" if m else "." for m in mask).strip(".") == "xxx"
    assert not mask[0]  # the sequence starts with kept tokens


def _runs(mask):
    return re.findall("x+", "".join("x" if m else "." for m in mask))


@settings(max_examples=80, deadline=None)
@given(st.integers(2, 300), DENSITIES, st.floats(1.0, 6.0), SEEDS)
def test_span_corruption_invariants(length, density, mean, seed):
    tokens = [f"w{i}" for i in range(length)]
    gen = torch.Generator().manual_seed(seed)
    mask = noise_mask(length, density, mean, generator=gen)
    inputs, targets = corrupt(tokens, mask)
    # input and target together give back the original
    assert restore(inputs, targets) == tokens
    # the noise fraction is the density, rounded to whole tokens
    noise = sum(mask)
    assert noise == min(max(round(length * density), 1), length - 1)
    assert abs(noise / length - density) <= max(0.5 / length, abs(1 / length - density))
    # one sentinel per span, numbered in order, in both input and target
    spans = len(_runs(mask))
    assert spans == min(max(round(noise / mean), 1), length - noise)
    used = [t for t in inputs if t.startswith("<extra_id_")]
    assert used == [sentinel(k) for k in range(spans)]
    assert [t for t in targets if t.startswith("<extra_id_")] == used + [sentinel(spans)]
    assert len(inputs) == length - noise + spans
    assert not mask[0]


def test_span_corruption_is_reproducible_and_varies_with_the_seed():
    tokens = [f"w{i}" for i in range(60)]
    draws = [span_corruption(tokens, generator=torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert draws[0] == draws[1]
    assert draws[0] != draws[2]


def test_mean_span_length_sets_the_number_of_spans():
    tokens = [f"w{i}" for i in range(200)]  # 30 noise tokens
    for mean, spans in ((1.0, 30), (3.0, 10), (10.0, 3)):
        mask = noise_mask(len(tokens), 0.15, mean, torch.Generator().manual_seed(0))
        assert len(_runs(mask)) == spans


def test_bad_input():
    with pytest.raises(ValueError, match="length must be at least 2"):
        noise_mask(1)
    with pytest.raises(TypeError, match="length must be an int"):
        noise_mask(10.0)
    with pytest.raises(ValueError, match="noise_density must be < 1"):
        noise_mask(10, noise_density=1.0)
    with pytest.raises(ValueError, match="noise_density must be > 0"):
        noise_mask(10, noise_density=0.0)
    with pytest.raises(ValueError, match="mean_span_length must be >= 1"):
        noise_mask(10, mean_span_length=0.5)
    with pytest.raises(ValueError, match="mask must have one entry per token"):
        corrupt(["a", "b"], [True])
    with pytest.raises(TypeError, match="mask must hold bools"):
        corrupt(["a", "b"], [1, 0])
    with pytest.raises(TypeError, match="got a str"):
        span_corruption("a b c")
    with pytest.raises(ValueError, match="must not contain sentinel"):
        corrupt(["a", "<extra_id_0>"], [True, False])
    with pytest.raises(ValueError, match="expected <extra_id_0>, got <extra_id_1>"):
        restore(["a", "<extra_id_1>"], ["<extra_id_1>", "b"])
    with pytest.raises(ValueError, match="index must be >= 0"):
        sentinel(-1)
    with pytest.raises(ValueError, match="one more token than the 2 masked runs, 3, got 2"):
        corrupt([1, 2, 3], [True, False, True], sentinels=[8, 9])
    with pytest.raises(ValueError, match="must not contain any of the sentinels"):
        corrupt([1, 9, 3], [True, False, False], sentinels=[8, 9])
    with pytest.raises(ValueError, match="must not contain any of the sentinels"):
        corrupt_ids(torch.tensor([[1, 2, 9, 4]]), [8, 9])
    with pytest.raises(ValueError, match="one more token than"):
        corrupt_ids(torch.arange(100)[None], [200])  # 15 tokens in 5 spans
    with pytest.raises(TypeError, match="ids"):
        corrupt_ids(torch.zeros(2, 4), [8, 9])
    with pytest.raises(ValueError, match="ids"):
        corrupt_ids(torch.zeros(4, dtype=torch.int64), [8, 9])
    with pytest.raises(ValueError, match="at least one row"):
        corrupt_ids(torch.zeros(0, 4, dtype=torch.int64), [8, 9])
