"""DCGAN: a generator of transposed convolutions and a convolutional discriminator.

Radford, Metz and Chintala turned the GAN's MLPs into convolutional networks
that train reliably by following a few rules: no pooling (strided
convolutions down-sample, transposed convolutions up-sample), batch
normalization everywhere except the generator's output and the
discriminator's input, ReLU in the generator and LeakyReLU(0.2) in the
discriminator, a tanh output (images scaled to ``[-1, 1]``), and weights
drawn from ``N(0, 0.02)``. Both classes here accept the ``labels`` argument
of :func:`snippets.generative.gan.train_gan` (always ``None``), so that loop
trains them unchanged.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

from snippets.common.checks import check_choice, check_positive, check_tensor


def transposed_conv_output_size(
    size: int,
    kernel_size: int,
    stride: int = 1,
    padding: int = 0,
    output_padding: int = 0,
    dilation: int = 1,
) -> int:
    """Spatial size after ``nn.ConvTranspose2d``: the inverse of a conv's size rule.

    ``(size − 1)·stride − 2·padding + dilation·(kernel_size − 1) + output_padding + 1``.
    A convolution with the same settings maps this size back to ``size``.

    Raises:
        ValueError: if a size is not positive or the result is not positive.
    """
    for value, name in ((size, "size"), (kernel_size, "kernel_size"), (stride, "stride")):
        check_positive(value, name)
    check_positive(padding, "padding", allow_zero=True)
    check_positive(output_padding, "output_padding", allow_zero=True)
    out = (size - 1) * stride - 2 * padding + dilation * (kernel_size - 1) + output_padding + 1
    if out <= 0:
        raise ValueError(f"the settings give an output size of {out}; it must be positive")
    return out


def conv_transpose2d_by_zero_stuffing(
    x: torch.Tensor, weight: torch.Tensor, stride: int = 1, padding: int = 0
) -> torch.Tensor:
    """A transposed convolution written as an ordinary convolution.

    Put ``stride − 1`` zeros between neighbouring pixels of ``x``, pad the
    result by ``kernel − 1 − padding`` on every side, and convolve with the
    kernel flipped in both spatial directions and with its two channel
    dimensions swapped. Equals ``F.conv_transpose2d(x, weight, stride=stride,
    padding=padding)``.

    Shapes:
        ``x`` ``[N, C_in, H, W]``, ``weight`` ``[C_in, C_out, k_h, k_w]``
        (the layout of ``nn.ConvTranspose2d.weight``) →
        ``[N, C_out, H', W']`` with :func:`transposed_conv_output_size`.

    Raises:
        ValueError: if the channels do not match or ``padding`` exceeds
            ``kernel − 1``.
    """
    check_tensor(x, "x", ndim=4, floating=True)
    check_tensor(weight, "weight", ndim=4, floating=True)
    check_positive(stride, "stride")
    check_positive(padding, "padding", allow_zero=True)
    if weight.shape[0] != x.shape[1]:
        raise ValueError(
            f"weight must have {x.shape[1]} input channels in dimension 0, got {weight.shape[0]}"
        )
    n, c, h, w = x.shape
    k_h, k_w = weight.shape[2:]
    if padding > min(k_h, k_w) - 1:
        raise ValueError(f"padding must be at most kernel − 1 = {min(k_h, k_w) - 1}, got {padding}")
    stuffed = x.new_zeros(n, c, (h - 1) * stride + 1, (w - 1) * stride + 1)
    stuffed[:, :, ::stride, ::stride] = x  # stride − 1 zeros between pixels
    pad_h, pad_w = k_h - 1 - padding, k_w - 1 - padding
    stuffed = F.pad(stuffed, (pad_w, pad_w, pad_h, pad_h))
    kernel = weight.flip(2, 3).transpose(0, 1)  # [C_out, C_in, k_h, k_w], flipped
    return F.conv2d(stuffed, kernel)


def dcgan_init(module: nn.Module) -> None:
    """DCGAN's initialization, applied with ``model.apply(dcgan_init)``.

    Convolution weights ``N(0, 0.02)`` (biases zero); batch-norm scales
    ``γ ~ N(1, 0.02)`` and shifts ``β = 0``.
    """
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        if module.bias is not None:
            nn.init.zeros_(module.bias)
    elif isinstance(module, nn.BatchNorm2d):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _widths(image_size: int, width: int) -> list[int]:
    check_choice(image_size, "image_size", (8, 16, 32, 64))
    check_positive(width, "width")
    doublings = int(math.log2(image_size)) - 2  # 4×4 → image_size
    return [width * 2**i for i in reversed(range(doublings))]  # e.g. [2w, w] for 16×16


def _no_labels(labels: torch.Tensor | None) -> None:
    if labels is not None:
        raise ValueError("labels were given to an unconditional model")


class DCGANGenerator(nn.Module):
    """Noise ``z`` → a ``4×4`` map → doubled by each transposed conv → ``image_size``.

    The first layer is a transposed convolution with a 4×4 kernel on the
    ``1×1`` "image" ``z``; each later one has kernel 4, stride 2, padding 1
    and doubles the size. Batch norm and ReLU follow every layer but the
    last, which ends in tanh. For 16×16 images and ``width=32`` the
    channels go ``latent → 64 → 32 → channels``.

    Shapes:
        ``z`` ``[N, latent_dim]`` → ``[N, channels, image_size, image_size]`` in ``[-1, 1]``.
    """

    def __init__(
        self, latent_dim: int = 16, image_size: int = 16, channels: int = 1, width: int = 32
    ) -> None:
        super().__init__()
        check_positive(latent_dim, "latent_dim")
        check_positive(channels, "channels")
        widths = _widths(image_size, width)
        self.latent_dim, self.image_size, self.channels = latent_dim, image_size, channels
        layers: list[nn.Module] = [
            nn.ConvTranspose2d(latent_dim, widths[0], 4, 1, 0, bias=False),  # 1×1 → 4×4
            nn.BatchNorm2d(widths[0]),
            nn.ReLU(),
        ]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [
                nn.ConvTranspose2d(c_in, c_out, 4, 2, 1, bias=False),  # size × 2
                nn.BatchNorm2d(c_out),
                nn.ReLU(),
            ]
        layers += [nn.ConvTranspose2d(widths[-1], channels, 4, 2, 1), nn.Tanh()]  # no BN here
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, z: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_tensor(z, "z", ndim=2, floating=True)
        if z.shape[1] != self.latent_dim:
            raise ValueError(f"z must be [N, {self.latent_dim}], got shape {tuple(z.shape)}")
        _no_labels(labels)
        return self.net(z[:, :, None, None])  # [N, latent, 1, 1]


class DCGANDiscriminator(nn.Module):
    """An image → halved by each strided conv → a ``4×4`` map → one logit.

    Each layer but the last is a convolution with kernel 4, stride 2,
    padding 1 (no pooling) and LeakyReLU(0.2); batch norm follows every one
    but the first, which sees the raw image. A final 4×4 convolution without
    padding reduces the ``4×4`` map to one number.

    Shapes:
        ``x`` ``[N, channels, image_size, image_size]`` → logits ``[N]``.
    """

    def __init__(self, image_size: int = 16, channels: int = 1, width: int = 32) -> None:
        super().__init__()
        check_positive(channels, "channels")
        widths = _widths(image_size, width)[::-1]  # e.g. [w, 2w] for 16×16
        self.image_size, self.channels = image_size, channels
        layers: list[nn.Module] = [
            nn.Conv2d(channels, widths[0], 4, 2, 1),  # no BN on the input layer
            nn.LeakyReLU(0.2),
        ]
        for c_in, c_out in zip(widths, widths[1:]):
            layers += [
                nn.Conv2d(c_in, c_out, 4, 2, 1, bias=False),  # size ÷ 2
                nn.BatchNorm2d(c_out),
                nn.LeakyReLU(0.2),
            ]
        layers.append(nn.Conv2d(widths[-1], 1, 4, 1, 0))  # 4×4 → 1×1
        self.net = nn.Sequential(*layers)
        self.apply(dcgan_init)

    def forward(self, x: torch.Tensor, labels: torch.Tensor | None = None) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        want = (self.channels, self.image_size, self.image_size)
        if tuple(x.shape[1:]) != want:
            raise ValueError(
                f"x must be [N, {', '.join(map(str, want))}], got shape {tuple(x.shape)}"
            )
        _no_labels(labels)
        return self.net(x).flatten()
