import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.common.tokenizers import CharTokenizer
from snippets.sequence_models.data import date_pairs
from snippets.sequence_models.seq2seq import (
    LuongAttention,
    Seq2Seq,
    encode_pairs,
    exact_match,
    greedy_decode,
    train_seq2seq,
)


def small_task(n=64):
    pairs = date_pairs(n, seed=0)
    src_tok, tgt_tok = CharTokenizer([s for s, _ in pairs]), CharTokenizer(["0123456789-"])
    src, tgt = encode_pairs(pairs, src_tok, tgt_tok)
    return pairs, src_tok, tgt_tok, src, tgt


def test_encode_pairs_frames_targets():
    pairs, src_tok, tgt_tok, src, tgt = small_task()
    assert src.shape[0] == tgt.shape[0] == 64
    assert (tgt[:, 0] == tgt_tok.bos_id).all()
    assert tgt_tok.decode(tgt[0]) == pairs[0][1]
    assert src_tok.decode(src[0]) == pairs[0][0]
    with pytest.raises(ValueError, match="pairs must hold at least one"):
        encode_pairs([], src_tok, tgt_tok)


def test_luong_attention_matches_explicit_softmax_and_masks_padding():
    attend = LuongAttention(4, 6)
    query, memory = torch.randn(2, 3, 4), torch.randn(2, 5, 6)
    mask = torch.tensor([[True] * 5, [True] * 3 + [False] * 2])
    context, weights = attend(query, memory, mask)
    scores = torch.einsum("ntq,nsq->nts", query, memory @ attend.w.weight.T)
    expected = torch.softmax(scores[0], dim=-1)
    torch.testing.assert_close(weights[0], expected)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    assert (weights[1, :, 3:] == 0).all()
    torch.testing.assert_close(context, weights @ memory)


@given(st.integers(1, 8))
def test_padding_the_source_does_not_change_the_output(extra):
    torch.manual_seed(0)
    _, src_tok, tgt_tok, src, tgt = small_task(4)
    model = Seq2Seq(len(src_tok), len(tgt_tok), embed=8, hidden=8).eval()
    padded = torch.cat([src, torch.zeros(len(src), extra, dtype=torch.int64)], dim=1)
    torch.testing.assert_close(model(padded, tgt[:, :-1]), model(src, tgt[:, :-1]))


@pytest.mark.parametrize("attention", [True, False])
def test_shapes_and_attention_weights(attention):
    _, src_tok, tgt_tok, src, tgt = small_task(8)
    model = Seq2Seq(len(src_tok), len(tgt_tok), embed=8, hidden=8, attention=attention)
    logits = model(src, tgt[:, :-1])
    assert logits.shape == (8, tgt.shape[1] - 1, len(tgt_tok))
    if attention:
        assert model.last_attention.shape == (8, tgt.shape[1] - 1, src.shape[1])
    else:
        assert model.last_attention is None


def test_decoder_is_causal():
    """The prediction at step t must not depend on decoder inputs after t."""
    _, src_tok, tgt_tok, src, tgt = small_task(4)
    model = Seq2Seq(len(src_tok), len(tgt_tok), embed=8, hidden=8).eval()
    full = model(src, tgt[:, :-1])
    changed = tgt[:, :-1].clone()
    changed[:, 5:] = 3
    torch.testing.assert_close(model(src, changed)[:, :5], full[:, :5])


def test_training_fits_a_small_set_and_greedy_decode_recovers_it():
    torch.manual_seed(0)
    pairs, src_tok, tgt_tok, src, tgt = small_task(32)
    model = Seq2Seq(len(src_tok), len(tgt_tok), embed=16, hidden=32)
    losses = train_seq2seq(model, src, tgt, epochs=80, batch_size=32, lr=1e-2)
    assert losses[-1] < 0.1 * losses[0]
    ids = greedy_decode(model, src, tgt_tok.bos_id, tgt_tok.eos_id, max_len=11)
    assert ids.shape == (32, 11)
    predictions = [tgt_tok.decode(row) for row in ids]
    assert exact_match(predictions, [t for _, t in pairs]) >= 0.9


def test_greedy_decode_pads_after_eos():
    class Fixed(torch.nn.Module):  # always predicts token 2 (<eos>) after 3 steps
        def forward(self, src, ys):
            logits = torch.zeros(len(src), ys.shape[1], 6)
            logits[:, :, 5 if ys.shape[1] < 3 else 2] = 1.0
            return logits

    out = greedy_decode(Fixed(), torch.ones(2, 4, dtype=torch.int64), 1, 2, max_len=6)
    assert out.tolist() == [[5, 5, 2, 0, 0, 0]] * 2


def test_exact_match_and_bad_input():
    assert exact_match(["1998-03-07", "x"], ["1998-03-07", "1998-03-08"]) == 0.5
    with pytest.raises(ValueError, match="same length"):
        exact_match(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        exact_match([], [])
    _, src_tok, tgt_tok, src, tgt = small_task(4)
    model = Seq2Seq(len(src_tok), len(tgt_tok), embed=8, hidden=8)
    with pytest.raises(ValueError, match="same number of pairs"):
        train_seq2seq(model, src, tgt[:2], epochs=1)
    with pytest.raises(ValueError, match="same batch size"):
        model(src, tgt[:2])
    with pytest.raises(ValueError, match="max_len must be > 0"):
        greedy_decode(model, src, 1, 2, max_len=0)
    with pytest.raises(TypeError, match="src must have dtype torch.int64"):
        model(src.float(), tgt)
