import pytest
import torch
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from torch import nn
from torch.nn import functional as F

from snippets.generative.dcgan import (
    DCGANDiscriminator,
    DCGANGenerator,
    conv_transpose2d_by_zero_stuffing,
    dcgan_init,
    transposed_conv_output_size,
)
from snippets.generative.gan import train_gan


@pytest.mark.parametrize("size", [8, 16, 32])
def test_shapes_and_output_range(size):
    gen = DCGANGenerator(latent_dim=6, image_size=size, channels=3, width=4)
    images = gen(torch.randn(5, 6))
    assert images.shape == (5, 3, size, size)
    assert images.min() >= -1 and images.max() <= 1
    disc = DCGANDiscriminator(image_size=size, channels=3, width=4)
    assert disc(images).shape == (5,)


def test_layer_shapes_follow_the_transposed_conv_formula():
    """Every layer's output size, as printed by running it, matches the formula."""
    gen = DCGANGenerator(latent_dim=8, image_size=32, width=4)
    h, size = torch.randn(2, 8)[:, :, None, None], 1
    sizes = []
    for layer in gen.net:
        h = layer(h)
        if isinstance(layer, nn.ConvTranspose2d):
            size = transposed_conv_output_size(
                size, layer.kernel_size[0], layer.stride[0], layer.padding[0]
            )
            assert h.shape[-2:] == (size, size)
            sizes.append(size)
    assert sizes == [4, 8, 16, 32]


@given(
    st.integers(1, 7),
    st.integers(1, 5),
    st.integers(1, 3),
    st.integers(0, 2),
    st.integers(0, 2),
    st.integers(1, 2),
)
@settings(max_examples=30, deadline=None)
def test_output_size_formula_matches_pytorch(size, kernel, stride, padding, extra, dilation):
    output_padding = extra % stride if max(stride, dilation) > extra else 0
    layer = nn.ConvTranspose2d(
        1, 1, kernel, stride, padding, output_padding=output_padding, dilation=dilation
    )
    try:
        out = layer(torch.zeros(1, 1, size, size)).shape[-1]
    except RuntimeError:  # PyTorch refuses a non-positive size
        with pytest.raises(ValueError, match="must be positive"):
            transposed_conv_output_size(size, kernel, stride, padding, output_padding, dilation)
        return
    assert (
        transposed_conv_output_size(size, kernel, stride, padding, output_padding, dilation) == out
    )
    # and a convolution with the same settings maps the size back
    conv = nn.Conv2d(1, 1, kernel, stride, padding, dilation=dilation)
    assert conv(torch.zeros(1, 1, out, out)).shape[-1] == size


@given(
    st.integers(1, 3),
    st.integers(1, 3),
    st.integers(1, 5),
    st.integers(1, 4),
    st.integers(1, 3),
    st.integers(0, 3),
)
@settings(max_examples=15, deadline=None)
def test_zero_stuffing_equals_conv_transpose2d(c_in, c_out, size, kernel, stride, padding):
    padding = min(padding, kernel - 1)
    x = torch.randn(2, c_in, size, size + 1, dtype=torch.float64)
    weight = torch.randn(c_in, c_out, kernel, kernel, dtype=torch.float64)
    assume((size - 1) * stride - 2 * padding + kernel > 0)  # PyTorch needs a positive size
    expected = F.conv_transpose2d(x, weight, stride=stride, padding=padding)
    torch.testing.assert_close(
        conv_transpose2d_by_zero_stuffing(x, weight, stride, padding), expected
    )


@given(st.integers(1, 3), st.integers(0, 1), st.integers(4, 7))
@settings(max_examples=20, deadline=None)
def test_transposed_conv_is_the_gradient_of_a_conv(stride, padding, size):
    """conv_transpose2d(y, w) = ∂⟨conv2d(x, w), y⟩/∂x: the adjoint of the convolution."""
    weight = torch.randn(2, 3, 3, 3, dtype=torch.float64)  # conv: 3 → 2 channels
    x = torch.randn(1, 3, size, size, dtype=torch.float64, requires_grad=True)
    out = F.conv2d(x, weight, stride=stride, padding=padding)
    y = torch.randn_like(out)
    (grad,) = torch.autograd.grad((out * y).sum(), x)
    # output_padding restores the last rows and columns that the strided conv skipped
    skipped = (size + 2 * padding - 3) % stride
    back = F.conv_transpose2d(y, weight, stride=stride, padding=padding, output_padding=skipped)
    torch.testing.assert_close(back, grad)


