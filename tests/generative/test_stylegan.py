import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch.nn import functional as F

from snippets.generative.dcgan import DCGANDiscriminator
from snippets.generative.gan import train_gan
from snippets.generative.stylegan import (
    AdaIN,
    MappingNetwork,
    NoiseInjection,
    StyleGenerator,
    SynthesisNetwork,
    adain,
    mix_styles,
    modulated_conv2d,
    pixel_norm,
)


@given(st.integers(1, 4), st.integers(1, 9), st.floats(0.1, 100.0))
@settings(max_examples=25, deadline=None)
def test_pixel_norm_gives_unit_mean_square_and_ignores_scale(n, c, factor):
    x = torch.randn(n, c, 3, dtype=torch.float64, generator=torch.Generator().manual_seed(c))
    x = x + 0.5 * x.sign()  # away from zero, where the eps of 1e-8 would matter
    y = pixel_norm(x)
    torch.testing.assert_close(y.square().mean(dim=1), torch.ones(n, 3, dtype=torch.float64))
    torch.testing.assert_close(pixel_norm(factor * x), y, rtol=1e-6, atol=1e-6)


def test_mapping_network_shapes_and_length_invariance():
    torch.manual_seed(0)
    mapping = MappingNetwork(latent_dim=6, w_dim=5, layers=3)
    z = torch.randn(4, 6)
    assert mapping(z).shape == (4, 5)
    torch.testing.assert_close(mapping(3.0 * z), mapping(z))  # only z's direction matters
    assert sum(isinstance(m, torch.nn.Linear) for m in mapping.modules()) == 3
    with pytest.raises(ValueError, match="z must have size 6 in dimension 1"):
        mapping(torch.randn(4, 5))


@given(
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(2, 5),
    st.sampled_from([torch.float32, torch.float64]),
)
@settings(max_examples=25, deadline=None)
def test_adain_equals_its_formula_and_instance_norm(n, c, size, dtype):
    x = torch.randn(n, c, size, size + 1, dtype=dtype) * 3 + 1
    scale, bias = torch.randn(n, c, dtype=dtype), torch.randn(n, c, dtype=dtype)
    out = adain(x, scale, bias)
    mean = x.mean(dim=(2, 3), keepdim=True)
    std = (x - mean).square().mean(dim=(2, 3), keepdim=True).add(1e-5).sqrt()
    by_hand = scale[:, :, None, None] * (x - mean) / std + bias[:, :, None, None]
    torch.testing.assert_close(out, by_hand)
    via_torch = F.instance_norm(x, eps=1e-5) * scale[:, :, None, None] + bias[:, :, None, None]
    torch.testing.assert_close(out, via_torch)


def test_adain_sets_each_channels_statistics():
    x = torch.randn(2, 3, 16, 16, dtype=torch.float64) * 5 - 2
    scale = torch.tensor([[1.0, 2.0, 0.5], [3.0, 1.0, 1.0]], dtype=torch.float64)
    bias = torch.tensor([[0.0, -1.0, 4.0], [1.0, 2.0, 3.0]], dtype=torch.float64)
    out = adain(x, scale, bias)
    torch.testing.assert_close(out.mean(dim=(2, 3)), bias)
    torch.testing.assert_close(out.std(dim=(2, 3), unbiased=False), scale, rtol=1e-5, atol=1e-5)
    layer = AdaIN(channels=3, w_dim=4)
    torch.nn.init.zeros_(layer.affine.weight)  # the style at its initial bias: scale 1, bias 0
    torch.testing.assert_close(layer(x.float(), torch.randn(2, 4)), F.instance_norm(x.float()))
    with pytest.raises(ValueError, match=r"scale must be \[N, C\] = \(2, 3\)"):
        adain(x, scale[:, :2], bias)


