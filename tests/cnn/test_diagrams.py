"""The CNN block diagrams: labelled with the real module's sizes, readable, with alt text.

Each diagram is drawn from a block built with unusual sizes, so a picture
that printed fixed numbers instead of reading them from the module would fail.
"""

import matplotlib.pyplot as plt
import pytest
from matplotlib.colors import to_rgba
from matplotlib.patches import Rectangle
from matplotlib.text import Text
from torch import nn

from snippets.cnn.densenet import DenseBlock
from snippets.cnn.diagrams import (
    bottleneck_diagram,
    dense_block_diagram,
    factorized_module_diagram,
    inception_module_diagram,
    inverted_residual_diagram,
    stacked_conv_diagram,
)
from snippets.cnn.inception import InceptionC, InceptionModule
from snippets.cnn.mobilenet import InvertedResidual
from snippets.cnn.resnet import BasicBlock, Bottleneck
from snippets.cnn.vgg import VGGBlock
from snippets.common.diagrams import MAX_WIDTH, alt_text, layout_problems


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def check(fig, *labels: str, alt: tuple[str, ...] = ()) -> None:
    """Every label is drawn, the alt text names the sizes, and the site's conventions hold."""
    text = "\n".join(t.get_text() for t in fig.findobj(Text) if t.get_visible())
    missing = [s for s in labels if s not in text]
    assert not missing, f"not drawn: {missing}\n--- drawn ---\n{text}"
    description = alt_text(fig)
    missing_alt = [s for s in alt if s not in description]
    assert not missing_alt, f"alt text lacks {missing_alt}: {description}"
    assert fig.get_facecolor() == (1.0, 1.0, 1.0, 1.0)
    assert fig.get_figwidth() <= MAX_WIDTH
    assert min(t.get_fontsize() for t in fig.findobj(Text) if t.get_text().strip()) >= 9
    assert layout_problems(fig) == []


def test_stacked_conv_diagram_reads_layers_field_and_weights():
    fig = stacked_conv_diagram(VGGBlock(5, 7, layers=3))
    weights, big = 9 * 5 * 7 + 2 * 9 * 7 * 7, 49 * 5 * 7  # three 3×3 layers, one 7×7
    check(
        fig,
        "3 stacked 3×3 convolutions see 7×7 pixels",
        "after conv 3",
        "7×7",
        "5×5",
        "1 pixel",
        f"3 × 3×3 conv, 5 → 7, a ReLU after each\n{weights:,} weights",
        f"one 7×7 conv, 5 → 7, one ReLU\n{big:,} weights",
        f"for {weights / big:.0%} of the weights",
        alt=("3 3×3 convolutions from 5 to 7", "through 3×3 and 5×5 to 7×7", f"{big:,}"),
    )
    cells = [p for p in fig.axes[0].patches if isinstance(p, Rectangle)]
    shaded = [p for p in cells if p.get_facecolor() != to_rgba("#eeeeee")]
    assert len(cells) == 4 * 9 * 9  # four 9 × 9 grids: the 7 × 7 field and a margin
    assert len(shaded) == 7 * 7 + 5 * 5 + 3 * 3 + 1  # the region each map contributes
    with_norm = stacked_conv_diagram(VGGBlock(4, 6, layers=2, batch_norm=True))
    check(with_norm, "5×5 pixels", f"{9 * 4 * 6 + 9 * 6 * 6:,} weights", f"{25 * 4 * 6:,} weights")


def test_factorized_module_diagram_reads_kernels_and_widths():
    check(
        factorized_module_diagram(InceptionC(37, 11)),
        "input  [N, 37, H, W]",
        "1×1 conv, 11",
        "1×7 conv, 11",
        "7×1 conv, 192",
        "3×3 avg pool",
        "192 + 192 + 192 + 192 = 768",
        f"1×7 then 7×1 (11 → 11): a 7×7 window, {2 * 7 * 11 * 11:,} weights instead of "
        f"{49 * 11 * 11:,}",
        alt=("37 input channels", "a 3×3 average pool then a 1×1 convolution to 192", "768"),
    )


