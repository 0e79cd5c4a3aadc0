import pytest
import torch
import torch.nn.functional as F
from torch import nn

from snippets.cnn.conv import receptive_field
from snippets.cnn.vgg import CONFIGS, VGG, VGGBlock, vgg16, vgg19
from snippets.fundamentals.nn_basics import count_parameters

#: torchvision's published sizes of ``vgg16()`` and ``vgg19()`` with 1000 classes
PUBLISHED = {"vgg16": 138_357_544, "vgg19": 143_667_240}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_counts_match_torchvision(name):
    with torch.device("meta"):  # shapes only: 138 million parameters cost nothing
        model = {"vgg16": vgg16, "vgg19": vgg19}[name]()
    assert count_parameters(model) == PUBLISHED[name]


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_parameter_count_by_hand(name):
    # every 3×3 convolution: 9 · c_in · c_out weights + c_out biases; then three linear layers
    channels = [3] + [c for c in CONFIGS[name] if c != "M"]
    convs = sum(9 * a * b + b for a, b in zip(channels, channels[1:]))
    linears = (512 * 7 * 7 * 4096 + 4096) + (4096 * 4096 + 4096) + (4096 * 1000 + 1000)
    assert convs + linears == PUBLISHED[name]
    assert len(channels) - 1 + 3 == int(name[3:])  # 16 or 19 learned layers


def test_block_shapes_at_224():
    # the spatial sizes do not depend on the widths: a thin VGG-16 shows them cheaply
    thin = VGG(CONFIGS["vgg16"], width=1 / 32, hidden=8).eval()
    x, sides = torch.randn(1, 3, 224, 224), []
    with torch.no_grad():
        for block in thin.features:
            x = block(x)
            sides.append(tuple(x.shape[2:]))
        assert thin(torch.randn(1, 3, 224, 224)).shape == (1, 1000)
    assert sides == [(112, 112), (56, 56), (28, 28), (14, 14), (7, 7)]
    with torch.device("meta"):
        full = vgg16()
    widths = [block.convs[-2].out_channels for block in full.features]
    assert widths == [64, 128, 256, 512, 512]
    assert [len(b.convs) // 2 for b in full.features] == [2, 2, 3, 3, 3]
    assert full.classifier[0].in_features == 512 * 7 * 7


def test_block_equals_torch_composition():
    block = VGGBlock(3, 5, layers=2)
    x = torch.randn(2, 3, 9, 10)
    c1, c2 = block.convs[0], block.convs[2]
    expected = F.relu(F.conv2d(x, c1.weight, c1.bias, padding=1))
    expected = F.max_pool2d(F.relu(F.conv2d(expected, c2.weight, c2.bias, padding=1)), 2)
    torch.testing.assert_close(block(x), expected)
    assert block(x).shape == (2, 5, 4, 5)


def test_batch_norm_variant_drops_the_bias():
    block = VGGBlock(4, 8, layers=3, batch_norm=True)
    convs = [m for m in block.modules() if isinstance(m, nn.Conv2d)]
    norms = [m for m in block.modules() if isinstance(m, nn.BatchNorm2d)]
    assert len(convs) == len(norms) == 3 and all(c.bias is None for c in convs)


def test_stacked_3x3_see_as_far_as_one_large_kernel():
    assert receptive_field([(3, 1, 1)] * 2) == [3, 5]
    assert receptive_field([(3, 1, 1)] * 3)[-1] == 7
    # the same field, measured: the gradient of one output pixel reaches a 5×5 window
    block = VGGBlock(1, 1, layers=2).convs
    for conv in (block[0], block[2]):
        nn.init.constant_(conv.weight, 1.0)
        nn.init.constant_(conv.bias, 1.0)  # keeps every ReLU open
    x = torch.zeros(1, 1, 11, 11, requires_grad=True)
    block(x)[0, 0, 5, 5].backward()
    rows, cols = torch.nonzero(x.grad[0, 0]).unbind(1)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (3, 7, 3, 7)
    # two 3×3 layers hold 2 · 9 C² weights, one 5×5 layer 25 C²
    c = 16
    two = count_parameters(VGGBlock(c, c, 2).convs) - 2 * c
    one = count_parameters(nn.Conv2d(c, c, 5)) - c
    assert (two, one) == (18 * c * c, 25 * c * c)


def test_small_vgg_for_digits():
    model = VGG((8, "M", 16, 16, "M"), classes=10, in_channels=1, hidden=32, pool_size=1)
    assert model(torch.randn(3, 1, 16, 16)).shape == (3, 10)
    assert count_parameters(model) < 10_000


def test_vgg_bad_input():
    with pytest.raises(ValueError, match="config must start with a channel count and end with 'M'"):
        VGG((64, 64))
    with pytest.raises(ValueError, match=r"each block needs equal channel counts, got \[8, 16\]"):
        VGG((8, 16, "M"))
    with pytest.raises(ValueError, match="width must be > 0"):
        VGG(width=0.0)
    with pytest.raises(ValueError, match="layers must be > 0"):
        VGGBlock(3, 8, layers=0)
    model = VGG((4, "M"), classes=2, in_channels=1, hidden=4, pool_size=1)
    with pytest.raises(ValueError, match="x must have 1 channels, got 3"):
        model(torch.randn(1, 3, 8, 8))
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        model(torch.randn(1, 8, 8))
