"""StyleGAN's parts: a mapping network, styles, noise inputs and style mixing.

A StyleGAN generator does not feed the noise ``z`` into its first layer.
A *mapping network* turns ``z`` into an intermediate latent ``w``; the
*synthesis network* starts from a learned constant and, at every layer,
reads a *style* computed from ``w`` that sets the scale of each feature
map. StyleGAN (2019) applied the style with adaptive instance normalization
(:func:`adain`); StyleGAN2 (2020) folded it into the convolution's weights
(:func:`modulated_conv2d`, with *demodulation*). Per-pixel *noise*, scaled
by a learned weight per channel, adds the random detail (hair, freckles)
that the style does not decide. Feeding different ``w`` to different layers
(*style mixing*) shows which layers decide coarse and which fine features.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from snippets.common.checks import check_dim, check_positive, check_tensor


def pixel_norm(x: torch.Tensor, eps: float = 1e-8) -> torch.Tensor:
    """Scale every sample (every pixel) to unit mean square over the channels, dim 1.

    ``x / sqrt(mean_c x_c² + eps)``. On ``z`` it removes the vector's length,
    so only its direction matters.

    Shapes:
        ``[N, C, ...]`` → the same.
    """
    check_tensor(x, "x", floating=True)
    return x * torch.rsqrt(x.square().mean(dim=1, keepdim=True) + eps)


class MappingNetwork(nn.Module):
    """``z`` → pixel norm → ``layers`` × (Linear, LeakyReLU(0.2)) → ``w``.

    StyleGAN uses 8 layers of 512; the point is that ``w`` need not follow
    the fixed Gaussian of ``z``, so the generator can give the factors of
    variation in the data a less tangled layout.

    Shapes:
        ``z`` ``[N, latent_dim]`` → ``w`` ``[N, w_dim]``.
    """

    def __init__(self, latent_dim: int = 32, w_dim: int = 32, layers: int = 4) -> None:
        super().__init__()
        for value, name in ((latent_dim, "latent_dim"), (w_dim, "w_dim"), (layers, "layers")):
            check_positive(value, name)
        self.latent_dim, self.w_dim = latent_dim, w_dim
        sizes = [latent_dim] + [w_dim] * layers
        blocks: list[nn.Module] = []
        for n_in, n_out in zip(sizes, sizes[1:]):
            blocks += [nn.Linear(n_in, n_out), nn.LeakyReLU(0.2)]
        self.net = nn.Sequential(*blocks)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        check_tensor(z, "z", ndim=2, floating=True)
        check_dim(z, "z", 1, self.latent_dim)
        return self.net(pixel_norm(z))


def adain(
    x: torch.Tensor, scale: torch.Tensor, bias: torch.Tensor, eps: float = 1e-5
) -> torch.Tensor:
    """Adaptive instance normalization: ``scale · (x − μ(x)) / σ(x) + bias``.

    ``μ`` and ``σ`` are the mean and (biased) standard deviation of each
    channel of each sample over its pixels, so every feature map is first
    normalized and then given the mean ``bias`` and standard deviation
    ``|scale|`` that the style asks for. The style replaces the statistics
    of the previous layer: their effect does not reach the next one.

    Shapes:
        ``x`` ``[N, C, H, W]``, ``scale`` and ``bias`` ``[N, C]`` → ``[N, C, H, W]``.
    """
    check_tensor(x, "x", ndim=4, floating=True)
    for value, name in ((scale, "scale"), (bias, "bias")):
        check_tensor(value, name, ndim=2, floating=True)
        if value.shape != x.shape[:2]:
            raise ValueError(
                f"{name} must be [N, C] = {tuple(x.shape[:2])}, got {tuple(value.shape)}"
            )
    mean = x.mean(dim=(2, 3), keepdim=True)
    var = x.var(dim=(2, 3), unbiased=False, keepdim=True)
    normalized = (x - mean) * torch.rsqrt(var + eps)
    return scale[:, :, None, None] * normalized + bias[:, :, None, None]


class AdaIN(nn.Module):
    """StyleGAN's style input: a learned affine map ``w`` → (scale, bias), then :func:`adain`.

    The affine map starts at scale 1 and bias 0 for every channel, so an
    untrained layer leaves the normalized features as they are.

    Shapes:
        ``x`` ``[N, channels, H, W]``, ``w`` ``[N, w_dim]`` → like ``x``.
    """

    def __init__(self, channels: int, w_dim: int) -> None:
        super().__init__()
        check_positive(channels, "channels")
        self.affine = nn.Linear(w_dim, 2 * channels)
        with torch.no_grad():
            self.affine.bias[:channels] = 1.0  # scale starts at 1
            self.affine.bias[channels:] = 0.0

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, bias = self.affine(w).chunk(2, dim=1)
        return adain(x, scale, bias)


def modulated_conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    styles: torch.Tensor,
    demodulate: bool = True,
    eps: float = 1e-8,
    grouped: bool = True,
) -> torch.Tensor:
    """StyleGAN2's convolution whose weights are scaled per sample by the style.

    Modulation: ``w'_{n,o,i,k} = s_{n,i} · w_{o,i,k}`` scales input channel
    ``i`` of sample ``n``. Demodulation: ``w''_{n,o,i,k} = w'_{n,o,i,k} /
    sqrt(Σ_{i,k} w'²_{n,o,i,k} + eps)``, so that unit-variance, independent
    inputs give unit-variance outputs; it replaces instance normalization.
    Each sample has its own weights, so the batch is run as one *grouped*
    convolution with ``N`` groups. Padding keeps the size (odd kernels).

    ``grouped=False`` computes the same numbers another way: scaling the
    weights of input channel ``i`` by ``s_i`` equals scaling the input
    channel itself, and demodulation multiplies each output channel by one
    number per sample, so one ordinary convolution with the shared weights
    sits between two scalings. It is faster where grouped convolutions are
    slow, as on a CPU.

    Shapes:
        ``x`` ``[N, C_in, H, W]``, ``weight`` ``[C_out, C_in, k, k]``,
        ``styles`` ``[N, C_in]`` → ``[N, C_out, H, W]``.
    """
    check_tensor(x, "x", ndim=4, floating=True)
    check_tensor(weight, "weight", ndim=4, floating=True)
    check_tensor(styles, "styles", ndim=2, floating=True)
    n, c_in, h, w = x.shape
    if weight.shape[1] != c_in or styles.shape != (n, c_in):
        raise ValueError(
            f"weight must be [C_out, {c_in}, k, k] and styles [{n}, {c_in}], got "
            f"{tuple(weight.shape)} and {tuple(styles.shape)}"
        )
    c_out, k = weight.shape[0], weight.shape[-1]
    if not grouped:
        out = F.conv2d(x * styles[:, :, None, None], weight, padding=k // 2)
        if demodulate:  # Σ_{i,k} (s_i w_{o,i,k})² = Σ_i s_i² Σ_k w²_{o,i,k}
            norms = styles.square() @ weight.square().sum(dim=(2, 3)).T  # [N, C_out]
            out = out * torch.rsqrt(norms + eps)[:, :, None, None]
        return out
    per_sample = weight[None] * styles[:, None, :, None, None]  # [N, C_out, C_in, k, k]
    if demodulate:
        per_sample = per_sample * torch.rsqrt(
            per_sample.square().sum(dim=(2, 3, 4), keepdim=True) + eps
        )
    out = F.conv2d(
        x.reshape(1, n * c_in, h, w),  # the batch becomes channels ...
        per_sample.reshape(n * c_out, c_in, k, k),
        padding=k // 2,
        groups=n,  # ... and each sample's channels are one group
    )
    return out.reshape(n, c_out, *out.shape[2:])


class NoiseInjection(nn.Module):
    """Add one image of Gaussian noise per sample, scaled by a learned weight per channel.

    ``x + weight_c · noise`` with ``noise`` ``[N, 1, H, W]`` shared by all
    channels. The weights start at zero: the network learns how much random
    detail each feature map should receive.

    Shapes:
        ``x`` ``[N, channels, H, W]`` (+ ``noise`` ``[N, 1, H, W]``) → like ``x``.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        check_positive(channels, "channels")
        self.weight = nn.Parameter(torch.zeros(channels))

    def forward(self, x: torch.Tensor, noise: torch.Tensor | None = None) -> torch.Tensor:
        check_tensor(x, "x", ndim=4, floating=True)
        if noise is None:
            noise = torch.randn(len(x), 1, *x.shape[2:], device=x.device, dtype=x.dtype)
        elif noise.shape != (len(x), 1, *x.shape[2:]):
            raise ValueError(
                f"noise must be [N, 1, H, W] = {(len(x), 1, *x.shape[2:])}, "
                f"got {tuple(noise.shape)}"
            )
        return x + self.weight[None, :, None, None] * noise


class StyleLayer(nn.Module):
    """(Up-sample ×2) → modulated 3×3 conv → noise → bias → LeakyReLU(0.2).

    The style is an affine map of ``w`` (one scale per input channel,
    starting near 1). The convolution runs as
    ``modulated_conv2d(..., grouped=False)``: the same numbers as the grouped
    form, in less time on a CPU.

    Shapes:
        ``x`` ``[N, c_in, H, W]``, ``w`` ``[N, w_dim]`` → ``[N, c_out, H', W']``
        with ``H' = 2H`` if ``upsample`` else ``H``.
    """

    def __init__(self, c_in: int, c_out: int, w_dim: int, upsample: bool = False) -> None:
        super().__init__()
        self.upsample = upsample
        self.affine = nn.Linear(w_dim, c_in)
        nn.init.ones_(self.affine.bias)
        self.weight = nn.Parameter(torch.randn(c_out, c_in, 3, 3))
        self.noise = NoiseInjection(c_out)
        self.bias = nn.Parameter(torch.zeros(c_out))

    def forward(
        self, x: torch.Tensor, w: torch.Tensor, noise: torch.Tensor | None = None
    ) -> torch.Tensor:
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        x = modulated_conv2d(x, self.weight, self.affine(w), grouped=False)
        x = self.noise(x, noise)
        return F.leaky_relu(x + self.bias[None, :, None, None], 0.2)


class SynthesisNetwork(nn.Module):
    """A learned 4×4 constant, then style layers that double the size, then toRGB.

    ``channels[0]`` is the width at 4×4 (one layer there); each later entry
    adds a resolution with two layers, the first of which up-samples. toRGB
    is a 1×1 modulated convolution without demodulation. Layer ``i`` reads
    ``ws[:, i]``; toRGB reads the last one.

    Shapes:
        ``ws`` ``[N, num_ws, w_dim]`` → ``[N, out_channels, S, S]`` with
        ``S = 4 · 2^(len(channels) − 1)``.
    """

    def __init__(
        self, w_dim: int = 32, channels: Sequence[int] = (32, 32, 16), out_channels: int = 1
    ) -> None:
        super().__init__()
        if not channels:
            raise ValueError("channels must name at least one width, got an empty sequence")
        self.w_dim = w_dim
        self.const = nn.Parameter(torch.randn(1, channels[0], 4, 4))
        layers = [StyleLayer(channels[0], channels[0], w_dim)]
        for c_in, c_out in zip(channels, channels[1:]):
            layers += [
                StyleLayer(c_in, c_out, w_dim, upsample=True),
                StyleLayer(c_out, c_out, w_dim),
            ]
        self.layers = nn.ModuleList(layers)
        self.to_rgb_affine = nn.Linear(w_dim, channels[-1])
        nn.init.ones_(self.to_rgb_affine.bias)
        self.to_rgb = nn.Parameter(
            torch.randn(out_channels, channels[-1], 1, 1) / channels[-1] ** 0.5
        )
        self.rgb_bias = nn.Parameter(torch.zeros(out_channels))
        self.num_ws = len(self.layers) + 1
        self.resolution = 4 * 2 ** (len(channels) - 1)

    def forward(
        self, ws: torch.Tensor, noise: Sequence[torch.Tensor | None] | None = None
    ) -> torch.Tensor:
        check_tensor(ws, "ws", ndim=3, floating=True)
        if ws.shape[1:] != (self.num_ws, self.w_dim):
            raise ValueError(
                f"ws must be [N, {self.num_ws}, {self.w_dim}], got shape {tuple(ws.shape)}"
            )
        noise = [None] * len(self.layers) if noise is None else list(noise)
        if len(noise) != len(self.layers):
            raise ValueError(f"noise must hold {len(self.layers)} entries, got {len(noise)}")
        x = self.const.expand(len(ws), -1, -1, -1)
        for i, layer in enumerate(self.layers):
            x = layer(x, ws[:, i], noise[i])
        styles = self.to_rgb_affine(ws[:, -1])
        rgb = modulated_conv2d(x, self.to_rgb, styles, demodulate=False, grouped=False)
        return rgb + self.rgb_bias[None, :, None, None]


def mix_styles(w1: torch.Tensor, w2: torch.Tensor, num_ws: int, crossover: int) -> torch.Tensor:
    """Per-layer latents: ``w1`` for layers ``< crossover``, ``w2`` from ``crossover`` on.

    ``crossover = num_ws`` gives ``w1`` everywhere (no mixing). Early layers
    work at low resolution and set coarse features (pose, overall shape);
    later ones set finer ones (strokes, texture).

    Shapes:
        ``w1``, ``w2`` ``[N, w_dim]`` → ``[N, num_ws, w_dim]``.

    Raises:
        ValueError: if the shapes differ or ``crossover`` is not in ``[0, num_ws]``.
    """
    check_tensor(w1, "w1", ndim=2, floating=True)
    check_tensor(w2, "w2", ndim=2, floating=True)
    if w1.shape != w2.shape:
        raise ValueError(
            f"w1 and w2 must have the same shape, got {tuple(w1.shape)} and {tuple(w2.shape)}"
        )
    check_positive(num_ws, "num_ws")
    if (
        isinstance(crossover, bool)
        or not isinstance(crossover, int)
        or not 0 <= crossover <= num_ws
    ):
        raise ValueError(f"crossover must be an int in [0, {num_ws}], got {crossover!r}")
    layer = torch.arange(num_ws, device=w1.device)[None, :, None]  # [1, num_ws, 1]
    return torch.where(layer < crossover, w1[:, None], w2[:, None])


class StyleGenerator(nn.Module):
    """Mapping network + synthesis network, with optional style mixing.

    ``mixing_prob`` is StyleGAN's *mixing regularization*: in training mode
    that share of the calls without ``z2`` mixes in the ``w`` of a fresh
    ``z`` from a random crossover in ``1 … num_ws − 1`` (one per batch), so
    that no layer can count on the layers after it reading the same ``w``.
    In eval mode a call without ``z2`` gives every layer the same ``w``.
    :func:`snippets.generative.gan.train_gan` calls ``gen(z, None)`` (its
    ``labels``, ``None`` here), so that loop trains this generator too.

    Shapes:
        ``z`` ``[N, latent_dim]`` (+ ``z2`` for mixing) → ``[N, out_channels, S, S]``.
    """

    def __init__(
        self,
        latent_dim: int = 32,
        w_dim: int = 32,
        mapping_layers: int = 4,
        channels: Sequence[int] = (32, 32, 16),
        out_channels: int = 1,
        mixing_prob: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive(mixing_prob, "mixing_prob", allow_zero=True)
        if mixing_prob > 1:
            raise ValueError(f"mixing_prob must be in [0, 1], got {mixing_prob}")
        self.latent_dim, self.mixing_prob = latent_dim, mixing_prob
        self.mapping = MappingNetwork(latent_dim, w_dim, mapping_layers)
        self.synthesis = SynthesisNetwork(w_dim, channels, out_channels)

    def forward(
        self,
        z: torch.Tensor,
        z2: torch.Tensor | None = None,
        crossover: int | None = None,
        noise: Sequence[torch.Tensor | None] | None = None,
    ) -> torch.Tensor:
        w1 = self.mapping(z)
        num_ws = self.synthesis.num_ws
        mix = z2 is None and self.training and self.mixing_prob > 0
        if mix and torch.rand(()).item() < self.mixing_prob:
            z2 = torch.randn_like(z)
            crossover = int(torch.randint(1, num_ws, ()))
        if z2 is None:
            ws = w1[:, None].expand(-1, num_ws, -1)
        else:
            ws = mix_styles(
                w1, self.mapping(z2), num_ws, num_ws if crossover is None else crossover
            )
        return self.synthesis(ws, noise)
