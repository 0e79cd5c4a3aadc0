import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.sequence_models.rnn import (
    RecurrentClassifier,
    ScratchRNN,
    check_ids,
    check_step,
    gate_trace,
    input_gradient_norms,
    rnn_cell,
)
from tests.sequence_models.conftest import Case, cases, compare_with_torch


def copied(layers=1, bidirectional=False, batch_first=False):
    reference = nn.RNN(
        5, 7, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first
    )
    scratch = ScratchRNN(
        5, 7, num_layers=layers, bidirectional=bidirectional, batch_first=batch_first
    )
    scratch.load_state_dict(reference.state_dict())  # same names, same shapes
    return reference, scratch


def test_rnn_cell_matches_torch_rnn_cell():
    cell = nn.RNNCell(5, 7)
    x, h = torch.randn(3, 5), torch.randn(3, 7)
    expected = cell(x, h)
    torch.testing.assert_close(
        rnn_cell(x, h, cell.weight_ih, cell.weight_hh, cell.bias_ih, cell.bias_hh), expected
    )


@pytest.mark.parametrize(
    ("layers", "bidirectional", "batch_first"),
    [(1, False, False), (1, True, False), (2, False, True), (3, True, True)],
)
def test_scratch_rnn_matches_nn_rnn(layers, bidirectional, batch_first):
    reference, scratch = copied(layers, bidirectional, batch_first)
    x = torch.randn(4, 6, 5)
    h0 = torch.randn(layers * (2 if bidirectional else 1), 4 if batch_first else 6, 7)
    for args in ((x,), (x, h0)):
        out_ref, h_ref = reference(*args)
        out, h = scratch(*args)
        torch.testing.assert_close(out, out_ref)
        torch.testing.assert_close(h, h_ref)
    assert out.shape[-1] == 7 * (2 if bidirectional else 1)


@settings(max_examples=30, deadline=None)
@given(cases())
def test_scratch_rnn_matches_nn_rnn_forward_and_backward(case):
    """Random batch, steps, sizes, layers, directions, layouts, dtypes; state given or not.

    Gradients of the input, of ``h0`` and of every weight, after backward of a
    random projection of ``output`` and ``h_n``.
    """
    compare_with_torch(nn.RNN, ScratchRNN, case)


def test_scratch_rnn_gradients_match():
    case = Case(2, 5, 5, 7, 2, True, False, torch.float32, True, 0)
    compare_with_torch(nn.RNN, ScratchRNN, case)


class TruncatedRNN(ScratchRNN):
    """Subtly wrong: the state is detached between steps (truncated backprop, one step)."""

    @staticmethod
    def cell(x, state, *weights):
        return (rnn_cell(x, state[0].detach(), *weights),)


class ReluRNN(ScratchRNN):
    """Subtly wrong: ReLU instead of tanh."""

    @staticmethod
    def cell(x, state, *weights):
        w_ih, w_hh, b_ih, b_hh = weights
        return (torch.relu(x @ w_ih.T + b_ih + state[0] @ w_hh.T + b_hh),)


@pytest.mark.parametrize("wrong", [TruncatedRNN, ReluRNN])
def test_the_comparison_catches_a_wrong_rnn(wrong):
    """The same outputs with wrong gradients (truncated), or wrong outputs (ReLU), fail."""
    case = Case(2, 4, 3, 5, 1, False, False, torch.float64, True, 0)
    compare_with_torch(nn.RNN, ScratchRNN, case)
    with pytest.raises(AssertionError):
        compare_with_torch(nn.RNN, wrong, case)


@given(st.integers(1, 6), st.integers(1, 4))
def test_backward_direction_reads_the_reversed_sequence(steps, batch):
    reference, scratch = copied(1, True)
    x = torch.randn(steps, batch, 5)
    out, h_n = scratch(x)
    # the backward half on x equals the forward half of a forward-only RNN on flipped x
    forward_only = ScratchRNN(5, 7)
    forward_only.weight_ih_l0, forward_only.weight_hh_l0 = (
        scratch.weight_ih_l0_reverse,
        scratch.weight_hh_l0_reverse,
    )
    forward_only.bias_ih_l0, forward_only.bias_hh_l0 = (
        scratch.bias_ih_l0_reverse,
        scratch.bias_hh_l0_reverse,
    )
    torch.testing.assert_close(out[..., 7:], forward_only(x.flip(0))[0].flip(0))
    # the backward direction ends at t = 0, the forward one at t = T - 1
    torch.testing.assert_close(h_n[1], out[0, :, 7:])
    torch.testing.assert_close(h_n[0], out[-1, :, :7])


