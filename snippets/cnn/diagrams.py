"""Diagrams of the CNN families' blocks, labelled with the sizes of the real modules.

Each function takes a built block, reads its channel counts, kernel sizes
and strides from the layers, and draws them with the primitives of
:mod:`snippets.common.diagrams`, so a picture cannot disagree with the code.
Every figure carries its alt text (``fig.alt_text``, read with
:func:`~snippets.common.diagrams.alt_text`). The blocks:
:func:`stacked_conv_diagram` (VGG's stacked 3×3 convolutions against one
large kernel), :func:`inception_module_diagram` (GoogLeNet's four branches),
:func:`factorized_module_diagram` (Inception-v3's 17×17 module with its
1×7 and 7×1 convolutions), :func:`bottleneck_diagram` (ResNet's
1×1 → 3×3 → 1×1 block),
:func:`dense_block_diagram` (DenseNet's connections) and
:func:`inverted_residual_diagram` (MobileNet's narrow → wide → narrow block).
"""

from __future__ import annotations

from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Circle, Rectangle
from torch import nn

from snippets.cnn.conv import receptive_field
from snippets.cnn.densenet import DenseBlock
from snippets.cnn.inception import InceptionC, InceptionModule
from snippets.cnn.mobilenet import HardSwish, InvertedResidual, SqueezeExcite
from snippets.cnn.resnet import Bottleneck
from snippets.cnn.vgg import VGGBlock
from snippets.common.diagrams import (
    INK,
    ROLES,
    SMALL,
    Box,
    arrow,
    box,
    canvas,
    label,
    op,
    path_arrow,
    plural,
    tint,
)


def _require(module: object, cls: type, name: str) -> None:
    if not isinstance(module, cls):
        article = "an" if cls.__name__[0] in "AEIOU" else "a"
        raise TypeError(f"{name} must be {article} {cls.__name__}, got {type(module).__name__}")


def _conv(module: nn.Module) -> nn.Conv2d:
    """The first convolution inside ``module`` (a ConvBN, a conv_bn Sequential…)."""
    return next(m for m in module.modules() if isinstance(m, nn.Conv2d))


def _k(conv: nn.Conv2d) -> str:
    kh, kw = conv.kernel_size
    return f"{kh}×{kw}"


def _branches(
    ax: Axes,
    source: Box,
    columns: Sequence[Sequence[tuple[str, str]]],
    *,
    top: float,
    step: float,
    end: float,
    height: float = 0.42,
) -> None:
    """Chains of boxes ``(text, role)`` side by side, all fed from ``source`` and ending at ``end``.

    Every chain is drawn upward and ends at the height ``top``; a fork just
    above ``source`` (a drawn box) feeds the first box of each.
    """
    xs = (0.95, 2.65, 4.35, 6.05)
    fork = (source.x, source.top[1] + 0.28)
    ax.add_patch(Circle(fork, 0.035, color=INK, zorder=3))
    arrow(ax, source.top, fork, head=False)
    for x, chain in zip(xs, columns):
        start = (x, fork[1])
        path_arrow(ax, [fork, start], head=False)
        for i, (text, role) in enumerate(chain):
            y = top - (len(chain) - 1 - i) * step
            b = box(ax, (x, y), text, width=1.55, height=height, role=role)
            arrow(ax, start, b.bottom)
            start = b.top
        arrow(ax, start, (x, end))


