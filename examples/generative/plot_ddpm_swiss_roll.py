"""
A diffusion model (DDPM) on a 2-D swiss roll
============================================

The forward process turns the swiss roll into Gaussian noise in 50 steps; an
MLP learns to predict the added noise; ancestral sampling runs the chain
backwards from fresh noise. The bar uses the squared maximum mean
discrepancy (MMD², Gaussian kernel of width 0.2) between 2,000 generated and
2,000 held-out real points: below 0.01 after training, while the same
sampler with the untrained network stays above 0.01. Two independent real
samples set the floor that finite samples allow; the run prints it next to
the trained and untrained scores.
"""

# %%
# Data and the schedule: 50 steps, β rising linearly (DDPM's values rescaled
# to 50 steps), so that ᾱ at the last step is almost 0.
import matplotlib.pyplot as plt
import torch

from snippets.common.device import pick_device, preset
from snippets.common.plotting import plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.generative.data import swiss_roll_2d
from snippets.generative.diffusion import (
    NoisePredictor,
    linear_schedule,
    mmd2,
    q_sample,
    sample,
    train_diffusion,
)

seed_everything(0)
use_style()
device = pick_device()
data = swiss_roll_2d(10_000, noise=0.05, seed=0)
held_out = swiss_roll_2d(2000, noise=0.05, seed=1)
schedule = linear_schedule(50)
print(f"alpha_bar at the last step: {schedule.alpha_bars[-1]:.2e}")


def scatter_row(snapshots, titles, suptitle):
    fig, axes = plt.subplots(1, len(snapshots), figsize=(2.3 * len(snapshots), 2.6))
    for ax, points, title in zip(axes, snapshots, titles):
        ax.scatter(points[:, 0], points[:, 1], s=1, alpha=0.5)
        ax.set(title=title, xlim=(-3.5, 3.5), ylim=(-3.5, 3.5), aspect="equal")
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(suptitle)
    plt.show()


# %%
# The forward process in closed form: ``x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε``.
x0 = data[:2000]
shown = [0, 5, 10, 20, 30, 49]
noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(2))
snapshots = [q_sample(x0, torch.full((2000,), t), noise, schedule) for t in shown]
scatter_row(snapshots, [f"t = {t + 1}" for t in shown], "Forward process: data → noise")

# %%
# Train the noise predictor on the simple DDPM objective, a mean squared
# error between the true and the predicted noise.
model = NoisePredictor(2, hidden=preset(cpu=128, gpu=256, device=device), depth=3)
untrained = NoisePredictor(2, hidden=preset(cpu=128, gpu=256, device=device), depth=3)
steps = preset(cpu=3000, gpu=10_000, device=device, smoke=3)
losses = train_diffusion(model, data, schedule, steps, batch_size=128, lr=1e-2, device=device)
smoothed = [sum(losses[i : i + 50]) / 50 for i in range(0, len(losses), 50)]
plot_curves({"train": smoothed}, xlabel="step / 50", ylabel="noise MSE", title="DDPM loss")
plt.show()

# %%
# The reverse process: start from ``N(0, I)`` and denoise step by step.
generator = torch.Generator().manual_seed(3)
samples, chain = sample(model.cpu(), (2000, 2), schedule, generator, keep_every=10)
titles = ["t = 50 (noise)", "t = 40", "t = 30", "t = 20", "t = 10", "t = 0 (samples)"]
scatter_row(chain, titles, "Reverse process: noise → data")

# %%
# The bar: MMD² to held-out real points, for the trained and the untrained
# network, and for a second real sample as the reference floor.
untrained_samples, _ = sample(untrained, (2000, 2), schedule, torch.Generator().manual_seed(3))
trained_mmd = mmd2(samples, held_out, bandwidths=0.2)
untrained_mmd = mmd2(untrained_samples, held_out, bandwidths=0.2)
floor = mmd2(swiss_roll_2d(2000, noise=0.05, seed=2), held_out, bandwidths=0.2)
print(f"MMD² trained: {trained_mmd:.4f}, untrained: {untrained_mmd:.4f}, real vs real: {floor:.4f}")
assert trained_mmd < 0.01, f"below the bar: MMD² {trained_mmd:.4f} >= 0.01"
assert untrained_mmd > 0.01, f"the bar does not separate: untrained MMD² {untrained_mmd:.4f}"
