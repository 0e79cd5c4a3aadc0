"""One figure style for every example on the site.

Call :func:`use_style` once at the top of an example; then use the helpers
below or plain Matplotlib. Figures read well on both the light and the dark
theme because they keep a white background.
"""

from __future__ import annotations

from collections.abc import Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure

#: Colours used in order by every line plot (colour-blind safe, Okabe–Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442", "#000000")

STYLE = {
    "figure.figsize": (6.4, 4.0),
    "figure.dpi": 100,
    "savefig.dpi": 100,
    "figure.facecolor": "white",
    "axes.facecolor": "white",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titleweight": "bold",
    "axes.prop_cycle": mpl.cycler(color=PALETTE),
    "font.size": 10,
    "legend.frameon": False,
    "image.cmap": "viridis",
    "figure.constrained_layout.use": True,
}


def use_style() -> None:
    """Apply the site's Matplotlib style (idempotent)."""
    mpl.rcParams.update(STYLE)


def plot_curves(
    curves: dict[str, Sequence[float]],
    xlabel: str = "epoch",
    ylabel: str = "loss",
    title: str | None = None,
    log_y: bool = False,
    ax: Axes | None = None,
) -> Axes:
    """Plot named curves (e.g. train and validation loss) against their index.

    Raises:
        ValueError: if ``curves`` is empty.
    """
    if not curves:
        raise ValueError("curves must hold at least one named curve, got none")
    if ax is None:
        _, ax = plt.subplots()
    for label, values in curves.items():
        ax.plot(range(1, len(values) + 1), list(values), label=label)
    ax.set(xlabel=xlabel, ylabel=ylabel)
    if title:
        ax.set_title(title)
    if log_y:
        ax.set_yscale("log")
    ax.legend()
    return ax


def plot_confusion(matrix: torch.Tensor, ax: Axes | None = None, title: str | None = None) -> Axes:
    """Draw a confusion matrix (see :func:`snippets.common.metrics.confusion_matrix`).

    Rows are the true classes, columns the predictions; every cell shows its count.
    """
    if ax is None:
        _, ax = plt.subplots(figsize=(5.2, 4.6))
    n = matrix.shape[0]
    ax.imshow(matrix.cpu().numpy(), cmap="Blues")
    ax.grid(False)
    threshold = matrix.max().item() / 2
    for i in range(n):
        for j in range(n):
            value = int(matrix[i, j])
            color = "white" if value > threshold else "black"
            ax.text(j, i, str(value), ha="center", va="center", color=color, fontsize=8)
    ax.set(xticks=range(n), yticks=range(n), xlabel="predicted", ylabel="true")
    if title:
        ax.set_title(title)
    return ax


def image_grid(
    images: torch.Tensor,
    titles: Sequence[str] | None = None,
    columns: int = 8,
    cmap: str = "gray_r",
) -> Figure:
    """Show a batch of images ``[N, C, H, W]`` (C = 1 or 3) in a grid.

    One-channel images go through ``cmap``, each stretched over its own range
    of values (as ``imshow`` does for one image); three-channel images are
    shown as RGB, clipped to ``[0, 1]``. The grid is one mosaic image on one
    axes, with each title above its tile: a figure of 48 digits draws and
    saves several times faster than 48 axes of one image each.

    Raises:
        ValueError: if ``images`` is not 4-D with 1 or 3 channels, or
            ``titles`` has the wrong length.
    """
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(
            f"images must be [N, C, H, W] with C = 1 or 3, got shape {tuple(images.shape)}"
        )
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"titles must have {len(images)} entries, got {len(titles)}")
    n, _, height, width = images.shape
    rows = max(1, -(-n // columns))
    cols = min(columns, n)
    tiles = _rgba_tiles(images.detach().cpu().float(), cmap)  # [N, H, W, 4]
    gap = max(1, round(0.2 * width))  # between tiles, in pixels of the images
    # with titles, the band above each tile holds its title: cells keep the
    # proportions of the 1.1 x 1.25 inch cells a grid of axes would have
    band = max(gap, round((width + gap) * 1.25 / 1.1) - height) if titles is not None else gap
    cell_w, cell_h = width + gap, height + band
    corners = [((k // cols) * cell_h + band, (k % cols) * cell_w) for k in range(n)]  # top, left
    mosaic = torch.zeros(rows * cell_h, cols * cell_w - gap, 4)  # transparent gaps
    for (top, left), tile in zip(corners, tiles):
        mosaic[top : top + height, left : left + width] = tile
    fig_w = 1.1 * cols
    fig, ax = plt.subplots(figsize=(fig_w, fig_w * mosaic.shape[0] / mosaic.shape[1]))
    ax.imshow(mosaic.numpy(), interpolation="nearest")
    ax.axis("off")
    for (top, left), title in zip(corners, titles or []):
        ax.text(
            left + (width - 1) / 2,
            top - 0.5 - 0.1 * band,
            title,
            ha="center",
            va="bottom",
            fontsize=8,
            fontweight=mpl.rcParams["axes.titleweight"],
        )
    return fig


def _rgba_tiles(images: torch.Tensor, cmap: str) -> torch.Tensor:
    """``[N, C, H, W]`` images as ``[N, H, W, 4]`` colours in ``[0, 1]``."""
    if images.shape[1] == 3:
        rgb = images.clamp(0, 1).permute(0, 2, 3, 1)  # [C, H, W] -> [H, W, C] for Matplotlib
        return torch.cat([rgb, torch.ones_like(rgb[..., :1])], dim=-1)
    flat = images.flatten(1)
    low, high = flat.min(dim=1).values, flat.max(dim=1).values
    span = torch.where(high > low, high - low, torch.ones_like(high))  # a flat image: lowest colour
    scaled = (images[:, 0] - low[:, None, None]) / span[:, None, None]
    return torch.as_tensor(mpl.colormaps[cmap](scaled.numpy()), dtype=torch.float32)


def plot_mistakes(
    images: torch.Tensor,
    targets: torch.Tensor,
    logits: torch.Tensor,
    limit: int = 16,
    title: str = "Misclassified test images (true → predicted, confidence)",
) -> Figure | None:
    """Show the first ``limit`` misclassified images with truth, prediction and confidence.

    Each image is titled ``true→predicted (p%)``, where ``p`` is the softmax
    probability the model gave its prediction. Returns ``None`` (and draws
    nothing) when there is no mistake.

    Shapes:
        ``images`` ``[N, C, H, W]``, ``targets`` ``[N]``, ``logits`` ``[N, classes]``.

    Raises:
        ValueError: if the three arguments disagree on ``N``.
    """
    if not len(images) == len(targets) == len(logits):
        raise ValueError(
            f"images, targets and logits must hold the same number of rows, got "
            f"{len(images)}, {len(targets)} and {len(logits)}"
        )
    logits, targets = logits.detach().cpu(), targets.cpu()
    predicted = logits.argmax(dim=1)
    confidence = logits.softmax(dim=1).max(dim=1).values
    wrong = torch.nonzero(predicted != targets).flatten()[:limit]
    if len(wrong) == 0:
        return None
    fig = image_grid(
        images[wrong],
        titles=[f"{int(targets[i])}→{int(predicted[i])} ({confidence[i]:.0%})" for i in wrong],
    )
    fig.set_figwidth(max(fig.get_figwidth(), 5.0))  # room for the title
    fig.suptitle(title)
    return fig