def stacked_conv_diagram(block: nn.Module) -> Figure:
    """VGG's block: what one output pixel of ``n`` stacked 3×3 convolutions sees, and what it costs.

    A row of grids follows one output pixel of the block's last convolution
    back through the layers (1 pixel, 3×3, 5×5, …, the receptive field in
    the input); below, the block's weights against one convolution with a
    kernel as large as that field and the same channels.

    Raises:
        TypeError: if ``block`` is not a :class:`~snippets.cnn.vgg.VGGBlock`.
    """
    _require(block, VGGBlock, "block")
    convs = [m for m in block.convs if isinstance(m, nn.Conv2d)]
    n, c_in, c_out = len(convs), convs[0].in_channels, convs[-1].out_channels
    fields = receptive_field([(c.kernel_size[0], c.stride[0], c.dilation[0]) for c in convs])
    field = fields[-1]
    weights = sum(c.weight.numel() for c in convs)
    big = field * field * c_in * c_out
    stacked = plural(n, f"stacked {_k(convs[0])} convolution")
    title = f"VGG block: {stacked} see{'s' if n == 1 else ''} {field}×{field} pixels"
    # one grid per map, from the block's input to the last output; the cells that
    # reach the final output pixel are shaded
    sides = [field] + [field - fields[i] + 1 for i in range(n)]
    gap, bottom = 0.5, 1.75
    cell = min(0.16, (6.7 - n * gap) / ((n + 1) * (field + 2)))
    size = (field + 2) * cell
    fig, ax = canvas(7.0, bottom + size + 0.65, title)
    left = 3.5 - ((n + 1) * size + n * gap) / 2
    for i, seen in enumerate(sides):
        x0 = left + i * (size + gap)
        first = (field + 2 - seen) // 2
        color = ROLES["output"] if i == n else ROLES["attention"]
        for row in range(field + 2):
            for col in range(field + 2):
                inside = first <= row < first + seen and first <= col < first + seen
                ax.add_patch(
                    Rectangle(
                        (x0 + col * cell, bottom + row * cell), cell, cell,
                        facecolor=tint(color, 0.7) if inside else "#eeeeee",
                        edgecolor="white", linewidth=0.8, zorder=2,
                    )
                )  # fmt: skip
        middle = x0 + size / 2
        label(ax, (middle, bottom - 0.17), "input" if i == 0 else f"after conv {i}", bold=True)
        label(ax, (middle, bottom - 0.4), f"{seen}×{seen}" if seen > 1 else "1 pixel")
        if i < n:
            start = (x0 + size + 0.06, bottom + size / 2)
            arrow(ax, start, (start[0] + gap - 0.12, start[1]))
            label(ax, (start[0] + gap / 2 - 0.06, start[1] + 0.17), _k(convs[i]))
    kernel = _k(convs[0])
    stack = f"{n} × {kernel} conv, {c_in} → {c_out}, a ReLU after each\n{weights:,} weights"
    box(ax, (1.85, 0.7), stack, width=3.4, height=0.62, role="feedforward", fontsize=SMALL)
    one = f"one {field}×{field} conv, {c_in} → {c_out}, one ReLU\n{big:,} weights"
    box(ax, (5.35, 0.7), one, width=3.0, height=0.62, role="data", fontsize=SMALL)
    label(
        ax, (3.5, 0.17), f"the same {field}×{field} window for {weights / big:.0%} of the weights"
    )
    steps = [f"{s}×{s}" for s in reversed(sides[1:-1])]
    through = f"through {', '.join(steps[:-1])} and {steps[-1]} " if len(steps) > 1 else ""
    through = f"through {steps[0]} " if len(steps) == 1 else through
    fig.alt_text = (
        f"Diagram of a VGG block of {plural(n, f'{kernel} convolution')} from {c_in} to "
        f"{c_out} channels. A row of grids follows one output pixel of the last convolution "
        f"back through the block: the region it depends on grows from 1 pixel {through}to "
        f"{field}×{field} pixels of the input. The block holds {weights:,} weights, with a "
        f"ReLU after each convolution; one {field}×{field} convolution with the same channels "
        f"would hold {big:,}."
    )
    return fig


def inception_module_diagram(module: nn.Module) -> Figure:
    """GoogLeNet's Inception module: four branches side by side, concatenated.

    Raises:
        TypeError: if ``module`` is not an
            :class:`~snippets.cnn.inception.InceptionModule`.
    """
    _require(module, InceptionModule, "module")
    c_in = _conv(module.branch1).in_channels
    c1 = _conv(module.branch1).out_channels
    r3, c3 = (_conv(part).out_channels for part in module.branch3)
    r5, c5 = (_conv(part).out_channels for part in module.branch5)
    big = _k(_conv(module.branch5[1]))
    proj = _conv(module.branch_pool[1]).out_channels
    out = module.out_channels
    fig, ax = canvas(7.0, 4.3, "Inception module: four branches, concatenated")
    source = box(ax, (3.5, 0.45), f"input  [N, {c_in}, H, W]", width=2.6, role="data")
    columns = (
        [(f"1×1 conv, {c1}", "feedforward")],
        [(f"1×1 conv, {r3}", "norm"), (f"3×3 conv, {c3}", "feedforward")],
        [(f"1×1 conv, {r5}", "norm"), (f"{big} conv, {c5}", "feedforward")],
        [("3×3 max pool", "data"), (f"1×1 conv, {proj}", "norm")],
    )
    concat = box(
        ax, (3.5, 3.35), f"concatenate channels: {c1} + {c3} + {c5} + {proj} = {out}",
        width=5.2, role="output",
    )  # fmt: skip
    _branches(ax, source, columns, top=2.45, step=0.9, end=concat.bottom[1])
    label(ax, (3.5, 3.82), f"output [N, {out}, H, W]: every branch keeps H × W", fontsize=SMALL)
    fig.alt_text = (
        f"Diagram of an Inception module with {c_in} input channels. Four branches read the "
        f"same input: a 1×1 convolution to {c1} channels; a 1×1 reduction to {r3} then a 3×3 "
        f"convolution to {c3}; a 1×1 reduction to {r5} then a {big} convolution to {c5}; a 3×3 "
        f"max pool then a 1×1 convolution to {proj}. Their outputs are concatenated into "
        f"{out} channels of the same height and width."
    )
    return fig


