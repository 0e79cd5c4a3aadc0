import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.cnn.inception import (
    GOOGLENET_MODULES,
    AuxHead,
    ConvBN,
    GoogLeNet,
    InceptionA,
    InceptionC,
    InceptionE,
    InceptionModule,
    InceptionV3,
    ModuleSpec,
    _factorized,
    googlenet,
    inception_v3,
)
from snippets.fundamentals.nn_basics import count_parameters

#: torchvision's published sizes with 1000 classes: GoogLeNet without its auxiliary
#: heads, Inception-v3 with its auxiliary head
PUBLISHED = {"googlenet": 6_624_904, "inception_v3": 27_161_264}


@pytest.fixture(scope="module")
def v3():
    with torch.device("meta"):  # shapes only: no memory, no initialization
        return inception_v3()


def test_parameter_counts_match_torchvision(v3):
    with torch.device("meta"):
        assert count_parameters(googlenet()) == PUBLISHED["googlenet"]
    assert count_parameters(v3) == PUBLISHED["inception_v3"]


def test_auxiliary_heads_by_hand(v3):
    with torch.device("meta"):
        with_aux = googlenet(aux_heads=True)

    def head(c_in):  # 1×1 conv to 128 + batch norm, FC 2048 → 1024, FC 1024 → 1000
        return c_in * 128 + 2 * 128 + 2048 * 1024 + 1024 + 1024 * 1000 + 1000

    assert count_parameters(with_aux) - PUBLISHED["googlenet"] == head(512) + head(528)
    aux = 768 * 128 + 2 * 128 + 128 * 768 * 25 + 2 * 768 + 768 * 1000 + 1000
    assert count_parameters(v3.aux) == aux


def test_paper_5x5_branch_against_torchvision_3x3():
    with torch.device("meta"):
        paper = GoogLeNet()  # big_kernel=5, as in the paper
    extra = sum((25 - 9) * s.r5 * s.c5 for group in GOOGLENET_MODULES for s in group)
    assert count_parameters(paper) - PUBLISHED["googlenet"] == extra


def test_inception_module_channel_arithmetic_3a():
    module = InceptionModule(192, *GOOGLENET_MODULES[0][0])  # 3a
    assert module.out_channels == 64 + 128 + 32 + 32 == 256
    weights = count_parameters(module) - 2 * (64 + 96 + 128 + 16 + 32 + 32)  # minus batch norms
    assert weights == 192 * 64 + (192 * 96 + 9 * 96 * 128) + (192 * 16 + 25 * 16 * 32) + 192 * 32


def test_inception_module_equals_concatenated_branches():
    module = InceptionModule(6, 2, 3, 4, 2, 3, 5).eval()
    x = torch.randn(2, 6, 7, 9)
    pooled = F.max_pool2d(x, 3, stride=1, padding=1)
    expected = torch.cat(
        [module.branch1(x), module.branch3(x), module.branch5(x), module.branch_pool[1](pooled)], 1
    )
    torch.testing.assert_close(module(x), expected)
    conv, norm, _ = module.branch1
    reference = F.relu(
        F.batch_norm(
            F.conv2d(x, conv.weight),
            norm.running_mean,
            norm.running_var,
            norm.weight,
            norm.bias,
            eps=0.001,
        )
    )
    torch.testing.assert_close(module(x)[:, :2], reference)


@settings(max_examples=6)
@given(
    st.lists(st.integers(1, 6), min_size=6, max_size=6),
    st.integers(3, 9),
    st.sampled_from([3, 5]),
)
def test_inception_module_keeps_size_and_sums_channels(widths, side, kernel):
    module = InceptionModule(3, *widths, big_kernel=kernel)
    c1, _, c3, _, c5, pool = widths
    out = module(torch.randn(1, 3, side, side + 1))
    assert out.shape == (1, c1 + c3 + c5 + pool, side, side + 1)
    assert module.out_channels == out.shape[1]