def test_inception_module_diagram_reads_the_branch_widths():
    fig = inception_module_diagram(InceptionModule(37, 7, 5, 11, 3, 13, 17, big_kernel=5))
    check(
        fig,
        "input  [N, 37, H, W]",
        "1×1 conv, 7",
        "1×1 conv, 5",
        "3×3 conv, 11",
        "1×1 conv, 3",
        "5×5 conv, 13",
        "1×1 conv, 17",
        "7 + 11 + 13 + 17 = 48",
        alt=("37 input channels", "5×5 convolution to 13", "48 channels"),
    )
    small = inception_module_diagram(InceptionModule(8, 1, 1, 1, 1, 1, 1, big_kernel=3))
    assert "3×3 conv, 1" in "\n".join(t.get_text() for t in small.findobj(Text))


def test_bottleneck_diagram_identity_and_projection():
    check(
        bottleneck_diagram(Bottleneck(52, 13)),
        "1×1 conv 52 → 13, BN, ReLU",
        "3×3 conv 13 → 13, stride 1, BN, ReLU",
        "1×1 conv 13 → 52, BN",
        "identity",
        "output  [N, 52, H, W]",
        alt=("52 input channels", "narrows to 13", "widens to 52", "the identity"),
    )
    check(
        bottleneck_diagram(Bottleneck(24, 7, stride=2)),
        "3×3 conv 7 → 7, stride 2, BN, ReLU",
        "1×1 conv 24 → 28\nstride 2, BN",
        "output  [N, 28, H/2, W/2]",
        alt=("a projection (1×1 convolution 24 → 28, stride 2)",),
    )


@pytest.mark.parametrize("layers", [3, 7])
def test_dense_block_diagram_counts_the_growing_inputs(layers):
    block = DenseBlock(19, layers, growth=5, bn_size=3)
    fig = dense_block_diagram(block)
    last = f"layer {layers}\n{19 + (layers - 1) * 5} → 5"
    check(
        fig,
        "input\n19 ch",
        "layer 1\n19 → 5",
        last,
        f"concatenate: 19 + {layers} × 5 = {19 + layers * 5} channels",
        "1×1 conv to 15",
        alt=(f"{layers} layers and growth rate 5", f"{19 + layers * 5} channels"),
    )
    arcs = sum(1 for p in fig.axes[0].patches if type(p).__name__ == "FancyArrowPatch")
    drawn = min(layers, 4) + 1  # nodes: the input and up to four layers
    assert arcs >= drawn * (drawn - 1) // 2  # every earlier node feeds every later one


def test_inverted_residual_diagram_v2_and_v3_blocks():
    check(
        inverted_residual_diagram(InvertedResidual(11, 11, 66)),
        "1×1 expand 11 → 66, BN, ReLU6",
        "3×3 depthwise, 66 groups, stride 1, BN, ReLU6",
        "1×1 project 66 → 11, BN (linear)",
        "identity",
        alt=("expanded by a 1×1 convolution to 66", "The input is added"),
    )
    v3 = InvertedResidual(13, 21, 40, kernel=5, stride=2, act="hswish", se=True)
    check(
        inverted_residual_diagram(v3),
        "5×5 depthwise, 40 groups, stride 2, BN, h-swish",
        "squeeze-excite 40 → 16 → 40",
        "output  [N, 21, H/2, W/2]",
        alt=("squeeze-and-excitation", "h-swish", "No shortcut"),
    )
    no_expand = inverted_residual_diagram(InvertedResidual(16, 16, 16, act="relu"))
    text = "\n".join(t.get_text() for t in no_expand.findobj(Text))
    assert "expand" not in text and "BN, ReLU" in text


def test_diagrams_reject_other_modules():
    with pytest.raises(TypeError, match="module must be an InceptionModule, got Conv2d"):
        inception_module_diagram(nn.Conv2d(3, 4, 1))
    with pytest.raises(TypeError, match="block must be a Bottleneck, got BasicBlock"):
        bottleneck_diagram(BasicBlock(4, 4))
    with pytest.raises(TypeError, match="block must be a DenseBlock"):
        dense_block_diagram(nn.Identity())
    with pytest.raises(TypeError, match="block must be an InvertedResidual"):
        inverted_residual_diagram(nn.Identity())
    with pytest.raises(TypeError, match="block must be a VGGBlock, got Conv2d"):
        stacked_conv_diagram(nn.Conv2d(3, 3, 3))
    with pytest.raises(TypeError, match="module must be an InceptionC, got InceptionModule"):
        factorized_module_diagram(InceptionModule(8, 1, 1, 1, 1, 1, 1))