def _modulated_conv_slow(x, weight, styles, demodulate):
    """One ordinary convolution per sample, with that sample's scaled weights."""
    outs = []
    for n in range(len(x)):
        w = weight * styles[n][None, :, None, None]  # scale input channel i by s_i
        if demodulate:
            w = w / w.square().sum(dim=(1, 2, 3), keepdim=True).add(1e-8).sqrt()
        outs.append(F.conv2d(x[n : n + 1], w, padding=weight.shape[-1] // 2))
    return torch.cat(outs)


@given(
    st.integers(1, 3),
    st.integers(1, 4),
    st.integers(1, 4),
    st.sampled_from([1, 3]),
    st.booleans(),
    st.booleans(),
)
@settings(max_examples=40, deadline=None)
def test_modulated_conv_equals_per_sample_convolutions(n, c_in, c_out, k, demodulate, grouped):
    """Both forms, the grouped convolution and the scaled inputs and outputs."""
    x = torch.randn(n, c_in, 5, 6, dtype=torch.float64)
    weight = torch.randn(c_out, c_in, k, k, dtype=torch.float64)
    styles = torch.randn(n, c_in, dtype=torch.float64)
    torch.testing.assert_close(
        modulated_conv2d(x, weight, styles, demodulate, grouped=grouped),
        _modulated_conv_slow(x, weight, styles, demodulate),
    )


def test_demodulation_gives_unit_variance_outputs():
    torch.manual_seed(0)
    x = torch.randn(3, 8, 64, 64)  # unit-variance, independent inputs
    weight = torch.randn(6, 8, 3, 3) * 5
    styles = torch.rand(3, 8) * 4
    out = modulated_conv2d(x, weight, styles)[:, :, 1:-1, 1:-1]  # away from the zero padding
    std = out.std(dim=(2, 3))
    assert (std - 1).abs().max() < 0.05
    raw = modulated_conv2d(x, weight, styles, demodulate=False)[:, :, 1:-1, 1:-1]
    assert raw.std(dim=(2, 3)).min() > 5  # without demodulation the scale runs away


def test_noise_injection_scales_one_noise_image_per_channel():
    layer = NoiseInjection(3)
    x, noise = torch.randn(2, 3, 4, 4), torch.randn(2, 1, 4, 4)
    torch.testing.assert_close(layer(x, noise), x)  # weights start at zero
    with torch.no_grad():
        layer.weight.copy_(torch.tensor([0.0, 1.0, -2.0]))
    torch.testing.assert_close(
        layer(x, noise) - x, torch.tensor([0.0, 1.0, -2.0])[None, :, None, None] * noise
    )
    assert not torch.equal(layer(x), layer(x))  # fresh noise when none is given
    with pytest.raises(ValueError, match="noise must be"):
        layer(x, torch.randn(2, 3, 4, 4))


def test_generator_shapes():
    gen = StyleGenerator(
        latent_dim=8, w_dim=6, mapping_layers=2, channels=(8, 6, 4), out_channels=3
    )
    assert gen.synthesis.num_ws == 6 and gen.synthesis.resolution == 16
    assert gen.latent_dim == 8
    assert gen(torch.randn(2, 8)).shape == (2, 3, 16, 16)
    with pytest.raises(ValueError, match=r"ws must be \[N, 6, 6\]"):
        gen.synthesis(torch.randn(2, 5, 6))
    with pytest.raises(ValueError, match=r"mixing_prob must be in \[0, 1\], got 1.5"):
        StyleGenerator(mixing_prob=1.5)
    with pytest.raises(ValueError, match="mixing_prob must be >= 0, got -0.1"):
        StyleGenerator(mixing_prob=-0.1)


def test_mixing_regularization_mixes_in_training_only():
    """In training every crossover occurs, layer 0 always reads z's w, the output always changes."""
    torch.manual_seed(0)
    gen = StyleGenerator(latent_dim=4, w_dim=5, mapping_layers=1, channels=(6, 4), mixing_prob=1.0)
    z = torch.randn(3, 4)
    noise = [torch.randn(3, 1, s, s) for s in (4, 8, 8)]  # the same noise for every run
    outputs = []
    hooks = [
        layer.register_forward_hook(lambda module, args, out: outputs.append(out))
        for layer in gen.synthesis.layers
    ]
    plain = gen.eval()(z, noise=noise)  # eval mode: one w for every layer
    plain_layers, outputs[:] = list(outputs), []
    gen.train()
    crossovers = set()
    for _ in range(30):
        mixed = gen(z, noise=noise)
        assert not torch.allclose(mixed, plain)  # toRGB, the last style, always reads z2
        torch.testing.assert_close(outputs[0], plain_layers[0])  # the crossover is >= 1
        changed = [not torch.allclose(a, b, atol=1e-5) for a, b in zip(outputs, plain_layers)]
        crossovers.add(changed.index(True) if any(changed) else len(changed))
        outputs[:] = []
    assert crossovers == {1, 2, 3}
    gen.mixing_prob = 0.0
    torch.testing.assert_close(gen(z, noise=noise), plain)  # no mixing without the probability
    for hook in hooks:
        hook.remove()


def test_train_gan_trains_a_style_generator():
    torch.manual_seed(0)
    gen = StyleGenerator(latent_dim=4, w_dim=5, mapping_layers=1, channels=(6, 4), mixing_prob=0.5)
    disc = DCGANDiscriminator(image_size=8, channels=1, width=8)
    before = [p.detach().clone() for p in gen.parameters()]
    average = torch.optim.swa_utils.AveragedModel(
        gen, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.5)
    )
    history = train_gan(
        gen, disc, torch.rand(32, 1, 8, 8), steps=3, batch_size=8, r1_weight=1.0, average=average
    )
    assert len(history.d_loss) == 3 and all(map(math.isfinite, history.d_loss))
    assert all(not torch.equal(a, b) for a, b in zip(before, gen.parameters()))
    assert not gen.training and not average.training  # both left in eval mode
    # the average was updated after each of the 3 generator steps and lags behind the weights
    assert int(average.n_averaged) == 3
    assert all(not torch.equal(a, b) for a, b in zip(average.module.parameters(), gen.parameters()))


@pytest.mark.parametrize("crossover", [1, 3, 5])
def test_style_mixing_changes_only_the_layers_from_the_crossover_on(crossover):
    torch.manual_seed(0)
    synthesis = SynthesisNetwork(w_dim=6, channels=(8, 6, 4))
    outputs = []
    hooks = [
        layer.register_forward_hook(lambda module, args, out: outputs.append(out))
        for layer in synthesis.layers
    ]
    sizes = [4, 8, 8, 16, 16]
    noise = [torch.randn(2, 1, s, s) for s in sizes]  # the same noise for both runs
    w1, w2, w2_other = torch.randn(2, 6), torch.randn(2, 6), torch.randn(2, 6)
    synthesis(mix_styles(w1, w2, synthesis.num_ws, crossover), noise)
    first, outputs[:] = list(outputs), []
    synthesis(mix_styles(w1, w2_other, synthesis.num_ws, crossover), noise)
    for i, (a, b) in enumerate(zip(first, outputs)):
        if i < crossover:
            torch.testing.assert_close(a, b)  # layers before the crossover only see w1
        else:
            assert not torch.allclose(a, b)
    for hook in hooks:
        hook.remove()


def test_mix_styles_by_hand_and_bad_input():
    w1, w2 = torch.zeros(2, 3), torch.ones(2, 3)
    ws = mix_styles(w1, w2, num_ws=4, crossover=1)
    assert ws.shape == (2, 4, 3)
    assert ws[:, 0].eq(0).all() and ws[:, 1:].eq(1).all()
    torch.testing.assert_close(mix_styles(w1, w2, 4, 4), w1[:, None].expand(-1, 4, -1))
    with pytest.raises(ValueError, match=r"crossover must be an int in \[0, 4\], got 5"):
        mix_styles(w1, w2, 4, 5)
    with pytest.raises(ValueError, match="same shape"):
        mix_styles(w1, torch.ones(2, 4), 4, 1)
    with pytest.raises(ValueError, match=r"styles \[2, 3\]"):
        modulated_conv2d(torch.randn(2, 3, 4, 4), torch.randn(1, 3, 3, 3), torch.randn(2, 2))
