"""Shared check of a from-scratch recurrent layer against PyTorch's: outputs, states, gradients.

``compare_with_torch`` builds the PyTorch layer and the scratch one with the
same weights, runs both on the same input and initial state, and compares
everything: ``output``, the final state(s), and, after backward of a random
projection of all outputs, the gradients of the input, the initial state(s)
and every weight. A random projection (not a plain sum) weights every output
entry differently, so a gradient that lands on the wrong entry is caught.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from hypothesis import strategies as st
from torch import nn


@dataclass(frozen=True)
class Case:
    batch: int
    steps: int
    input_size: int
    hidden_size: int
    layers: int
    bidirectional: bool
    batch_first: bool
    dtype: torch.dtype
    with_state: bool
    seed: int


def cases() -> st.SearchStrategy[Case]:
    """Small random configurations, edge sizes (1) included."""
    return st.builds(
        Case,
        batch=st.integers(1, 3),
        steps=st.integers(1, 4),
        input_size=st.integers(1, 4),
        hidden_size=st.integers(1, 4),
        layers=st.integers(1, 3),
        bidirectional=st.booleans(),
        batch_first=st.booleans(),
        dtype=st.sampled_from([torch.float32, torch.float64]),
        with_state=st.booleans(),
        seed=st.integers(0, 2**16),
    )


def compare_with_torch(reference_cls: type[nn.Module], scratch_cls: type[nn.Module], case: Case):
    """Assert that ``scratch_cls`` with copied weights equals ``reference_cls``, both ways.

    ``reference_cls`` is ``nn.RNN``, ``nn.LSTM`` or ``nn.GRU``; the state of an
    LSTM is the pair ``(h0, c0)``, with different random values in each.
    """
    torch.manual_seed(case.seed)
    kwargs = dict(
        num_layers=case.layers, bidirectional=case.bidirectional, batch_first=case.batch_first
    )
    reference = reference_cls(case.input_size, case.hidden_size, **kwargs).to(case.dtype)
    scratch = scratch_cls(case.input_size, case.hidden_size, **kwargs).to(case.dtype)
    scratch.load_state_dict(reference.state_dict())
    shape = (case.batch, case.steps) if case.batch_first else (case.steps, case.batch)
    x = torch.randn(*shape, case.input_size, dtype=case.dtype)
    directions = 2 if case.bidirectional else 1
    state_shape = (case.layers * directions, case.batch, case.hidden_size)
    is_lstm = reference_cls is nn.LSTM
    states = [torch.randn(state_shape, dtype=case.dtype) for _ in range(2 if is_lstm else 1)]

    def run(model):
        inputs = [x.clone().requires_grad_(True)]
        initial = [s.clone().requires_grad_(True) for s in states]
        args = (inputs[0],)
        if case.with_state:
            args += (tuple(initial) if is_lstm else initial[0],)
        output, final = model(*args)
        finals = list(final) if is_lstm else [final]
        return output, finals, inputs + (initial if case.with_state else [])

    out_ref, finals_ref, leaves_ref = run(reference)
    out, finals, leaves = run(scratch)
    torch.testing.assert_close(out, out_ref)
    for got, expected in zip(finals, finals_ref, strict=True):
        torch.testing.assert_close(got, expected)

    generator = torch.Generator().manual_seed(case.seed)
    projections = [torch.randn(t.shape, generator=generator, dtype=case.dtype) for t in finals]
    weights = torch.randn(out.shape, generator=generator, dtype=case.dtype)

    def loss(output, final):
        return (output * weights).sum() + sum((f * p).sum() for f, p in zip(final, projections))

    loss(out_ref, finals_ref).backward()
    loss(out, finals).backward()
    for got, expected in zip(leaves, leaves_ref, strict=True):
        torch.testing.assert_close(got.grad, expected.grad)
    params_ref = dict(reference.named_parameters())
    assert set(dict(scratch.named_parameters())) == set(params_ref)
    for name, param in scratch.named_parameters():
        torch.testing.assert_close(
            param.grad, params_ref[name].grad, msg=lambda m, name=name: f"gradient of {name}: {m}"
        )
