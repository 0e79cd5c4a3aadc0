"""
A sparse autoencoder on digits
==============================

Two autoencoders with the same shape, 64 pixels → 64 sigmoid code units → 64
pixels, are trained on the digits. The plain one only reconstructs; the
sparse one also pays a KL penalty whenever a code unit's mean activation
drifts from the target ρ = 0.05, so each unit must stay off for most digits.
The bars, measured on the 450 test images: both reconstruct with a mean
squared error of at most 0.01 per pixel; in the sparse code at least 60 % of
the activations are near zero (below 0.1) and the mean activation is at most
twice the target, while in the plain code at most 20 % are near zero.
"""

# %%
# Data: digits with pixels in ``[0, 1]``; the targets are the images themselves.
from functools import partial

import matplotlib.pyplot as plt
import torch

from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.plotting import image_grid, plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.generative.autoencoder import (
    SparseAutoencoder,
    reconstruction_error,
    sparse_autoencoder_loss,
)

seed_everything(0)
use_style()
device = pick_device()
data = digits()
x_train, x_test = data.x_train, data.x_test
print("train:", tuple(x_train.shape), " test:", tuple(x_test.shape), " device:", device)

# %%
# Two models, the same architecture and the same training; only the loss
# differs. The code is as wide as the image (64 units), so without a penalty
# nothing forces the units to specialize.
target = 0.05
epochs = preset(cpu=150, gpu=400, device=device, smoke=1)
models, histories = {}, {}
for name, kl_weight in (("plain", 0.0), ("sparse", 3e-3)):
    torch.manual_seed(0)  # the same initial weights for both
    model = SparseAutoencoder((1, 8, 8), code=64)
    loss = partial(sparse_autoencoder_loss, sparsity_target=target, kl_weight=kl_weight)
    loader = make_loader(x_train, x_train, batch_size=64, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    histories[name] = fit(model, loader, loss, optimizer, epochs, device).train_loss
    models[name] = model.cpu().eval()
plot_curves(
    histories,
    ylabel="training loss",
    title="Loss (the sparse one includes its penalty)",
    log_y=True,
)
plt.show()

# %%
# How sparse is each code? For every test digit, the 64 activations; a unit
# counts as "off" below 0.1.
stats = {}
for name, model in models.items():
    with torch.no_grad():
        _, codes = model(x_test)
    stats[name] = {
        "mse": reconstruction_error(model, x_test),
        "near_zero": (codes < 0.1).float().mean().item(),
        "mean": codes.mean().item(),
        "unit_means": codes.mean(dim=0),
        "codes": codes,
    }
    print(
        f"{name:>6}: test MSE {stats[name]['mse']:.4f}, near-zero activations "
        f"{stats[name]['near_zero']:.3f}, mean activation {stats[name]['mean']:.3f} "
        f"(target {target})"
    )

fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
bins = torch.linspace(0, 1, 41)
for name in models:
    axes[0].hist(stats[name]["codes"].flatten(), bins=bins, alpha=0.6, label=name)
    axes[1].hist(stats[name]["unit_means"], bins=bins, alpha=0.6, label=name)
axes[0].set(
    xlabel="activation of one unit on one test digit",
    ylabel="count",
    title="All code activations",
    yscale="log",
)
axes[1].axvline(target, color="black", lw=1, ls="--", label="target ρ")
axes[1].set(
    xlabel="mean activation of a unit over the test set",
    ylabel="units",
    title="Mean activation per unit",
)
for ax in axes:
    ax.legend(fontsize=8)
plt.show()

# %%
# The learned features: what each code unit adds to the image when it turns
# on, its column of decoder weights, drawn as an 8×8 image on a colour scale
# centred at zero (red: the unit brightens that pixel, blue: darkens it).
# A few of the sparse code's units draw a recognisable piece of a digit (a
# bar, a loop), since each must explain the few digits it fires for; most
# units of both codes are mixed patterns that only make sense in
# combination. At 8×8 pixels the sparsity shows far more clearly in the
# histograms above than in these pictures.
fig, axes = plt.subplots(4, 8, figsize=(8.5, 4.6))
for col, name in enumerate(models):
    features = models[name].decoder[0].weight.detach()[:, :16].T.reshape(16, 8, 8)
    for k, ax in enumerate(axes[:, 4 * col : 4 * col + 4].flat):
        limit = features[k].abs().max().item()
        ax.imshow(features[k].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
        ax.axis("off")
    axes[0, 4 * col].set_title(f"{name}: 16 code units", loc="left")
fig.suptitle("Decoder weights of each code unit (red +, blue −)")
plt.show()

# %%
# Reconstructions of test digits by both models.
with torch.no_grad():
    rows = [x_test[:10], models["plain"](x_test[:10])[0], models["sparse"](x_test[:10])[0]]
fig = image_grid(torch.cat(rows), columns=10)
fig.suptitle("Test digits, plain reconstructions, sparse reconstructions (top to bottom)")
plt.show()

# %%
# The bars, on the 450 test images.
plain, sparse = stats["plain"], stats["sparse"]
assert max(plain["mse"], sparse["mse"]) <= 0.01, "reconstruction error above 0.01"
assert sparse["near_zero"] >= 0.6, f"sparse code not sparse: {sparse['near_zero']:.3f} < 0.6"
assert sparse["mean"] <= 2 * target, f"mean activation {sparse['mean']:.3f} > {2 * target}"
assert plain["near_zero"] <= 0.2, f"plain code unexpectedly sparse: {plain['near_zero']:.3f}"
print("all bars met")
