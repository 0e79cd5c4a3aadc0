import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from snippets.sequence_models.gru import ScratchGRU, gru_cell, gru_gates
from snippets.sequence_models.lstm import ScratchLSTM
from snippets.sequence_models.rnn import gate_trace


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
