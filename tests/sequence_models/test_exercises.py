"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "sequence_models"
NAMES = [e.name for e in exercises(CHAPTER)]


@pytest.mark.parametrize("name", NAMES)
def test_checker_passes_the_reference_and_rejects_each_wrong_solution(name):
    exercise = next(e for e in exercises(CHAPTER) if e.name == name)
    assert check(name, exercise.reference, verbose=False)
    for wrong in exercise.wrong:
        result = check(name, wrong, verbose=False)
        assert not result, f"{name}: the checker accepts {wrong.__name__}"
        assert result.message.startswith("fails on"), result.message


def test_references_agree_with_pytorch():
    import torch
    from torch import nn
    from torch.nn.utils.rnn import pack_padded_sequence

    from snippets.sequence_models.exercises import (
        additive_attention,
        clip_by_global_norm,
        last_real_output,
        lstm_parameter_count,
        rnn_step_jacobian,
        top_k_probs,
    )

    torch.manual_seed(0)
    # the last real output is what a packed RNN returns as its final state
    rnn = nn.RNN(3, 4, batch_first=True, dtype=torch.float64)
    x = torch.randn(5, 6, 3, dtype=torch.float64)
    lengths = torch.tensor([6, 1, 3, 4, 2])
    outputs, _ = rnn(x)
    packed = pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
    _, h_n = rnn(packed)
    torch.testing.assert_close(last_real_output(outputs, lengths), h_n[0])

    # the Jacobian of one tanh step equals autograd's
    x, h = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    w_ih, w_hh = torch.randn(4, 3, dtype=torch.float64), torch.randn(4, 4, dtype=torch.float64)
    b_ih, b_hh = torch.randn(2, 4, dtype=torch.float64)
    for n in range(2):

        def step(h_prev, n=n):
            return torch.tanh(w_ih @ x[n] + b_ih + w_hh @ h_prev + b_hh)

        expected = torch.autograd.functional.jacobian(step, h[n])
        torch.testing.assert_close(rnn_step_jacobian(x, h, w_ih, w_hh, b_ih, b_hh)[n], expected)

    # clipping equals torch.nn.utils.clip_grad_norm_, both when it clips and when it does not
    for max_norm in (0.5, 1e3):
        params = [torch.randn(3, 4, requires_grad=True), torch.randn(5, requires_grad=True)]
        for p in params:
            p.grad = 3 * torch.randn_like(p)
        mine = clip_by_global_norm([p.grad.clone() for p in params], max_norm)
        nn.utils.clip_grad_norm_(params, max_norm)
        for m, p in zip(mine, params):
            torch.testing.assert_close(m, p.grad)

    # parameter counts of real LSTMs, built on the meta device
    for sizes in [(10, 20, 1, False), (3, 7, 3, True), (1, 1, 2, True)]:
        lstm = nn.LSTM(*sizes[:3], bidirectional=sizes[3], device="meta")
        assert lstm_parameter_count(*sizes) == sum(p.numel() for p in lstm.parameters())

    # top-k: brute force over each row
    logits = torch.randn(4, 9, dtype=torch.float64)
    probs = top_k_probs(logits, 3, 0.7)
    for row, p in zip(logits, probs):
        kept = sorted(range(9), key=lambda j: -row[j].item())[:3]
        expected = torch.zeros(9, dtype=torch.float64)
        expected[kept] = torch.softmax(row[kept] / 0.7, dim=0)
        torch.testing.assert_close(p, expected)

    # additive attention: brute force, one sample and one position at a time
    query, memory = (
        torch.randn(3, 2, dtype=torch.float64),
        torch.randn(3, 5, 4, dtype=torch.float64),
    )
    mask = torch.arange(5)[None, :] < torch.tensor([5, 2, 1])[:, None]
    w_q, w_m, v = (torch.randn(*s, dtype=torch.float64) for s in [(6, 2), (6, 4), (6,)])
    context, weights = additive_attention(query, memory, mask, w_q, w_m, v)
    for n in range(3):
        real = [j for j in range(5) if mask[n, j]]
        scores = torch.stack([v @ torch.tanh(w_q @ query[n] + w_m @ memory[n, j]) for j in real])
        expected = torch.zeros(5, dtype=torch.float64)
        expected[real] = torch.softmax(scores, dim=0)
        torch.testing.assert_close(weights[n], expected)
        torch.testing.assert_close(context[n], expected @ memory[n])


def test_gru_reset_before_is_the_paper_form():
    import torch

    from snippets.sequence_models.exercises import gru_cell_reset_before
    from snippets.sequence_models.gru import gru_cell

    torch.manual_seed(1)
    x, h = torch.randn(3, 2, dtype=torch.float64), torch.randn(3, 4, dtype=torch.float64)
    w_ih, w_hh = torch.randn(12, 2, dtype=torch.float64), torch.randn(12, 4, dtype=torch.float64)
    b_ih, b_hh = torch.randn(2, 12, dtype=torch.float64)
    got = gru_cell_reset_before(x, h, w_ih, w_hh, b_ih, b_hh)
    # brute force: the equations of the paper, one sample at a time
    for n in range(3):
        w = [w.split(4) for w in (w_ih, w_hh)]
        b = [b.split(4) for b in (b_ih, b_hh)]
        r = torch.sigmoid(w[0][0] @ x[n] + b[0][0] + w[1][0] @ h[n] + b[1][0])
        z = torch.sigmoid(w[0][1] @ x[n] + b[0][1] + w[1][1] @ h[n] + b[1][1])
        cand = torch.tanh(w[0][2] @ x[n] + b[0][2] + w[1][2] @ (r * h[n]) + b[1][2])
        torch.testing.assert_close(got[n], (1 - z) * cand + z * h[n])
    assert not torch.allclose(got, gru_cell(x, h, w_ih, w_hh, b_ih, b_hh))
    # with the reset gate fully open (r = 1) both forms agree
    b_ih[:4] = 50.0
    torch.testing.assert_close(
        gru_cell_reset_before(x, h, w_ih, w_hh, b_ih, b_hh), gru_cell(x, h, w_ih, w_hh, b_ih, b_hh)
    )
