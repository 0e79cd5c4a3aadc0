import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.cnn.densenet import DenseBlock, DenseLayer, DenseNet, Transition, densenet121
from snippets.fundamentals.nn_basics import count_parameters

#: torchvision's published size of ``densenet121()`` with 1000 classes
TORCHVISION_DENSENET121_PARAMETERS = 7_978_856


def test_densenet121_matches_torchvision():
    with torch.device("meta"):
        model = densenet121()
    assert count_parameters(model) == TORCHVISION_DENSENET121_PARAMETERS
    blocks = [m for m in model.features if isinstance(m, DenseBlock)]
    assert [name for name, m in model.features.named_children() if isinstance(m, DenseBlock)] == [
        f"denseblock{i}" for i in (1, 2, 3, 4)
    ]
    assert [len(b.layers) for b in blocks] == [6, 12, 24, 16]
    # 64 + 6·32 = 256 → 128; 128 + 12·32 = 512 → 256; 256 + 24·32 = 1024 → 512; 512 + 16·32
    assert [b.out_channels for b in blocks] == [256, 512, 1024, 1024]
    # 121 = stem conv + 2 convs per dense layer + 3 transitions + the classifier
    assert 1 + 2 * sum(len(b.layers) for b in blocks) + 3 + 1 == 121


def test_dense_layer_parameters_by_hand():
    layer = DenseLayer(c_in=256, growth=32)  # 5th layer of block 2: 128 + 4 · 32 = 256 inputs
    weights = 256 * 128 + 9 * 128 * 32  # 1×1 to 4·32 = 128, then 3×3 to 32
    norms = 2 * 256 + 2 * 128
    assert count_parameters(layer) == weights + norms


def test_dense_layer_equals_torch_composition():
    layer = DenseLayer(6, growth=3, bn_size=2).eval()
    bn1, _, conv1, bn2, _, conv2 = layer
    assert (bn1, conv1, bn2, conv2) == (layer.norm1, layer.conv1, layer.norm2, layer.conv2)
    for bn in (bn1, bn2):  # non-trivial statistics
        bn.running_mean.uniform_(-1, 1)
        bn.running_var.uniform_(0.5, 2)
    x = torch.randn(2, 6, 5, 5)

    def norm(t, bn):
        return F.batch_norm(t, bn.running_mean, bn.running_var, bn.weight, bn.bias, eps=bn.eps)

    expected = F.conv2d(F.relu(norm(x, bn1)), conv1.weight)
    expected = F.conv2d(F.relu(norm(expected, bn2)), conv2.weight, padding=1)
    torch.testing.assert_close(layer(x), expected)
    assert layer(x).shape == (2, 3, 5, 5)


@settings(max_examples=15)
@given(st.integers(1, 6), st.integers(1, 4), st.integers(1, 5))
def test_dense_block_grows_by_growth_per_layer(c_in, num_layers, growth):
    block = DenseBlock(c_in, num_layers, growth, bn_size=1).eval()
    x = torch.randn(1, c_in, 4, 4)
    out = block(x)
    assert out.shape == (1, c_in + num_layers * growth, 4, 4) and block.out_channels == out.shape[1]
    torch.testing.assert_close(out[:, :c_in], x)  # the input is passed on unchanged
    assert [layer.norm1.num_features for layer in block.layers] == [
        c_in + i * growth for i in range(num_layers)
    ]


def test_every_layer_sees_all_earlier_outputs():
    block = DenseBlock(2, 3, growth=2, bn_size=1).eval()
    x = torch.randn(1, 2, 4, 4)
    out = block(x)
    first = block.layers[0](x)
    second = block.layers[1](torch.cat([x, first], 1))
    third = block.layers[2](torch.cat([x, first, second], 1))
    torch.testing.assert_close(out, torch.cat([x, first, second, third], 1))


def test_transition_halves_channels_and_resolution():
    transition = Transition(8, 4).eval()
    x = torch.randn(2, 8, 6, 7)
    norm, _, conv, _ = transition
    expected = F.avg_pool2d(F.conv2d(F.relu(norm(x)), conv.weight), 2)
    torch.testing.assert_close(transition(x), expected)
    assert transition(x).shape == (2, 4, 3, 3)


@torch.no_grad()
def test_densenet121_shapes_at_224():
    # spatial sizes do not depend on the widths: a thin DenseNet-121 shows them
    thin = DenseNet(growth=1, stem_channels=4, bn_size=1).eval()
    x, sides = torch.randn(1, 3, 224, 224), []
    for part in thin.features:
        x = part(x)
        if isinstance(part, DenseBlock):
            sides.append(x.shape[-1])
    assert sides == [56, 28, 14, 7]
    assert thin.classifier(thin.pool(x).flatten(1)).shape == (1, 1000)


def test_small_densenet_for_digits():
    model = DenseNet((2, 2), growth=4, stem_channels=8, classes=10, in_channels=1, stem="small")
    assert model(torch.randn(3, 1, 16, 16)).shape == (3, 10)


def test_densenet_bad_input():
    with pytest.raises(ValueError, match="blocks must hold at least one block size"):
        DenseNet(())
    with pytest.raises(ValueError, match="growth must be > 0"):
        DenseLayer(8, 0)
    with pytest.raises(ValueError, match="num_layers must be > 0"):
        DenseBlock(8, 0, 4)
    with pytest.raises(ValueError, match="stem must be one of"):
        DenseNet(stem="tiny")
    model = DenseNet((1,), growth=2, stem_channels=4, classes=3, in_channels=1, stem="small")
    with pytest.raises(ValueError, match="x must have 1 channels, got 3"):
        model(torch.randn(1, 3, 8, 8))
