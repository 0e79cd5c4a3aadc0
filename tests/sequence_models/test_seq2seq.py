import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from snippets.common.data import make_loader
from snippets.common.tokenizers import CharTokenizer
from snippets.common.train import fit
from snippets.sequence_models.data import date_pairs
from snippets.sequence_models.seq2seq import (
    LuongAttention,
    Seq2Seq,
    encode_pairs,
    exact_match,
    greedy_decode,
    teacher_forcing,
)
from snippets.transformers.transformer import Seq2SeqTransformer


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


def test_encode_then_decode_is_the_forward_pass():
    _, src_tok, tgt_tok, src, tgt = small_task(4)
    model = Seq2Seq(len(src_tok), len(tgt_tok), embed=8, hidden=8).eval()
    memory = model.encode(src)
    torch.testing.assert_close(model.decode(tgt[:, :-1], memory, src), model(src, tgt[:, :-1]))


def test_teacher_forcing_feeds_the_shifted_target():
    _, src_tok, tgt_tok, src, tgt = small_task(4)
    model = Seq2Seq(len(src_tok), len(tgt_tok), embed=8, hidden=8).eval()
    outputs, targets = teacher_forcing(model, (src, tgt))
    steps = tgt.shape[1] - 1
    assert outputs.shape == (4 * steps, len(tgt_tok))
    torch.testing.assert_close(outputs, model(src, tgt[:, :-1]).flatten(0, 1))
    assert torch.equal(targets, tgt[:, 1:].flatten())


def test_fit_with_teacher_forcing_learns_a_small_set_and_greedy_decode_recovers_it():
    torch.manual_seed(0)
    pairs, src_tok, tgt_tok, src, tgt = small_task(32)
    model = Seq2Seq(len(src_tok), len(tgt_tok), embed=16, hidden=32)
    history = fit(
        model,
        make_loader(src, tgt, batch_size=32, seed=0),
        nn.CrossEntropyLoss(ignore_index=tgt_tok.pad_id),
        torch.optim.Adam(model.parameters(), lr=1e-2),
        epochs=80,
        max_grad_norm=1.0,
        forward=teacher_forcing,
    )
    assert history.train_loss[-1] < 0.1 * history.train_loss[0]
    ids = greedy_decode(model, src, tgt_tok.bos_id, tgt_tok.eos_id, max_len=11)
    assert ids.shape[0] == 32 and ids.shape[1] <= 12
    assert (ids[:, 0] == tgt_tok.bos_id).all()
    predictions = [tgt_tok.decode(row) for row in ids]
    assert exact_match(predictions, [t for _, t in pairs]) >= 0.9


def brute_greedy(model, src, bos_id, eos_id, max_len):
    """Reference: one source at a time, the whole model re-run on the prefix at every step."""
    rows = []
    for one in src:
        ys = [bos_id]
        for _ in range(max_len):
            logits = model(one[None], torch.tensor([ys]))  # [1, len(ys), V]
            ys.append(int(logits[0, -1].argmax()))
            if ys[-1] == eos_id:
                break
        rows.append(ys)
    width = max(len(ys) for ys in rows)
    return torch.tensor([ys + [eos_id] * (width - len(ys)) for ys in rows])


def small_model(kind):
    if kind == "transformer":
        sizes = dict(d_model=16, nhead=2, num_encoder_layers=1, num_decoder_layers=1)
        model = Seq2SeqTransformer(12, 9, **sizes, dim_feedforward=32, dropout=0.0)
        head = model.generator
    else:
        model = Seq2Seq(12, 9, embed=8, hidden=8, attention=kind == "rnn with attention")
        head = model.out
    with torch.no_grad():  # larger output weights: outputs depend on the input, <eos> comes early
        nn.init.normal_(head.weight, std=2.0)
    return model.eval()


@pytest.mark.parametrize("kind", ["rnn with attention", "rnn", "transformer"])
def test_greedy_decode_matches_a_step_by_step_argmax(kind):
    bos, eos, max_len = 1, 2, 8
    padded_rows = 0
    for seed in range(5):
        torch.manual_seed(seed)
        model = small_model(kind)
        src = torch.randint(1, 12, (8, 7))
        lengths = torch.randint(1, 8, (8,))
        src[torch.arange(7)[None] >= lengths[:, None]] = 0  # right padding, as in a batch
        out = greedy_decode(model, src, bos, eos, max_len)
        assert torch.equal(out, brute_greedy(model, src, bos, eos, max_len))
        ended = (out[:, 1:-1] == eos).any(dim=1)  # <eos> before the last column: padded after
        padded_rows += int(ended.sum())
    assert padded_rows > 0  # the random models did exercise the padding after <eos>


class Scripted(nn.Module):
    """A fake encoder-decoder: row ``i`` writes token 5 until step ``stops[i]``, then ``<eos>``."""

    def __init__(self, stops):
        super().__init__()
        self.stops = torch.tensor(stops)
        self.encoded = 0

    def encode(self, src):
        self.encoded += 1
        return None

    def decode(self, prefix, memory, src):
        logits = torch.zeros(len(src), prefix.shape[1], 6)
        step = prefix.shape[1]
        logits[:, -1, 5] = 1.0
        logits[self.stops <= step, -1, 2] = 2.0
        return logits