def factorized_module_diagram(module: nn.Module) -> Figure:
    """Inception-v3's 17×17 module: 7×7 convolutions factorized into 1×7 and 7×1 pairs.

    Four branches side by side (1×1; 1×1 → 1×7 → 7×1; 1×1 → 7×1 → 1×7 →
    7×1 → 1×7; average pool → 1×1), each kernel and width read from the
    module, with the weights of one 1×7, 7×1 pair against one 7×7.

    Raises:
        TypeError: if ``module`` is not an :class:`~snippets.cnn.inception.InceptionC`.
    """
    _require(module, InceptionC, "module")
    chains = [
        [m for m in branch.modules() if isinstance(m, nn.Conv2d)]
        for branch in (module.branch1x1, module.branch7x7, module.branch7x7dbl, module.branch_pool)
    ]
    c_in = chains[0][0].in_channels
    pool = module.branch_pool[0].kernel_size
    pool = f"{pool}×{pool} avg pool"

    def text(conv: nn.Conv2d) -> tuple[str, str]:
        return f"{_k(conv)} conv, {conv.out_channels}", "norm" if _k(
            conv
        ) == "1×1" else "feedforward"

    columns = [[text(c) for c in chain] for chain in chains]
    columns[3].insert(0, (pool, "data"))
    widths = [chain[-1].out_channels for chain in chains]
    out = module.out_channels
    first, second = chains[2][2], chains[2][3]  # a factorized pair: 1×7 then 7×1
    (h1, w1), (h2, w2) = first.kernel_size, second.kernel_size
    window = f"{h1 + h2 - 1}×{w1 + w2 - 1}"
    pair = first.weight.numel() + second.weight.numel()
    full = (h1 + h2 - 1) * (w1 + w2 - 1) * first.in_channels * second.out_channels
    fig, ax = canvas(7.0, 5.55, "Inception-v3, 17×17 module: factorized 7×7 convolutions")
    source = box(ax, (3.5, 0.45), f"input  [N, {c_in}, H, W]", width=2.6, role="data")
    concat = box(
        ax, (3.5, 4.15), f"concatenate channels: {' + '.join(map(str, widths))} = {out}",
        width=5.2, role="output",
    )  # fmt: skip
    _branches(ax, source, columns, top=3.55, step=0.55, end=concat.bottom[1], height=0.38)
    label(ax, (3.5, 4.6), f"output [N, {out}, H, W]: every branch keeps H × W")
    note = (
        f"{_k(first)} then {_k(second)} ({first.in_channels} → {second.out_channels}): "
        f"a {window} window, {pair:,} weights instead of {full:,}"
    )
    label(ax, (3.5, 4.93), note)
    described = [
        " then ".join(f"a {_k(c)} convolution to {c.out_channels}" for c in chain)
        for chain in chains
    ]
    described[3] = f"a {pool.replace('avg', 'average')} then {described[3]}"
    fig.alt_text = (
        f"Diagram of Inception-v3's 17×17 module with {c_in} input channels. Four branches "
        f"read the same input: {'; '.join(described)}. Their outputs are concatenated into "
        f"{out} channels. A {_k(first)} convolution followed by a {_k(second)} one sees a "
        f"{window} window with {pair:,} weights, where one {window} convolution would hold "
        f"{full:,}."
    )
    return fig


