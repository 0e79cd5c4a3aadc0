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


def test_plot_helpers_bad_input():
    with pytest.raises(ValueError, match="curves must hold"):
        plot_curves({})
    with pytest.raises(ValueError, match=r"images must be \[N, C, H, W\]"):
        image_grid(torch.rand(8, 8))
    with pytest.raises(ValueError, match=r"C = 1 or 3, got shape \(2, 2, 8, 8\)"):
        image_grid(torch.rand(2, 2, 8, 8))
    with pytest.raises(ValueError, match="titles must have 2 entries, got 1"):
        image_grid(torch.rand(2, 1, 8, 8), titles=["a"])


def test_plot_mistakes_shows_only_the_wrong_rows():
    images = torch.arange(4.0).reshape(4, 1, 1, 1).expand(4, 1, 2, 2)
    targets = torch.tensor([0, 1, 1, 0])
    logits = torch.tensor([[3.0, 0.0], [0.0, 3.0], [2.0, 0.0], [0.0, 1.0]])  # rows 2, 3 wrong
    fig = plot_mistakes(images, targets, logits)
    assert [t.get_text() for t in fig.axes[0].texts] == ["1→0 (88%)", "0→1 (73%)"]
    assert plot_mistakes(images[:2], targets[:2], logits[:2]) is None  # no mistake, no figure
    with pytest.raises(ValueError, match="same number of rows"):
        plot_mistakes(images, targets[:3], logits)


def _tiles(fig, n, height, width, columns):
    """Cut the mosaic of an image_grid figure back into its ``n`` tiles ``[H, W, 4]``."""
    (ax,) = fig.axes
    mosaic = torch.as_tensor(ax.images[0].get_array())
    cols = min(columns, n)
    gap = (mosaic.shape[1] - cols * width) // max(cols - 1, 1) if cols > 1 else 0
    band = mosaic.shape[0] // -(-n // columns) - height
    return [
        mosaic[
            (k // cols) * (height + band) + band : (k // cols) * (height + band) + band + height,
            (k % cols) * (width + gap) : (k % cols) * (width + gap) + width,
        ]
        for k in range(n)
    ], mosaic


@pytest.mark.parametrize("n, columns", [(1, 8), (5, 4), (8, 8), (11, 3)])
def test_image_grid_tiles_are_each_image_in_its_own_colour_range(n, columns):
    images = torch.rand(n, 1, 6, 5) * torch.linspace(0.5, 3.0, n).reshape(n, 1, 1, 1)
    images[0] = 2.0  # a flat image gets the lowest colour, as imshow would give it
    fig = image_grid(images, columns=columns, cmap="viridis")
    tiles, mosaic = _tiles(fig, n, 6, 5, columns)
    for k, tile in enumerate(tiles):
        image = images[k, 0]
        span = image.max() - image.min()
        scaled = (image - image.min()) / span if span > 0 else torch.zeros_like(image)
        expected = torch.as_tensor(mpl.colormaps["viridis"](scaled.numpy()), dtype=torch.float32)
        torch.testing.assert_close(tile, expected, msg=f"tile {k}")
    # everything outside the tiles is transparent: the white figure shows through
    assert mosaic[..., 3].sum() == n * 6 * 5


def test_image_grid_shows_colour_images_clipped_and_titles_above_their_tiles():
    images = torch.rand(5, 3, 4, 4) * 1.4 - 0.2  # some values outside [0, 1]
    fig = image_grid(images, titles=list("abcde"), columns=3)
    tiles, _ = _tiles(fig, 5, 4, 4, 3)
    for k, tile in enumerate(tiles):
        torch.testing.assert_close(tile[..., :3], images[k].clamp(0, 1).permute(1, 2, 0))
    texts = fig.axes[0].texts
    assert [t.get_text() for t in texts] == list("abcde")
    xs = [t.get_position()[0] for t in texts]
    ys = [t.get_position()[1] for t in texts]
    assert xs[0] < xs[1] < xs[2] and xs[3] == xs[0] and xs[4] == xs[1]  # three columns
    assert ys[0] == ys[1] == ys[2] < ys[3] == ys[4]  # rows run down the image
    cell = (fig.axes[0].images[0].get_array().shape[0]) // 2
    assert 0 < ys[0] < cell - 4  # in the band above the first row's tiles
