import matplotlib as mpl
import pytest
import torch

from snippets.common.plotting import (
    PALETTE,
    image_grid,
    plot_confusion,
    plot_curves,
    plot_mistakes,
    use_style,
)


def test_use_style_sets_palette():
    use_style()
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"][0] == PALETTE[0]


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


def test_plot_mistakes_shows_only_the_wrong_rows():
    images = torch.arange(4.0).reshape(4, 1, 1, 1).expand(4, 1, 2, 2)
    targets = torch.tensor([0, 1, 1, 0])
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0], [2.0, 0.0], [0.0, 1.0]])  # rows 2, 3 wrong
    fig = plot_mistakes(images, targets, logits)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["1→0 (88%)", "0→1 (73%)"]
    assert plot_mistakes(images[:2], targets[:2], logits[:2]) is None  # no mistake, no figure
    with pytest.raises(ValueError, match="same number of rows"):
        plot_mistakes(images, targets[:3], logits)
