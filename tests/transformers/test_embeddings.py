"""Embedding lookup equals one-hot times a matrix; the Transformer's scaled embedding."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from snippets.transformers.embeddings import TokenEmbedding, check_token_ids, embed_by_one_hot


def test_one_hot_times_weight_equals_embedding_lookup():
    embedding = nn.Embedding(12, 4)
    tokens = torch.tensor([[3, 0, 11], [5, 5, 7]])
    with torch.no_grad():
        torch.testing.assert_close(embed_by_one_hot(tokens, embedding.weight), embedding(tokens))
    assert embed_by_one_hot(tokens, embedding.weight).shape == (2, 3, 4)


def test_token_embedding_equals_one_hot_times_its_scaled_matrix():
    emb = TokenEmbedding(10, 4)
    ids = torch.tensor([[1, 2, 3], [9, 0, 1]])
    torch.testing.assert_close(emb(ids), embed_by_one_hot(ids, emb.embedding.weight) * 2.0)


@given(d_model=st.sampled_from([16, 64, 256]))
def test_scaled_entries_have_unit_scale(d_model):
    emb = TokenEmbedding(500, d_model)
    std = emb(torch.arange(500)[None]).std().item()
    assert 0.9 < std < 1.1


def test_token_embedding_scales_and_zeroes_padding():
    emb = TokenEmbedding(10, 16, padding_idx=0)
    ids = torch.tensor([[0, 3]])
    out = emb(ids)
    torch.testing.assert_close(out[0, 1], emb.embedding.weight[3] * math.sqrt(16))
    assert (out[0, 0] == 0).all()


def test_bad_inputs_are_named():
    with pytest.raises(TypeError, match="ids must have dtype"):
        TokenEmbedding(5, 4)(torch.zeros(1, 2))
    with pytest.raises(ValueError, match="d_model must be > 0"):
        TokenEmbedding(5, 0)
    with pytest.raises(ValueError, match="weight must have 2 dimensions"):
        embed_by_one_hot(torch.tensor([0]), torch.zeros(3))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 3\)"):
        embed_by_one_hot(torch.tensor([3]), torch.zeros(3, 2))


def test_token_ids_are_checked_against_the_vocabulary():
    emb = TokenEmbedding(10, 4, padding_idx=0)
    assert emb(torch.zeros(0, 3, dtype=torch.int64)).shape == (0, 3, 4)
    with pytest.raises(ValueError, match="ids must hold ids from 0 to 9 .* from 0 to 10"):
        emb(torch.tensor([[0, 10]]))  # was an IndexError inside nn.Embedding
    with pytest.raises(ValueError, match="ids must hold ids from 0 to 9 .* from -1 to 3"):
        emb(torch.tensor([[-1, 3]]))
    with pytest.raises(ValueError, match="ids must have 2 dimensions"):
        emb(torch.tensor([1, 2]))
    with pytest.raises(ValueError, match="padding_idx must be an id from 0 to 9, got 10"):
        TokenEmbedding(10, 4, padding_idx=10)
    with pytest.raises(TypeError, match="ids must have dtype torch.int64"):
        check_token_ids(torch.zeros(1, 2, dtype=torch.int32), "ids", 5)
