import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.common.train import fit
from snippets.transformers.word2vec import (
    NegativeSamplingBatches,
    SkipGram,
    build_vocab,
    encode_words,
    nearest_neighbours,
    noise_distribution,
    pair_accuracy,
    skipgram_forward,
    skipgram_pairs,
    word_tokens,
)


def test_tokens_vocab_and_encoding():
    tokens = word_tokens("The cat sat on the mat. THE END")
    assert tokens == ["the", "cat", "sat", "on", "the", "mat", "the", "end"]
    itos, counts = build_vocab(tokens, min_count=1)
    assert itos[0] == "the" and counts[0] == 3
    assert itos[1:] == sorted(itos[1:])  # ties broken alphabetically
    itos, counts = build_vocab(tokens, min_count=2)
    assert itos == ["the"] and counts.tolist() == [3]
    assert encode_words(["the", "cat", "the"], itos).tolist() == [0, 0]  # rare words dropped


@settings(max_examples=30, deadline=None)
@given(st.integers(0, 9), st.integers(1, 4))
def test_skipgram_pairs_are_every_pair_within_the_window(length, window):
    ids = torch.arange(100, 100 + length)
    centers, contexts = skipgram_pairs(ids, window)
    got = sorted(zip(centers.tolist(), contexts.tolist()))
    expected = sorted(
        (int(ids[i]), int(ids[j]))
        for i in range(length)
        for j in range(length)
        if i != j and abs(i - j) <= window
    )
    assert got == expected


def test_loss_matches_binary_cross_entropy_of_real_against_random_pairs():
    torch.manual_seed(0)
    model = SkipGram(7, 5)
    torch.nn.init.normal_(model.context.weight)  # the real start is 0: make scores non-trivial
    centers, contexts = torch.tensor([0, 3, 6]), torch.tensor([1, 2, 5])
    negatives = torch.randint(0, 7, (3, 4))
    v = model.center.weight[centers]
    scores = torch.cat(
        [
            (model.context.weight[contexts] * v).sum(-1, keepdim=True),
            torch.bmm(model.context.weight[negatives], v[:, :, None])[..., 0],
        ],
        dim=1,
    )  # [3, 1 + K]
    labels = torch.zeros_like(scores)
    labels[:, 0] = 1
    expected = F.binary_cross_entropy_with_logits(scores, labels, reduction="sum") / 3
    torch.testing.assert_close(model(centers, contexts, negatives), expected)


def test_training_separates_real_contexts_from_random_words():
    """Words 0-4 only meet words 0-4, words 5-9 only 5-9: training must learn the two groups."""
    generator = torch.Generator().manual_seed(0)
    ids = torch.cat(
        [
            torch.randint(0, 5, (200,), generator=generator),
            torch.randint(5, 10, (200,), generator=generator),
        ]
    )
    centers, contexts = skipgram_pairs(ids, 2)
    counts = torch.bincount(ids, minlength=10)
    batches = NegativeSamplingBatches(
        centers, contexts, noise_distribution(counts), 3, 64, generator
    )
    torch.manual_seed(0)
    model = SkipGram(10, 8)
    history = fit(
        model,
        batches,
        lambda loss, _: loss,
        torch.optim.Adam(model.parameters(), lr=0.05),
        epochs=4,
        forward=skipgram_forward,
    )
    assert history.train_loss[-1] < history.train_loss[0]
    same = torch.tensor([0, 1, 5, 6])
    other = torch.tensor([7, 8, 2, 3])
    assert pair_accuracy(model, torch.tensor([2, 3, 7, 8]), same, other) == 1.0
    neighbours = [i for i, _ in nearest_neighbours(model.center.weight.detach(), 0, 3)]
    assert all(i < 5 for i in neighbours)


def test_batches_cover_every_pair_once_with_fresh_negatives():
    centers, contexts = torch.arange(10), torch.arange(10, 20)
    noise = noise_distribution(torch.tensor([1, 1, 1, 0]))
    batches = NegativeSamplingBatches(
        centers, contexts, noise, 2, 4, torch.Generator().manual_seed(0)
    )
    assert len(batches) == 3
    first = list(batches)
    pairs = torch.cat([torch.stack([c, o], 1) for c, o, _ in first])
    assert sorted(pairs.tolist()) == [[i, i + 10] for i in range(10)]
    negatives = torch.cat([n for *_, n in first])
    assert negatives.shape == (10, 2) and (negatives < 3).all()  # word 3 has probability 0
    assert not torch.equal(negatives, torch.cat([n for *_, n in batches]))


def test_noise_distribution_is_counts_to_the_three_quarters():
    noise = noise_distribution(torch.tensor([16, 1, 0]))
    torch.testing.assert_close(noise, torch.tensor([8.0, 1.0, 0.0]) / 9)


def test_nearest_neighbours_by_cosine():
    embeddings = torch.tensor([[1.0, 0.0], [10.0, 1.0], [0.0, 1.0], [-1.0, 0.0]])
    got = nearest_neighbours(embeddings, 0, 3)
    assert [i for i, _ in got] == [1, 2, 3]
    assert got[2][1] == pytest.approx(-1.0)


def test_bad_input():
    model = SkipGram(5, 3)
    ok = torch.tensor([0, 1])
    with pytest.raises(ValueError, match="centers must hold ids from 0 to 4"):
        model(torch.tensor([0, 5]), ok, torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(TypeError, match="centers must"):
        model(ok.float(), ok, torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="words must have centers' batch size 2"):
        model(ok, torch.tensor([0, 1, 2]), torch.zeros(2, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="negatives must"):
        model(ok, ok, torch.zeros(2, dtype=torch.int64))
    with pytest.raises(ValueError, match="window must be > 0"):
        skipgram_pairs(ok, 0)
    with pytest.raises(ValueError, match="ids must"):
        skipgram_pairs(ok[None], 1)
    with pytest.raises(ValueError, match="min_count = 3"):
        build_vocab(["a", "b"], 3)
    with pytest.raises(TypeError, match="text must be a str"):
        word_tokens(b"bytes")
    with pytest.raises(ValueError, match="positive sum"):
        noise_distribution(torch.tensor([0, 0]))
    with pytest.raises(ValueError, match="same, non-zero number of pairs"):
        NegativeSamplingBatches(ok, ok[:1], torch.ones(5), 2, 4)
    with pytest.raises(ValueError, match="k must be between 1 and 3"):
        nearest_neighbours(torch.randn(4, 2), 0, 4)
    with pytest.raises(ValueError, match="query must be a row"):
        nearest_neighbours(torch.randn(4, 2), 4, 1)
    with pytest.raises(ValueError, match="same, non-zero number of ids"):
        pair_accuracy(model, ok, ok, ok[:1])