def bottleneck_diagram(block: nn.Module) -> Figure:
    """ResNet's bottleneck block: 1×1 narrows, 3×3 works, 1×1 widens, plus the shortcut.

    Raises:
        TypeError: if ``block`` is not a :class:`~snippets.cnn.resnet.Bottleneck`.
    """
    _require(block, Bottleneck, "block")
    c_in, width = block.conv1.in_channels, block.conv1.out_channels
    c_out, stride = block.conv3.out_channels, block.conv2.stride[0]
    projection = not isinstance(block.downsample, nn.Identity)
    fig, ax = canvas(6.6, 5.3, "Bottleneck residual block")
    x, skip_x = 2.4, 5.55
    source = box(ax, (x, 0.45), f"input  [N, {c_in}, H, W]", width=2.5, role="data")
    items = (
        (f"1×1 conv {c_in} → {width}, BN, ReLU", "norm"),
        (f"3×3 conv {width} → {width}, stride {stride}, BN, ReLU", "feedforward"),
        (f"1×1 conv {width} → {c_out}, BN", "norm"),
    )
    cursor, y = source.top, 1.3
    for text, role in items:
        b = box(ax, (x, y), text, width=3.6, role=role)
        arrow(ax, cursor, b.bottom)
        cursor, y = b.top, y + 0.8
    plus = op(ax, (x, y - 0.15))
    arrow(ax, cursor, plus.bottom)
    relu = box(ax, (x, y + 0.45), "ReLU", width=1.0, height=0.36, role="gate")
    arrow(ax, plus.top, relu.bottom)
    side = stride if stride > 1 else 1
    out_text = f"[N, {c_out}, H/{side}, W/{side}]" if side > 1 else f"[N, {c_out}, H, W]"
    label(ax, (x, relu.top[1] + 0.25), f"output  {out_text}")
    branch = (x, 0.85)
    ax.add_patch(Circle(branch, 0.035, color=INK, zorder=3))
    if projection:
        short = f"1×1 conv {c_in} → {c_out}\nstride {stride}, BN"
        s = box(ax, (skip_x, 2.1), short, width=1.7, height=0.62, role="attention", fontsize=SMALL)
        path_arrow(ax, [branch, (skip_x, branch[1]), s.bottom])
        path_arrow(ax, [s.top, (skip_x, plus.y), plus.right])
        shortcut = f"a projection (1×1 convolution {c_in} → {c_out}, stride {stride})"
    else:
        path_arrow(ax, [branch, (skip_x, branch[1]), (skip_x, plus.y), plus.right])
        label(ax, (skip_x, 2.1), "identity", background=True)
        shortcut = "the identity"
    fig.alt_text = (
        f"Diagram of a bottleneck residual block with {c_in} input channels: a 1×1 convolution "
        f"narrows to {width} channels, a 3×3 convolution with stride {stride} works at that "
        f"width, and a 1×1 convolution widens to {c_out}, each followed by batch norm. The "
        f"shortcut, {shortcut}, is added before the final ReLU."
    )
    return fig


def dense_block_diagram(block: nn.Module) -> Figure:
    """DenseNet's dense block: every layer reads the concatenation of all earlier outputs.

    Draws up to four layers; a longer block is drawn by its first three
    and its last, with the counts of the whole block.

    Raises:
        TypeError: if ``block`` is not a :class:`~snippets.cnn.densenet.DenseBlock`.
    """
    _require(block, DenseBlock, "block")
    layers = list(block.layers)
    c_in = layers[0].norm1.num_features
    growth = layers[0].conv2.out_channels
    inner = layers[0].conv1.out_channels
    n = len(layers)
    shown = list(range(n)) if n <= 4 else [0, 1, 2, n - 1]
    fig, ax = canvas(7.0, 4.5, f"Dense block: {n} layers, growth rate k = {growth}")
    y = 1.1
    nodes = [box(ax, (0.75, y), f"input\n{c_in} ch", width=1.0, height=0.62, role="data")]
    step = 5.3 / len(shown)
    for i, index in enumerate(shown):
        sees = c_in + index * growth
        text = f"layer {index + 1}\n{sees} → {growth}"
        at = (1.95 + i * step, y)
        nodes.append(box(ax, at, text, width=1.0, height=0.62, role="feedforward"))
    for j in range(1, len(nodes)):  # each layer reads every earlier output
        for i in range(j):
            start, end = nodes[i].at(0.5, 1.0), nodes[j].at(0.3, 1.0)
            arrow(ax, start, end, curve=-0.35 - 0.05 * (j - i), linewidth=1.0)
    if len(shown) < n:
        label(ax, ((nodes[3].x + nodes[4].x) / 2, y), "…", fontsize=14)
    concat = box(
        ax, (3.5, 3.2), f"concatenate: {c_in} + {n} × {growth} = {block.out_channels} channels",
        width=4.8, role="output",
    )  # fmt: skip
    for b in nodes:
        arrow(ax, b.bottom, (b.x, 0.35), head=False, dashed=True, linewidth=0.9)
    label(ax, (3.5, 0.2), "all outputs are kept and concatenated", fontsize=SMALL, background=True)
    path_arrow(ax, [(6.7, 0.35), (6.7, concat.y), concat.right])
    arrow(ax, (0.3, 0.35), (6.7, 0.35), head=False, dashed=True, linewidth=0.9)
    layer_text = f"each layer: BN, ReLU, 1×1 conv to {inner}, BN, ReLU, 3×3 conv to {growth}"
    label(ax, (3.5, 3.85), layer_text, fontsize=SMALL)
    fig.alt_text = (
        f"Diagram of a dense block with {n} layers and growth rate {growth}. The input has "
        f"{c_in} channels; layer l reads the concatenation of the input and all earlier "
        f"outputs, {c_in} + (l - 1) × {growth} channels, and adds {growth} new ones through a "
        f"1×1 convolution to {inner} channels and a 3×3 convolution. The block outputs "
        f"{c_in} + {n} × {growth} = {block.out_channels} channels."
    )
    return fig


