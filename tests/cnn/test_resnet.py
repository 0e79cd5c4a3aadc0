import pytest
import torch
from torch import nn

from snippets.cnn.resnet import BasicBlock, ResNet, resnet18
from snippets.fundamentals.nn_basics import count_parameters

#: torchvision's published size of ``resnet18()`` with 1000 classes
TORCHVISION_RESNET18_PARAMETERS = 11_689_512


@torch.no_grad()
def test_resnet18_matches_torchvision():
    model = resnet18().eval()
    x = model.stem(torch.randn(1, 3, 224, 224))
    shapes = [tuple(x.shape[1:])]
    for stage in model.stages:
        x = stage(x)
        shapes.append(tuple(x.shape[1:]))
    assert model.fc(model.pool(x).flatten(1)).shape == (1, 1000)
    assert count_parameters(model) == TORCHVISION_RESNET18_PARAMETERS
    assert shapes == [(64, 56, 56), (64, 56, 56), (128, 28, 28), (256, 14, 14), (512, 7, 7)]


def test_block_adds_its_input():
    block = BasicBlock(8, 8).eval()
    x = torch.randn(2, 8, 6, 6)
    branch = block.bn2(block.conv2(torch.relu(block.bn1(block.conv1(x)))))
    torch.testing.assert_close(block(x), torch.relu(branch + x))
    assert isinstance(block.shortcut, nn.Identity)


def test_projection_shortcut_when_shape_changes():
    block = BasicBlock(8, 16, stride=2).eval()
    x = torch.randn(2, 8, 7, 7)
    assert block(x).shape == (2, 16, 4, 4)
    conv, norm = block.shortcut
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
    with pytest.raises(ValueError, match="x must have 1 channels, got 3"):
        ResNet((1,), (8,), in_channels=1, stem="small")(torch.randn(1, 3, 8, 8))
