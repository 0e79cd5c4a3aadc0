import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st

from snippets.cnn.efficientnet import (
    B0_STAGES,
    VARIANTS,
    EfficientNet,
    MBConv,
    SqueezeExcitation,
    Stage,
    compound_scaling,
    drop_path,
    efficientnet,
    efficientnet_b0,
    efficientnet_digits,
    make_divisible,
)
from snippets.fundamentals.nn_basics import count_parameters

#: torchvision's published sizes (1000 classes) and its width/depth coefficients
TORCHVISION = {
    "b0": (1.0, 1.0, 5_288_548),
    "b1": (1.0, 1.1, 7_794_184),
    "b2": (1.1, 1.2, 9_109_994),
    "b3": (1.2, 1.4, 12_233_232),
}


@pytest.fixture(scope="module")
def b0():
    return efficientnet_b0().eval()


def test_b0_parameter_count_matches_torchvision(b0):
    assert count_parameters(b0) == TORCHVISION["b0"][2]


@pytest.mark.parametrize("name", ["b1", "b2", "b3"])
def test_scaled_variants_match_torchvision(name):
    width, depth, published = TORCHVISION[name]
    model = EfficientNet(width=width, depth=depth)
    assert count_parameters(model) == published


#: torchvision's published parameter counts of every released variant (1000 classes)
PUBLISHED = {
    "b0": 5_288_548,
    "b1": 7_794_184,
    "b2": 9_109_994,
    "b3": 12_233_232,
    "b4": 19_341_616,
    "b5": 30_389_784,
    "b6": 43_040_704,
    "b7": 66_347_960,
}


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_released_variants_match_torchvision(name):
    with torch.device("meta"):  # shapes only: B7 costs no memory
        model = efficientnet(name)
    assert count_parameters(model) == PUBLISHED[name]
    assert model.classifier[0].p == VARIANTS[name].dropout


def test_released_variants_grow_with_compound_scaling():
    names = sorted(VARIANTS)
    assert VARIANTS["b0"] == (1.0, 1.0, 224, 0.2)
    for small, big in zip(names, names[1:]):  # every coefficient grows or stays
        assert all(b >= s for s, b in zip(VARIANTS[small], VARIANTS[big]))
    # B1 sits near phi = 0.5 of the formula: resolution 224 * 1.15**0.5
    assert VARIANTS["b1"].resolution == pytest.approx(224 * compound_scaling(0.5)[2], rel=0.01)
    with pytest.raises(ValueError, match=r"name must be one of \('b0',.*got 'b8'"):
        efficientnet("b8")


@torch.no_grad()
def test_b0_stage_resolutions_and_output_shape(b0):
    x = torch.randn(1, 3, 224, 224)
    shapes = []
    for part in b0.features:
        x = part(x)
        shapes.append(tuple(x.shape[1:]))
    # stem, seven stages (Table 1 of the paper), 1×1 head
    assert shapes == [
        (32, 112, 112), (16, 112, 112), (24, 56, 56), (40, 28, 28), (80, 14, 14),
        (112, 14, 14), (192, 7, 7), (320, 7, 7), (1280, 7, 7),
    ]  # fmt: skip
    assert b0.classifier(b0.pool(x).flatten(1)).shape == (1, 1000)
    blocks = [len(stage) for stage in b0.features[1:-1]]
    assert blocks == [s.layers for s in B0_STAGES] == [1, 2, 2, 3, 3, 4, 1]


def test_b0_forward_on_other_sizes(b0):
    logits = b0(torch.randn(2, 3, 64, 96))  # adaptive pooling takes any size
    assert logits.shape == (2, 1000) and torch.isfinite(logits).all()
    assert efficientnet_b0(classes=5).classifier[1].out_features == 5


@given(st.floats(1.0, 2000.0), st.sampled_from([4, 8, 16]))
def test_make_divisible_properties(value, divisor):
    rounded = make_divisible(value, divisor)
    assert rounded % divisor == 0 and rounded >= divisor
    assert rounded >= 0.9 * value  # never loses more than 10 %
    assert abs(rounded - value) <= divisor or rounded == divisor


def test_make_divisible_examples_and_bad_input():
    assert (make_divisible(35.2), make_divisible(44.8), make_divisible(3)) == (32, 48, 8)
    assert make_divisible(32 * 1.1) == 32 and make_divisible(1280) == 1280
    with pytest.raises(ValueError, match="value must be > 0"):
        make_divisible(0)


def test_compound_scaling_doubles_flops_per_step():
    assert compound_scaling(0) == (1.0, 1.0, 1.0)
    alpha, beta, gamma = compound_scaling(1)
    assert (alpha, beta, gamma) == (1.2, 1.1, 1.15)
    assert alpha * beta**2 * gamma**2 == pytest.approx(1.92, abs=0.01)  # the paper's "≈ 2"
    d, w, r = compound_scaling(3)
    assert d * w**2 * r**2 == pytest.approx(1.92**3, rel=1e-3)
    with pytest.raises(ValueError, match="phi must be >= 0"):
        compound_scaling(-1)


