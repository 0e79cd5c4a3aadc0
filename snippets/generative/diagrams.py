"""Architecture diagrams of the generative chapter, labelled with the real modules' sizes.

Drawn with the primitives of :mod:`snippets.common.diagrams`; every function
returns a figure with ``fig.alt_text``.
"""

from __future__ import annotations

from matplotlib.figure import Figure
from torch import nn

from snippets.common.diagrams import (
    _finish,
    arrow,
    box,
    canvas,
    fit_height,
    label,
    op,
    path_arrow,
)


def stylegan_diagram(generator: nn.Module) -> Figure:
    """A StyleGAN generator: the mapping network beside the synthesis network.

    Reads the sizes from ``generator`` (a
    :class:`~snippets.generative.stylegan.StyleGenerator`): the latent and
    ``w`` sizes, the number of mapping layers, and for every synthesis layer
    its channels and resolution. Each layer receives a style (box "A", an
    affine map of ``w``) and a noise image (circle "B").

    Raises:
        TypeError: if ``generator`` has no ``mapping`` and ``synthesis`` parts.
    """
    mapping = getattr(generator, "mapping", None)
    synthesis = getattr(generator, "synthesis", None)
    if not isinstance(mapping, nn.Module) or not isinstance(synthesis, nn.Module):
        raise TypeError(
            f"generator must have mapping and synthesis networks, got {type(generator).__name__}"
        )
    fc = [m for m in mapping.modules() if isinstance(m, nn.Linear)]
    latent, w_dim = fc[0].in_features, fc[-1].out_features
    rows = []  # (text, resolution) per synthesis layer
    size = 4
    for layer in synthesis.layers:
        c_out, c_in = layer.weight.shape[:2]
        size = size * 2 if layer.upsample else size
        up = "↑2, " if layer.upsample else ""
        rows.append(f"{up}mod-conv 3×3 {c_in}→{c_out}, {size}×{size}")
    c0 = synthesis.const.shape[1]
    out_channels = synthesis.to_rgb.shape[0]

    fig, ax = canvas(7.0, 9.0, title="StyleGAN generator")
    step = 0.62
    # the mapping network, bottom to top
    mx = 0.95
    z = box(ax, (mx, 0.5), f"z  ({latent})", width=1.5, role="data")
    norm = box(ax, (mx, 0.5 + step), "pixel norm", width=1.5, role="norm")
    mlp = box(ax, (mx, 0.5 + 2 * step), f"{len(fc)} × FC {w_dim}", width=1.5, role="feedforward")
    w = box(ax, (mx, 0.5 + 3 * step), f"w  ({w_dim})", width=1.5, role="embedding")
    for a, b in ((z, norm), (norm, mlp), (mlp, w)):
        arrow(ax, a.top, b.bottom)
    label(ax, (mx, 0.5 + 3.75 * step), "mapping network", bold=True)

    # the synthesis network, bottom to top
    sx, ax_a, ax_b, bus = 4.45, 2.6, 6.55, 2.1
    y = 0.5
    const = box(ax, (sx, y), f"constant 4×4×{c0}", width=3.0, role="data")
    previous, bus_bottom, bus_top = const, y + step, y
    for text in [*rows, f"toRGB 1×1 → {out_channels}"]:
        y += step
        is_rgb = text.startswith("toRGB")
        layer_box = box(ax, (sx, y), text, width=3.0, role="output" if is_rgb else "attention")
        arrow(ax, previous.top, layer_box.bottom)
        style = box(ax, (ax_a, y), "A", width=0.36, height=0.32, role="gate")
        arrow(ax, style.right, layer_box.left)
        path_arrow(ax, [(bus, y), style.left])
        if not is_rgb:
            noise = op(ax, (ax_b, y), "B")
            arrow(ax, noise.left, layer_box.right)
        previous, bus_top = layer_box, y
    path_arrow(ax, [w.right, (bus, w.y)], head=False)  # w feeds every style
    path_arrow(ax, [(bus, bus_bottom), (bus, bus_top)], head=False)
    label(ax, (sx, y + 0.5), "synthesis network", bold=True)
    label(ax, (sx, y + 0.85), "A: style = affine(w) per layer   B: noise × learned weight")
    fit_height(fig, ax, y + 1.0)
    alt = (
        f"StyleGAN generator. Left: the mapping network takes z of size {latent} through pixel "
        f"norm and {len(fc)} fully connected layers to w of size {w_dim}. Right: the synthesis "
        f"network starts from a learned 4×4×{c0} constant and applies {len(rows)} modulated "
        f"3×3 convolutions up to {size}×{size}, then a 1×1 toRGB to {out_channels} channel(s); "
        "each layer gets a style A computed from w and a noise input B."
    )
    return _finish(fig, alt)


