import pytest
import torch
from torch import nn

from snippets.cnn.resnet import BasicBlock, Bottleneck, ResNet, resnet18, resnet50, resnet101
from snippets.fundamentals.nn_basics import count_parameters

#: torchvision's published size of ``resnet18()`` with 1000 classes
TORCHVISION_RESNET18_PARAMETERS = 11_689_512
#: torchvision's published sizes of the bottleneck networks with 1000 classes
PUBLISHED = {"resnet50": 25_557_032, "resnet101": 44_549_160}


def stem(model: ResNet, x: torch.Tensor) -> torch.Tensor:
    return model.maxpool(model.relu(model.bn1(model.conv1(x))))


@torch.no_grad()
def test_resnet18_matches_torchvision():
    model = resnet18().eval()
    x = stem(model, torch.randn(1, 3, 224, 224))
    shapes = [tuple(x.shape[1:])]
    for stage in model.stages:
        x = stage(x)
        shapes.append(tuple(x.shape[1:]))
    assert model.fc(model.avgpool(x).flatten(1)).shape == (1, 1000)
    assert count_parameters(model) == TORCHVISION_RESNET18_PARAMETERS
    assert shapes == [(64, 56, 56), (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]


def test_block_adds_its_input():
    block = BasicBlock(8, 8).eval()
    x = torch.randn(2, 8, 6, 6)
    branch = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), torch.relu(branch + x))
    assert isinstance(block.downsample, nn.Identity)


def test_projection_shortcut_when_shape_changes():
    block = BasicBlock(8, 16, stride=2).eval()
    x = torch.randn(2, 8, 7, 7)
    assert block(x).shape == (2, 16, 4, 4)
    conv, norm = block.downsample
    assert conv.kernel_size == (1, 1) and conv.stride == (2, 2)
    branch = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), torch.relu(branch + norm(conv(x))))


def test_zero_init_blocks_pass_signal_and_gradient_through_any_depth():
    model = nn.Sequential(*[BasicBlock(4, 4, zero_init=True) for _ in range(30)])
    x = torch.rand(2, 4, 5, 5, requires_grad=True)  # non-negative: ReLU keeps it
    out = model(x)
    torch.testing.assert_close(out, x)
    out.sum().backward()
    torch.testing.assert_close(x.grad, torch.ones_like(x))  # gradient 1 reaches the input


def test_small_resnet_for_digits():
    model = ResNet((1, 1), (8, 16), classes=10, in_channels=1, stem="small")
    assert model(torch.randn(3, 1, 16, 16)).shape == (3, 10)
    convs = sum(isinstance(m, nn.Conv2d) for m in model.modules())
    assert convs == 1 + 2 + 3  # stem, a plain block, a block with a projection


def test_resnet_bad_input():
    with pytest.raises(ValueError, match="blocks and widths must be non-empty and of equal"):
        ResNet((2, 2), (64,))
    with pytest.raises(ValueError, match="stem must be one of"):
        ResNet(stem="tiny")
    with pytest.raises(ValueError, match=r"block must be one of \('basic', 'bottleneck'\)"):
        ResNet(block="wide")
    with pytest.raises(ValueError, match="width must be > 0"):
        Bottleneck(8, 0)
    with pytest.raises(ValueError, match="x must have 1 channels, got 3"):
        ResNet((1,), (8,), in_channels=1, stem="small")(torch.randn(1, 3, 8, 8))


@pytest.mark.parametrize("name", sorted(PUBLISHED))
def test_bottleneck_resnets_match_torchvision(name):
    with torch.device("meta"):
        model = {"resnet50": resnet50, "resnet101": resnet101}[name]()
    assert count_parameters(model) == PUBLISHED[name]
    assert model.fc.in_features == 2048
    blocks = [len(stage) for stage in model.stages]
    assert blocks == ([3, 4, 6, 3] if name == "resnet50" else [3, 4, 23, 3])
    # depth: stem + 3 convolutions per block + fc
    assert 1 + 3 * sum(blocks) + 1 == int(name[6:])


def test_bottleneck_parameter_count_by_hand():
    # a 256-channel block of ResNet-50's first stage: 1×1 256→64, 3×3 64→64, 1×1 64→256
    block = Bottleneck(256, 64)
    convs = 256 * 64 + 9 * 64 * 64 + 64 * 256
    norms = 2 * (64 + 64 + 256)  # a scale and a shift per channel
    assert count_parameters(block) == convs + norms == 70_400
    # a plain pair of 3×3 convolutions at 256 channels would cost 2 · 9 · 256²
    assert convs < 2 * 9 * 256 * 256 / 16


def test_bottleneck_equals_its_layers():
    block = Bottleneck(16, 4).eval()
    assert isinstance(block.downsample, nn.Identity)  # 16 = 4 · 4: shapes match
    x = torch.randn(2, 16, 5, 5)
    out = torch.relu(block.bn1(block.conv1(x)))
    out = torch.relu(block.bn2(block.conv2(out)))
    torch.testing.assert_close(block(x), torch.relu(block.bn3(block.conv3(out)) + x))
    assert (block.conv1.out_channels, block.conv3.out_channels) == (4, 4 * Bottleneck.expansion)


def test_bottleneck_projection_and_zero_init():
    down = Bottleneck(16, 8, stride=2)
    assert down(torch.randn(2, 16, 7, 7)).shape == (2, 32, 4, 4)
    assert down.conv2.stride == (2, 2) and down.conv1.stride == (1, 1)  # stride in the 3×3
    assert not isinstance(down.downsample, nn.Identity)
    block = Bottleneck(12, 3, zero_init=True)
    x = torch.rand(2, 12, 4, 4)
    torch.testing.assert_close(block(x), x)  # F(x) = 0 at the start: the identity


@torch.no_grad()
def test_resnet50_stage_shapes_at_224():
    # spatial sizes do not depend on the widths: a thin ResNet-50 shows them cheaply
    thin = ResNet((3, 4, 6, 3), (2, 4, 8, 16), block="bottleneck").eval()
    x = stem(thin, torch.randn(1, 3, 224, 224))
    shapes = [tuple(x.shape[1:])]
    for stage in thin.stages:
        x = stage(x)
        shapes.append(tuple(x.shape[1:]))
    assert shapes == [(2, 56, 56), (8, 56, 56), (16, 28, 28), (32, 14, 14), (64, 7, 7)]
    assert thin.fc(thin.avgpool(x).flatten(1)).shape == (1, 1000)
    with torch.device("meta"):
        full = resnet50()
    widths = [stage[-1].conv3.out_channels for stage in full.stages]
    assert widths == [256, 512, 1024, 2048]  # 4 × (64, 128, 256, 512)


def test_small_bottleneck_resnet_for_digits():
    model = ResNet((1, 1), (4, 8), classes=10, in_channels=1, stem="small", block="bottleneck")
    assert model(torch.randn(3, 1, 16, 16)).shape == (3, 10)