def test_scratch_rnn_bad_input():
    scratch = ScratchRNN(5, 7)
    with pytest.raises(ValueError, match="x must have 3 dimensions"):
        scratch(torch.randn(4, 5))
    with pytest.raises(ValueError, match="x must have size 5 in dimension -1, got 3"):
        scratch(torch.randn(4, 2, 3))
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 2, 7\)"):
        scratch(torch.randn(4, 2, 5), torch.zeros(2, 2, 7))
    with pytest.raises(TypeError, match="x must have a floating-point dtype"):
        scratch(torch.zeros(4, 2, 5, dtype=torch.int64))
    with pytest.raises(ValueError, match="hidden_size must be > 0"):
        ScratchRNN(5, 0)


def test_scratch_rnn_checks_that_x_and_h0_agree():
    scratch = ScratchRNN(5, 7, batch_first=True)
    x = torch.randn(3, 4, 5)  # batch 3, 4 steps
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 3, 7\) .*got \(1, 4, 7\)"):
        scratch(x, torch.zeros(1, 4, 7))  # the batch of the [T, N, I] layout: wrong here
    with pytest.raises(ValueError, match=r"h0 must have shape \(1, 3, 7\)"):
        scratch(x, torch.zeros(1, 1, 7))  # batch 1 would broadcast silently in the cell
    with pytest.raises(TypeError, match="h0 must have dtype torch.float32, got torch.float64"):
        scratch(x, torch.zeros(1, 3, 7, dtype=torch.float64))
    with pytest.raises(TypeError, match="x must have dtype torch.float32, got torch.float64"):
        scratch(x.double())  # the parameters are float32
    with pytest.raises(ValueError, match="x must hold at least one time step"):
        scratch(torch.randn(3, 0, 5))
    scratch.double()
    assert scratch(x.double())[0].dtype == torch.float64


def test_rnn_cell_checks_shapes_and_dtypes():
    x, h = torch.randn(3, 5), torch.randn(3, 7)
    w_ih, w_hh, b_ih, b_hh = torch.randn(7, 5), torch.randn(7, 7), torch.randn(7), torch.randn(7)
    with pytest.raises(ValueError, match=r"h must have x's batch size 3 .*\(1, 7\)"):
        rnn_cell(x, h[:1], w_ih, w_hh, b_ih, b_hh)  # used to broadcast to batch 3
    with pytest.raises(ValueError, match=r"w_ih must have shape \(7, 5\)"):
        rnn_cell(x, h, w_ih[:, :4], w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match=r"w_hh must have shape \(7, 7\)"):
        rnn_cell(x, h, w_ih, w_hh[:6], b_ih, b_hh)
    with pytest.raises(ValueError, match=r"b_hh must have shape \(7,\)"):
        rnn_cell(x, h, w_ih, w_hh, b_ih, b_hh[:1])  # would broadcast
    with pytest.raises(TypeError, match="h must have dtype torch.float32, got torch.float64"):
        rnn_cell(x, h.double(), w_ih, w_hh, b_ih, b_hh)
    with pytest.raises(TypeError, match="w_ih must have dtype torch.float32"):
        rnn_cell(x, h, w_ih.double(), w_hh, b_ih, b_hh)
    with pytest.raises(ValueError, match=r"w_ih must have shape \(21, 5\)"):
        check_step(x, h, w_ih, w_hh, b_ih, b_hh, blocks=3)


def test_check_ids():
    ids = torch.tensor([[0, 4], [2, 1]])
    assert check_ids(ids, "ids", 5) is ids
    with pytest.raises(ValueError, match="ids must hold ids from 0 to 3 .*got ids from 0 to 4"):
        check_ids(ids, "ids", 4)
    with pytest.raises(ValueError, match="got ids from -1 to 4"):
        check_ids(torch.tensor([[-1, 4]]), "ids", 5)
    with pytest.raises(ValueError, match="ids must hold at least one position"):
        check_ids(torch.zeros(2, 0, dtype=torch.int64), "ids", 5)
    with pytest.raises(TypeError, match="ids must have dtype torch.int64"):
        check_ids(ids.int(), "ids", 5)