def latent_diffusion_diagram(autoencoder: nn.Module, denoiser: nn.Module, steps: int) -> Figure:
    """Latent diffusion: an autoencoder's codes are what the diffusion model learns to generate.

    Reads the sizes from ``autoencoder`` (an
    :class:`~snippets.generative.autoencoder.Autoencoder`: ``image_shape`` and
    the width of its codes) and ``denoiser`` (a
    :class:`~snippets.generative.diffusion.NoisePredictor` over
    ``features`` numbers). Top row: training, where images are encoded and
    the noise predictor learns on noisy codes. Bottom row: sampling, where
    ``steps`` reverse steps turn Gaussian noise into a code and the decoder
    turns the code into an image.

    Raises:
        TypeError: if ``autoencoder`` has no ``image_shape`` and ``encoder``, or
            ``denoiser`` no ``features``.
        ValueError: if the denoiser's width differs from the code width, or
            ``steps`` is not positive.
    """
    shape = getattr(autoencoder, "image_shape", None)
    encoder = getattr(autoencoder, "encoder", None)
    features = getattr(denoiser, "features", None)
    if shape is None or not isinstance(encoder, nn.Module):
        raise TypeError(
            f"autoencoder must have image_shape and an encoder, got {type(autoencoder).__name__}"
        )
    if not isinstance(features, int):
        raise TypeError(f"denoiser must have features (an int), got {type(denoiser).__name__}")
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"steps must be a positive int, got {steps!r}")
    linears = [m for m in encoder.modules() if isinstance(m, nn.Linear)]
    pixels, latent = linears[0].in_features, linears[-1].out_features
    if features != latent:
        raise ValueError(
            f"denoiser must work on the autoencoder's codes ({latent} numbers), got {features}"
        )
    image = "×".join(map(str, shape))
    widths = "→".join(str(m.out_features) for m in linears)

    fig, ax = canvas(7.0, 4.1, title="Latent diffusion: diffuse the codes, not the pixels")
    top, bottom = 2.65, 0.75
    label(
        ax,
        (0.15, top + 0.62),
        "training",
        ha="left",
        bold=True,
    )
    x = box(ax, (0.6, top), f"image\n{image}", width=0.9, height=0.6, role="data")
    enc = box(
        ax, (1.85, top), f"encoder\n{pixels}→{widths}", width=1.3, height=0.6, role="embedding"
    )
    z0 = box(ax, (3.05, top), f"$z_0$ ({latent})", width=0.8, height=0.6, role="data")
    plus = op(ax, (3.85, top))
    eps = box(
        ax,
        (5.45, top),
        f"$\\epsilon_\\theta(z_t, t)$\nMLP on {latent} numbers",
        width=2.1,
        height=0.6,
        role="attention",
    )
    arrow(ax, x.right, enc.left)
    arrow(ax, enc.right, z0.left)
    arrow(ax, z0.right, plus.left)
    arrow(ax, plus.right, eps.left, text="$z_t$")
    arrow(ax, (3.85, top + 0.45), plus.top)
    label(ax, (3.95, top + 0.5), "noise ε, step t", fontsize=9, ha="left")
    label(ax, (1.85, top - 0.45), "trained first, then frozen", fontsize=9)
    label(ax, (5.45, top - 0.45), "loss ‖ε − $\\epsilon_\\theta$‖²", fontsize=9)

    label(
        ax,
        (0.15, bottom + 0.62),
        "sampling",
        ha="left",
        bold=True,
    )
    noise = box(
        ax, (0.85, bottom), f"$z_T$ ~ N(0, I)\n({latent})", width=1.4, height=0.6, role="data"
    )
    reverse = box(
        ax,
        (2.7, bottom),
        f"{steps} steps of\n$\\epsilon_\\theta$",
        width=1.7,
        height=0.6,
        role="attention",
    )
    z0s = box(ax, (4.15, bottom), f"$z_0$ ({latent})", width=0.8, height=0.6, role="data")
    dec = box(ax, (5.25, bottom), f"decoder\n→{pixels}", width=1.0, height=0.6, role="embedding")
    out = box(ax, (6.35, bottom), f"image\n{image}", width=0.9, height=0.6, role="output")
    for a, b in ((noise, reverse), (reverse, z0s), (z0s, dec), (dec, out)):
        arrow(ax, a.right, b.left)
    arrow(
        ax,
        (eps.x - 0.6, eps.bottom[1] - 0.25),
        (reverse.x + 0.5, reverse.top[1]),
        dashed=True,
        text="same network",
        text_xy=(4.1, 1.75),
    )
    alt = (
        f"Latent diffusion. Training: an image of shape {image} goes through the encoder "
        f"({pixels} pixels to a code of {latent} numbers, z0); noise for a random step t is "
        f"added to the code and an MLP noise predictor learns to recover the noise from z_t. "
        f"Sampling: Gaussian noise of {latent} numbers goes through {steps} reverse steps of "
        f"the same predictor to a code z0, which the decoder turns into an image of shape {image}."
    )
    return _finish(fig, alt)
