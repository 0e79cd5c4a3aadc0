"""
StyleGAN on digits: styles, mixing and noise
============================================

A small style-based generator learns the 8×8 digits. Its mapping network
turns 32 noise numbers into a latent ``w`` of 64; its synthesis network grows the
image from a learned 4×4 constant through three modulated convolutions (one
at 4×4, two at 8×8) and a 1×1 toRGB, each reading a style computed from
``w``, and each convolution adds a noise image of its own. It is trained on
the 1,347 training digits (scaled to ``[-1, 1]``) against DCGAN's
discriminator, with the non-saturating GAN loss, the R1 penalty on the real
digits and style mixing in half of the batches; as in StyleGAN, the samples
come from a moving average of the generator's weights.

Samples are judged as in the DCGAN example, against data the GAN never saw:
an MLP classifier trained on the real training digits labels 500 samples,
and each sample is matched with its nearest neighbour among the 450 held-out
test digits. The bars: the classifier's mean confidence on the samples is at
least 0.65, every digit class receives at least 1 % of them, and the mean
distance to the nearest test digit is at most 1.6 times that of real
training digits and smaller than that of the untrained generator.

Then the trained generator shows what the styles are for. Style mixing:
when the 4×4 layer and the first 8×8 layer read one latent (the coarse
source) and the later layers another (the fine source), the classifier
reads the coarse source's digit at least three times as often as the fine
source's (bar). Noise: new noise images change the pixels by less than half
as much as a new ``w`` does (bar). Truncation: pulling ``w`` towards its
mean takes variety away (printed, no bar).
"""

# %%
# Data, and a judge trained on the real training digits only.
import matplotlib.pyplot as plt
import torch

from snippets.common.data import digits
from snippets.common.device import pick_device, preset
from snippets.common.metrics import accuracy
from snippets.common.plotting import image_grid, plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.generative.dcgan import DCGANDiscriminator
from snippets.generative.gan import digit_judge, judge_samples, nearest_distance, train_gan
from snippets.generative.stylegan import StyleGenerator, mix_styles

seed_everything(0)
use_style()
device = pick_device()
data = digits()
epochs = preset(cpu=30, gpu=30, device=device, smoke=2)
judge = digit_judge(data.x_train, data.y_train, epochs=epochs, device=device)
with torch.no_grad():
    print(f"judge accuracy on real test digits: {accuracy(judge(data.x_test), data.y_test):.3f}")

# %%
# The two networks. The generator is the site's
# :class:`~snippets.generative.stylegan.StyleGenerator` at 8×8: a 4×4
# constant of ``channels[0]`` maps, one style layer there, two at 8×8, and
# toRGB, so it reads four styles. ``mixing_prob=0.5``: in training, half of
# the batches take the styles from some layer on from a second latent. The
# discriminator is DCGAN's, which at 8×8 has two convolutions and no batch
# norm, so the R1 penalty's gradient with respect to each real image is
# that image's own.
latent = 32
config = {
    "latent_dim": latent,
    "w_dim": 64,
    "mapping_layers": 2,
    "channels": preset(cpu=(32, 16), gpu=(64, 32), device=device),
    "mixing_prob": 0.5,
}
gen = StyleGenerator(**config)
untrained = StyleGenerator(**config).eval()
untrained.load_state_dict(gen.state_dict())  # a copy of the starting point
disc = DCGANDiscriminator(image_size=8, channels=1, width=preset(cpu=64, gpu=128, device=device))
num_ws = gen.synthesis.num_ws
print(f"generator: {sum(p.numel() for p in gen.parameters()):,} parameters, {num_ws} styles")
print(f"discriminator: {sum(p.numel() for p in disc.parameters()):,} parameters")

# %%
# Training: the same loop as the other GANs of the chapter, with StyleGAN2's
# choices: Adam with β₁ = 0 and β₂ = 0.99, the R1 penalty (γ = 3) on the
# discriminator's gradient at the real digits, and an exponential moving
# average of the generator's weights (decay 0.99 per step), which is the
# generator used from then on: it smooths out the last steps' back and
# forth between the two players.
steps = preset(cpu=1000, gpu=5000, device=device, smoke=3)
average = torch.optim.swa_utils.AveragedModel(
    gen, device=device, multi_avg_fn=torch.optim.swa_utils.get_ema_multi_avg_fn(0.99)
)
history = train_gan(
    gen,
    disc,
    data.x_train * 2 - 1,
    steps,
    batch_size=64,
    lr=2e-3,
    betas=(0.0, 0.99),
    r1_weight=3.0,
    device=device,
    average=average,
)
gen = average.module.cpu()
plot_curves(
    {"discriminator": history.d_loss[::10], "generator": history.g_loss[::10]},
    xlabel="step / 10",
    title="StyleGAN losses",
)
plt.show()


