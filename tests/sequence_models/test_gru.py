import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.sequence_models.gru import ScratchGRU, gru_cell, gru_gates
from snippets.sequence_models.lstm import ScratchLSTM
from snippets.sequence_models.rnn import gate_trace
from tests.sequence_models.conftest import Case, cases, compare_with_torch


def test_gru_cell_matches_torch_gru_cell():
    cell = nn.GRUCell(5, 7)
    x, h = torch.randn(3, 5), torch.randn(3, 7)
    expected = cell(x, h)
    got = gru_cell(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh)
    torch.testing.assert_close(got, expected)


@pytest.mark.parametrize(
    ("layers", "bidirectional", "batch_first"),
    [(1, False, False), (1, True, True), (2, True, False), (3, False, True)],
)
def test_scratch_gru_matches_nn_gru(layers, bidirectional, batch_first):
    kwargs = dict(num_layers=layers, bidirectional=bidirectional, batch_first=batch_first)
    reference, scratch = nn.GRU(5, 7, **kwargs), ScratchGRU(5, 7, **kwargs)
    scratch.load_state_dict(reference.state_dict())
    x = torch.randn(4, 6, 5)
    h0 = torch.randn(layers * (2 if bidirectional else 1), 4 if batch_first else 6, 7)
    for args in ((x,), (x, h0)):
        out_ref, h_ref = reference(*args)
        out, h = scratch(*args)
        torch.testing.assert_close(out, out_ref)
        torch.testing.assert_close(h, h_ref)


@settings(max_examples=30, deadline=None)
@given(cases())
def test_scratch_gru_matches_nn_gru_forward_and_backward(case):
    """Random batch, steps, sizes, layers, directions, layouts, dtypes; state given or not.

    Gradients of the input, of ``h0`` and of every weight, after backward of a
    random projection of ``output`` and ``h_n``.
    """
    compare_with_torch(nn.GRU, ScratchGRU, case)


class PaperResetGRU(ScratchGRU):
    """Subtly wrong for PyTorch's weights: the reset gate applied to ``h`` before ``W_hn``."""

    @staticmethod
    def cell(x, state, *weights):
        h = state[0]
        w_ih, w_hh, b_ih, b_hh = weights
        gate = gru_gates(x, h, *weights)
        w_hn, b_hn = w_hh.chunk(3)[2], b_hh.chunk(3)[2]
        x_n = (x @ w_ih.T + b_ih).chunk(3, dim=-1)[2]
        new = torch.tanh(x_n + (gate["reset"] * h) @ w_hn.T + b_hn)
        return ((1 - gate["update"]) * new + gate["update"] * h,)


class SwappedUpdateGRU(ScratchGRU):
    """Subtly wrong: ``h_t = z ⊙ n + (1 - z) ⊙ h``, the other convention for ``z``."""

    @staticmethod
    def cell(x, state, *weights):
        gate = gru_gates(x, state[0], *weights)
        return (gate["update"] * gate["new"] + (1 - gate["update"]) * state[0],)


@pytest.mark.parametrize("wrong", [PaperResetGRU, SwappedUpdateGRU])
def test_the_comparison_catches_a_wrong_gru(wrong):
    case = Case(2, 3, 3, 4, 2, True, False, torch.float64, True, 0)
    compare_with_torch(nn.GRU, ScratchGRU, case)
    with pytest.raises(AssertionError):
        compare_with_torch(nn.GRU, wrong, case)


def test_update_gate_one_keeps_the_state():
    h = torch.randn(2, 3)
    bias = torch.tensor([0.0] * 3 + [50.0] * 3 + [0.0] * 3)  # z ≈ 1
    gates = gru_gates(torch.randn(2, 4), h, torch.zeros(9, 4), torch.zeros(9, 3), bias, bias * 0)
    torch.testing.assert_close(gates["update"], torch.ones(2, 3))
    got = gru_cell(torch.randn(2, 4), h, torch.zeros(9, 4), torch.zeros(9, 3), bias, bias * 0)
    torch.testing.assert_close(got, h)


@given(st.integers(1, 12))
def test_gru_gate_trace_matches_nn_gru(steps):
    gru = nn.GRU(4, 6)
    x = torch.randn(steps, 4)
    trace = gate_trace(gru, x, ScratchGRU)
    assert set(trace) == {"reset", "update", "new", "hidden"}
    torch.testing.assert_close(trace["hidden"], gru(x[:, None])[0][:, 0])
    for name in ("reset", "update"):
        assert trace[name].shape == (steps, 6)
        assert ((trace[name] > 0) & (trace[name] < 1)).all()


def test_gru_bad_input():
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        gate_trace(nn.GRU(4, 6), torch.randn(3, 1, 4), ScratchGRU)
    with pytest.raises(ValueError, match="ScratchLSTM stacks 4 gate blocks"):
        gate_trace(nn.GRU(4, 6), torch.randn(3, 4), ScratchLSTM)
    with pytest.raises(ValueError, match="x must have size 4 in dimension -1"):
        ScratchGRU(4, 6)(torch.randn(3, 1, 5))


def test_gru_cell_checks_that_its_arguments_agree():
    cell = nn.GRUCell(5, 7)
    x, h = torch.randn(3, 5), torch.randn(3, 7)
    with pytest.raises(ValueError, match=r"h must have x's batch size 3 .*\(1, 7\)"):
        gru_cell(x, h[:1], *cell.parameters())  # used to broadcast to batch 3
    with pytest.raises(TypeError, match="h must have dtype torch.float32, got torch.float64"):
        gru_cell(x, h.double(), *cell.parameters())
    lstm = nn.LSTMCell(5, 7)  # four gate blocks, not three
    with pytest.raises(ValueError, match=r"w_ih must have shape \(21, 5\) .*got \(28, 5\)"):
        gru_gates(x, h, *lstm.parameters())
    with pytest.raises(ValueError, match=r"h0 must have shape \(2, 4, 7\)"):
        ScratchGRU(5, 7, num_layers=2)(torch.randn(6, 4, 5), torch.zeros(2, 3, 7))
