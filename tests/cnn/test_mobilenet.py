import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.cnn.mobilenet import (
    V2_STAGES,
    V3_LARGE,
    HardSwish,
    InvertedResidual,
    MobileNetV2,
    MobileNetV3,
    SqueezeExcite,
    V2Stage,
    V3Block,
    activation,
    depthwise_separable,
    hard_sigmoid,
    mobilenet_v2,
    mobilenet_v3_large,
)
from snippets.fundamentals.nn_basics import count_parameters

#: torchvision's published sizes with 1000 classes
PUBLISHED = {"mobilenet_v2": 3_504_872, "mobilenet_v3_large": 5_483_032}


def test_parameter_counts_match_torchvision():
    with torch.device("meta"):
        assert count_parameters(mobilenet_v2()) == PUBLISHED["mobilenet_v2"]
        assert count_parameters(mobilenet_v3_large()) == PUBLISHED["mobilenet_v3_large"]


def test_inverted_residual_parameters_by_hand():
    # a 24-channel V2 block with expansion 6: 1×1 24→144, depthwise 3×3, 1×1 144→24
    block = InvertedResidual(24, 24, 144)
    weights = 24 * 144 + 9 * 144 + 144 * 24
    norms = 2 * (144 + 144 + 24)
    assert count_parameters(block) == weights + norms == 8_832


@settings(max_examples=20)
@given(st.lists(st.floats(-10, 10, allow_nan=False), min_size=1, max_size=20))
def test_hard_swish_and_hard_sigmoid_equal_pytorch(values):
    x = torch.tensor(values + [-3.0, 3.0, 0.0])
    torch.testing.assert_close(HardSwish()(x), F.hardswish(x))
    torch.testing.assert_close(hard_sigmoid(x), F.hardsigmoid(x))


def test_depthwise_convolution_is_one_filter_per_channel():
    layer = depthwise_separable(4, 6, kernel=3)
    depthwise, pointwise = layer
    assert depthwise.groups == 4 and depthwise.weight.shape == (4, 1, 3, 3)
    x = torch.randn(2, 4, 7, 7)
    per_channel = torch.cat(
        [F.conv2d(x[:, c : c + 1], depthwise.weight[c : c + 1], padding=1) for c in range(4)], 1
    )
    torch.testing.assert_close(depthwise(x), per_channel)
    torch.testing.assert_close(layer(x), F.conv2d(per_channel, pointwise.weight))
    assert count_parameters(layer) == 4 * 9 + 4 * 6  # vs 4 · 6 · 9 for a full 3×3
    assert depthwise_separable(4, 6, stride=2)(x).shape == (2, 6, 4, 4)


def test_squeeze_excite_matches_formula_and_only_scales_channels():
    se = SqueezeExcite(6, 2)
    x = torch.rand(3, 6, 4, 5) + 0.1
    pooled = x.mean(dim=(2, 3))
    gate = F.hardsigmoid(
        F.linear(
            F.relu(F.linear(pooled, se.fc1.weight.flatten(1), se.fc1.bias)),
            se.fc2.weight.flatten(1),
            se.fc2.bias,
        )
    )
    torch.testing.assert_close(se(x), x * gate[:, :, None, None])
    ratio = se(x) / x  # one factor per (sample, channel), in [0, 1]
    torch.testing.assert_close(ratio, ratio[:, :, :1, :1].expand_as(ratio))
    assert ((ratio >= 0) & (ratio <= 1)).all()


def test_inverted_residual_structure_and_linear_bottleneck():
    block = InvertedResidual(8, 8, 48, kernel=3).eval()
    expand, depthwise, project = block.block
    assert expand[0].out_channels == 48 and depthwise[0].groups == 48
    assert len(project) == 2  # conv and batch norm, no activation: linear
    assert block.use_residual
    x = torch.randn(2, 8, 6, 6)
    torch.testing.assert_close(block(x), x + project(depthwise(expand(x))))
    assert (project(depthwise(expand(x))) < 0).any()  # negative values survive the projection
    nn.init.zeros_(project[1].weight)
    torch.testing.assert_close(block(x), x)  # a zero branch: the identity
    no_expand = InvertedResidual(8, 16, 8, stride=2)
    assert len(no_expand.block) == 2 and not no_expand.use_residual
    assert no_expand(x).shape == (2, 16, 3, 3)


def test_v3_block_with_se_and_hard_swish():
    block = InvertedResidual(8, 8, 24, kernel=5, act="hswish", se=True, eps=0.001)
    expand, depthwise, se, _ = block.block
    assert isinstance(expand[2], HardSwish) and depthwise[0].kernel_size == (5, 5)
    assert isinstance(se, SqueezeExcite) and se.fc1.out_channels == 8  # 24 / 4 → multiple of 8
    assert depthwise[1].eps == 0.001
    assert block(torch.randn(2, 8, 5, 5)).shape == (2, 8, 5, 5)


@torch.no_grad()
def test_shapes_at_224():
    # spatial sizes do not depend on the widths: thin networks show them cheaply
    for thin, blocks in (
        (MobileNetV2(width=0.05, head_channels=16).eval(), [s.n for s in V2_STAGES]),
        (MobileNetV3(width=0.05, head_channels=16).eval(), [1] * len(V3_LARGE)),
    ):
        x, sides = torch.randn(1, 3, 224, 224), []
        for layer in thin.features:
            x = layer(x)
            sides.append(x.shape[-1])
        strides = sorted(set(sides), reverse=True)
        assert strides == [112, 56, 28, 14, 7]
        assert thin.classifier(thin.pool(x).flatten(1)).shape == (1, 1000)
        assert len(thin.features) == 2 + sum(blocks)
    with torch.device("meta"):
        v2, v3 = mobilenet_v2(), mobilenet_v3_large()
    assert v2.features[-1][0].out_channels == 1280 and v3.features[-1][0].out_channels == 960
    assert sum(isinstance(m, SqueezeExcite) for m in v3.modules()) == 8


def test_small_mobilenets_for_digits():
    v2 = MobileNetV2(
        10,
        stages=(V2Stage(1, 8, 1, 1), V2Stage(4, 16, 2, 2)),
        in_channels=1,
        stem_channels=8,
        head_channels=64,
        stem_stride=1,
    )
    v3 = MobileNetV3(
        10,
        blocks=(V3Block(3, 16, 8, True, "relu", 1), V3Block(5, 32, 16, True, "hswish", 2)),
        in_channels=1,
        stem_channels=8,
        head_channels=64,
        stem_stride=1,
    )
    for model in (v2, v3):
        assert model(torch.randn(3, 1, 16, 16)).shape == (3, 10)


def test_mobilenet_bad_input():
    with pytest.raises(ValueError, match="stride must be 1 or 2, got 3"):
        InvertedResidual(8, 8, 16, stride=3)
    with pytest.raises(ValueError, match="kernel must be a positive odd number, got 4"):
        InvertedResidual(8, 8, 16, kernel=4)
    with pytest.raises(ValueError, match=r"activation must be one of \('relu6', 'relu', 'hswish'"):
        activation("gelu")
    with pytest.raises(ValueError, match="stages must hold at least one V2Stage"):
        MobileNetV2(stages=())
    with pytest.raises(ValueError, match="width must be > 0"):
        MobileNetV3(width=-1.0)
    with pytest.raises(ValueError, match="x must have 3 channels, got 1"):
        MobileNetV2(width=0.05, head_channels=8)(torch.randn(1, 1, 32, 32))
