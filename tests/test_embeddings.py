"""Embedding lookup equals one-hot times a matrix."""

from __future__ import annotations

import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from snippets.embeddings import TokenEmbedding, embed_by_matmul, one_hot


@given(ids=st.lists(st.integers(0, 9), min_size=1, max_size=12))
def test_one_hot_matches_torch(ids):
    t = torch.tensor(ids)
    torch.testing.assert_close(one_hot(t, 10), nn.functional.one_hot(t, 10).float())


def test_matmul_equals_embedding_lookup():
    table = nn.Embedding(10, 4)
    ids = torch.tensor([[1, 2, 3], [9, 0, 1]])
    torch.testing.assert_close(embed_by_matmul(ids, table.weight), table(ids))


def test_token_embedding_scales_and_zeroes_padding():
    emb = TokenEmbedding(10, 16, padding_idx=0)
    ids = torch.tensor([[0, 3]])
    out = emb(ids)
    torch.testing.assert_close(out[0, 1], emb.embedding.weight[3] * math.sqrt(16))
    assert (out[0, 0] == 0).all()


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match=r"ids must lie in \[0, 5\)"):
        one_hot(torch.tensor([5]), 5)
    with pytest.raises(TypeError, match="ids must have dtype"):
        one_hot(torch.tensor([0.5]), 5)
    with pytest.raises(ValueError, match="weight must have 2 dimensions"):
        embed_by_matmul(torch.tensor([1]), torch.randn(3))
    with pytest.raises(TypeError, match="ids must have dtype"):
        TokenEmbedding(5, 4)(torch.zeros(1, 2))
