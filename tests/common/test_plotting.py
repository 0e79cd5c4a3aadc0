import matplotlib as mpl
import pytest
import torch

from snippets.common.plotting import (
    PALETTE,
    confusion_matrix,
    image_grid,
    plot_confusion,
    plot_curves,
    use_style,
)


def test_use_style_sets_palette():
    use_style()
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"][0] == PALETTE[0]


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


def test_plot_helpers_draw():
    ax = plot_curves({"train": [3, 2, 1], "test": [3, 2.5, 2]}, log_y=True, title="loss")
    assert len(ax.lines) == 2 and ax.get_yscale() == "log"
    ax = plot_confusion(torch.eye(3, dtype=torch.int64) * 5)
    assert len(ax.texts) == 9
    fig = image_grid(torch.rand(5, 1, 8, 8), titles=list("abcde"), columns=4)
    assert len(fig.axes) == 8
    fig = image_grid(torch.rand(2, 3, 8, 8))
    assert len(fig.axes) == 2


def test_plot_helpers_bad_input():
    with pytest.raises(ValueError, match="curves must hold"):
        plot_curves({})
    with pytest.raises(ValueError, match=r"images must be \[N, C, H, W\]"):
        image_grid(torch.rand(8, 8))
    with pytest.raises(ValueError, match="titles must have 2 entries, got 1"):
        image_grid(torch.rand(2, 1, 8, 8), titles=["a"])
