import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from snippets.sequence_models.rnn import (
    RecurrentClassifier,
    ScratchRNN,
    gate_trace,
    input_gradient_norms,
    rnn_cell,
)


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


def test_scratch_rnn_gradients_match():
    reference, scratch = copied(2, True)
    x = torch.randn(5, 2, 5)
    reference(x)[0].sum().backward()
    scratch(x)[0].sum().backward()
    for name, param in scratch.named_parameters():
        torch.testing.assert_close(param.grad, dict(reference.named_parameters())[name].grad)


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


def test_input_gradient_norms_match_jacobian():
    rnn = nn.RNN(3, 4, batch_first=True)
    x = torch.randn(2, 5, 3)
    norms = input_gradient_norms(rnn, x)
    jac = torch.autograd.functional.jacobian(lambda inp: rnn(inp)[0][:, -1].sum(), x)
    torch.testing.assert_close(norms, jac.norm(dim=(0, 2)))
    assert norms.shape == (5,)


def test_vanilla_rnn_gradient_vanishes_with_small_weights():
    rnn = nn.RNN(3, 16, batch_first=True)
    with torch.no_grad():
        rnn.weight_hh_l0.mul_(0.5)  # contraction: every step shrinks the gradient
    norms = input_gradient_norms(rnn, torch.randn(4, 40, 3))
    assert norms[0] < 1e-6 * norms[-1]
