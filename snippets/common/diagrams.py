"""Architecture diagrams drawn with Matplotlib, labelled with the sizes of the real modules.

Every ``*_diagram`` function takes the module it draws (an RNN, an attention
layer, a whole Transformer…), reads the sizes from it (``hidden_size``,
``d_model``, the number of heads, of layers, of patches…) and writes them
into the picture, so a figure cannot disagree with the code it shows. Build
the model, then draw it::

    model = GPT(vocab_size=100, context=32, d_model=64, nhead=4, num_layers=2)
    fig = gpt_diagram(model)

The diagrams: recurrent networks (:func:`rnn_diagram` rolled and unrolled,
:func:`lstm_diagram`, :func:`gru_diagram`, :func:`seq2seq_diagram`),
attention and its layers (:func:`attention_diagram`,
:func:`encoder_layer_diagram` post- or pre-norm, :func:`decoder_layer_diagram`,
:func:`layer_norm_diagram` against BatchNorm), whole models
(:func:`transformer_diagram`, :func:`gpt_diagram`, :func:`vit_diagram`,
:func:`detr_diagram`) and one data-parallel training step (:func:`ddp_diagram`).

**Alt text.** Every diagram function returns a :class:`~matplotlib.figure.Figure`
with an extra attribute ``fig.alt_text``: one or two sentences saying what is
drawn, with the same sizes as the labels. :func:`alt_text` reads it and
:func:`save` writes a PNG with the alt text in its metadata and returns it,
ready for the ``:alt:`` option of a ``{figure}`` directive.

**Looks.** Boxes are coloured by role from :data:`~snippets.common.plotting.PALETTE`
(:data:`ROLES`: attention blue, feed-forward orange, normalization green,
outputs vermillion, embeddings pink, positions sky blue, gates yellow, data
grey), filled with a light tint and outlined in a darker shade; text and lines
are near-black. Every figure paints its own white background, so it looks the
same in the light and the dark theme of the site. Figures are at most
:data:`MAX_WIDTH` inches wide and use fonts of at least 9 pt, which stay
readable at 700 px. :func:`layout_problems` lists overlapping or clipped
labels; the tests run it on every diagram.

The building blocks (:func:`canvas`, :func:`box`, :func:`op`, :func:`arrow`,
:func:`path_arrow`, :func:`label`, :func:`stack`, :func:`frame`,
:func:`fit_height`) work in inches: ``canvas(7, 4)`` gives an axes whose data
units are inches of the 7 × 4 inch figure.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import combinations
from pathlib import Path

import matplotlib.pyplot as plt
import torch
from matplotlib.axes import Axes
from matplotlib.colors import to_rgb
from matplotlib.figure import Figure
from matplotlib.patches import Circle, FancyArrowPatch, FancyBboxPatch, Rectangle
from matplotlib.path import Path as MplPath
from matplotlib.text import Text
from torch import nn

from snippets.common.checks import check_positive
from snippets.common.plotting import PALETTE

#: Text and line colour (near-black, readable on the white background).
INK = "#1a1a1a"
#: Figure background, painted explicitly so that dark mode does not show through.
BACKGROUND = "white"
#: Box colours by role (from the site palette).
ROLES = {
    "attention": PALETTE[0],
    "feedforward": PALETTE[1],
    "norm": PALETTE[2],
    "output": PALETTE[3],
    "embedding": PALETTE[4],
    "position": PALETTE[5],
    "gate": PALETTE[6],
    "data": "#7f7f7f",
}
#: Font sizes in points: box text, annotations (the minimum) and titles.
FONT, SMALL, TITLE = 10, 9, 12
#: Widest figure, in inches (700 px at 100 dpi).
MAX_WIDTH = 7.0

Point = tuple[float, float]


# -- building blocks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Box:
    """Where a drawn box sits, in inches: centre ``(x, y)``, ``width`` and ``height``."""

    x: float
    y: float
    width: float
    height: float

    @property
    def top(self) -> Point:
        return (self.x, self.y + self.height / 2)

    @property
    def bottom(self) -> Point:
        return (self.x, self.y - self.height / 2)

    @property
    def left(self) -> Point:
        return (self.x - self.width / 2, self.y)

    @property
    def right(self) -> Point:
        return (self.x + self.width / 2, self.y)

    def at(self, fx: float, fy: float) -> Point:
        """The point at fractions ``fx``, ``fy`` of the box (``0, 0`` bottom left)."""
        return (self.x + (fx - 0.5) * self.width, self.y + (fy - 0.5) * self.height)


def plural(count: int, word: str, words: str | None = None) -> str:
    """``"1 channel"``, ``"3 channels"``: a count with its noun (``words``: an irregular plural)."""
    return f"{count} {word}" if count == 1 else f"{count} {words or word + 's'}"


def tint(color: str, amount: float = 0.22) -> tuple[float, float, float]:
    """``color`` mixed with white: ``amount`` 0 is white, 1 the colour itself."""
    return tuple(1 - amount * (1 - c) for c in to_rgb(color))


def shade(color: str, amount: float = 0.7) -> tuple[float, float, float]:
    """``color`` darkened towards black (``amount`` 1 keeps it, 0 is black)."""
    return tuple(amount * c for c in to_rgb(color))


def canvas(width: float, height: float, title: str | None = None) -> tuple[Figure, Axes]:
    """A white figure ``width × height`` inches with one axes whose units are inches.

    Raises:
        ValueError: if a size is not positive or ``width`` exceeds :data:`MAX_WIDTH`.
    """
    check_positive(width, "width")
    check_positive(height, "height")
    if width > MAX_WIDTH:
        raise ValueError(f"width must be at most {MAX_WIDTH} inches, got {width}")
    fig = plt.figure(figsize=(width, height), dpi=100, layout="none")
    fig.patch.set_facecolor(BACKGROUND)
    fig.patch.set_alpha(1.0)
    ax = fig.add_axes((0, 0, 1, 1))
    ax.set_xlim(0, width)
    ax.set_ylim(0, height)
    ax.set_facecolor(BACKGROUND)
    ax.axis("off")
    if title:
        ax.diagram_title = label(ax, (width / 2, height - 0.27), title, fontsize=TITLE, bold=True)
    return fig, ax


def fit_height(fig: Figure, ax: Axes, top: float, margin: float = 0.15) -> None:
    """Cut the figure just above ``top`` (the highest drawing, in inches) and move the title there.

    Diagrams whose height depends on the module (more sub-layers, a taller
    stack) are drawn on a generous canvas and trimmed with this.
    """
    width = fig.get_figwidth()
    title = getattr(ax, "diagram_title", None)
    height = top + margin + (0.5 if title is not None else 0.0)
    fig.set_size_inches(width, height)
    ax.set_ylim(0, height)
    if title is not None:
        title.set_position((width / 2, height - 0.27))


def label(
    ax: Axes,
    xy: Point,
    text: str,
    *,
    fontsize: float = SMALL,
    ha: str = "center",
    va: str = "center",
    color: str = INK,
    bold: bool = False,
    italic: bool = False,
    background: bool = False,
    rotation: float = 0,
) -> Text:
    """Plain text at ``xy``; ``background`` puts a white patch behind it (over lines)."""
    return ax.text(
        *xy,
        text,
        fontsize=fontsize,
        ha=ha,
        va=va,
        color=color,
        fontweight="bold" if bold else "normal",
        fontstyle="italic" if italic else "normal",
        rotation=rotation,
        zorder=4,
        bbox={"facecolor": BACKGROUND, "edgecolor": "none", "pad": 1.0} if background else None,
    )


def box(
    ax: Axes,
    xy: Point,
    text: str,
    *,
    width: float = 1.6,
    height: float = 0.42,
    role: str = "data",
    color: str | None = None,
    fontsize: float = FONT,
    dashed: bool = False,
    bold: bool = False,
) -> Box:
    """A rounded box centred at ``xy`` holding ``text``, coloured by ``role`` (see :data:`ROLES`).

    Raises:
        ValueError: if ``role`` is unknown.
    """
    if color is None:
        if role not in ROLES:
            raise ValueError(f"role must be one of {tuple(ROLES)}, got {role!r}")
        color = ROLES[role]
    x, y = xy
    pad = min(0.06, width / 4, height / 4)
    patch = FancyBboxPatch(
        (x - width / 2 + pad, y - height / 2 + pad),
        width - 2 * pad,
        height - 2 * pad,
        boxstyle=f"round,pad={pad}",
        facecolor=tint(color),
        edgecolor=shade(color),
        linewidth=1.3,
        linestyle="--" if dashed else "-",
        zorder=2,
    )
    patch.is_diagram_box = True  # layout_problems keeps other labels off it
    ax.add_patch(patch)
    if text:
        t = label(ax, xy, text, fontsize=fontsize, bold=bold)
        t.diagram_box = patch  # layout_problems checks that the text stays inside
    return Box(x, y, width, height)


def op(ax: Axes, xy: Point, symbol: str = "+", *, radius: float = 0.13, color: str = INK) -> Box:
    """A small circle holding an operation: ``"+"`` (sum), ``"×"`` (elementwise product)…"""
    ax.add_patch(Circle(xy, radius, facecolor=BACKGROUND, edgecolor=color, linewidth=1.3, zorder=2))
    label(ax, xy, symbol, fontsize=FONT + 1, bold=True, color=color)
    return Box(xy[0], xy[1], 2 * radius, 2 * radius)


def arrow(
    ax: Axes,
    start: Point,
    end: Point,
    *,
    text: str | None = None,
    text_xy: Point | None = None,
    color: str = INK,
    curve: float = 0.0,
    dashed: bool = False,
    head: bool = True,
    both: bool = False,
    linewidth: float = 1.2,
    fontsize: float = SMALL,
) -> FancyArrowPatch:
    """A straight (or, with ``curve`` ≠ 0, arced) arrow, optionally labelled.

    ``text`` goes at ``text_xy`` (default: the middle) on a white patch.
    """
    style = "<|-|>" if both else ("-|>" if head else "-")
    patch = FancyArrowPatch(
        start,
        end,
        arrowstyle=style,
        mutation_scale=11,
        shrinkA=0,
        shrinkB=0,
        connectionstyle=f"arc3,rad={curve}",
        color=color,
        linewidth=linewidth,
        linestyle="--" if dashed else "-",
        zorder=1,
    )
    ax.add_patch(patch)
    if text:
        middle = ((start[0] + end[0]) / 2, (start[1] + end[1]) / 2)
        label(ax, text_xy or middle, text, fontsize=fontsize, background=True)
    return patch


def path_arrow(
    ax: Axes,
    points: Sequence[Point],
    *,
    color: str = INK,
    dashed: bool = False,
    head: bool = True,
    linewidth: float = 1.2,
) -> FancyArrowPatch:
    """A polyline through ``points`` (elbows for skip connections), arrowhead at the end."""
    patch = FancyArrowPatch(
        path=MplPath(list(points)),
        arrowstyle="-|>" if head else "-",
        mutation_scale=11,
        color=color,
        linewidth=linewidth,
        linestyle="--" if dashed else "-",
        zorder=1,
    )
    ax.add_patch(patch)
    return patch


def stack(
    ax: Axes,
    x: float,
    y: float,
    items: Sequence[tuple[str, str]],
    *,
    width: float = 2.0,
    height: float = 0.42,
    gap: float = 0.25,
    arrows: bool = True,
) -> list[Box]:
    """Boxes ``(text, role)`` stacked upward from centre ``(x, y)``, joined by arrows."""
    boxes: list[Box] = []
    for text, role in items:
        b = box(ax, (x, y), text, width=width, height=height, role=role)
        if arrows and boxes:
            arrow(ax, boxes[-1].top, b.bottom)
        boxes.append(b)
        y += height + gap
    return boxes


def frame(
    ax: Axes,
    left: float,
    bottom: float,
    right: float,
    top: float,
    text: str | None = None,
    *,
    color: str = "#555555",
    text_xy: Point | None = None,
    ha: str = "left",
) -> None:
    """A dashed rounded rectangle around a group (a repeated layer); ``text`` labels it."""
    ax.add_patch(
        FancyBboxPatch(
            (left, bottom),
            right - left,
            top - bottom,
            boxstyle="round,pad=0.04",
            facecolor="#f4f4f4",
            edgecolor=color,
            linewidth=1.1,
            linestyle="--",
            zorder=0,
        )
    )
    if text:
        label(ax, text_xy or (left + 0.1, top - 0.18), text, ha=ha, bold=True, color=INK)


def _residual_column(
    ax: Axes,
    x: float,
    start: Point,
    sublayers: Sequence[tuple[str, str, float]],
    norm_first: bool,
    *,
    width: float,
    skip_x: float,
    gap: float = 0.3,
    norm_height: float = 0.34,
    norm_text: str = "LayerNorm",
) -> tuple[Point, list[Box]]:
    """Sub-layers ``(text, role, height)`` with residual connections, drawn upward from ``start``.

    Post-norm: ``x → sub → ⊕ → LayerNorm``; pre-norm: ``x → LayerNorm → sub → ⊕``; the skip
    line leaves the main line before the block and joins the ``⊕`` from ``skip_x``.
    Returns the top point of the column and the sub-layer boxes.
    """
    cursor = start
    subs: list[Box] = []

    def place(text: str, role: str, height: float) -> Box:
        nonlocal cursor
        b = box(ax, (x, cursor[1] + gap + height / 2), text, width=width, height=height, role=role)
        arrow(ax, cursor, b.bottom)
        cursor = b.top
        return b

    for text, role, height in sublayers:
        branch = (x, cursor[1] + 0.06)
        if norm_first:
            place(norm_text, "norm", norm_height)
        subs.append(place(text, role, height))
        plus = op(ax, (x, cursor[1] + gap + 0.13))
        arrow(ax, cursor, plus.bottom)
        path_arrow(ax, [branch, (skip_x, branch[1]), (skip_x, plus.y), plus.left])
        ax.add_patch(Circle(branch, 0.035, color=INK, zorder=3))
        cursor = plus.top
        if not norm_first:
            place(norm_text, "norm", norm_height)
    return cursor, subs


def _finish(fig: Figure, alt: str) -> Figure:
    fig.alt_text = alt
    return fig


def alt_text(fig: Figure) -> str:
    """The alt text a diagram function attached to ``fig``.

    Raises:
        ValueError: if ``fig`` carries none (it was not made by a diagram function).
    """
    text = getattr(fig, "alt_text", None)
    if not isinstance(text, str) or not text:
        raise ValueError("fig must come from a diagram function (it has no alt_text)")
    return text


def save(fig: Figure, path: str | Path, dpi: float = 150) -> str:
    """Write ``fig`` as a PNG whose metadata holds its alt text; return the alt text."""
    text = alt_text(fig)
    fig.savefig(path, dpi=dpi, facecolor=BACKGROUND, metadata={"Description": text})
    return text


def layout_problems(fig: Figure) -> list[str]:
    """Labels that overlap each other, stick out of the figure or out of their box.

    Checks every visible text: inside the figure, inside its own box (for box
    text), off every other box (for free labels), and clear of every other
    text. Returns one message per problem (an empty list for a clean figure).
    """
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    figure_box = fig.bbox
    texts = [t for t in fig.findobj(Text) if t.get_visible() and t.get_text().strip()]
    extents = [(t, t.get_window_extent(renderer)) for t in texts]
    problems = []
    for t, e in extents:
        if e.x0 < figure_box.x0 - 1 or e.x1 > figure_box.x1 + 1:
            problems.append(f"{t.get_text()!r} sticks out of the figure sideways")
        if e.y0 < figure_box.y0 - 1 or e.y1 > figure_box.y1 + 1:
            problems.append(f"{t.get_text()!r} sticks out of the figure at the top or bottom")
        patch = getattr(t, "diagram_box", None)
        if patch is not None:
            outer = patch.get_window_extent(renderer)
            inside = outer.x0 - 1 <= e.x0 and e.x1 <= outer.x1 + 1
            if not (inside and outer.y0 - 1 <= e.y0 and e.y1 <= outer.y1 + 1):
                problems.append(f"{t.get_text()!r} does not fit in its box")
    boxes = [
        (p, p.get_window_extent(renderer))
        for ax in fig.axes
        for p in ax.patches
        if getattr(p, "is_diagram_box", False)
    ]
    for t, e in extents:
        own = getattr(t, "diagram_box", None)
        for p, b in boxes:
            if p is not own and _overlap(e, b):
                problems.append(f"{t.get_text()!r} lies on a box that is not its own")
                break
    for (t1, e1), (t2, e2) in combinations(extents, 2):
        if _overlap(e1, e2):
            problems.append(f"{t1.get_text()!r} overlaps {t2.get_text()!r}")
    return problems


def _overlap(a, b, tolerance: float = 1.5) -> bool:
    """Whether two display boxes overlap by more than ``tolerance`` pixels both ways."""
    wide = min(a.x1, b.x1) - max(a.x0, b.x0)
    high = min(a.y1, b.y1) - max(a.y0, b.y0)
    return wide > tolerance and high > tolerance


# -- reading sizes from modules -------------------------------------------------------------------


def _module(obj: object, name: str, what: str) -> nn.Module:
    if not isinstance(obj, nn.Module):
        raise TypeError(f"{name} must be {what} (an nn.Module), got {type(obj).__name__}")
    return obj


def _int_attr(obj: object, name: str, what: str, *attrs: str) -> list[int]:
    values = []
    for attr in attrs:
        value = getattr(obj, attr, None)
        if isinstance(value, bool) or not isinstance(value, int):
            raise TypeError(f"{name} must be {what}, got {type(obj).__name__} (no int .{attr})")
        values.append(value)
    return values


def _recurrent(module: object, name: str, blocks: int, what: str) -> dict:
    """Sizes of an RNN/LSTM/GRU layer or cell, checking its number of stacked gate blocks."""
    _module(module, name, what)
    input_size, hidden = _int_attr(module, name, what, "input_size", "hidden_size")
    weight = getattr(module, "weight_ih_l0", None)
    if weight is None:
        weight = getattr(module, "weight_ih", None)  # nn.RNNCell, nn.LSTMCell, nn.GRUCell
    if not isinstance(weight, torch.Tensor) or weight.ndim != 2:
        raise TypeError(f"{name} must be {what}, got {type(module).__name__} (no weight_ih_l0)")
    if weight.shape[0] != blocks * hidden:
        found = weight.shape[0] // hidden if hidden else 0
        raise TypeError(
            f"{name} must be {what} ({blocks} gate blocks of {hidden} rows in weight_ih_l0), "
            f"got {type(module).__name__} with {found}"
        )
    return {
        "input": input_size,
        "hidden": hidden,
        "layers": int(getattr(module, "num_layers", 1)),
        "bidirectional": bool(getattr(module, "bidirectional", False)),
        "w_ih": tuple(weight.shape),
        "w_hh": (blocks * hidden, hidden),
    }


def _attention_sizes(attention: object, name: str) -> tuple[int, int, int]:
    what = "a multi-head attention layer (MultiHeadAttention or nn.MultiheadAttention)"
    _module(attention, name, what)
    d_model, heads = _int_attr(attention, name, what, "embed_dim", "num_heads")
    return d_model, heads, d_model // heads


def _is_block(module: nn.Module) -> bool:
    """A Transformer layer: self-attention plus a position-wise feed-forward network."""
    return all(hasattr(module, a) for a in ("self_attn", "linear1", "linear2"))


def _activation_name(layer: nn.Module) -> str:
    act = getattr(layer, "activation", None)
    name = getattr(act, "__name__", None) or type(act).__name__
    return name.lower() if act is not None else "relu"


def _layer_sizes(layer: nn.Module) -> dict:
    d_model, heads, head_dim = _attention_sizes(layer.self_attn, "layer.self_attn")
    return {
        "d_model": d_model,
        "heads": heads,
        "head_dim": head_dim,
        "d_ff": int(layer.linear1.out_features),
        "norm_first": bool(getattr(layer, "norm_first", False)),
        "activation": _activation_name(layer),
    }


def _blocks(model: nn.Module) -> tuple[list[nn.Module], list[nn.Module]]:
    """The encoder-style and the decoder-style (with cross-attention) layers of ``model``."""
    blocks = [m for m in model.modules() if _is_block(m)]
    encoders = [m for m in blocks if not hasattr(m, "multihead_attn")]
    decoders = [m for m in blocks if hasattr(m, "multihead_attn")]
    return encoders, decoders


def _embedding(module: object) -> nn.Embedding | None:
    if isinstance(module, nn.Embedding):
        return module
    if isinstance(module, nn.Module):
        return next((m for m in module.modules() if isinstance(m, nn.Embedding)), None)
    return None


def _last_linear(module: object) -> nn.Linear | None:
    if isinstance(module, nn.Linear):
        return module
    if isinstance(module, nn.Module):
        linears = [m for m in module.modules() if isinstance(m, nn.Linear)]
        return linears[-1] if linears else None
    return None


def _count(n: int) -> str:
    return f"{n:,}"


def _layers(n: int) -> str:
    return f"{n} layer" if n == 1 else f"{n} layers"


def _columns(count: int, most: int) -> list[int | None]:
    """Indices to draw for ``count`` items with at most ``most`` boxes (``None`` = "…")."""
    if count <= most:
        return list(range(count))
    return [*range(most - 2), None, count - 1]


# -- recurrent networks ---------------------------------------------------------------------------


def rnn_diagram(rnn: nn.Module, steps: int = 4) -> Figure:
    """A vanilla RNN rolled (one cell with a loop) and unrolled over ``steps`` time steps.

    ``rnn`` is an ``nn.RNN`` (or ``nn.RNNCell``) or a
    :class:`~snippets.sequence_models.rnn.ScratchRNN`; its input and hidden
    sizes label the picture.

    Raises:
        TypeError: if ``rnn`` is not a one-gate-block recurrent layer (an LSTM or GRU
            has 4 or 3: draw those with :func:`lstm_diagram` and :func:`gru_diagram`).
        ValueError: if ``steps`` is not positive.
    """
    s = _recurrent(rnn, "rnn", 1, "an RNN layer (nn.RNN or ScratchRNN)")
    if isinstance(steps, bool) or not isinstance(steps, int):
        raise TypeError(f"steps must be an int, got {type(steps).__name__}")
    check_positive(steps, "steps")
    i, h = s["input"], s["hidden"]
    fig, ax = canvas(7.0, 4.1, f"RNN rolled, and unrolled over T = {steps} steps")
    row_x, row_cell, row_h = 1.05, 2.0, 3.05

    # rolled: one cell with a loop
    x_in = box(ax, (0.95, row_x), f"$x_t$ [N, I = {i}]", width=1.6, height=0.42)
    cell = box(ax, (0.95, row_cell), "RNN cell\ntanh", width=1.1, height=0.62, role="attention")
    out = box(ax, (0.95, row_h), f"$h_t$ [N, H = {h}]", width=1.6, height=0.42, role="output")
    arrow(ax, x_in.top, cell.bottom)
    arrow(ax, cell.top, out.bottom)
    arrow(ax, cell.at(1, 0.85), cell.at(1, 0.15), curve=-1.9)
    label(ax, (2.05, row_cell), "$h_{t-1}$", ha="left")
    label(ax, (2.75, row_cell), "=", fontsize=TITLE + 6)

    # unrolled: the same cell at every step
    shown = _columns(steps, 4)
    left, right = 3.55, 6.55
    xs = [left + k * (right - left) / 3 for k in range(len(shown))]
    label(ax, (left - 0.55, row_cell + 0.2), "$h_0$", fontsize=FONT)
    previous = (left - 0.6, row_cell)
    for x, t in zip(xs, shown):
        if t is None:
            label(ax, (x, row_cell), "…", fontsize=TITLE + 2)
            arrow(ax, previous, (x - 0.25, row_cell))
            previous = (x + 0.25, row_cell)
            continue
        c = box(ax, (x, row_cell), "cell", width=0.66, height=0.5, role="attention")
        xi = box(ax, (x, row_x), f"$x_{{{t + 1}}}$", width=0.66, height=0.42)
        ho = box(ax, (x, row_h), f"$h_{{{t + 1}}}$", width=0.66, height=0.42, role="output")
        arrow(ax, xi.top, c.bottom)
        arrow(ax, c.top, ho.bottom)
        arrow(ax, previous, c.left)
        previous = c.right
    label(ax, ((left + right) / 2, 0.52), "the same W_ih, W_hh and biases at every step")
    notes = (
        f"input size I = {i}   ·   hidden size H = {h}   ·   "
        f"W_ih [H, I] = {list(s['w_ih'])}   ·   W_hh [H, H] = {list(s['w_hh'])}"
    )
    label(ax, (3.5, 0.15), notes)
    extra = ""
    if s["layers"] > 1 or s["bidirectional"]:
        more = f"{s['layers']} layers" + (", bidirectional" if s["bidirectional"] else "")
        label(ax, (3.5, 3.6), f"({more}: one layer and direction drawn)")
        extra = f" The layer has {more}; one layer and direction is drawn."
    alt = (
        f"Diagram of a vanilla RNN with input size I = {i} and hidden size H = {h}: on the left "
        f"one cell reads x_t and its own previous state h_(t-1) and outputs h_t = "
        f"tanh(W_ih x_t + W_hh h_(t-1) + b); on the right the same cell unrolled over "
        f"T = {steps} steps, each step passing its state to the next.{extra}"
    )
    return _finish(fig, alt)


def lstm_diagram(lstm: nn.Module) -> Figure:
    """One LSTM cell: the cell-state line, the four gates (i, f, g, o) and the output.

    ``lstm`` is an ``nn.LSTM``/``nn.LSTMCell`` or a
    :class:`~snippets.sequence_models.lstm.ScratchLSTM`.

    Raises:
        TypeError: if ``lstm`` is not an LSTM (4 gate blocks).
    """
    s = _recurrent(lstm, "lstm", 4, "an LSTM (nn.LSTM or ScratchLSTM)")
    i, h = s["input"], s["hidden"]
    fig, ax = canvas(7.0, 4.9, "LSTM cell: four gates and a cell state")
    frame(ax, 1.35, 0.95, 6.05, 3.65)
    top, gate_y, bus = 3.3, 1.85, 1.15

    # the cell state runs along the top
    label(ax, (0.7, top + 0.2), f"$c_{{t-1}}$\n[N, {h}]", va="bottom")
    forget_mul = op(ax, (2.0, top), "×")
    add = op(ax, (3.35, top), "+")
    arrow(ax, (0.25, top), forget_mul.left)
    arrow(ax, forget_mul.right, add.left)
    arrow(ax, add.right, (6.75, top))
    label(ax, (6.45, top + 0.2), f"$c_t$\n[N, {h}]", va="bottom")

    # h_{t-1} and x_t meet on the bus and feed every gate
    label(ax, (0.7, bus - 0.2), f"$h_{{t-1}}$\n[N, {h}]", va="top")
    arrow(ax, (0.25, bus), (4.75, bus), head=False)
    label(ax, (1.75, 0.3), f"$x_t$ [N, I = {i}]", ha="left")
    arrow(ax, (1.6, 0.3), (1.6, bus), head=False)
    ax.add_patch(Circle((1.6, bus), 0.035, color=INK, zorder=3))
    gates = {}
    for key, text, gx, role in (
        ("f", "σ\nforget f", 2.0, "gate"),
        ("i", "σ\ninput i", 2.85, "gate"),
        ("g", "tanh\ncand. g", 3.85, "feedforward"),
        ("o", "σ\noutput o", 4.75, "gate"),
    ):
        gates[key] = box(ax, (gx, gate_y), text, width=0.78, height=0.55, role=role, fontsize=SMALL)
        arrow(ax, (gx, bus), gates[key].bottom)
    arrow(ax, gates["f"].top, forget_mul.bottom)
    ig = op(ax, (3.35, 2.65), "×")
    path_arrow(ax, [gates["i"].top, (2.85, ig.y), ig.left])
    path_arrow(ax, [gates["g"].top, (3.85, ig.y), ig.right])
    arrow(ax, ig.top, add.bottom)

    # output: h_t = o ⊙ tanh(c_t)
    squash = box(ax, (5.5, 2.65), "tanh", width=0.62, height=0.34, role="feedforward")
    arrow(ax, (5.5, top), squash.top)
    ax.add_patch(Circle((5.5, top), 0.035, color=INK, zorder=3))
    out_mul = op(ax, (5.5, gate_y), "×")
    arrow(ax, squash.bottom, out_mul.top)
    arrow(ax, gates["o"].right, out_mul.left)
    path_arrow(ax, [out_mul.bottom, (5.5, 1.4), (6.75, 1.4)])
    label(ax, (6.45, 1.2), f"$h_t$\n[N, {h}]", va="top")

    label(
        ax,
        (3.7, 0.62),
        "$c_t = f \\odot c_{t-1} + i \\odot g$      $h_t = o \\odot \\tanh(c_t)$",
        fontsize=FONT,
    )
    rows = f"W_ih [4H, I] = {list(s['w_ih'])}   ·   W_hh [4H, H] = {list(s['w_hh'])}"
    label(ax, (3.5, 4.25), f"input size I = {i}   ·   hidden size H = {h}   ·   {rows}")
    alt = (
        f"Diagram of one LSTM cell with input size I = {i} and hidden size H = {h}. The "
        f"previous hidden state h_(t-1) and the input x_t feed four gates: forget f, input i "
        f"and output o (sigmoids) and the candidate g (tanh), each of size {h}, stacked in "
        f"W_ih of shape {list(s['w_ih'])}. The cell state runs along the top: c_t = f * "
        f"c_(t-1) + i * g, and the new hidden state is h_t = o * tanh(c_t)."
    )
    return _finish(fig, alt)


def gru_diagram(gru: nn.Module) -> Figure:
    """One GRU cell: reset and update gates, the candidate state and the mix of old and new.

    ``gru`` is an ``nn.GRU``/``nn.GRUCell`` or a
    :class:`~snippets.sequence_models.gru.ScratchGRU`. Drawn with PyTorch's
    convention: a large update gate ``z`` keeps the old state.

    Raises:
        TypeError: if ``gru`` is not a GRU (3 gate blocks).
    """
    s = _recurrent(gru, "gru", 3, "a GRU (nn.GRU or ScratchGRU)")
    i, h = s["input"], s["hidden"]
    fig, ax = canvas(7.0, 4.9, "GRU cell: reset and update gates")
    frame(ax, 1.35, 0.95, 6.05, 3.65)
    top, gate_y, bus = 3.3, 1.85, 1.15

    label(ax, (0.7, top + 0.2), f"$h_{{t-1}}$\n[N, {h}]", va="bottom")
    keep = op(ax, (3.5, top), "×")
    add = op(ax, (5.3, top), "+")
    arrow(ax, (0.25, top), keep.left)
    arrow(ax, keep.right, add.left)
    arrow(ax, add.right, (6.75, top))
    label(ax, (6.45, top + 0.2), f"$h_t$\n[N, {h}]", va="bottom")

    # h_{t-1} goes down into the gates; x_t comes in from below
    arrow(ax, (1.6, top), (1.6, bus), head=False)
    ax.add_patch(Circle((1.6, top), 0.035, color=INK, zorder=3))
    label(ax, (1.75, 0.3), f"$x_t$ [N, I = {i}]", ha="left")
    arrow(ax, (1.6, 0.3), (1.6, bus), head=False)
    ax.add_patch(Circle((1.6, bus), 0.035, color=INK, zorder=3))
    arrow(ax, (1.6, bus), (4.4, bus), head=False)
    r = box(ax, (2.2, gate_y), "σ\nreset r", width=0.78, height=0.55, role="gate", fontsize=SMALL)
    z = box(ax, (3.5, gate_y), "σ\nupdate z", width=0.78, height=0.55, role="gate", fontsize=SMALL)
    n = box(
        ax,
        (4.4, gate_y),
        "tanh\nnew n",
        width=0.78,
        height=0.55,
        role="feedforward",
        fontsize=SMALL,
    )
    for g in (r, z, n):
        arrow(ax, (g.x, bus), g.bottom)
    path_arrow(ax, [r.top, (2.2, 2.4), (4.25, 2.4), (4.25, n.top[1])])
    label(ax, (2.8, 2.56), "$r \\odot W_{hn} h$")
    arrow(ax, z.top, keep.bottom)
    one_minus = op(ax, (4.4, 2.85), "1−", radius=0.15)
    path_arrow(ax, [(3.5, 2.85), one_minus.left])
    ax.add_patch(Circle((3.5, 2.85), 0.035, color=INK, zorder=3))
    mix = op(ax, (5.3, 2.85), "×")
    arrow(ax, one_minus.right, mix.left)
    path_arrow(ax, [n.right, (5.3, gate_y), mix.bottom])
    arrow(ax, mix.top, add.bottom)

    label(ax, (3.7, 0.62), "$h_t = (1 - z) \\odot n + z \\odot h_{t-1}$", fontsize=FONT)
    rows = f"W_ih [3H, I] = {list(s['w_ih'])}   ·   W_hh [3H, H] = {list(s['w_hh'])}"
    label(ax, (3.5, 4.25), f"input size I = {i}   ·   hidden size H = {h}   ·   {rows}")
    alt = (
        f"Diagram of one GRU cell with input size I = {i} and hidden size H = {h}. The "
        f"previous state h_(t-1) and the input x_t feed the reset gate r, the update gate z "
        f"(sigmoids) and the candidate n = tanh(W_in x + r * (W_hn h + b_hn)), each of size "
        f"{h}, stacked in W_ih of shape {list(s['w_ih'])}. The new state mixes old and new: "
        f"h_t = (1 - z) * n + z * h_(t-1)."
    )
    return _finish(fig, alt)


def seq2seq_diagram(model: nn.Module, src_len: int = 4, tgt_len: int = 3) -> Figure:
    """The recurrent encoder–decoder with (or without) Luong attention.

    ``model`` is a :class:`~snippets.sequence_models.seq2seq.Seq2Seq`; its
    vocabularies, embedding and hidden sizes and whether it attends label the
    picture. ``src_len`` and ``tgt_len`` are the numbers of steps drawn.

    Raises:
        TypeError: if ``model`` is not such an encoder–decoder.
        ValueError: if ``src_len`` or ``tgt_len`` is not positive.
    """
    what = "a recurrent encoder-decoder (Seq2Seq)"
    _module(model, "model", what)
    parts = {a: getattr(model, a, None) for a in ("src_embed", "tgt_embed", "encoder", "decoder")}
    if any(not isinstance(p, nn.Module) for p in parts.values()) or not all(
        hasattr(parts[a], "hidden_size") for a in ("encoder", "decoder")
    ):
        raise TypeError(f"model must be {what}, got {type(model).__name__}")
    for value, name in ((src_len, "src_len"), (tgt_len, "tgt_len")):
        check_positive(value, name)
    src_vocab = _embedding(parts["src_embed"]).num_embeddings
    tgt_vocab = _embedding(parts["tgt_embed"]).num_embeddings
    embed = _embedding(parts["src_embed"]).embedding_dim
    encoder, decoder = parts["encoder"], parts["decoder"]
    hidden = int(encoder.hidden_size)
    directions = 2 if getattr(encoder, "bidirectional", False) else 1
    dec_hidden = int(decoder.hidden_size)
    attends = getattr(model, "attend", None) is not None
    out = _last_linear(getattr(model, "out", None))
    vocab_out = out.out_features if out is not None else tgt_vocab

    title = "Encoder–decoder with attention" if attends else "Encoder–decoder without attention"
    fig, ax = canvas(7.0, 4.7, title)
    enc_cols = _columns(src_len, 4)
    dec_cols = _columns(tgt_len, 3)
    enc_xs = [0.5 + 0.78 * k for k in range(len(enc_cols))]
    dec_xs = [4.35 + 0.95 * k for k in range(len(dec_cols))]
    row_tok, row_emb, row_rnn = 0.4, 0.88, 1.4
    enc_label = "bidirectional GRU" if directions == 2 else "GRU"
    state_text = "→ ←" if directions == 2 else "→"

    enc_boxes: list[Box] = []
    for x, t in zip(enc_xs, enc_cols):
        if t is None:
            label(ax, (x, row_rnn), "…", fontsize=TITLE, background=True)
            continue
        tok = box(ax, (x, row_tok), f"$x_{{{t + 1}}}$", width=0.56, height=0.36)
        state = box(ax, (x, row_rnn), state_text, width=0.56, height=0.42, role="attention")
        arrow(ax, tok.top, state.bottom)
        enc_boxes.append(state)
    for a, b in zip(enc_boxes, enc_boxes[1:]):  # across "…" too: its label hides the middle
        arrow(ax, a.right, b.left, both=directions == 2)
    mid = (enc_xs[0] + enc_xs[-1]) / 2
    label(ax, (mid, row_emb), f"embed {src_vocab} → {embed}", background=True)
    label(ax, (mid, row_rnn + 0.45), f"encoder: {enc_label}, H = {hidden}")
    label(ax, (mid, row_rnn + 0.75), f"memory $m_j$ [N, S, {directions * hidden}]")

    dec_boxes: list[Box] = []
    for x, t in zip(dec_xs, dec_cols):
        if t is None:
            label(ax, (x, row_rnn), "…", fontsize=TITLE, background=True)
            continue
        name = "<bos>" if t == 0 else f"$y_{{{t}}}$"
        tok = box(ax, (x, row_tok), name, width=0.68, height=0.36)
        state = box(ax, (x, row_rnn), f"$s_{{{t + 1}}}$", width=0.56, height=0.42, role="attention")
        arrow(ax, tok.top, state.bottom)
        dec_boxes.append(state)
    for a, b in zip(dec_boxes, dec_boxes[1:]):
        arrow(ax, a.right, b.left)
    label(
        ax, ((dec_xs[0] + dec_xs[-1]) / 2, row_emb), f"embed {tgt_vocab} → {embed}", background=True
    )
    arrow(ax, enc_boxes[-1].right, dec_boxes[0].left)
    label(
        ax,
        ((enc_boxes[-1].right[0] + dec_boxes[0].left[0]) / 2, row_rnn - 0.36),
        "bridge\n(first state)",
    )
    caption = f"decoder GRU\nhidden {dec_hidden}"
    if len(dec_boxes) > 1:
        label(ax, ((dec_boxes[0].x + dec_boxes[1].x) / 2, row_rnn + 0.55), caption)
    else:
        label(ax, (dec_boxes[0].x + 0.75, row_rnn + 0.55), caption)

    y = row_rnn + 1.25
    if attends:
        att = box(
            ax,
            (5.3, y),
            "attention: softmax($s_t W m_j$) → context $c_t$",
            width=3.2,
            height=0.44,
            role="attention",
        )
        for state in dec_boxes:
            arrow(ax, state.top, (state.x, att.bottom[1]))
        path_arrow(ax, [(mid, row_rnn + 0.92), (mid, y), att.left])
        comb = box(
            ax,
            (5.3, y + 0.75),
            f"combine: tanh(Linear [$s_t$; $c_t$] {2 * dec_hidden} → {dec_hidden})",
            width=3.2,
            height=0.44,
            role="feedforward",
        )
        arrow(ax, att.top, comb.bottom)
    else:
        comb = box(
            ax,
            (5.3, y + 0.35),
            f"tanh(Linear {dec_hidden} → {dec_hidden})",
            width=3.2,
            height=0.44,
            role="feedforward",
        )
        for state in dec_boxes:
            arrow(ax, state.top, (state.x, comb.bottom[1]))
        label(ax, (mid, y + 0.35), "the decoder sees the source\nonly through its first state")
    logits = box(
        ax,
        (5.3, comb.y + 0.75),
        f"Linear {dec_hidden} → V = {vocab_out}: logits [N, T, {vocab_out}]",
        width=3.2,
        height=0.44,
        role="output",
    )
    arrow(ax, comb.top, logits.bottom)
    fit_height(fig, ax, logits.top[1])
    with_attention = (
        "At every output step the decoder state scores every encoder state (Luong attention), "
        "the softmax of the scores weights an average of them (the context), and state and "
        "context together predict the next token."
        if attends
        else "Without attention the decoder sees the source only through its first state."
    )
    alt = (
        f"Diagram of a recurrent encoder-decoder. The encoder embeds {src_vocab} source "
        f"tokens in {embed} dimensions and reads them with a {enc_label} of hidden size "
        f"{hidden}, giving encoder states of size {directions * hidden}; a bridge layer turns "
        f"its final state into the first state of the decoder GRU (size {dec_hidden}), which "
        f"reads the target shifted right. {with_attention} A linear layer maps to "
        f"{vocab_out} target tokens."
    )
    return _finish(fig, alt)


# -- attention and Transformer blocks -------------------------------------------------------------


def attention_diagram(attention: nn.Module) -> Figure:
    """Multi-head attention: project, split into heads, attend per head, concatenate, project.

    ``attention`` is a :class:`~snippets.transformers.attention.MultiHeadAttention`
    or an ``nn.MultiheadAttention``; ``d_model``, the number of heads and the
    head dimension label the picture.

    Raises:
        TypeError: if ``attention`` has no ``embed_dim`` and ``num_heads``.
    """
    d, heads, d_k = _attention_sizes(attention, "attention")
    fig, ax = canvas(7.0, 6.0, f"Multi-head attention: d_model = {d}, {heads} heads")
    inp = box(
        ax, (3.5, 0.4), f"query, key, value inputs [N, T, d_model = {d}]", width=4.4, height=0.42
    )
    projections = []
    for x, name in ((1.9, "$W_Q$"), (3.5, "$W_K$"), (5.1, "$W_V$")):
        p = box(ax, (x, 1.15), f"{name}  {d} × {d}", width=1.35, height=0.42, role="attention")
        arrow(ax, (x, inp.top[1]), p.bottom)
        projections.append(p)
    split = box(
        ax,
        (3.5, 1.95),
        f"split into {heads} heads: [N, T, {d}] → [N, {heads}, T, d_k = {d} / {heads} = {d_k}]",
        width=6.4,
        height=0.42,
    )
    for p in projections:
        arrow(ax, p.top, (p.x, split.bottom[1]))
    shown = _columns(heads, 4)
    span = min(4.8, 1.6 * (len(shown) - 1))
    xs = [3.5 - span / 2 + k * span / max(len(shown) - 1, 1) for k in range(len(shown))]
    head_y = 2.95
    head_boxes = []
    for x, hidx in zip(xs, shown):
        if hidx is None:
            label(ax, (x, head_y), "…", fontsize=TITLE)
            continue
        hb = box(
            ax,
            (x, head_y),
            f"head {hidx + 1}\nsoftmax($QK^T/\\sqrt{{{d_k}}}$)$V$",
            width=1.5,
            height=0.66,
            role="attention",
            fontsize=SMALL,
        )
        arrow(ax, (x, split.top[1]), hb.bottom)
        head_boxes.append(hb)
    concat = box(
        ax,
        (3.5, 3.95),
        f"concatenate the heads: [N, {heads}, T, {d_k}] → [N, T, {heads} × {d_k} = {d}]",
        width=6.4,
        height=0.42,
    )
    for hb in head_boxes:
        arrow(ax, hb.top, (hb.x, concat.bottom[1]))
    proj = box(
        ax, (3.5, 4.75), f"$W_O$ (out_proj)  {d} × {d}", width=2.6, height=0.42, role="output"
    )
    arrow(ax, concat.top, proj.bottom)
    out = box(ax, (3.5, 5.5), f"output [N, T, {d}]", width=2.2, height=0.4)
    arrow(ax, proj.top, out.bottom)
    fit_height(fig, ax, out.top[1])
    alt = (
        f"Diagram of multi-head attention with d_model = {d} and {heads} heads of dimension "
        f"d_k = {d_k}. The query, key and value inputs [N, T, {d}] go through the projections "
        f"W_Q, W_K and W_V ({d} x {d} each); the results are split into {heads} heads of "
        f"{d_k} features; each head computes softmax(Q K^T / sqrt({d_k})) V; the {heads} head "
        f"outputs are concatenated back to {d} features and projected by W_O ({d} x {d})."
    )
    return _finish(fig, alt)


def _norm_name(norm_first: bool) -> str:
    return "pre-norm (norm_first=True)" if norm_first else "post-norm (norm_first=False)"


def _check_layer(layer: object, name: str, decoder: bool) -> dict:
    kind = "decoder" if decoder else "encoder"
    cls = "DecoderLayer" if decoder else "EncoderLayer"
    what = f"a Transformer {kind} layer ({cls} or nn.Transformer{cls})"
    _module(layer, name, what)
    if not _is_block(layer) or hasattr(layer, "multihead_attn") != decoder:
        raise TypeError(f"{name} must be {what}, got {type(layer).__name__}")
    return _layer_sizes(layer)


def _check_norm_first(norm_first: object, layer_value: bool) -> bool:
    if norm_first is None:
        return layer_value
    if not isinstance(norm_first, bool):
        raise TypeError(f"norm_first must be True, False or None, got {norm_first!r}")
    return norm_first


def encoder_layer_diagram(layer: nn.Module, norm_first: bool | None = None) -> Figure:
    """One Transformer encoder layer: self-attention and feed-forward, each with a residual.

    ``layer`` is an :class:`~snippets.transformers.transformer.EncoderLayer` or an
    ``nn.TransformerEncoderLayer``; ``d_model``, heads, ``dim_feedforward`` and
    the activation label the picture. ``norm_first`` picks the arrangement
    drawn: ``None`` (default) the layer's own, ``False`` post-norm (the
    original paper), ``True`` pre-norm (GPT-2, ViT); the title says which.

    Raises:
        TypeError: if ``layer`` is not an encoder layer or ``norm_first`` not a bool.
    """
    s = _check_layer(layer, "layer", decoder=False)
    pre = _check_norm_first(norm_first, s["norm_first"])
    d, ff = s["d_model"], s["d_ff"]
    fig, ax = canvas(6.6, 8.0, f"Encoder layer, {_norm_name(pre)}")
    sub = [
        (
            f"multi-head self-attention\n{s['heads']} heads × d_k = {s['head_dim']}",
            "attention",
            0.6,
        ),
        (
            f"feed-forward: Linear {d} → {ff},\n{s['activation']}, Linear {ff} → {d}",
            "feedforward",
            0.6,
        ),
    ]
    notes = ["Q = K = V = x", f"d_ff = {ff}\nper position"]
    top = _layer_column(ax, s, pre, "x", sub, notes)
    fit_height(fig, ax, top)
    arrangement = (
        "x + SelfAttention(LayerNorm(x)), then x + FeedForward(LayerNorm(x))"
        if pre
        else "LayerNorm(x + SelfAttention(x)), then LayerNorm(x + FeedForward(x))"
    )
    alt = (
        f"Diagram of a {_norm_name(pre).split(' (')[0]} Transformer encoder layer with d_model "
        f"= {d}: multi-head self-attention with {s['heads']} heads of d_k = {s['head_dim']}, "
        f"then a feed-forward network Linear {d} -> {ff}, {s['activation']}, Linear {ff} -> "
        f"{d}; each sub-layer has a residual connection: {arrangement}."
    )
    return _finish(fig, alt)


def _layer_column(
    ax: Axes,
    s: dict,
    pre: bool,
    name: str,
    sub: Sequence[tuple[str, str, float]],
    notes: Sequence[str],
) -> float:
    """Input, residual sub-layers with notes on the right, output; returns the top (inches)."""
    x, width = 2.9, 3.3
    inp = box(ax, (x, 0.35), f"{name} [N, T, d_model = {s['d_model']}]", width=2.6, height=0.4)
    top, boxes = _residual_column(ax, x, inp.top, sub, pre, width=width, skip_x=0.75)
    out = box(ax, (x, top[1] + 0.24 + 0.2), f"output [N, T, {s['d_model']}]", width=2.6, height=0.4)
    arrow(ax, top, out.bottom)
    for b, note in zip(boxes, notes):
        if note:
            label(ax, (4.75, b.y), note, ha="left")
    top = out.top[1]
    if s["norm_first"] != pre:
        top += 0.35
        label(ax, (3.3, top - 0.1), f"(this layer itself is {_norm_name(s['norm_first'])})")
    ax.diagram_boxes = boxes
    return top


def decoder_layer_diagram(layer: nn.Module, norm_first: bool | None = None) -> Figure:
    """One Transformer decoder layer: masked self-attention, cross-attention, feed-forward.

    ``layer`` is a :class:`~snippets.transformers.transformer.DecoderLayer` or an
    ``nn.TransformerDecoderLayer``; ``norm_first`` as in :func:`encoder_layer_diagram`.

    Raises:
        TypeError: if ``layer`` is not a decoder layer or ``norm_first`` not a bool.
    """
    s = _check_layer(layer, "layer", decoder=True)
    pre = _check_norm_first(norm_first, s["norm_first"])
    d, ff, heads, d_k = s["d_model"], s["d_ff"], s["heads"], s["head_dim"]
    fig, ax = canvas(6.6, 10.0, f"Decoder layer, {_norm_name(pre)}")
    sub = [
        (
            f"masked multi-head self-attention\n{heads} heads × d_k = {d_k}, causal",
            "attention",
            0.6,
        ),
        (f"cross-attention to the encoder\n{heads} heads × d_k = {d_k}", "attention", 0.6),
        (
            f"feed-forward: Linear {d} → {ff},\n{s['activation']}, Linear {ff} → {d}",
            "feedforward",
            0.6,
        ),
    ]
    notes = ["position t sees\n0 … t only", "", f"d_ff = {ff}\nper position"]
    top = _layer_column(ax, s, pre, "y", sub, notes)
    cross = ax.diagram_boxes[1]
    memory = box(ax, (5.6, cross.y - 0.8), f"memory\n[N, S, {d}]", width=1.3, height=0.55)
    path_arrow(ax, [memory.top, (memory.x, cross.y), cross.right])
    label(ax, (4.8, cross.y + 0.2), "K, V", ha="left")
    fit_height(fig, ax, top)
    alt = (
        f"Diagram of a {_norm_name(pre).split(' (')[0]} Transformer decoder layer with d_model "
        f"= {d}: masked (causal) multi-head self-attention with {heads} heads of d_k = {d_k}, "
        f"then cross-attention whose queries come from the decoder and whose keys and values "
        f"come from the encoder output (memory [N, S, {d}]), then a feed-forward network "
        f"Linear {d} -> {ff}, {s['activation']}, Linear {ff} -> {d}; each of the three "
        f"sub-layers has a residual connection and a LayerNorm."
    )
    return _finish(fig, alt)


# -- whole models ---------------------------------------------------------------------------------


def _stack_column(
    ax: Axes,
    x: float,
    y: float,
    rows: Sequence[tuple[str, str]],
    repeat: int,
    *,
    width: float = 2.5,
    height: float = 0.5,
    gap: float = 0.16,
    frame_label: str = "",
) -> list[Box]:
    """``rows`` inside a dashed frame labelled ``repeat ×`` (one repeated layer)."""
    boxes = stack(ax, x, y, rows, width=width, height=height, gap=gap)
    top = boxes[-1].top[1] + 0.42
    left = x - width / 2 - 0.15
    frame(ax, left, y - height / 2 - 0.16, x + width / 2 + 0.15, top)
    text = f"{repeat} ×" + (f" {frame_label}" if frame_label else "")
    label(ax, (left + 0.1, top - 0.2), text, ha="left", bold=True, fontsize=FONT)
    return boxes


def transformer_diagram(model: nn.Module) -> Figure:
    """The encoder–decoder Transformer: embeddings, positions, N× stacks, output layer.

    ``model`` is a :class:`~snippets.transformers.transformer.Seq2SeqTransformer`
    (drawn with its embeddings and output layer) or a bare
    :class:`~snippets.transformers.transformer.Transformer` /
    ``nn.Transformer`` (inputs already embedded).

    Raises:
        TypeError: if ``model`` has no encoder and decoder layers.
    """
    what = "an encoder-decoder Transformer (Seq2SeqTransformer or Transformer)"
    _module(model, "model", what)
    encoders, decoders = _blocks(model)
    if not encoders or not decoders:
        raise TypeError(f"model must be {what}, got {type(model).__name__}")
    s = _layer_sizes(encoders[0])
    d, heads, ff = s["d_model"], s["heads"], s["d_ff"]
    n_enc, n_dec = len(encoders), len(decoders)
    src_embed, tgt_embed = (_embedding(getattr(model, a, None)) for a in ("src_embed", "tgt_embed"))
    generator = _last_linear(getattr(model, "generator", None))
    positions = getattr(model, "positions", None)
    full = src_embed is not None and tgt_embed is not None and generator is not None
    pre = s["norm_first"]

    def sub(text: str, detail: str) -> str:  # where the LayerNorm sits in each sub-layer
        return (
            f"LayerNorm → {text}\n{detail} + residual"
            if pre
            else f"{text}, {detail}\n+ residual, LayerNorm"
        )

    fig, ax = canvas(
        7.0, 9.0, f"Transformer: {n_enc} encoder + {n_dec} decoder layers, d_model = {d}"
    )
    ex, dx = 2.05, 5.3
    enc_rows = [
        (sub("self-attention", f"{heads} heads"), "attention"),
        (sub("feed-forward", f"{d} → {ff} → {d}"), "feedforward"),
    ]
    dec_rows = [
        (sub("masked self-attention", f"{heads} heads"), "attention"),
        (sub("cross-attention", "K, V = memory"), "attention"),
        (sub("feed-forward", f"{d} → {ff} → {d}"), "feedforward"),
    ]
    y0 = 0.4
    if full:
        pos_name = type(positions).__name__ if positions is not None else "positions"
        pos_text = "sinusoidal" if "sinus" in pos_name.lower() else "learned"
        src = box(ax, (ex, y0), "source ids [N, S]", width=2.3, height=0.38)
        tgt = box(ax, (dx, y0), "target ids, shifted right [N, T]", width=2.9, height=0.38)
        se = box(
            ax,
            (ex, y0 + 0.7),
            f"embedding {src_embed.num_embeddings} → {d}",
            width=2.5,
            height=0.42,
            role="embedding",
        )
        te = box(
            ax,
            (dx, y0 + 0.7),
            f"embedding {tgt_embed.num_embeddings} → {d}",
            width=2.5,
            height=0.42,
            role="embedding",
        )
        arrow(ax, src.top, se.bottom)
        arrow(ax, tgt.top, te.bottom)
        sp, tp = op(ax, (ex, y0 + 1.35)), op(ax, (dx, y0 + 1.35))
        arrow(ax, se.top, sp.bottom)
        arrow(ax, te.top, tp.bottom)
        for plus, px in ((sp, 0.7), (tp, 6.3)):
            pb = box(
                ax,
                (px, plus.y),
                f"{pos_text}\npositions",
                width=1.05,
                height=0.46,
                role="position",
                fontsize=SMALL,
            )
            arrow(
                ax, pb.right if px < plus.x else pb.left, plus.left if px < plus.x else plus.right
            )
        enc_in, dec_in = sp.top, tp.top
        y = y0 + 1.35 + 0.13 + 0.6
    else:
        src = box(ax, (ex, y0), f"source [N, S, {d}]", width=2.3, height=0.38)
        tgt = box(ax, (dx, y0), f"target [N, T, {d}]", width=2.3, height=0.38)
        enc_in, dec_in = src.top, tgt.top
        y = y0 + 0.75
    enc_boxes = _stack_column(ax, ex, y, enc_rows, n_enc, width=2.5, frame_label="encoder layer")
    dec_boxes = _stack_column(ax, dx, y, dec_rows, n_dec, width=2.8, frame_label="decoder layer")
    arrow(ax, enc_in, enc_boxes[0].bottom)
    arrow(ax, dec_in, dec_boxes[0].bottom)
    enc_norm = box(
        ax, (ex, enc_boxes[-1].y + 0.95), "final LayerNorm", width=2.0, height=0.36, role="norm"
    )
    arrow(ax, enc_boxes[-1].top, enc_norm.bottom)
    bend = enc_norm.y + 0.55
    path_arrow(
        ax, [enc_norm.top, (ex, bend), (3.6, bend), (3.6, dec_boxes[1].y), dec_boxes[1].left]
    )
    label(ax, (2.85, bend), f"memory [N, S, {d}]", background=True)
    dec_norm = box(
        ax, (dx, dec_boxes[-1].y + 0.95), "final LayerNorm", width=2.0, height=0.36, role="norm"
    )
    arrow(ax, dec_boxes[-1].top, dec_norm.bottom)
    if full:
        vocab = generator.out_features
        head = box(
            ax,
            (dx, dec_norm.y + 0.62),
            f"Linear {d} → vocab {vocab}",
            width=2.5,
            height=0.4,
            role="output",
        )
        arrow(ax, dec_norm.top, head.bottom)
        label(ax, (dx, head.y + 0.45), f"logits [N, T, {vocab}] → softmax")
        fit_height(fig, ax, head.y + 0.55)
        ending = f"A final linear layer maps to {vocab} target tokens (logits [N, T, {vocab}])."
        start = (
            f"Source ids go through a {src_embed.num_embeddings}-token embedding and target "
            f"ids (shifted right) through a {tgt_embed.num_embeddings}-token embedding, both "
            f"of size {d}, plus {pos_text} positions. "
        )
    else:
        label(ax, (dx, dec_norm.y + 0.42), f"output [N, T, {d}]")
        fit_height(fig, ax, max(dec_norm.y + 0.52, bend + 0.1))
        ending = f"The decoder output is [N, T, {d}]."
        start = f"The inputs are already embedded ([N, S, {d}] and [N, T, {d}]). "
    alt = (
        f"Diagram of an encoder-decoder Transformer with d_model = {d}. {start}The encoder "
        f"stacks {n_enc} layers of self-attention ({heads} heads) and feed-forward ({d} -> "
        f"{ff} -> {d}); the decoder stacks {n_dec} layers of masked self-attention, "
        f"cross-attention to the encoder output (the memory) and feed-forward, each stack "
        f"ending in a LayerNorm. {ending}"
    )
    return _finish(fig, alt)


def _causal_grid(ax: Axes, left: float, bottom: float, size: float, n: int, causal: bool) -> None:
    cell = size / n
    for r in range(n):
        for c in range(n):
            allowed = c <= r or not causal
            ax.add_patch(
                Rectangle(
                    (left + c * cell, bottom + (n - 1 - r) * cell),
                    cell,
                    cell,
                    facecolor=tint(ROLES["attention"], 0.8) if allowed else "#eeeeee",
                    edgecolor=BACKGROUND,
                    linewidth=1,
                    zorder=2,
                )
            )


def gpt_diagram(model: nn.Module) -> Figure:
    """A decoder-only language model: embeddings, N× pre-norm causal blocks, LayerNorm, head.

    ``model`` is a :class:`~snippets.transformers.gpt.GPT` (or any
    :class:`~snippets.transformers.gpt.TransformerLM`: a model with
    ``causal = False`` is drawn with full attention). Vocabulary, context,
    ``d_model``, heads, layers and the MLP width label the picture; the weight
    tying of head and token embedding is drawn when the two share a tensor.

    Raises:
        TypeError: if ``model`` has no token embedding, Transformer layers and head,
            or has cross-attention (an encoder–decoder).
    """
    what = "a decoder-only language model (GPT)"
    _module(model, "model", what)
    encoders, decoders = _blocks(model)
    token = _embedding(getattr(model, "token", None)) or _embedding(model)
    head = _last_linear(getattr(model, "head", None))
    if not encoders or decoders or token is None or head is None:
        raise TypeError(f"model must be {what}, got {type(model).__name__}")
    s = _layer_sizes(encoders[0])
    d, heads, ff, n = s["d_model"], s["heads"], s["d_ff"], len(encoders)
    vocab = head.out_features
    context = getattr(model, "context", None)
    if not isinstance(context, int):
        position = _embedding(getattr(model, "position", None))
        context = position.num_embeddings if position is not None else None
    causal = bool(getattr(model, "causal", True))
    tied = head.weight is token.weight
    ctx = f"context = {context}" if context else "any length"

    kind = "GPT (decoder-only)" if causal else "Masked language model (bidirectional)"
    fig, ax = canvas(7.0, 8.0, f"{kind}: {_layers(n)}, d_model = {d}")
    x, width = 2.75, 3.3
    ids = box(
        ax,
        (x, 0.35),
        f"token ids [N, T ≤ {context}]" if context else "token ids [N, T]",
        width=2.6,
        height=0.4,
    )
    tok = box(
        ax,
        (x - 0.85, 1.1),
        f"token embedding\n{token.num_embeddings} × {d}",
        width=1.6,
        height=0.55,
        role="embedding",
        fontsize=SMALL,
    )
    pos = box(
        ax,
        (x + 0.85, 1.1),
        f"positions\n{context} × {d}" if context else "positions",
        width=1.6,
        height=0.55,
        role="position",
        fontsize=SMALL,
    )
    split = ids.top[1] + 0.12
    path_arrow(ax, [ids.top, (x, split), (tok.x, split), tok.bottom])
    path_arrow(ax, [(x, split), (pos.x, split), pos.bottom])
    add = op(ax, (x, 1.8))
    path_arrow(ax, [tok.top, (tok.x, add.y), add.left])
    path_arrow(ax, [pos.top, (pos.x, add.y), add.right])
    attention_kind = "causal self-attention" if causal else "self-attention"
    sub = [
        (f"LayerNorm → {attention_kind}\n{heads} heads × d_k = {s['head_dim']}", "attention", 0.6),
        (f"LayerNorm → MLP {d} → {ff} → {d}\n{s['activation']}", "feedforward", 0.6),
    ]
    frame_bottom = add.top[1] + 0.1
    top, boxes = _prenorm_column(ax, x, add.top, sub, width=width, skip_x=0.85)
    frame_top = top[1] + 0.3
    frame(
        ax,
        0.62,
        frame_bottom,
        4.55,
        frame_top,
        f"{n} × pre-norm layer",
        text_xy=(0.72, frame_top - 0.2),
    )
    norm = box(ax, (x, frame_top + 0.4), "final LayerNorm", width=2.2, height=0.36, role="norm")
    arrow(ax, top, norm.bottom)
    out = box(
        ax,
        (x, norm.y + 0.7),
        f"Linear head {d} → vocab {vocab}",
        width=2.6,
        height=0.42,
        role="output",
    )
    arrow(ax, norm.top, out.bottom)
    predicts = "the next token" if causal else "the original token"
    label(ax, (x, out.y + 0.45), f"logits [N, T, {vocab}]: {predicts} at every position")
    if tied:
        path_arrow(ax, [out.left, (0.3, out.y), (0.3, tok.y), tok.left], dashed=True)
        label(ax, (0.3, (out.y + frame_top) / 2), "tied weights", rotation=90, background=True)
    # the attention mask
    grid_n = 6
    grid_bottom = boxes[0].y - 0.3
    _causal_grid(ax, 5.15, grid_bottom, 1.5, grid_n, causal)
    label(ax, (5.9, grid_bottom + 1.65), "keys →")
    label(
        ax,
        (5.9, grid_bottom - 0.12),
        "causal mask: query t\nsees keys 0 … t"
        if causal
        else "no mask: every query\nsees every key",
        va="top",
    )
    label(ax, (5.9, 1.1), f"{ctx}\nvocab = {vocab}")
    fit_height(fig, ax, out.y + 0.55)
    alt = (
        f"Diagram of a {'decoder-only GPT' if causal else 'bidirectional masked'} language "
        f"model: token ids go through a {token.num_embeddings} x {d} token embedding plus "
        f"{'learned positions (' + ctx + ')' if context else 'positions'}, then {n} pre-norm "
        f"Transformer layers, each LayerNorm -> {attention_kind} ({heads} heads of "
        f"d_k = {s['head_dim']}) with a residual and LayerNorm -> MLP {d} -> {ff} -> {d} with a "
        f"residual, then a final LayerNorm and a linear head to {vocab} tokens"
        f"{' whose weight is tied to the token embedding' if tied else ''}. A small grid shows "
        f"the {'causal' if causal else 'absent'} attention mask."
    )
    return _finish(fig, alt)


def _prenorm_column(
    ax: Axes,
    x: float,
    start: Point,
    sub: Sequence[tuple[str, str, float]],
    *,
    width: float,
    skip_x: float,
) -> tuple[Point, list[Box]]:
    """Pre-norm sub-layers whose box text names the LayerNorm, each with a residual ``⊕``."""
    cursor = start
    boxes = []
    gap = 0.2
    for text, role, height in sub:
        branch = (x, cursor[1] + 0.06)
        b = box(
            ax, (x, cursor[1] + gap + 0.1 + height / 2), text, width=width, height=height, role=role
        )
        arrow(ax, cursor, b.bottom)
        plus = op(ax, (x, b.top[1] + gap + 0.13))
        arrow(ax, b.top, plus.bottom)
        path_arrow(ax, [branch, (skip_x, branch[1]), (skip_x, plus.y), plus.left])
        ax.add_patch(Circle(branch, 0.035, color=INK, zorder=3))
        boxes.append(b)
        cursor = plus.top
    return (x, cursor[1] + 0.12), boxes


# -- vision transformers --------------------------------------------------------------------------


def _vit_sizes(model: object) -> dict:
    what = "a Vision Transformer (ViT)"
    _module(model, "model", what)
    embed = getattr(model, "patch_embed", None)
    cls = getattr(model, "cls_token", None)
    pos = getattr(model, "pos_embed", None)
    encoders, decoders = _blocks(model)
    head = _last_linear(getattr(model, "head", None))
    if not (isinstance(embed, nn.Module) and isinstance(cls, torch.Tensor)) or pos is None:
        raise TypeError(f"model must be {what}, got {type(model).__name__}")
    if not encoders or decoders or head is None:
        raise TypeError(f"model must be {what}, got {type(model).__name__}")
    conv = next((m for m in embed.modules() if isinstance(m, nn.Conv2d)), None)
    patch = getattr(embed, "patch_size", None)
    if conv is not None:
        patch = patch or conv.kernel_size[0]
        channels = conv.in_channels
    else:
        linear = _last_linear(embed)
        channels = linear.in_features // (patch * patch)
    dim = cls.shape[-1]
    pos_table = pos if isinstance(pos, torch.Tensor) else _embedding(pos).weight
    patches = pos_table.shape[-2] - 1
    grid = math.isqrt(patches)
    s = _layer_sizes(encoders[0])
    return {
        "patch": int(patch),
        "channels": int(channels),
        "dim": int(dim),
        "patches": int(patches),
        "grid": grid,
        "image": grid * int(patch),
        "depth": len(encoders),
        "heads": s["heads"],
        "mlp": s["d_ff"],
        "activation": s["activation"],
        "norm": "pre-norm" if s["norm_first"] else "post-norm",
        "classes": head.out_features,
    }


def vit_diagram(model: nn.Module, image: torch.Tensor | None = None) -> Figure:
    """The Vision Transformer: patches, linear projection, class token, positions, encoder, head.

    ``model`` is a :class:`~snippets.vision_transformers.vit.ViT`. Image size,
    patch size, number of patches, ``dim``, depth, heads and classes label the
    picture. ``image`` (``[C, H, W]`` or ``[H, W]``, values in ``[0, 1]``, of
    the model's size) is drawn cut into its patches; without it the patches
    are numbered squares.

    Raises:
        TypeError: if ``model`` is not a ViT or ``image`` not a tensor.
        ValueError: if ``image`` does not have the model's image size.
    """
    s = _vit_sizes(model)
    p, grid, n, dim = s["patch"], s["grid"], s["patches"], s["dim"]
    picture = None
    if image is not None:
        if not isinstance(image, torch.Tensor):
            raise TypeError(f"image must be a torch.Tensor, got {type(image).__name__}")
        picture = image.detach().cpu().float()
        picture = picture[None] if picture.ndim == 2 else picture
        if picture.ndim != 3 or tuple(picture.shape[-2:]) != (s["image"], s["image"]):
            raise ValueError(
                f"image must be [C, {s['image']}, {s['image']}] (the model's image size), "
                f"got shape {tuple(image.shape)}"
            )
        if picture.shape[0] not in (1, 3):  # only grey or RGB can be shown: average the channels
            picture = picture.mean(0, keepdim=True)
        picture = picture.permute(1, 2, 0).clamp(0, 1).numpy()
        if picture.shape[-1] == 1:
            picture = picture[..., 0]
    cmap = "gray_r" if picture is not None and picture.ndim == 2 else None
    fig, ax = canvas(7.0, 5.2, f"Vision Transformer: {n} patches of {p} × {p}, dim = {dim}")

    # the image and its patch grid
    left, bottom, side = 0.3, 0.62, 1.4
    cell = side / grid
    if picture is not None:
        extent = (left, left + side, bottom, bottom + side)
        ax.imshow(picture, extent=extent, cmap=cmap, zorder=1, interpolation="nearest")
    else:
        ax.add_patch(
            Rectangle((left, bottom), side, side, facecolor=tint(ROLES["data"], 0.15), zorder=1)
        )
        if cell >= 0.3:
            for k in range(n):
                r, c = divmod(k, grid)
                center = (left + (c + 0.5) * cell, bottom + side - (r + 0.5) * cell)
                label(ax, center, str(k + 1), color="#555555")
    for k in range(grid + 1):
        ax.plot([left, left + side], [bottom + k * cell] * 2, color=INK, lw=0.8, zorder=2)
        ax.plot([left + k * cell] * 2, [bottom, bottom + side], color=INK, lw=0.8, zorder=2)
    label(
        ax,
        (left + side / 2, bottom - 0.32),
        f"image {s['image']} × {s['image']}, C = {s['channels']}\n"
        f"{grid} × {grid} patches of {p} × {p}",
    )

    # patches, projection, tokens
    shown = _columns(n, 7)
    xs = [2.55 + 0.58 * k for k in range(len(shown) + 1)]  # slot 0: the class token
    row_patch, row_proj, row_tok, row_enc = 0.6, 1.4, 2.25, 3.2
    for x, k in zip(xs[1:], shown):
        if k is None:
            label(ax, (x, row_patch), "…", fontsize=TITLE)
            label(ax, (x, row_tok), "…", fontsize=TITLE)
            continue
        if picture is not None:
            r, c = divmod(k, grid)
            crop = picture[r * p : (r + 1) * p, c * p : (c + 1) * p]
            extent = (x - 0.2, x + 0.2, row_patch - 0.2, row_patch + 0.2)
            ax.imshow(crop, extent=extent, cmap=cmap, zorder=2, interpolation="nearest")
            ax.add_patch(
                Rectangle(
                    (x - 0.2, row_patch - 0.2), 0.4, 0.4, fill=False, ec=INK, lw=0.8, zorder=3
                )
            )
        else:
            box(ax, (x, row_patch), str(k + 1), width=0.42, height=0.42, fontsize=SMALL)
        arrow(ax, (x, row_patch + 0.21), (x, row_proj - 0.21))
        tok = box(ax, (x, row_tok), str(k + 1), width=0.48, height=0.4, role="position")
        arrow(ax, (x, row_proj + 0.21), tok.bottom)
        arrow(ax, tok.top, (x, row_enc - 0.3))
    arrow(ax, (left + side + 0.05, bottom + side / 2), (xs[1] - 0.3, row_patch + 0.05))
    span = (xs[0] - 0.3, xs[-1] + 0.3)
    center, width = (span[0] + span[1]) / 2, span[1] - span[0]
    box(
        ax,
        (center, row_proj),
        f"flatten each patch: C·p·p = {s['channels'] * p * p} → linear projection → dim {dim}",
        width=width,
        height=0.42,
        role="embedding",
    )
    cls = box(ax, (xs[0], row_tok), "cls", width=0.48, height=0.4, role="embedding")
    arrow(ax, cls.top, (xs[0], row_enc - 0.3))
    label(ax, (2.15, row_tok + 0.12), f"1 + {n} = {n + 1} tokens\n+ positions 0 … {n}", ha="right")
    enc = box(
        ax,
        (center, row_enc),
        f"Transformer encoder: {s['depth']} × {s['norm']} layer\n"
        f"{s['heads']} heads, dim = {dim}, MLP {s['mlp']}, {s['activation']}",
        width=width,
        height=0.6,
        role="attention",
    )
    head = box(
        ax,
        (1.15, 4.15),
        f"LayerNorm → Linear\n{dim} → {s['classes']} classes",
        width=1.75,
        height=0.55,
        role="output",
        fontsize=SMALL,
    )
    path_arrow(ax, [(xs[0], enc.top[1]), (xs[0], head.y), head.right])
    label(ax, (xs[0] + 0.12, 3.95), "the class token's output", ha="left")
    label(ax, (1.15, 4.62), f"scores [N, {s['classes']}]")
    fit_height(fig, ax, 4.72)
    alt = (
        f"Diagram of a Vision Transformer. A {s['image']} x {s['image']} image with "
        f"{plural(s['channels'], 'channel')} is cut into a {grid} x {grid} grid of {n} patches of "
        f"{p} x {p} pixels; each patch is flattened to {s['channels'] * p * p} values and "
        f"linearly projected to dim = {dim}; a learned class token is prepended ({n + 1} "
        f"tokens) and learned position embeddings 0 to {n} are added; a Transformer encoder of "
        f"{_layers(s['depth'])} ({s['norm']}, {s['heads']} heads, MLP {s['mlp']}) mixes the "
        f"tokens; a LayerNorm and a linear head read the class token's output and give "
        f"{s['classes']} class scores."
    )
    return _finish(fig, alt)


def detr_diagram(model: nn.Module, image_size: int = 32) -> Figure:
    """DETR: backbone, features + 2-D positions, encoder, decoder with object queries, heads.

    ``model`` is a :class:`~snippets.vision_transformers.detr.DETR`. The
    backbone runs once on a blank ``image_size × image_size`` image to read
    the real feature-map size; ``dim``, layers, heads, queries and classes
    come from the model.

    Raises:
        TypeError: if ``model`` is not a DETR.
        ValueError: if ``image_size`` is not positive.
    """
    what = "a DETR detector"
    _module(model, "model", what)
    backbone = getattr(model, "backbone", None)
    class_head = _last_linear(getattr(model, "class_head", None))
    box_head = _last_linear(getattr(model, "box_head", None))
    encoders, decoders = _blocks(model)
    if not isinstance(backbone, nn.Module) or class_head is None or box_head is None:
        raise TypeError(f"model must be {what}, got {type(model).__name__}")
    if not encoders or not decoders:
        raise TypeError(f"model must be {what}, got {type(model).__name__}")
    check_positive(image_size, "image_size")
    conv = next((m for m in backbone.modules() if isinstance(m, nn.Conv2d)), None)
    channels = conv.in_channels if conv is not None else 3
    was_training = backbone.training
    backbone.eval()
    try:
        with torch.no_grad():
            param = next(backbone.parameters(), None)
            blank = torch.zeros(1, channels, image_size, image_size)
            if param is not None:
                blank = blank.to(param)
            _, feat_dim, fh, fw = backbone(blank).shape
    finally:
        backbone.train(was_training)
    queries = getattr(model, "queries", None)
    if isinstance(queries, torch.Tensor):
        num_queries = queries.shape[0]
    else:
        query_embed = _embedding(getattr(model, "query_embed", None))
        num_queries = query_embed.num_embeddings if query_embed is not None else None
    num_queries = num_queries or int(getattr(model, "num_queries", 0))
    s = _layer_sizes(encoders[0])
    d, heads = s["d_model"], s["heads"]
    classes = class_head.out_features - 1
    tokens = fh * fw

    fig, ax = canvas(7.0, 4.6, f"DETR: {num_queries} object queries, d = {d}")
    row1, row2 = 3.5, 2.05
    img = box(
        ax,
        (0.7, row1),
        f"image\n[N, {channels}, {image_size}, {image_size}]",
        width=1.25,
        height=0.62,
    )
    bb = box(
        ax,
        (2.3, row1),
        f"CNN backbone\n[N, {feat_dim}, {fh}, {fw}]",
        width=1.5,
        height=0.62,
        role="feedforward",
    )
    tok = box(
        ax,
        (4.1, row1),
        f"flatten + 2-D sine\npositions: {tokens} × {d}",
        width=1.75,
        height=0.62,
        role="position",
    )
    enc = box(
        ax,
        (6.0, row1),
        f"encoder\n{_layers(len(encoders))}, {heads} heads",
        width=1.6,
        height=0.62,
        role="attention",
    )
    for a, b in ((img, bb), (bb, tok), (tok, enc)):
        arrow(ax, a.right, b.left)
    dec = box(
        ax,
        (6.0, row2),
        f"decoder\n{_layers(len(decoders))}, {heads} heads",
        width=1.6,
        height=0.62,
        role="attention",
    )
    arrow(ax, enc.bottom, dec.top)
    label(ax, (6.0, (row1 + row2) / 2), f"memory [N, {tokens}, {d}]", background=True)
    q = box(
        ax,
        (6.0, 0.55),
        f"object queries\n{num_queries} × {d} (learned)",
        width=1.75,
        height=0.62,
        role="embedding",
    )
    arrow(ax, q.top, dec.bottom)
    ch = box(
        ax,
        (3.75, row2 + 0.38),
        f"class: Linear {d} → {classes} + 1",
        width=2.2,
        height=0.42,
        role="output",
        fontsize=SMALL,
    )
    bh = box(
        ax,
        (3.75, row2 - 0.38),
        f"box: MLP {d} → 4 (cx, cy, w, h)",
        width=2.2,
        height=0.42,
        role="output",
        fontsize=SMALL,
    )
    fork = 5.02
    path_arrow(ax, [dec.left, (fork, row2), (fork, ch.y), ch.right])
    path_arrow(ax, [(fork, row2), (fork, bh.y), bh.right])
    label(ax, (3.75, bh.y - 0.38), f"{plural(classes, 'class', 'classes')} + “no object”")
    match = box(
        ax,
        (1.3, row2),
        f"Hungarian matching\n{num_queries} predictions\n↔ targets",
        width=1.7,
        height=0.8,
        role="gate",
        fontsize=SMALL,
    )
    join = 2.45
    path_arrow(ax, [ch.left, (join, ch.y), (join, row2), match.right])
    path_arrow(ax, [bh.left, (join, bh.y), (join, row2)], head=False)
    targets = box(ax, (0.85, 0.55), "targets:\nlabels, boxes", width=1.35, height=0.62)
    arrow(ax, targets.top, (targets.x, match.bottom[1]))
    loss = box(
        ax,
        (3.2, 0.55),
        "set loss:\nCE + L1 + GIoU",
        width=1.5,
        height=0.62,
        role="output",
        fontsize=SMALL,
    )
    path_arrow(ax, [(1.85, match.bottom[1]), (1.85, loss.y), loss.left])
    alt = (
        f"Diagram of DETR. A {image_size} x {image_size} image with "
        f"{plural(channels, 'channel')} goes through a CNN backbone to a "
        f"{feat_dim} x {fh} x {fw} feature map, flattened to "
        f"{tokens} tokens of d = {d} with 2-D sine positions added; a Transformer encoder of "
        f"{_layers(len(encoders))} ({heads} heads) produces the memory; a decoder of "
        f"{_layers(len(decoders))} lets {num_queries} learned object queries read it; a class "
        f"head ({plural(classes, 'class', 'classes')} plus no-object) and a box head "
        f"(cx, cy, w, h) turn every query into a prediction, and Hungarian matching "
        f"pairs predictions with the target "
        f"objects for the set loss (cross-entropy, L1 and generalized IoU)."
    )
    return _finish(fig, alt)


# -- distributed training -------------------------------------------------------------------------


def ddp_diagram(model: nn.Module, world_size: int, batch_size: int | None = None) -> Figure:
    """One data-parallel (DDP) step on ``world_size`` processes.

    Each process holds a copy of ``model`` (its trainable parameter count labels
    the picture) and its shard of the batch; after ``backward`` the gradients
    are all-reduced (averaged), so every copy takes the same optimizer step.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module`` or ``world_size`` not an int.
        ValueError: if ``world_size`` is not positive, or ``batch_size`` is not a
            positive multiple of it.
    """
    _module(model, "model", "the model every process copies")
    if isinstance(world_size, bool) or not isinstance(world_size, int):
        raise TypeError(f"world_size must be an int, got {type(world_size).__name__}")
    check_positive(world_size, "world_size")
    if batch_size is not None:
        check_positive(batch_size, "batch_size")
        if batch_size % world_size:
            raise ValueError(
                f"batch_size must be divisible by world_size={world_size}, got {batch_size}"
            )
    params = [p for p in model.parameters() if p.requires_grad]
    count = sum(p.numel() for p in params)
    nbytes = sum(p.numel() * p.element_size() for p in params)
    k = world_size
    fig, ax = canvas(7.0, 5.3, f"DDP: world_size K = {k}, P = {_count(count)} parameters per copy")
    shown = _columns(k, 4)
    span = min(5.1, 1.9 * (len(shown) - 1))
    xs = [3.5 - span / 2 + c * span / max(len(shown) - 1, 1) for c in range(len(shown))]
    shard = f"{batch_size // k} of {batch_size} samples" if batch_size else f"1/{k} of the batch"
    reduce_y = 3.2
    for x, rank in zip(xs, shown):
        if rank is None:
            for y in (0.55, 1.45, 2.35, 4.05):
                label(ax, (x, y), "…", fontsize=TITLE)
            continue
        data = box(
            ax, (x, 0.55), f"rank {rank}: shard\n{shard}", width=1.45, height=0.6, fontsize=SMALL
        )
        copy = box(
            ax,
            (x, 1.45),
            f"model copy\n{_count(count)} params",
            width=1.45,
            height=0.6,
            role="feedforward",
            fontsize=SMALL,
        )
        grad = box(
            ax,
            (x, 2.35),
            f"forward, backward\n→ gradient $g_{rank}$",
            width=1.45,
            height=0.6,
            role="attention",
            fontsize=SMALL,
        )
        step = box(
            ax,
            (x, 4.05),
            "optimizer step\n(same update)",
            width=1.45,
            height=0.6,
            role="norm",
            fontsize=SMALL,
        )
        arrow(ax, data.top, copy.bottom)
        arrow(ax, copy.top, grad.bottom)
        arrow(ax, grad.top, (x, reduce_y - 0.22))
        arrow(ax, (x, reduce_y + 0.22), step.bottom)
    terms = " + ".join(f"$g_{r}$" for r in range(k)) if k <= 4 else f"$g_0$ + … + $g_{{{k - 1}}}$"
    box(
        ax,
        (3.5, reduce_y),
        f"all-reduce: g = ({terms}) / {k}  on every rank",
        width=6.5,
        height=0.44,
        role="output",
    )
    size = f"{nbytes / 1e6:.2f} MB" if nbytes >= 1e5 else f"{nbytes / 1e3:.1f} kB"
    label(
        ax, (3.5, 4.62), f"each step exchanges the gradients of {_count(count)} parameters ({size})"
    )
    batch = (
        f"a batch of {batch_size} split into {k} shards of {batch_size // k}"
        if batch_size
        else f"each batch split into {k} shards"
    )
    alt = (
        f"Diagram of one DistributedDataParallel step with world_size K = {k} processes. Each "
        f"process holds a full copy of the model ({_count(count)} trainable parameters) and "
        f"gets its own shard ({batch}); it runs forward and backward to a local gradient; an "
        f"all-reduce averages the {k} gradients so that every process has the same mean "
        f"gradient, and every copy takes the same optimizer step, so the copies stay identical."
    )
    return _finish(fig, alt)


# -- normalization --------------------------------------------------------------------------------


def layer_norm_diagram(norm: nn.Module, batch: int = 3, steps: int = 4) -> Figure:
    """Which values LayerNorm averages (one token's features) against BatchNorm (one feature).

    ``norm`` is a :class:`~snippets.transformers.layer_norm.LayerNorm` or an
    ``nn.LayerNorm``; its ``normalized_shape`` (the feature size ``D``), ``eps``
    and affine parameters label the picture. ``batch`` sequences of ``steps``
    tokens are drawn, each a ``steps × D`` grid (at most 8 features shown).

    Raises:
        TypeError: if ``norm`` has no ``normalized_shape``.
        ValueError: if ``batch`` is not between 1 and 4 or ``steps`` not between 1 and 6.
    """
    what = "a LayerNorm (LayerNorm or nn.LayerNorm)"
    _module(norm, "norm", what)
    shape = getattr(norm, "normalized_shape", None)
    if not isinstance(shape, tuple) or not shape:
        raise TypeError(f"norm must be {what}, got {type(norm).__name__}")
    for value, name, most in ((batch, "batch", 4), (steps, "steps", 6)):
        check_positive(value, name)
        if value > most:
            raise ValueError(f"{name} must be at most {most} (a readable picture), got {value}")
    features = math.prod(shape)
    eps = getattr(norm, "eps", None)
    weight = getattr(norm, "weight", None)
    affine = isinstance(weight, torch.Tensor)
    fig, ax = canvas(7.0, 4.0, f"LayerNorm over D = {features} features, against BatchNorm")
    gap = 0.18
    room = 3.1 - (batch - 1) * gap  # inches for the grids of one panel
    shown = max(1, min(features, 8, int(room / (batch * 0.14))))  # cells of at least 0.14 in
    cell = min(0.2, room / (batch * shown), 1.2 / steps)
    grid_w = shown * cell
    offset = (3.0 - (batch * grid_w + (batch - 1) * gap)) / 2  # centre the grids in the panel
    y0 = 1.2  # bottom of the grids; the figure is cut above them with fit_height
    grid_top = y0 + steps * cell
    for panel, left, title in (
        (0, 0.25, "LayerNorm: each token on its own"),
        (1, 3.75, "BatchNorm: each feature over N·T"),
    ):
        label(ax, (left + 1.5, grid_top + 0.6), title, fontsize=FONT, bold=True)
        for n in range(batch):
            x0 = left + offset + n * (grid_w + gap)
            for t in range(steps):
                for f in range(shown):
                    chosen = (t == 1) if panel == 0 else (f == 2)
                    chosen = chosen and (panel == 1 or n == 0)
                    color = ROLES["norm"] if panel == 0 else ROLES["output"]
                    ax.add_patch(
                        Rectangle(
                            (x0 + f * cell, y0 + (steps - 1 - t) * cell),
                            cell,
                            cell,
                            facecolor=tint(color, 0.85) if chosen else "#eeeeee",
                            edgecolor=BACKGROUND,
                            linewidth=1,
                            zorder=2,
                        )
                    )
            label(ax, (x0 + grid_w / 2, y0 - 0.17), f"seq {n + 1}")
        drawn = f"{shown} of {features}" if shown < features else f"{features}"
        label(
            ax,
            (left + 1.5, grid_top + 0.25),
            f"{batch} sequences × {steps} positions × {drawn} features",
        )
        text = (
            f"μ, σ² over the D = {features} features of one token:\n"
            "the same for any batch, any sequence length"
            if panel == 0
            else f"μ, σ² over all {batch} × {steps} tokens of one feature:\n"
            "changes with the batch and the padding"
        )
        label(ax, (left + 1.5, 0.55), text)
    affine_text = f"then γ ⊙ x̂ + β, with γ, β of shape {shape}" if affine else "no γ, β"
    label(ax, (3.5, 0.12), f"x̂ = (x − μ) / √(σ² + ε),  eps = {eps}  ·  {affine_text}")
    fit_height(fig, ax, grid_top + 0.7)
    alt = (
        f"Diagram comparing LayerNorm and BatchNorm on {batch} sequences of {steps} tokens, "
        f"each token a vector of D = {features} features (normalized_shape {shape}, eps = "
        f"{eps}). LayerNorm takes the mean and variance over the {features} features of each "
        f"token separately, so a token's output does not depend on the batch or the sequence "
        f"length; BatchNorm takes them over every token of the batch, one feature at a time."
    )
    return _finish(fig, alt)