def test_factorized_convolution_sees_n_by_n_with_fewer_weights():
    block = _factorized(4, 4, 7, "row").eval()
    assert [layer[0].kernel_size for layer in block] == [(1, 7), (7, 1)]
    x = torch.zeros(1, 4, 15, 15, requires_grad=True)
    for layer in block:
        nn.init.constant_(layer[0].weight, 0.1)
        nn.init.constant_(layer[1].bias, 10.0)  # keeps every ReLU open
    block(x)[0, 0, 7, 7].backward()
    rows, cols = torch.nonzero(x.grad[0, 0]).unbind(1)
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (4, 10, 4, 10)  # a 7×7 window
    weights = sum(layer[0].weight.numel() for layer in block)
    assert weights == 2 * 7 * 4 * 4 < 49 * 4 * 4


def test_inception_v3_modules_output_widths():
    x = torch.randn(1, 192, 5, 5)
    assert InceptionA(192, 32)(x).shape == (1, 256, 5, 5)
    assert InceptionC(192, 16)(x).shape == (1, 768, 5, 5)
    assert InceptionE(192)(x).shape == (1, 2048, 5, 5)


@torch.no_grad()
def test_googlenet_shapes_at_224():
    # spatial sizes do not depend on the widths: a thin GoogLeNet shows them
    thin = GoogLeNet(width=1 / 32, big_kernel=3).eval()
    x = thin.stem(torch.randn(1, 3, 224, 224))
    sides = [x.shape[-1]]
    for stage in thin.stages:
        x = stage(x)
        sides.append(x.shape[-1])
    assert sides == [28, 28, 14, 7]
    assert thin.fc(thin.pool(x).flatten(1)).shape == (1, 1000)
    with torch.device("meta"):
        full = googlenet()
    assert [stage[-1].out_channels for stage in full.stages] == [480, 832, 1024]


@torch.no_grad()
def test_inception_v3_shapes_at_299(v3):
    with torch.device("meta"):  # shapes only: no arithmetic
        model = v3.eval()
        x = model.stem(torch.empty(2, 3, 299, 299))
        shapes = [tuple(x.shape[1:])]
        for part in (model.grid35, model.grid17, model.grid8):
            x = part(x)
            shapes.append(tuple(x.shape[1:]))
        logits = model.fc(model.pool(x).flatten(1))
        aux = model.aux(torch.empty(2, 768, 17, 17))  # reads the last 17×17 map
    assert shapes == [(192, 35, 35), (288, 35, 35), (768, 17, 17), (2048, 8, 8)]
    assert logits.shape == aux.shape == (2, 1000)


def test_auxiliary_heads_only_in_training():
    groups = ((ModuleSpec(4, 2, 4, 2, 4, 4),),) + ((ModuleSpec(4, 2, 4, 2, 4, 4),) * 5,)
    groups += ((ModuleSpec(4, 2, 4, 2, 4, 4),),)
    model = GoogLeNet(10, 1, groups, stem="small", aux_heads=True)
    x = torch.randn(2, 1, 16, 16)
    logits, aux1, aux2 = model.train()(x)
    assert logits.shape == aux1.shape == aux2.shape == (2, 10)
    assert model.eval()(x).shape == (2, 10)
    head = AuxHead(16, 3)
    assert head(torch.randn(2, 16, 9, 9)).shape == (2, 3)


def test_small_googlenet_for_digits():
    model = GoogLeNet(10, 1, width=1 / 8, stem="small")
    assert model(torch.randn(3, 1, 16, 16)).shape == (3, 10)


def test_inception_bad_input():
    with pytest.raises(ValueError, match="big_kernel must be 3 or 5, got 7"):
        InceptionModule(8, 1, 1, 1, 1, 1, 1, big_kernel=7)
    with pytest.raises(ValueError, match="groups must hold three non-empty groups, got 2"):
        GoogLeNet(groups=GOOGLENET_MODULES[:2])
    with pytest.raises(ValueError, match="stem must be one of"):
        GoogLeNet(stem="tiny")
    with pytest.raises(ValueError, match="c_out must be > 0"):
        ConvBN(3, 0, 3)
    with torch.device("meta"), pytest.raises(ValueError, match="x must have 3 channels, got 1"):
        InceptionV3(aux_head=False)(torch.empty(1, 1, 75, 75))
    with torch.device("meta"), pytest.raises(ValueError, match="x must have 4 dimensions"):
        GoogLeNet(10, 1, width=1 / 8, stem="small")(torch.empty(1, 16, 16))
