"""Next-sentence prediction: the pairs, their packing, the head and the loss."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.transformer_family.bert import BertConfig, BertForMaskedLM
from snippets.transformer_family.next_sentence import (
    IS_NEXT,
    NOT_NEXT,
    BertForPreTraining,
    NextSentenceHead,
    pack_pairs,
    pretraining_loss,
    sentence_pairs,
)
from snippets.transformers.masked_lm import IGNORE, masked_lm_loss

SMALL = BertConfig(
    vocab_size=30, max_positions=16, d_model=16, num_layers=2, nhead=2, dim_feedforward=32
)


def _streams(lengths):
    """Streams whose tokens are all distinct: stream k holds k·1000, k·1000 + 1, …"""
    return [torch.arange(k * 1000, k * 1000 + n) for k, n in enumerate(lengths)]


def _is_next_in_stream(first, second):
    """Whether ``second`` is the window right after ``first`` (tokens are distinct)."""
    joined = torch.cat([first, second])
    return bool((joined.diff() == 1).all())


@settings(max_examples=60, deadline=None)
@given(
    lengths=st.lists(st.integers(6, 60), min_size=1, max_size=4),
    first_length=st.integers(1, 3),
    second_length=st.integers(1, 3),
    per_stream=st.integers(1, 25),
    seed=st.integers(0, 10_000),
)
def test_pairs_are_balanced_and_true_pairs_are_consecutive(
    lengths, first_length, second_length, per_stream, seed
):
    streams = _streams(lengths)
    first, second, is_next = sentence_pairs(
        streams, first_length, second_length, per_stream, torch.Generator().manual_seed(seed)
    )
    n = len(streams) * per_stream
    assert first.shape == (n, first_length) and second.shape == (n, second_length)
    assert is_next.dtype == torch.int64 and set(is_next.tolist()) <= {IS_NEXT, NOT_NEXT}
    # exactly half the pairs (rounded down) are true continuations
    assert int((is_next == IS_NEXT).sum()) == n // 2
    # A comes from its stream, in order: stream k supplies rows k·per_stream …
    for row in range(n):
        a = first[row]
        assert int(a[0]) // 1000 == row // per_stream
        assert (a.diff() == 1).all()
        consecutive = _is_next_in_stream(a, second[row])
        assert consecutive == (int(is_next[row]) == IS_NEXT)
        assert (second[row].diff() == 1).all()  # B is a real window too


def test_random_second_segments_come_from_every_stream():
    streams = _streams([400, 400, 400])
    _, second, is_next = sentence_pairs(streams, 4, 4, 300, torch.Generator().manual_seed(0))
    sources = second[is_next == NOT_NEXT, 0] // 1000
    counts = torch.bincount(sources, minlength=3)
    assert (counts > 100).all(), counts  # about 150 of each


def test_pairs_are_reproducible_and_vary_with_the_seed():
    streams = _streams([50, 70])
    draws = [sentence_pairs(streams, 3, 5, 10, torch.Generator().manual_seed(s)) for s in (1, 1, 2)]
    assert all(torch.equal(a, b) for a, b in zip(draws[0], draws[1]))
    assert not all(torch.equal(a, b) for a, b in zip(draws[0], draws[2]))


def test_a_stream_just_long_enough_still_gives_random_pairs():
    # one stream of exactly first + second tokens: the only window for A has one
    # true continuation, so random B must start elsewhere
    streams = _streams([6])
    first, second, is_next = sentence_pairs(streams, 3, 3, 8, torch.Generator().manual_seed(0))
    for a, b, label in zip(first, second, is_next):
        assert _is_next_in_stream(a, b) == (int(label) == IS_NEXT)


def test_pack_pairs_writes_cls_a_sep_b_sep_with_segments():
    first = torch.tensor([[10, 11], [20, 21]])
    second = torch.tensor([[12, 13, 14], [30, 31, 32]])
    ids, segments = pack_pairs(first, second, cls_id=1, sep_id=2)
    assert ids.tolist() == [[1, 10, 11, 2, 12, 13, 14, 2], [1, 20, 21, 2, 30, 31, 32, 2]]
    assert segments.tolist() == [[0, 0, 0, 0, 1, 1, 1, 1]] * 2
    assert ids.dtype == segments.dtype == torch.int64


def test_next_sentence_head_shapes_and_reads_only_the_given_vector():
    torch.manual_seed(0)
    head = NextSentenceHead(16)
    pooled = torch.randn(5, 16)
    logits = head(pooled)
    assert logits.shape == (5, 2)
    torch.testing.assert_close(logits, pooled @ head.classifier.weight.T + head.classifier.bias)


def test_pretraining_model_gives_both_heads_and_the_nsp_head_reads_cls_only():
    torch.manual_seed(0)
    model = BertForPreTraining(SMALL).eval()
    ids, segments = pack_pairs(
        torch.randint(5, 30, (3, 4)), torch.randint(5, 30, (3, 5)), cls_id=1, sep_id=2
    )
    with torch.no_grad():
        token_logits, pair_logits = model(ids, segments)
        hidden = model.bert(ids, segments)
        changed = hidden.clone()
        changed[:, 1:] += 1.0  # every position but [CLS]
        expected = model.next_sentence(model.bert.pool(hidden))
        same = model.next_sentence(model.bert.pool(changed))
    assert token_logits.shape == (3, 12, 30) and pair_logits.shape == (3, 2)
    torch.testing.assert_close(pair_logits, expected)
    torch.testing.assert_close(same, expected)
    # the masked-token head is BERT's, tied to the token embedding
    assert model.head.decoder.weight is model.bert.embeddings.token.weight
    mlm = BertForMaskedLM(SMALL).eval()
    mlm.bert.load_state_dict(model.bert.state_dict())
    mlm.head.load_state_dict(model.head.state_dict())
    with torch.no_grad():
        torch.testing.assert_close(mlm(ids, segments), token_logits)
    # the segments matter
    with torch.no_grad():
        assert not torch.allclose(model(ids)[1], pair_logits)


def test_pretraining_loss_is_the_sum_of_both_losses():
    torch.manual_seed(0)
    token_logits, pair_logits = torch.randn(4, 6, 30), torch.randn(4, 2)
    labels = torch.full((4, 6), IGNORE)
    labels[:, 2] = torch.tensor([3, 4, 5, 6])
    is_next = torch.tensor([1, 0, 0, 1])
    loss = pretraining_loss((token_logits, pair_logits), (labels, is_next))
    expected = masked_lm_loss(token_logits, labels) + F.cross_entropy(pair_logits, is_next)
    torch.testing.assert_close(loss, expected)
    assert loss > masked_lm_loss(token_logits, labels)


def test_bad_input():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="streams must be a non-empty list"):
        sentence_pairs([], 2, 2, 3, g)
    with pytest.raises(ValueError, match=r"streams\[1\] must hold at least .* = 5 tokens, got 4"):
        sentence_pairs(_streams([10, 4]), 2, 3, 3, g)
    with pytest.raises(TypeError, match=r"streams\[0\]"):
        sentence_pairs([torch.arange(10.0)], 2, 2, 3, g)
    with pytest.raises(ValueError, match="first_length must be > 0"):
        sentence_pairs(_streams([10]), 0, 2, 3, g)
    with pytest.raises(TypeError, match="second_length must be an int, got float"):
        sentence_pairs(_streams([10]), 2, 2.0, 3, g)
    with pytest.raises(ValueError, match="per_stream must be > 0"):
        sentence_pairs(_streams([10]), 2, 2, 0, g)
    with pytest.raises(ValueError, match="second must hold as many rows as first, 2, got 3"):
        pack_pairs(torch.zeros(2, 3, dtype=torch.int64), torch.zeros(3, 3, dtype=torch.int64), 1, 2)
    with pytest.raises(TypeError, match="first"):
        pack_pairs(torch.zeros(2, 3), torch.zeros(2, 3, dtype=torch.int64), 1, 2)
    with pytest.raises(ValueError, match="pooler"):
        BertForPreTraining(BertConfig(**{**SMALL.__dict__, "pooler": False}))
    with pytest.raises(ValueError, match="type_vocab_size=1"):
        BertForPreTraining(BertConfig(**{**SMALL.__dict__, "type_vocab_size": 1}))
    with pytest.raises(TypeError, match="config must be a BertConfig"):
        BertForPreTraining({"d_model": 16})
    labels = torch.full((2, 3), IGNORE)
    labels[:, 0] = 1
    with pytest.raises(ValueError, match="is_next must hold 0"):
        pretraining_loss((torch.randn(2, 3, 5), torch.randn(2, 2)), (labels, torch.tensor([0, 2])))
    with pytest.raises(ValueError, match=r"pair_logits must have shape \(2, 2\)"):
        pretraining_loss((torch.randn(2, 3, 5), torch.randn(2, 3)), (labels, torch.tensor([0, 1])))
    with pytest.raises(ValueError, match="pooled"):
        NextSentenceHead(8)(torch.randn(2, 3, 8))
