import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from snippets.neural_networks.losses import (
    binary_cross_entropy,
    binary_cross_entropy_with_logits,
    cross_entropy,
    cross_entropy_grad,
    label_smoothed_cross_entropy,
    mse,
    nll,
    one_hot,
)


def test_mse_matches_torch():
    a, b = torch.randn(7, 3), torch.randn(7, 3)
    torch.testing.assert_close(mse(a, b), F.mse_loss(a, b))


def test_cross_entropy_and_nll_match_torch():
    logits, targets = torch.randn(9, 5) * 4, torch.randint(0, 5, (9,))
    torch.testing.assert_close(cross_entropy(logits, targets), F.cross_entropy(logits, targets))
    log_probs = torch.log_softmax(logits, dim=1)
    torch.testing.assert_close(nll(log_probs, targets), F.nll_loss(log_probs, targets))


def test_cross_entropy_is_stable_for_huge_logits():
    logits = torch.tensor([[1000.0, 0.0], [0.0, -1000.0]])
    targets = torch.tensor([1, 1])
    out = cross_entropy(logits, targets)
    assert torch.isfinite(out)
    torch.testing.assert_close(out, F.cross_entropy(logits, targets))


def test_cross_entropy_grad_matches_autograd():
    logits = torch.randn(6, 4, dtype=torch.float64, requires_grad=True)
    targets = torch.tensor([0, 3, 1, 1, 2, 0])
    F.cross_entropy(logits, targets).backward()
    torch.testing.assert_close(cross_entropy_grad(logits.detach(), targets), logits.grad)


def test_binary_cross_entropy_matches_torch():
    logits = torch.randn(20) * 3
    targets = (torch.rand(20) > 0.5).float()
    probs = torch.sigmoid(logits)
    torch.testing.assert_close(
        binary_cross_entropy(probs, targets), F.binary_cross_entropy(probs, targets)
    )
    torch.testing.assert_close(
        binary_cross_entropy_with_logits(logits, targets),
        F.binary_cross_entropy_with_logits(logits, targets),
    )


def test_bce_with_logits_is_stable():
    logits = torch.tensor([200.0, -200.0])
    targets = torch.tensor([0.0, 1.0])
    torch.testing.assert_close(
        binary_cross_entropy_with_logits(logits, targets), torch.tensor(200.0)
    )


@given(st.lists(st.integers(0, 9), min_size=1, max_size=30))
def test_one_hot_matches_torch_and_has_one_one_per_row(labels):
    idx = torch.tensor(labels)
    out = one_hot(idx, 10)
    assert torch.equal(out, F.one_hot(idx, 10))
    assert torch.equal(out.sum(dim=1), torch.ones(len(labels), dtype=torch.int64))
    assert torch.equal(out.argmax(dim=1), idx)


def test_cross_entropy_is_mean_of_minus_onehot_dot_log_probs():
    logits, targets = torch.randn(5, 3), torch.tensor([2, 0, 1, 1, 2])
    expected = -(one_hot(targets, 3) * torch.log_softmax(logits, dim=1)).sum(dim=1).mean()
    torch.testing.assert_close(cross_entropy(logits, targets), expected)


@given(
    smoothing=st.floats(0.0, 0.9),
    classes=st.integers(2, 7),
    rows=st.integers(1, 6),
    seed=st.integers(0, 1000),
)
def test_label_smoothing_matches_torch(smoothing, classes, rows, seed):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn(rows, classes, generator=gen)
    target = torch.randint(classes, (rows,), generator=gen)
    target[0] = -100 if rows > 1 else target[0]
    torch.testing.assert_close(
        label_smoothed_cross_entropy(logits, target, smoothing),
        F.cross_entropy(logits, target, label_smoothing=smoothing),
    )


def test_label_smoothing_ignores_padding_and_reduces_to_cross_entropy():
    logits, target = torch.randn(4, 5), torch.tensor([1, 0, 4, 2])
    torch.testing.assert_close(
        label_smoothed_cross_entropy(logits, target, smoothing=0.0), cross_entropy(logits, target)
    )
    padded = torch.tensor([1, 0, 0, 2])
    changed = logits.clone()
    changed[[1, 2]] += 10 * torch.randn(2, 5)  # the ignored rows may hold anything
    torch.testing.assert_close(
        label_smoothed_cross_entropy(changed, padded, ignore_index=0),
        label_smoothed_cross_entropy(logits[[0, 3]], target[[0, 3]]),
    )


def test_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        mse(torch.zeros(3), torch.zeros(4))
    with pytest.raises(ValueError, match=r"targets must lie in \[0, 3\)"):
        cross_entropy(torch.zeros(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match="targets must hold 2 labels"):
        nll(torch.zeros(2, 3), torch.tensor([0]))
    with pytest.raises(TypeError, match="targets must have dtype torch.int64"):
        cross_entropy(torch.zeros(2, 3), torch.tensor([0.0, 1.0]))
    with pytest.raises(ValueError, match=r"probs must lie in \[0, 1\]"):
        binary_cross_entropy(torch.tensor([1.5]), torch.tensor([1.0]))
    with pytest.raises(ValueError, match="logits and targets must have the same shape"):
        binary_cross_entropy_with_logits(torch.zeros(2), torch.zeros(3))
    with pytest.raises(ValueError, match=r"indices must lie in \[0, 4\)"):
        one_hot(torch.tensor([4]), 4)
    with pytest.raises(ValueError, match="classes must be > 0"):
        one_hot(torch.tensor([0]), 0)
    with pytest.raises(ValueError, match=r"smoothing must be in \[0, 1\)"):
        label_smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0, 1]), smoothing=1.0)
    with pytest.raises(ValueError, match="target must have 2 entries"):
        label_smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0]))
    # an index past the classes would gather garbage or crash deep inside; -100 is skipped
    with pytest.raises(ValueError, match=r"target must lie in \[0, 3\) or equal ignore_index=-100"):
        label_smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([0, 3]))
    with pytest.raises(ValueError, match=r"got values in \[-1, -1\]"):
        label_smoothed_cross_entropy(torch.randn(2, 3), torch.tensor([-1, -100]))
