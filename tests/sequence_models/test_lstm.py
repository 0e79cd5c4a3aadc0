import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.sequence_models.lstm import ScratchLSTM, lstm_cell, lstm_gates, set_forget_bias
from snippets.sequence_models.rnn import gate_trace
from tests.sequence_models.conftest import Case, cases, compare_with_torch


def test_lstm_cell_matches_torch_lstm_cell():
    cell = nn.LSTMCell(5, 7)
    x, h, c = torch.randn(3, 5), torch.randn(3, 7), torch.randn(3, 7)
    h_ref, c_ref = cell(x, (h, c))
    h_new, c_new = lstm_cell(x, h, c, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    torch.testing.assert_close(h_new, h_ref)
    torch.testing.assert_close(c_new, c_ref)


@pytest.mark.parametrize(
    ("layers", "bidirectional", "batch_first"),
    [(1, False, False), (1, True, True), (2, True, False), (3, False, True)],
)
def test_scratch_lstm_matches_nn_lstm(layers, bidirectional, batch_first):
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    reference, scratch = nn.LSTM(5, 7, **kwargs), ScratchLSTM(5, 7, **kwargs)
    scratch.load_state_dict(reference.state_dict())
    x = torch.randn(4, 6, 5)
    d = 2 if bidirectional else 1
    shape = (layers * d, 4 if batch_first else 6, 7)
    state = (torch.randn(shape), torch.randn(shape))  # h0 and c0 differ
    for args in ((x,), (x, state)):
        out_ref, (h_ref, c_ref) = reference(*args)
        out, (h, c) = scratch(*args)
        torch.testing.assert_close(out, out_ref)
        torch.testing.assert_close(h, h_ref)
        torch.testing.assert_close(c, c_ref)
    swapped, _ = reference(x, state[::-1])
    assert not torch.allclose(swapped, out_ref)  # so a scratch LSTM that swapped them would fail


@settings(max_examples=30, deadline=None)
@given(cases())
def test_scratch_lstm_matches_nn_lstm_forward_and_backward(case):
    """Random batch, steps, sizes, layers, directions, layouts, dtypes; (h0, c0) given or not.

    Gradients of the input, of ``h0`` and ``c0`` (different values) and of
    every weight, after backward of a random projection of ``output``, ``h_n``
    and ``c_n``.
    """
    compare_with_torch(nn.LSTM, ScratchLSTM, case)


class SwappedStateLSTM(ScratchLSTM):
    """Subtly wrong: reads ``(h0, c0)`` as ``(c0, h0)``."""

    def split_state(self, h0, x):
        h, c = super().split_state(h0, x)
        return c, h


class CoupledGateLSTM(ScratchLSTM):
    """Subtly wrong: the forget gate is tied to the input gate, ``f = 1 - i``."""

    @staticmethod
    def cell(x, state, *weights):
        h, c = state
        gate = lstm_gates(x, h, *weights)
        c = (1 - gate["input"]) * c + gate["input"] * gate["candidate"]
        return gate["output"] * torch.tanh(c), c


@pytest.mark.parametrize("wrong", [SwappedStateLSTM, CoupledGateLSTM])
def test_the_comparison_catches_a_wrong_lstm(wrong):
    case = Case(2, 3, 3, 4, 2, True, True, torch.float64, True, 0)
    compare_with_torch(nn.LSTM, ScratchLSTM, case)
    with pytest.raises(AssertionError):
        compare_with_torch(nn.LSTM, wrong, case)


def test_gate_order_is_input_forget_candidate_output():
    cell = nn.LSTMCell(2, 3)
    with torch.no_grad():
        cell.weight_ih.zero_()
        cell.weight_hh.zero_()
        cell.bias_hh.zero_()
        cell.bias_ih.copy_(torch.tensor([1.0] * 3 + [2.0] * 3 + [3.0] * 3 + [4.0] * 3))
    gates = lstm_gates(torch.zeros(1, 2), torch.zeros(1, 3), *cell.parameters())
    torch.testing.assert_close(gates["input"], torch.sigmoid(torch.ones(1, 3)))
    torch.testing.assert_close(gates["forget"], torch.sigmoid(torch.full((1, 3), 2.0)))
    torch.testing.assert_close(gates["candidate"], torch.tanh(torch.full((1, 3), 3.0)))
    torch.testing.assert_close(gates["output"], torch.sigmoid(torch.full((1, 3), 4.0)))


@given(st.integers(1, 12))
def test_gate_trace_matches_nn_lstm_and_gates_are_in_range(steps):
    lstm = nn.LSTM(4, 6)
    x = torch.randn(steps, 4)
    trace = gate_trace(lstm, x, ScratchLSTM)
    assert set(trace) == {"input", "forget", "candidate", "output", "hidden", "cell"}
    out, (h_n, c_n) = lstm(x[:, None])
    torch.testing.assert_close(trace["hidden"], out[:, 0])
    torch.testing.assert_close(trace["cell"][-1], c_n[0, 0])
    for name in ("input", "forget", "output"):
        assert trace[name].shape == (steps, 6)
        assert ((trace[name] > 0) & (trace[name] < 1)).all()
    assert (trace["candidate"].abs() < 1).all()
    scratch = ScratchLSTM(4, 6)
    scratch.load_state_dict(lstm.state_dict())
    for name, values in gate_trace(scratch, x, ScratchLSTM).items():
        torch.testing.assert_close(values, trace[name])


@pytest.mark.parametrize("make", [nn.LSTM, ScratchLSTM, nn.LSTMCell])
def test_set_forget_bias_sets_rows_h_to_2h_of_every_layer_and_direction(make):
    kwargs = {} if make is nn.LSTMCell else dict(num_layers=2, bidirectional=True)
    lstm = make(3, 5, **kwargs)
    before = {n: p.detach().clone() for n, p in lstm.named_parameters()}
    assert set_forget_bias(lstm, 3.0) is lstm
    biases = [n for n in before if n.startswith("bias_")]
    assert len(biases) == (2 if make is nn.LSTMCell else 8)
    for name, param in lstm.named_parameters():
        expected = before[name].clone()
        if name.startswith("bias_ih"):
            expected[5:10] = 3.0
        elif name.startswith("bias_hh"):
            expected[5:10] = 0.0
        assert torch.equal(param, expected), name  # only the forget gate's rows change
    suffix = "" if make is nn.LSTMCell else "_l0"
    weights = [getattr(lstm, n + suffix) for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
    gates = lstm_gates(torch.zeros(1, 3), torch.zeros(1, 5), *weights)
    torch.testing.assert_close(gates["forget"], torch.sigmoid(torch.full((1, 5), 3.0)))


def test_set_forget_bias_gives_the_same_lstm_in_both_layouts():
    reference, scratch = nn.LSTM(3, 5, batch_first=True), ScratchLSTM(3, 5, batch_first=True)
    scratch.load_state_dict(set_forget_bias(reference, 2.0).state_dict())
    x = torch.randn(2, 4, 3)
    torch.testing.assert_close(set_forget_bias(scratch, 2.0)(x)[0], reference(x)[0])


def test_forget_gate_one_and_input_gate_zero_keeps_the_cell():
    h, c = torch.zeros(2, 3), torch.randn(2, 3)
    w_ih, w_hh = torch.zeros(12, 4), torch.zeros(12, 3)
    bias = torch.tensor([-50.0] * 3 + [50.0] * 3 + [0.0] * 6)  # i ≈ 0, f ≈ 1
    _, c_new = lstm_cell(torch.randn(2, 4), h, c, w_ih, w_hh, bias, torch.zeros(12))
    torch.testing.assert_close(c_new, c)


def test_scratch_lstm_bad_input():
    scratch = ScratchLSTM(5, 7)
    with pytest.raises(TypeError, match=r"h0 of an LSTM must be a tuple \(h0, c0\)"):
        scratch(torch.randn(3, 2, 5), torch.zeros(1, 2, 7))
    with pytest.raises(ValueError, match="h0 must have shape"):
        scratch(torch.randn(3, 2, 5), (torch.zeros(1, 3, 7), torch.zeros(1, 3, 7)))
    with pytest.raises(ValueError, match=r"c0 must have shape \(1, 2, 7\) .*got \(1, 3, 7\)"):
        scratch(torch.randn(3, 2, 5), (torch.zeros(1, 2, 7), torch.zeros(1, 3, 7)))
    with pytest.raises(ValueError, match=r"c0 must have shape \(1, 2, 7\) .*got \(1, 2, 6\)"):
        scratch(torch.randn(3, 2, 5), (torch.zeros(1, 2, 7), torch.zeros(1, 2, 6)))
    with pytest.raises(TypeError, match="c0 must have dtype torch.float32, got torch.float64"):
        scratch(torch.randn(3, 2, 5), (torch.zeros(1, 2, 7), torch.zeros(1, 2, 7).double()))
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        gate_trace(nn.LSTM(5, 7), torch.randn(3, 1, 5), ScratchLSTM)
    with pytest.raises(ValueError, match="LSTM biases"):
        set_forget_bias(nn.LSTM(5, 7, bias=False), 1.0)
    with pytest.raises(ValueError, match="LSTM biases"):
        set_forget_bias(nn.GRU(5, 7), 1.0)


def test_lstm_cell_checks_that_its_arguments_agree():
    cell = nn.LSTMCell(5, 7)
    x, h, c = torch.randn(3, 5), torch.randn(3, 7), torch.randn(3, 7)
    weights = list(cell.parameters())
    with pytest.raises(ValueError, match=r"c must have h's shape \(3, 7\), got \(1, 7\)"):
        lstm_cell(x, h, c[:1], *weights)  # used to broadcast to batch 3
    with pytest.raises(TypeError, match="c must have dtype torch.float32, got torch.float64"):
        lstm_cell(x, h, c.double(), *weights)
    with pytest.raises(ValueError, match=r"h must have x's batch size 3"):
        lstm_cell(x, h[:2], c[:2], *weights)
    gru = nn.GRUCell(5, 7)  # three gate blocks, not four
    with pytest.raises(ValueError, match=r"w_ih must have shape \(28, 5\) .*got \(21, 5\)"):
        lstm_gates(x, h, *gru.parameters())


def test_set_forget_bias_bad_arguments():
    with pytest.raises(TypeError, match="lstm must be nn.LSTM, nn.LSTMCell or ScratchLSTM"):
        set_forget_bias(nn.Linear(3, 3), 1.0)
    with pytest.raises(ValueError, match="value must be finite, got nan"):
        set_forget_bias(nn.LSTM(3, 5), float("nan"))
    with pytest.raises(TypeError, match="value must be a number"):
        set_forget_bias(nn.LSTM(3, 5), "3")