def test_greedy_decode_pads_finished_rows_with_eos_and_stops_early():
    model = Scripted([1, 3])
    out = greedy_decode(model, torch.ones(2, 4, dtype=torch.int64), 1, 2, max_len=6)
    assert out.tolist() == [[1, 2, 2, 2], [1, 5, 5, 2]]
    assert model.encoded == 1  # the source is encoded once, not at every step
    out = greedy_decode(Scripted([9, 9]), torch.ones(2, 4, dtype=torch.int64), 1, 2, max_len=3)
    assert out.tolist() == [[1, 5, 5, 5]] * 2  # max_len reached without <eos>


def test_exact_match_and_bad_input():
    assert exact_match(["1998-03-07", "x"], ["1998-03-07", "1998-03-08"]) == 0.5
    with pytest.raises(ValueError, match="same length"):
        exact_match(["a"], ["a", "b"])
    with pytest.raises(ValueError, match="at least one"):
        exact_match([], [])
    _, src_tok, tgt_tok, src, tgt = small_task(4)
    model = Seq2Seq(len(src_tok), len(tgt_tok), embed=8, hidden=8)
    with pytest.raises(ValueError, match="same batch size"):
        model(src, tgt[:2])
    with pytest.raises(ValueError, match="max_len must be > 0"):
        greedy_decode(model, src, 1, 2, max_len=0)
    with pytest.raises(TypeError, match="Linear has no encode()"):
        greedy_decode(nn.Linear(3, 3), src, 1, 2, max_len=4)
    with pytest.raises(TypeError, match="src must have dtype torch.int64"):
        greedy_decode(model, src.float(), 1, 2, max_len=4)
    with pytest.raises(ValueError, match="src must have 2 dimensions"):
        greedy_decode(model, src[0], 1, 2, max_len=4)
    with pytest.raises(TypeError, match="src must have dtype torch.int64"):
        model(src.float(), tgt)


def test_luong_attention_checks_that_its_arguments_agree():
    attend = LuongAttention(4, 6)
    query, memory = torch.randn(2, 3, 4), torch.randn(2, 5, 6)
    mask = torch.ones(2, 5, dtype=torch.bool)
    with pytest.raises(ValueError, match="memory must have size 2 in dimension 0, got 3"):
        attend(query, torch.randn(3, 5, 6), torch.ones(3, 5, dtype=torch.bool))
    with pytest.raises(ValueError, match=r"mask must have memory's shape .*\(2, 5\), got \(2, 4\)"):
        attend(query, memory, mask[:, :4])
    with pytest.raises(TypeError, match="mask must have dtype torch.bool"):
        attend(query, memory, mask.float())
    with pytest.raises(ValueError, match="query must have size 4 in dimension -1, got 3"):
        attend(query[..., :3], memory, mask)
    with pytest.raises(ValueError, match="memory must have size 6 in dimension -1, got 5"):
        attend(query, memory[..., :5], mask)
    with pytest.raises(TypeError, match="memory must have dtype torch.float32, got torch.float64"):
        attend(query, memory.double(), mask)
    with pytest.raises(TypeError, match="query must have dtype torch.float32, got torch.float64"):
        attend(query.double(), memory.double(), mask)
    mask[1] = False
    with pytest.raises(ValueError, match=r"every row, rows \[1\] keep none"):
        attend(query, memory, mask)  # its weights were NaN


def test_seq2seq_checks_the_source():
    model = Seq2Seq(12, 9, embed=8, hidden=8)
    tgt_in = torch.tensor([[1, 3], [1, 4]])
    with pytest.raises(ValueError, match=r"src must hold at least one token per row, rows \[1\]"):
        model(torch.tensor([[3, 4, 0], [0, 0, 0]]), tgt_in)  # its logits were NaN
    with pytest.raises(ValueError, match=r"src must be padded on the right .*rows \[0\]"):
        model(torch.tensor([[3, 0, 4], [5, 0, 0]]), tgt_in)  # the encoder read [3, 0] only
    with pytest.raises(ValueError, match="src must hold ids from 0 to 11"):
        model(torch.tensor([[3, 12], [5, 0]]), tgt_in)
    with pytest.raises(ValueError, match="tgt_in must hold ids from 0 to 8"):
        model(torch.tensor([[3, 4], [5, 0]]), torch.tensor([[1, 9], [1, 2]]))
    with pytest.raises(ValueError, match="tgt_in must hold at least one position"):
        model(torch.tensor([[3, 4], [5, 0]]), tgt_in[:, :0])


def test_seq2seq_decode_checks_the_memory_against_src():
    model = Seq2Seq(12, 9, embed=8, hidden=8).eval()
    src, tgt_in = torch.tensor([[3, 4, 5], [6, 7, 0]]), torch.tensor([[1, 3], [1, 4]])
    memory = model.encode(src)
    torch.testing.assert_close(model.decode(tgt_in, memory, src), model(src, tgt_in))
    with pytest.raises(ValueError, match=r"memory must come from encode\(src\).*\(2, 3\)"):
        model.decode(tgt_in, memory, src[:, :2])
    with pytest.raises(ValueError, match="same batch size, got 1 and 2"):
        model.decode(tgt_in, memory, src[:1])
    with pytest.raises(TypeError, match="memory must be the pair"):
        model.decode(tgt_in, memory[0], src)


def test_teacher_forcing_needs_a_token_to_predict():
    model = Seq2Seq(12, 9, embed=8, hidden=8)
    src = torch.tensor([[3, 4], [5, 0]])
    with pytest.raises(ValueError, match=r"tgt must hold at least 2 positions .*\(2, 1\)"):
        teacher_forcing(model, (src, torch.ones(2, 1, dtype=torch.int64)))
    with pytest.raises(ValueError, match="same batch size, got 2 and 3"):
        teacher_forcing(model, (src, torch.ones(3, 4, dtype=torch.int64)))
