"""
A GAN on a ring of eight Gaussians
==================================

A generator and a discriminator, both small MLPs, play the GAN game on points
drawn from eight Gaussians on a circle, the standard test of *mode
collapse*: a generator that found one or two modes can fool a weak
discriminator without covering the rest. The bars, on 2,000 generated
points: all 8 modes covered (each holds at least 2 % of the samples) and at
least 60 % of the samples lie within 3 standard deviations of a mode centre.
"""

# %%
# Data: 8,000 points, 8 modes of standard deviation 0.05 on a circle of
# radius 2.
import matplotlib.pyplot as plt
import torch

from snippets.common.device import pick_device, preset
from snippets.common.plotting import plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.generative.data import gaussian_ring, ring_centers
from snippets.generative.gan import Discriminator, Generator, mode_coverage, train_gan

seed_everything(0)
use_style()
device = pick_device()
std = 0.05
data, _ = gaussian_ring(8000, modes=8, radius=2.0, std=std, seed=0)
centers = ring_centers(8, 2.0)

# %%
# Two MLPs with two hidden layers of 128. The generator turns 2-D noise into a
# point; the discriminator turns a point into a logit.
gen = Generator(latent_dim=2, out_shape=(2,), hidden=(128, 128))
disc = Discriminator(in_features=2, hidden=(128, 128))
z_fixed = torch.randn(2000, 2, generator=torch.Generator().manual_seed(1))
with torch.no_grad():
    before = gen(z_fixed)

# %%
# Train: one discriminator step, then one generator step, repeated.
steps = preset(cpu=1000, gpu=4000, device=device, smoke=3)
history = train_gan(gen, disc, data, steps, batch_size=256, lr=1e-3, device=device)
gen = gen.cpu()
with torch.no_grad():
    after = gen(z_fixed.to("cpu"))

fig, axes = plt.subplots(1, 3, figsize=(11, 3.8), sharex=True, sharey=True)
for ax, points, title in zip(
    axes, (data[:2000], before, after), ("real data", "generator before", "generator after")
):
    ax.scatter(points[:, 0], points[:, 1], s=3, alpha=0.5)
    ax.scatter(centers[:, 0], centers[:, 1], marker="x", color="black", s=30)
    ax.set(title=title, xlim=(-3, 3), ylim=(-3, 3), aspect="equal")
plt.show()

plot_curves(
    {"discriminator": history.d_loss[::10], "generator": history.g_loss[::10]},
    xlabel="step / 10",
    title="Losses of the two players",
)
plt.show()

# %%
# Mode coverage: assign each sample to the nearest centre if it is within
# 3 σ of it, and count.
coverage = mode_coverage(after, centers, std=std, k=3.0, min_fraction=0.02)
print("samples per mode:", coverage.counts.tolist())
print(f"modes covered: {coverage.covered} of 8")
print(f"high-quality samples: {coverage.high_quality:.3f}")
assert coverage.covered == 8, f"below the bar: {coverage.covered} of 8 modes covered"
assert coverage.high_quality >= 0.6, f"below the bar: {coverage.high_quality:.3f} < 0.6"