def inverted_residual_diagram(block: nn.Module) -> Figure:
    """MobileNet's inverted residual: narrow → expand 1×1 → depthwise → project 1×1 (linear).

    Box widths grow with the channel count, so the narrow-wide-narrow shape shows.

    Raises:
        TypeError: if ``block`` is not an :class:`~snippets.cnn.mobilenet.InvertedResidual`.
    """
    _require(block, InvertedResidual, "block")
    parts = list(block.block)
    convs = [_conv(p) for p in parts if not isinstance(p, SqueezeExcite)]
    se = next((p for p in parts if isinstance(p, SqueezeExcite)), None)
    c_in, c_out = convs[0].in_channels, convs[-1].out_channels
    depthwise = convs[-2]
    hidden, kernel, stride = depthwise.in_channels, _k(depthwise), depthwise.stride[0]
    act = "h-swish" if any(isinstance(m, HardSwish) for m in block.modules()) else "ReLU6"
    if any(type(m) is nn.ReLU for m in block.modules()):
        act = "ReLU"
    fig, ax = canvas(6.6, 5.2, "Inverted residual block (MobileNet)")
    x, skip_x = 2.9, 6.0

    def w(c: int) -> float:
        return min(4.6, 2.3 + 2.3 * c / max(hidden, c_in, c_out))

    source = box(ax, (x, 0.45), f"input  [N, {c_in}, H, W]", width=2.6, role="data")
    rows = []
    if len(convs) == 3:
        rows.append((f"1×1 expand {c_in} → {hidden}, BN, {act}", "norm", hidden))
    rows.append(
        (f"{kernel} depthwise, {hidden} groups, stride {stride}, BN, {act}", "feedforward", hidden)
    )
    if se is not None:
        rows.append((f"squeeze-excite {hidden} → {se.fc1.out_channels} → {hidden}", "gate", hidden))
    rows.append((f"1×1 project {hidden} → {c_out}, BN (linear)", "attention", c_out))
    cursor, y = source.top, 1.25
    for text, role, channels in rows:
        b = box(ax, (x, y), text, width=w(channels), role=role)
        arrow(ax, cursor, b.bottom)
        cursor, y = b.top, y + 0.75
    if block.use_residual:
        plus = op(ax, (x, y - 0.2))
        arrow(ax, cursor, plus.bottom)
        branch = (x, 0.85)
        ax.add_patch(Circle(branch, 0.035, color=INK, zorder=3))
        path_arrow(ax, [branch, (skip_x, branch[1]), (skip_x, plus.y), plus.right])
        label(ax, (skip_x, 1.6), "identity", background=True)
        cursor, y = plus.top, y + 0.2
        residual = "The input is added to the output."
    else:
        residual = "No shortcut: the shape changes."
    end = (x, y - 0.15)
    arrow(ax, cursor, end)
    side = f"H/{stride}, W/{stride}" if stride > 1 else "H, W"
    label(ax, (x, end[1] + 0.2), f"output  [N, {c_out}, {side}]")
    fig.alt_text = (
        f"Diagram of an inverted residual block: {c_in} input channels are "
        + (f"expanded by a 1×1 convolution to {hidden}, " if len(convs) == 3 else "")
        + f"filtered by a {kernel} depthwise convolution with {hidden} groups and stride "
        f"{stride}, "
        + ("rescaled by squeeze-and-excitation, " if se is not None else "")
        + f"and projected by a linear 1×1 convolution to {c_out} channels, with {act} "
        f"activations. {residual}"
    )
    return fig
