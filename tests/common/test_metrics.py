import pytest
import torch
from sklearn.metrics import confusion_matrix as sklearn_confusion_matrix
from torch import nn

from snippets.common.metrics import accuracy, confusion_matrix, predict


def test_accuracy():
    logits = torch.tensor([[2.0, 1.0], [0.0, 3.0], [1.0, 0.0]])
    assert accuracy(logits, torch.tensor([0, 1, 1])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="logits must be"):
        accuracy(logits, torch.tensor([0, 1]))


def test_accuracy_matches_a_direct_count():
    g = torch.Generator().manual_seed(0)
    logits, targets = torch.randn(50, 7, generator=g), torch.randint(7, (50,), generator=g)
    expected = sum(int(row.argmax()) == int(t) for row, t in zip(logits, targets)) / 50
    assert accuracy(logits, targets) == pytest.approx(expected)


def test_confusion_matrix_counts_pairs():
    predicted = torch.tensor([0, 1, 1, 2, 2, 2])
    target = torch.tensor([0, 1, 2, 2, 2, 0])
    m = confusion_matrix(predicted, target, classes=3)
    expected = torch.tensor([[1, 0, 1], [0, 1, 0], [0, 1, 2]])
    torch.testing.assert_close(m, expected)
    assert m.sum() == 6


def test_confusion_matrix_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        confusion_matrix(torch.tensor([0]), torch.tensor([0, 1]), classes=2)
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 2\)"):
        confusion_matrix(torch.tensor([0, 2]), torch.tensor([0, 1]), classes=2)


@pytest.mark.parametrize("n, classes", [(0, 3), (1, 1), (40, 5)])
def test_confusion_matrix_matches_scikit_learn(n, classes):
    g = torch.Generator().manual_seed(n)
    predicted = torch.randint(classes, (n,), generator=g)
    target = torch.randint(classes, (n,), generator=g)
    if n == 0:  # scikit-learn refuses empty input; the count matrix is all zeros
        expected = torch.zeros(classes, classes, dtype=torch.int64)
    else:
        labels = list(range(classes))
        expected = torch.from_numpy(
            sklearn_confusion_matrix(target.numpy(), predicted.numpy(), labels=labels)
        )
    torch.testing.assert_close(confusion_matrix(predicted, target, classes), expected)


def test_predict_runs_in_eval_mode_and_restores_training():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = torch.randn(8, 4)
    model.train()
    out = predict(model, x)
    assert model.training  # restored
    model.eval()
    torch.testing.assert_close(out, model(x))  # dropout was off during predict
    model.eval()
    predict(model, x)
    assert not model.training