@torch.no_grad()
def sample(model: StyleGenerator, n: int, seed: int) -> torch.Tensor:
    """``n`` images in ``[0, 1]`` from fixed ``z`` (and fresh noise images)."""
    z = torch.randn(n, latent, generator=torch.Generator().manual_seed(seed))
    return ((model(z) + 1) / 2).clamp(0, 1)


fig = image_grid(torch.cat([sample(gen, 40, 1), data.x_test[:8]]), columns=8)
fig.suptitle("StyleGAN samples (first five rows) and real test digits (last row)")
plt.show()

# %%
# The judge and the nearest held-out digits, as for DCGAN.
fakes, untrained_fakes = sample(gen, 500, 2), sample(untrained, 500, 2)
confidence, counts = judge_samples(judge, fakes)
nn_fake, nn_untrained, nn_real = (
    nearest_distance(images, data.x_test) for images in (fakes, untrained_fakes, data.x_train[:500])
)
print(f"judge's mean confidence on samples: {confidence:.3f}")
print("samples per class:", counts.tolist())
print(
    f"distance to nearest test digit: samples {nn_fake:.3f}, untrained generator "
    f"{nn_untrained:.3f}, real training digits {nn_real:.3f}"
)

# %%
# Style mixing. Every image below is drawn with the same noise images, so
# only the styles differ. Row ``i`` gives its latent to the layers before
# the crossover (the 4×4 layer and the first 8×8 layer: coarse), column
# ``j`` to the rest (the second 8×8 layer and toRGB: fine). The first row
# and column show the two sources on their own.
sizes = [4 * 2 ** ((i + 1) // 2) for i in range(num_ws - 1)]  # each style layer's size


def noise_images(n: int, seed: int) -> list[torch.Tensor]:
    """One noise image per style layer, for ``n`` samples."""
    rng = torch.Generator().manual_seed(seed)
    return [torch.randn(n, 1, s, s, generator=rng) for s in sizes]


@torch.no_grad()
def latents(n: int, seed: int) -> torch.Tensor:
    """``n`` latents ``w`` ``[n, w_dim]`` from fixed ``z``."""
    return gen.mapping(torch.randn(n, latent, generator=torch.Generator().manual_seed(seed)))


@torch.no_grad()
def render(ws: torch.Tensor, noise: list[torch.Tensor]) -> torch.Tensor:
    """Images in ``[0, 1]`` from one ``w`` per sample ``[N, w_dim]`` or one per layer."""
    if ws.ndim == 2:
        ws = ws[:, None].expand(-1, num_ws, -1)
    return ((gen.synthesis(ws, noise) + 1) / 2).clamp(0, 1)


def judged_class(images: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return judge(images.flatten(1)).argmax(1)


crossover = 2
rows, cols = latents(5, 3), latents(5, 4)
shared = [n.expand(25, -1, -1, -1) for n in noise_images(1, 5)]
mixed = render(
    mix_styles(rows.repeat_interleave(5, 0), cols.repeat(5, 1), num_ws, crossover), shared
)
fig, axes = plt.subplots(6, 6, figsize=(5.5, 5.8))
for ax in axes.flat:
    ax.axis("off")
for j, image in enumerate(render(cols, [n[:5] for n in shared])):
    axes[0, j + 1].imshow(image[0].numpy(), cmap="gray_r", vmin=0, vmax=1)
for i, image in enumerate(render(rows, [n[:5] for n in shared])):
    axes[i + 1, 0].imshow(image[0].numpy(), cmap="gray_r", vmin=0, vmax=1)
for k, image in enumerate(mixed):
    axes[k // 5 + 1, k % 5 + 1].imshow(image[0].numpy(), cmap="gray_r", vmin=0, vmax=1)
axes[0, 1].set_title("fine source →", loc="left", fontsize=9)
axes[1, 0].set_title("coarse source ↓", loc="left", fontsize=9)
fig.suptitle(f"Style mixing: layers 0 to {crossover - 1} from the row, the rest from the column")
plt.show()

# %%
# Which source decides the digit? For 1,000 pairs of latents, keep those
# whose two images the judge reads as different digits, mix them at every
# crossover and count how often the judge reads the coarse source's digit
# and how often the fine source's.
wa, wb = latents(1000, 6), latents(1000, 7)
noise = noise_images(1000, 8)
class_a, class_b = judged_class(render(wa, noise)), judged_class(render(wb, noise))
differ = class_a != class_b
agreement = {}
for k in range(1, num_ws):
    mixed_class = judged_class(render(mix_styles(wa, wb, num_ws, k), noise))[differ]
    agreement[k] = (
        (mixed_class == class_a[differ]).float().mean().item(),
        (mixed_class == class_b[differ]).float().mean().item(),
    )
    print(
        f"crossover {k}: the mix is read as the coarse source's digit "
        f"{agreement[k][0]:.3f}, the fine source's {agreement[k][1]:.3f} "
        f"({int(differ.sum())} pairs)"
    )
coarse_share, fine_share = agreement[crossover]

fig, ax = plt.subplots(figsize=(6, 3))
ks = torch.arange(1, num_ws)
ax.bar(ks - 0.2, [agreement[k][0] for k in agreement], width=0.4, label="coarse source")
ax.bar(ks + 0.2, [agreement[k][1] for k in agreement], width=0.4, label="fine source")
ax.set(
    xlabel="crossover (first layer that reads the fine source)",
    ylabel="share of mixes",
    xticks=ks.tolist(),
    title="Whose digit does the judge see in a mix?",
)
ax.legend()
plt.show()

# %%
# Noise. Each row below keeps one ``w`` and draws six sets of noise images;
# the last column is the standard deviation of every pixel over 100 noise
# draws, scaled to its largest value (white: no change). The noise changes
# pixels on and around the strokes and leaves the background and the digit
# alone. The printed numbers compare the mean pixel change from new noise
# with the change from a new ``w`` with the same noise.
w = latents(6, 9)
grid = []
for i in range(6):
    draws = render(w[i : i + 1].expand(100, -1), noise_images(100, 10 + i))
    spread = draws.std(0)
    grid += [*draws[:6], spread / spread.max().clamp_min(1e-8)]
fig = image_grid(torch.stack(grid), columns=7)
fig.suptitle("One w per row, six noise draws, and the pixel spread over 100 draws")
plt.show()

same_w = (render(wa, noise) - render(wa, noise_images(1000, 11))).abs().mean().item()
new_w = (render(wa, noise) - render(wb, noise)).abs().mean().item()
print(f"mean pixel change: new noise {same_w:.4f}, new w {new_w:.4f}")

# %%
# Truncation: ``w' = w̄ + ψ (w − w̄)``, with ``w̄`` the mean ``w`` of 10,000
# ``z``. Smaller ψ pulls every sample towards the image of ``w̄``: the
# samples grow alike (their mean distance to each other shrinks) and
# classes drop out. For faces StyleGAN buys cleaner images with that
# variety; whether the judge grows more confident here depends on how
# clear a digit the average latent draws, so it is printed, not assumed.
w_avg = latents(10_000, 12).mean(0)
truncation_rows = []
for psi in (1.0, 0.7, 0.4, 0.0):
    images = render(w_avg + psi * (wa - w_avg), noise)
    psi_confidence, psi_counts = judge_samples(judge, images)
    spread = torch.pdist(images.flatten(1)).mean().item()
    print(
        f"psi {psi:.1f}: judge confidence {psi_confidence:.3f}, classes with at least 1 % "
        f"{int((psi_counts >= 10).sum())}, mean distance between samples {spread:.3f}"
    )
    truncation_rows.append(images[:8])
fig = image_grid(torch.cat(truncation_rows), columns=8)
fig.suptitle("Truncation: ψ = 1, 0.7, 0.4, 0 (rows), the same eight z")
plt.show()

# %%
# The bars.
assert confidence >= 0.65, f"below the bar: confidence {confidence:.3f} < 0.65"
assert counts.min() >= 0.01 * 500, f"a class is missing: {counts.tolist()}"
assert nn_fake <= 1.6 * nn_real, f"samples far from real digits: {nn_fake:.3f}"
assert nn_fake < nn_untrained, "no closer to real digits than the untrained generator"
assert coarse_share >= 3 * fine_share, (
    f"coarse layers do not decide the digit: {coarse_share:.3f} vs {fine_share:.3f}"
)
assert same_w < 0.5 * new_w, f"noise changes too much: {same_w:.4f} vs {new_w:.4f}"
print("all bars met")
