import pytest
import torch
from torch import nn

from snippets.cnn.conv import conv_output_size
from snippets.cnn.lenet import DigitsCNN, LeNet5
from snippets.fundamentals.nn_basics import count_parameters


def _conv_params(c_in, c_out, k):
    return (c_in * k * k + 1) * c_out  # weights plus one bias per filter


def test_lenet5_layer_shapes_follow_the_paper():
    model = LeNet5()
    x = torch.randn(2, 1, 32, 32)
    sizes = []
    for layer in model.features:
        x = layer(x)
        if not isinstance(layer, nn.Tanh):
            sizes.append(tuple(x.shape[1:]))
    # C1, S2, C3, S4, C5 as in LeCun et al. (1998)
    assert sizes == [(6, 28, 28), (6, 14, 14), (16, 10, 10), (16, 5, 5), (120, 1, 1)]
    assert model(torch.randn(3, 1, 32, 32)).shape == (3, 10)


def test_lenet5_parameter_counts():
    model = LeNet5()
    c1, c3, c5 = (m for m in model.features if isinstance(m, nn.Conv2d))
    f6 = model.classifier[1]
    # the paper's published counts for C1, C5 and F6
    assert count_parameters(c1) == 156
    assert count_parameters(c5) == 48_120
    assert count_parameters(f6) == 10_164
    # C3 is fully connected here: 16 filters over all 6 maps instead of the paper's 1,516 weights
    assert count_parameters(c3) == _conv_params(6, 16, 5)
    convolutions = _conv_params(1, 6, 5) + _conv_params(6, 16, 5) + _conv_params(16, 120, 5)
    expected = convolutions + (120 * 84 + 84) + (84 * 10 + 10)
    assert count_parameters(model) == expected


def test_lenet5_bad_input():
    with pytest.raises(ValueError, match=r"x must be \[N, 1, 32, 32\], got \(2, 1, 28, 28\)"):
        LeNet5()(torch.randn(2, 1, 28, 28))
    with pytest.raises(ValueError, match="classes must be > 0"):
        LeNet5(classes=0)


def test_digits_cnn_shapes_and_parameters():
    model = DigitsCNN(channels=(8, 16), classes=10)
    x = torch.randn(5, 1, 8, 8)
    assert model.features(x).shape == (5, 16, 2, 2)
    assert model(x).shape == (5, 10)
    side = conv_output_size(conv_output_size(8, 2, 2), 2, 2)  # two 2×2 poolings
    convs = 9 * (1 * 8 + 8 * 8 + 8 * 16 + 16 * 16)  # 3×3 kernels, no bias
    norms = 2 * (8 + 8 + 16 + 16)  # scale and shift per channel
    assert count_parameters(model) == convs + norms + (16 * side * side + 1) * 10


def test_digits_cnn_train_and_eval_modes_differ():
    model = DigitsCNN()
    x = torch.randn(16, 1, 8, 8)
    model.train()
    assert not torch.equal(model(x), model(x))  # dropout
    model.eval()
    torch.testing.assert_close(model(x[:3]), model(x)[:3])  # batch norm uses running stats


def test_digits_cnn_learns_a_batch():
    torch.manual_seed(0)
    model = DigitsCNN(channels=(8, 16), dropout=0.0)
    x, y = torch.rand(32, 1, 8, 8), torch.arange(32) % 10
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(60):
        loss = nn.functional.cross_entropy(model(x), y)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    assert (model(x).argmax(1) == y).float().mean() == 1.0  # it can memorize 32 images


def test_digits_cnn_bad_input():
    with pytest.raises(ValueError, match=r"x must be \[N, 1, 8, 8\], got \(2, 1, 16, 16\)"):
        DigitsCNN()(torch.randn(2, 1, 16, 16))
    with pytest.raises(ValueError, match="x must have size 1 in dimension 1, got 3"):
        DigitsCNN()(torch.randn(2, 3, 8, 8))
    with pytest.raises(ValueError, match="channels must hold two widths"):
        DigitsCNN(channels=(8,))
    with pytest.raises(ValueError, match="dropout must be in"):
        DigitsCNN(dropout=1.0)
