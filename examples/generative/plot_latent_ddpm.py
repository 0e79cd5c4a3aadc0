"""
Latent diffusion on handwritten digits
======================================

An autoencoder (:class:`snippets.generative.autoencoder.Autoencoder`)
compresses every 8×8 digit to a code of 8 numbers; a diffusion model
(:mod:`snippets.generative.diffusion`) then learns to generate *codes*, and
the decoder turns generated codes into images. The diffusion model works on
8 numbers instead of 64 pixels. The bar uses the squared maximum mean
discrepancy (MMD², Gaussian kernel of width 2 on the 64 pixels in
``[0, 1]``) between 450 generated digits and the 450 held-out test digits:
below 0.02, and at least five times smaller than for the same sampler with
an untrained noise predictor (decoded by the same decoder). Two references
are printed with it: decoded reconstructions of real training digits (the
best the decoder allows) and real training digits themselves.
"""

# %%
# Stage 1: the autoencoder, trained on the training digits to reconstruct
# them through a code of 8 numbers, then frozen.
import matplotlib.pyplot as plt
import torch
from torch import nn

from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.generative.autoencoder import Autoencoder
from snippets.generative.diffusion import (
    NoisePredictor,
    linear_schedule,
    mmd2,
    sample,
    train_diffusion,
)

seed_everything(0)
use_style()
device = pick_device()
data = digits()
latent = 8
autoencoder = Autoencoder(hidden=128, latent=latent).to(device)
fit(
    autoencoder,
    make_loader(data.x_train, data.x_train, batch_size=64),
    nn.MSELoss(),
    torch.optim.Adam(autoencoder.parameters(), lr=2e-3),
    epochs=preset(cpu=30, gpu=60, device=device, smoke=1),
    device=device,
)
autoencoder.eval()
with torch.no_grad():
    codes = autoencoder.encode(data.x_train.to(device)).cpu()  # [N, 8]
    test_error = nn.functional.mse_loss(autoencoder(data.x_test.to(device)).cpu(), data.x_test)
print(f"{len(codes)} codes of {latent} numbers; held-out reconstruction MSE {test_error:.4f}")

# %%
# Stage 2: diffusion in the latent space. The codes are standardised (zero
# mean, unit variance per number) so that they match the scale of the
# Gaussian noise the forward process adds; generated codes are mapped back
# before decoding.
mean, std = codes.mean(dim=0), codes.std(dim=0)
schedule = linear_schedule(200)
hidden = preset(cpu=128, gpu=256, device=device)
model = NoisePredictor(latent, hidden=hidden, depth=3)
untrained = NoisePredictor(latent, hidden=hidden, depth=3)
steps = preset(cpu=3000, gpu=10_000, device=device, smoke=3)
losses = train_diffusion(
    model, (codes - mean) / std, schedule, steps, batch_size=128, lr=2e-3, device=device
)
print(f"noise MSE over the last 100 steps: {sum(losses[-100:]) / 100:.4f}")


def generate(noise_predictor: nn.Module, n: int, seed: int) -> torch.Tensor:
    """``n`` codes sampled by the reverse process, decoded to images ``[n, 1, 8, 8]``."""
    z, _ = sample(
        noise_predictor.to(device),
        (n, latent),
        schedule,
        torch.Generator().manual_seed(seed),
        device=device,
    )
    with torch.no_grad():
        return autoencoder.decode(z * std.to(device) + mean.to(device)).cpu()


generated = generate(model, 450, seed=3)
baseline = generate(untrained, 450, seed=3)

# %%
# 32 generated digits next to 32 real test digits.
fig, axes = plt.subplots(1, 2, figsize=(10, 3.2))
for ax, images, title in [
    (axes[0], generated[:32], "generated (latent diffusion)"),
    (axes[1], data.x_test[:32], "real (test)"),
]:
    padded = nn.functional.pad(images[:, 0], (1, 1, 1, 1))  # a white frame: [32, 10, 10]
    rows = [torch.cat(list(padded[r * 8 : r * 8 + 8]), dim=1) for r in range(4)]
    ax.imshow(torch.cat(rows, dim=0).numpy(), cmap="gray_r", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
plt.show()

# %%
# The bar: MMD² to the held-out test digits.
real = data.x_test.flatten(1)
with torch.no_grad():
    reconstructed = autoencoder(data.x_train[:450].to(device)).cpu()
scores = {
    "latent diffusion": mmd2(generated.flatten(1), real, bandwidths=2.0),
    "untrained noise predictor": mmd2(baseline.flatten(1), real, bandwidths=2.0),
    "decoded real codes": mmd2(reconstructed.flatten(1), real, bandwidths=2.0),
    "real training digits": mmd2(data.x_train[:450].flatten(1), real, bandwidths=2.0),
}
for name, value in scores.items():
    print(f"MMD² {name:>26}: {value:.4f}")
trained_mmd, untrained_mmd = scores["latent diffusion"], scores["untrained noise predictor"]
assert trained_mmd < 0.02, f"below the bar: MMD² {trained_mmd:.4f} >= 0.02"
assert untrained_mmd > 5 * trained_mmd, (
    f"the bar does not separate: untrained MMD² {untrained_mmd:.4f} "
    f"is not five times the trained {trained_mmd:.4f}"
)