def test_init_statistics():
    torch.manual_seed(0)
    gen = DCGANGenerator(latent_dim=64, image_size=16, width=64)
    conv_weights = torch.cat(
        [m.weight.flatten() for m in gen.modules() if isinstance(m, nn.ConvTranspose2d)]
    )
    assert abs(conv_weights.mean().item()) < 1e-3
    assert abs(conv_weights.std().item() - 0.02) < 1e-3
    gammas = torch.cat([m.weight for m in gen.modules() if isinstance(m, nn.BatchNorm2d)])
    assert abs(gammas.mean().item() - 1) < 0.005 and 0.01 < gammas.std().item() < 0.03
    assert all((m.bias == 0).all() for m in gen.modules() if isinstance(m, nn.BatchNorm2d))
    layer = nn.Conv2d(4, 4, 3)
    dcgan_init(layer)
    assert (layer.bias == 0).all()


def test_architecture_rules():
    gen = DCGANGenerator(image_size=32, width=4)
    disc = DCGANDiscriminator(image_size=32, width=4)
    for model in (gen, disc):
        kinds = [type(m) for m in model.modules()]
        assert not any(k in kinds for k in (nn.MaxPool2d, nn.AvgPool2d, nn.Linear))
    g_layers, d_layers = list(gen.net), list(disc.net)
    assert isinstance(g_layers[-1], nn.Tanh) and isinstance(g_layers[-2], nn.ConvTranspose2d)
    assert not any(isinstance(m, nn.LeakyReLU) for m in g_layers)
    assert not any(isinstance(m, nn.ReLU) for m in d_layers)
    assert all(m.negative_slope == 0.2 for m in d_layers if isinstance(m, nn.LeakyReLU))
    assert isinstance(d_layers[0], nn.Conv2d) and isinstance(d_layers[1], nn.LeakyReLU)
    # batch norm after every conv but the generator's last and the discriminator's first
    assert sum(isinstance(m, nn.BatchNorm2d) for m in g_layers) == 3
    assert sum(isinstance(m, nn.BatchNorm2d) for m in d_layers) == 2
    assert all(m.stride == (2, 2) for m in d_layers[:-1] if isinstance(m, nn.Conv2d))


def test_train_gan_updates_a_dcgan():
    """The GAN loop of gan.py trains the convolutional pair unchanged."""
    torch.manual_seed(0)
    gen, disc = DCGANGenerator(4, 8, width=4), DCGANDiscriminator(8, width=4)
    before = [p.detach().clone() for p in (*gen.parameters(), *disc.parameters())]
    history = train_gan(gen, disc, torch.rand(32, 1, 8, 8) * 2 - 1, steps=2, batch_size=8)
    after = list((*gen.parameters(), *disc.parameters()))
    assert len(history.d_loss) == 2
    assert all(not torch.equal(a, b) for a, b in zip(before, after))


def test_bad_input():
    with pytest.raises(ValueError, match="image_size must be one of"):
        DCGANGenerator(image_size=12)
    with pytest.raises(ValueError, match=r"z must be \[N, 16\]"):
        DCGANGenerator()(torch.randn(2, 8))
    with pytest.raises(ValueError, match=r"x must be \[N, 1, 16, 16\]"):
        DCGANDiscriminator()(torch.randn(2, 1, 8, 8))
    with pytest.raises(ValueError, match="labels were given"):
        DCGANDiscriminator(8)(torch.randn(2, 1, 8, 8), torch.tensor([0, 1]))
    with pytest.raises(ValueError, match="padding must be at most kernel − 1 = 2"):
        conv_transpose2d_by_zero_stuffing(torch.randn(1, 1, 3, 3), torch.randn(1, 1, 3, 3), 1, 3)
    with pytest.raises(ValueError, match="weight must have 2 input channels"):
        conv_transpose2d_by_zero_stuffing(torch.randn(1, 2, 3, 3), torch.randn(1, 1, 3, 3))
    with pytest.raises(ValueError, match="output size of -1"):
        transposed_conv_output_size(1, 1, 1, 1)
