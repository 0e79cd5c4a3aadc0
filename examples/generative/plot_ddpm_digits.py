"""
A diffusion model (DDPM) on handwritten digits
==============================================

The same recipe as for the swiss roll, now on 8×8 images: each digit is
flattened to 64 numbers and scaled to ``[-1, 1]``, the forward process turns
it into Gaussian noise in 200 steps, and the MLP noise predictor learns to
undo it. The bar uses the squared maximum mean discrepancy (MMD², Gaussian
kernel of width 2 on the 64 pixels in ``[0, 1]``) between 450 generated
digits and the 450 held-out test digits: below 0.02 after training, and at
least ten times smaller than for the same sampler with an untrained network.
A random half of the real training digits, scored against the test digits,
sets the floor that finite samples allow; the run prints it next to the
trained and untrained scores.
"""

# %%
# Data and the schedule: 200 steps, β rising linearly (DDPM's values rescaled
# to 200 steps), so that ᾱ at the last step is almost 0. Diffusion adds
# zero-mean noise, so the pixels are moved from ``[0, 1]`` to ``[-1, 1]``.
import matplotlib.pyplot as plt
import torch

from snippets.common.data import digits
from snippets.common.device import pick_device, preset
from snippets.common.plotting import image_grid, plot_curves, use_style
from snippets.common.seed import seed_everything
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
data = digits()
x_train = data.x_train.flatten(1) * 2 - 1  # [N, 64] in [-1, 1]
schedule = linear_schedule(200)
print(f"{len(x_train)} training digits, alpha_bar at the last step: {schedule.alpha_bars[-1]:.2e}")


def to_images(x):
    """``[N, 64]`` in ``[-1, 1]`` → ``[N, 1, 8, 8]`` in ``[0, 1]`` for display."""
    return ((x.clamp(-1, 1) + 1) / 2).reshape(-1, 1, 8, 8)


# %%
# The forward process in closed form, ``x_t = √ᾱ_t x_0 + √(1−ᾱ_t) ε``, on
# four digits (one per row): the strokes fade into noise long before the
# last step.
shown = [0, 10, 25, 50, 100, 199]
x0 = x_train[:4]
noise = torch.randn(x0.shape, generator=torch.Generator().manual_seed(2))
grid = torch.stack([q_sample(x0, torch.full((4,), t), noise, schedule) for t in shown], dim=1)
titles = [f"t = {t + 1}" for t in shown] * 4
fig = image_grid(to_images(grid.reshape(-1, 64)), titles=titles, columns=len(shown))
fig.suptitle("Forward process: digit → noise")
plt.show()

# %%
# Train the noise predictor, an MLP on the 64 pixels plus a sinusoidal
# embedding of the step, on the simple DDPM objective: the mean squared
# error between the true and the predicted noise. The loss stays well above
# zero: at large ``t`` the noise is almost all there is, and nobody can tell
# which part of ``x_t`` came from the digit.
hidden = preset(cpu=256, gpu=512, device=device)
model = NoisePredictor(64, hidden=hidden, depth=4)
untrained = NoisePredictor(64, hidden=hidden, depth=4)
# twice as many steps on the CPU leave the MMD² of the bar below unchanged
steps = preset(cpu=3000, gpu=20_000, device=device, smoke=3)
losses = train_diffusion(model, x_train, schedule, steps, batch_size=128, lr=2e-3, device=device)
smoothed = [sum(losses[i : i + 100]) / 100 for i in range(0, len(losses), 100)]
plot_curves({"train": smoothed}, xlabel="step / 100", ylabel="noise MSE", title="DDPM loss")
plt.show()
print(f"loss over the last 100 steps: {sum(losses[-100:]) / 100:.4f}")

# %%
# The reverse process: start 450 chains from ``N(0, I)`` and denoise step by
# step. The first three of them (one per row), every 20 steps: the digit
# appears only in the last few dozen steps, when little noise is left.
generator = torch.Generator().manual_seed(3)
chains = preset(cpu=450, gpu=450, device=device, smoke=32)  # smoke run: fewer chains
samples, chain = sample(model.cpu(), (chains, 64), schedule, generator, keep_every=20)
titles = (["t = 200"] + [f"t = {t}" for t in range(180, 0, -20)] + ["t = 0"]) * 3
rows = torch.stack(chain, dim=1)[:3]  # [3 samples, 11 snapshots, 64]
fig = image_grid(to_images(rows.reshape(-1, 64)), titles=titles, columns=len(chain))
fig.suptitle("Reverse process: noise → digit")
plt.show()

# %%
# 32 generated digits next to 32 real test digits. Most are recognisable,
# some are blurred or halfway between two digits: the network is a plain MLP
# that knows nothing about neighbouring pixels, trained for seconds. A
# convolutional U-Net, more steps and more training fix this on real images.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, images, title in [
    (axes[0], to_images(samples[:32]), "generated"),
    (axes[1], data.x_test[:32], "real (test)"),
]:
    padded = torch.nn.functional.pad(images[:, 0], (1, 1, 1, 1))  # a white frame: [32, 10, 10]
    rows = [torch.cat(list(padded[r * 8 : r * 8 + 8]), dim=1) for r in range(4)]
    tiles = torch.cat(rows, dim=0)  # 4 rows of 8 digits: [40, 80]
    ax.imshow(tiles.numpy(), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %%
# The bar: MMD² to the held-out test digits for the trained and the
# untrained network, and for real training digits as the reference floor.
# Everything is measured on the unclipped samples, mapped back to ``[0, 1]``.
untrained_samples, _ = sample(untrained, (chains, 64), schedule, torch.Generator().manual_seed(3))
real = data.x_test.flatten(1)
subset = torch.randperm(len(x_train), generator=torch.Generator().manual_seed(4))[:450]
trained_mmd = mmd2((samples + 1) / 2, real, bandwidths=2.0)
untrained_mmd = mmd2((untrained_samples + 1) / 2, real, bandwidths=2.0)
floor = mmd2(data.x_train.flatten(1)[subset], real, bandwidths=2.0)
print(f"MMD² trained: {trained_mmd:.4f}, untrained: {untrained_mmd:.4f}, real vs real: {floor:.4f}")
assert trained_mmd < 0.02, f"below the bar: MMD² {trained_mmd:.4f} >= 0.02"
assert untrained_mmd > 10 * trained_mmd, (
    f"the bar does not separate: untrained MMD² {untrained_mmd:.4f} "
    f"is not ten times the trained {trained_mmd:.4f}"
)
