import pytest
import torch
from torch import nn

from snippets.cnn.alexnet import AlexNet
from snippets.cnn.conv import conv_output_size
from snippets.fundamentals.nn_basics import count_parameters

#: torchvision's published size of ``alexnet()`` with 1000 classes
TORCHVISION_ALEXNET_PARAMETERS = 61_100_840


def test_parameter_count_matches_torchvision():
    with torch.device("meta"):  # shapes only: no memory, no initialisation cost
        model = AlexNet(classes=1000)
    assert count_parameters(model) == TORCHVISION_ALEXNET_PARAMETERS
    with torch.device("meta"):
        ten = AlexNet(classes=10)
    assert count_parameters(model) - count_parameters(ten) == 4096 * 990 + 990  # last layer only


def test_parameters_are_mostly_in_the_classifier():
    with torch.device("meta"):
        model = AlexNet()
    share = count_parameters(model.classifier) / count_parameters(model)
    assert 0.95 < share < 0.96  # the convolutions hold under 4 %


def test_spatial_sizes_follow_the_output_formula():
    with torch.device("meta"):
        model = AlexNet()
        x = torch.empty(2, 3, 224, 224)
        sizes = []
        for layer in model.features:
            x = layer(x)
            if not isinstance(layer, nn.ReLU):
                sizes.append(x.shape[-1])
    expected, side = [], 224
    for layer in model.features:
        if isinstance(layer, (nn.Conv2d, nn.MaxPool2d)):
            k, s, p = (_first(v) for v in (layer.kernel_size, layer.stride, layer.padding))
            side = conv_output_size(side, k, s, p)
            expected.append(side)
    assert sizes == expected == [55, 27, 27, 13, 13, 13, 13, 6]


def _first(value):
    return value if isinstance(value, int) else value[0]


def test_forward_output_shapes():
    torch.manual_seed(0)
    model = AlexNet(classes=7).eval()
    x = torch.randn(2, 3, 224, 224)
    assert model.features(x).shape == (2, 256, 6, 6)
    logits = model(x)
    assert logits.shape == (2, 7) and torch.isfinite(logits).all()
    assert model(torch.randn(1, 3, 100, 80)).shape == (1, 7)  # adaptive pooling


def test_bad_input():
    with torch.device("meta"):
        model = AlexNet()
        with pytest.raises(ValueError, match="x must have 3 channels"):
            model(torch.empty(1, 1, 224, 224))
        with pytest.raises(ValueError, match="x must be at least 63×63 pixels"):
            model(torch.empty(1, 3, 32, 32))
    with pytest.raises(ValueError, match="dropout must be in"):
        AlexNet(dropout=1.5)