def test_squeeze_excitation_matches_formula():
    se = SqueezeExcitation(8, 2)
    x = torch.randn(3, 8, 5, 5)
    pooled = x.mean(dim=(2, 3))  # [N, C]
    w1, b1 = se.fc1.weight.flatten(1), se.fc1.bias
    w2, b2 = se.fc2.weight.flatten(1), se.fc2.bias
    gate = torch.sigmoid(F.linear(F.silu(F.linear(pooled, w1, b1)), w2, b2))
    torch.testing.assert_close(se(x), x * gate[:, :, None, None])
    assert count_parameters(se) == 8 * 2 + 2 + 2 * 8 + 8


def test_squeeze_excitation_only_rescales_channels():
    se = SqueezeExcitation(4, 1)
    x = torch.rand(2, 4, 6, 6) + 0.1
    ratio = se(x) / x  # one gate per (sample, channel), in (0, 1)
    torch.testing.assert_close(ratio, ratio[:, :, :1, :1].expand_as(ratio))
    assert ((ratio > 0) & (ratio < 1)).all()


def test_drop_path_keeps_or_drops_whole_samples():
    x = torch.ones(4000, 3, 2, 2)
    out = drop_path(x, 0.25, training=True)
    per_sample = out.flatten(1)
    assert set(per_sample.unique().tolist()) <= {0.0, torch.tensor(1 / 0.75).item()}
    torch.testing.assert_close(per_sample, per_sample[:, :1].expand_as(per_sample))
    assert 0.22 < (per_sample[:, 0] == 0).float().mean() < 0.28
    assert out.mean().item() == pytest.approx(1.0, abs=0.05)  # expectation unchanged
    assert drop_path(x, 0.25, training=False) is x
    with pytest.raises(ValueError, match=r"p must be in \[0, 1\), got 1.0"):
        drop_path(x, 1.0, training=True)


def test_mbconv_residual_and_shapes():
    block = MBConv(16, 16, expand=4, kernel=3, stride=1).eval()
    assert block.use_residual
    x = torch.randn(2, 16, 8, 8)
    torch.testing.assert_close(block(x), x + block.block(x))
    torch.nn.init.zeros_(block.block[-1][1].weight)  # last batch norm's scale
    torch.nn.init.zeros_(block.block[-1][1].bias)
    torch.testing.assert_close(block(x), x)  # the branch adds nothing: identity

    down = MBConv(16, 24, expand=6, kernel=5, stride=2)
    assert not down.use_residual
    assert down(x).shape == (2, 24, 4, 4)
    assert not MBConv(16, 24, expand=6, kernel=3, stride=1).use_residual
    assert len(MBConv(16, 16, expand=1, kernel=3, stride=1).block) == 3  # no expansion conv


def test_mbconv_depthwise_convolution_has_one_filter_per_channel():
    block = MBConv(8, 8, expand=6, kernel=5, stride=1)
    depthwise = block.block[1][0]
    assert depthwise.groups == depthwise.in_channels == 48
    assert depthwise.weight.shape == (48, 1, 5, 5)


def test_small_efficientnet_for_digits():
    stages = (Stage(1, 3, 1, 16, 16, 1), Stage(4, 3, 2, 16, 24, 2))
    model = EfficientNet(stages, classes=10, in_channels=1, head_channels=64)
    assert model(torch.randn(3, 1, 16, 16)).shape == (3, 10)
    deeper = EfficientNet(stages, depth=2.0, classes=10, in_channels=1, head_channels=64)
    assert [len(s) for s in deeper.features[1:-1]] == [2, 4]
    rates = [b.drop_prob for stage in deeper.features[1:-1] for b in stage]
    assert rates == pytest.approx([0.2 * i / 6 for i in range(6)])  # grows linearly


def test_digits_model_is_a_scaled_down_b0():
    model = efficientnet_digits()
    assert model(torch.randn(2, 1, 16, 16)).shape == (2, 10)
    assert 40_000 < count_parameters(model) < 60_000
    wider = efficientnet_digits(width=1.5, depth=2.0)
    assert wider.features[1][0].block[-1][0].out_channels == 24  # 16 * 1.5
    assert [len(s) for s in wider.features[1:-1]] == [2, 4, 4]


def test_efficientnet_bad_input():
    with pytest.raises(ValueError, match="x must have 1 channels, got 3"):
        EfficientNet(B0_STAGES[:1], in_channels=1)(torch.randn(1, 3, 16, 16))
    with pytest.raises(ValueError, match="stages must hold at least one Stage"):
        EfficientNet(())
    with pytest.raises(ValueError, match="kernel must be a positive odd number, got 4"):
        MBConv(8, 8, 6, kernel=4, stride=1)
    with pytest.raises(ValueError, match="stride must be 1 or 2, got 3"):
        MBConv(8, 8, 6, kernel=3, stride=3)
    with pytest.raises(ValueError, match="width must be > 0"):
        EfficientNet(width=0.0)