@pytest.mark.parametrize("kind", ["rnn", "lstm", "gru"])
def test_recurrent_classifier_shapes(kind):
    model = RecurrentClassifier(vocab=10, classes=4, hidden=8, kind=kind)
    assert model(torch.randint(10, (3, 12))).shape == (3, 4)


def test_recurrent_classifier_bad_input():
    model = RecurrentClassifier(10, 4, hidden=8, kind="lstm")
    with pytest.raises(ValueError, match="kind must be one of"):
        RecurrentClassifier(10, 4, kind="transformer")
    with pytest.raises(TypeError, match="tokens must have dtype torch.int64"):
        model(torch.zeros(2, 3))
    with pytest.raises(ValueError, match="tokens must hold ids from 0 to 9"):
        model(torch.tensor([[3, 10]]))  # was an IndexError inside nn.Embedding
    with pytest.raises(ValueError, match="tokens must hold at least one position"):
        model(torch.zeros(2, 0, dtype=torch.int64))


@given(st.integers(1, 12))
def test_gate_trace_of_a_vanilla_rnn_is_its_hidden_state(steps):
    rnn = nn.RNN(4, 6)
    x = torch.randn(steps, 4)
    trace = gate_trace(rnn, x, ScratchRNN)
    assert list(trace) == ["hidden"]  # no gates
    torch.testing.assert_close(trace["hidden"], rnn(x[:, None])[0][:, 0])


def test_gate_trace_bad_input():
    with pytest.raises(ValueError, match="x must have 2 dimensions"):
        gate_trace(nn.RNN(4, 6), torch.randn(3, 1, 4), ScratchRNN)
    with pytest.raises(TypeError, match="kind must be ScratchRNN or a subclass"):
        gate_trace(nn.RNN(4, 6), torch.randn(3, 4), nn.RNN)
    with pytest.raises(ValueError, match="x must have size 4 in dimension -1, got 2"):
        gate_trace(nn.RNN(4, 6), torch.randn(3, 2), ScratchRNN)  # was a matmul RuntimeError
    with pytest.raises(TypeError, match="x must have dtype torch.float32, got torch.float64"):
        gate_trace(nn.RNN(4, 6), torch.randn(3, 4, dtype=torch.float64), ScratchRNN)
    with pytest.raises(ValueError, match="x must hold at least one time step"):
        gate_trace(nn.RNN(4, 6), torch.randn(0, 4), ScratchRNN)
    with pytest.raises(TypeError, match="layer must be a recurrent layer .*got RNNCell"):
        gate_trace(nn.RNNCell(4, 6), torch.randn(3, 4), ScratchRNN)


def test_input_gradient_norms_match_jacobian():
    rnn = nn.RNN(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    norms = input_gradient_norms(rnn, x)
    jac = torch.autograd.functional.jacobian(lambda inp: rnn(inp)[0][:, -1].sum(), x)
    torch.testing.assert_close(norms, jac.norm(dim=(0, 2)))
    assert norms.shape == (5,)


def test_input_gradient_norms_bad_input():
    with pytest.raises(ValueError, match="model must be built with batch_first=True"):
        input_gradient_norms(nn.RNN(3, 4), torch.randn(2, 5, 3))  # was a silent wrong answer
    with pytest.raises(ValueError, match="x must have size 3 in dimension -1, got 2"):
        input_gradient_norms(nn.RNN(3, 4, batch_first=True), torch.randn(2, 5, 2))
    with pytest.raises(TypeError, match="x must have dtype torch.float32, got torch.float64"):
        input_gradient_norms(nn.RNN(3, 4, batch_first=True), torch.randn(2, 5, 3).double())
    with pytest.raises(ValueError, match="x must hold at least one time step"):
        input_gradient_norms(nn.RNN(3, 4, batch_first=True), torch.randn(2, 0, 3))


def test_vanilla_rnn_gradient_vanishes_with_small_weights():
    rnn = nn.RNN(3, 16, batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.5)  # contraction: every step shrinks the gradient
    norms = input_gradient_norms(rnn, torch.randn(4, 40, 3))
    assert norms[0] < 1e-6 * norms[-1]
