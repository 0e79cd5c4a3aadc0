"""
Autoencoder and denoising autoencoder on digits
===============================================

Two MLP autoencoders squeeze the 64 pixels of a handwritten digit through an
8-number code and rebuild the image. The plain one is trained on clean
images; the denoising one sees images with Gaussian noise (σ = 0.3) and must
rebuild the clean digit. The bars, on the 450 test images: the plain
autoencoder's reconstruction error is at most 0.025 per pixel (mean squared
error; for scale, the run prints the pixel variance, the error of always
predicting the mean image) and below that of the best linear code of the
same size, the first 8 principal components fitted on the training images;
and on noisy inputs the denoising
autoencoder's output is closer to the clean image than both the noisy input
and the plain autoencoder's output.
"""

# %%
# Data: digits with pixels in ``[0, 1]``; the targets are the images themselves.
import matplotlib.pyplot as plt
import torch
from torch.nn import functional as F

from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.plotting import image_grid, plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.generative.autoencoder import (
    Autoencoder,
    corrupt,
    pca_reconstruction,
    reconstruction_error,
)

seed_everything(0)
use_style()
device = pick_device()
data = digits()
x_train, x_test = data.x_train, data.x_test
print("train:", tuple(x_train.shape), " test:", tuple(x_test.shape), " device:", device)

# %%
# Two models with the same shape, 64 → 128 → 8 → 128 → 64; the second one
# corrupts its input while training. ``fit`` trains both: the loader yields
# ``(image, image)`` pairs, so the loss compares the output with the input.
epochs = preset(cpu=40, gpu=100, device=device, smoke=1)
hidden = preset(cpu=128, gpu=512, device=device)
models, histories = {}, {}
for name, noise_std in (("autoencoder", 0.0), ("denoising", 0.3)):
    model = Autoencoder((1, 8, 8), hidden=hidden, latent=8, noise_std=noise_std)
    loader = make_loader(x_train, x_train, batch_size=64, seed=0)
    optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
    histories[name] = fit(model, loader, F.mse_loss, optimizer, epochs, device).train_loss
    models[name] = model.cpu().eval()
plot_curves(histories, ylabel="training MSE", title="Reconstruction loss", log_y=True)
plt.show()

# %%
# Reconstructions of clean test images: the 8-number code keeps the shape of
# each digit and loses only fine detail.
plain, denoising = models["autoencoder"], models["denoising"]
with torch.no_grad():
    rebuilt = plain(x_test[:10])
fig = image_grid(torch.cat([x_test[:10], rebuilt]), columns=10)
fig.suptitle("Test digits (top) and the autoencoder's reconstructions (bottom)")
plt.show()

# %%
# Denoising: the same test digits with noise added. The plain autoencoder
# was never shown noise and passes some of it through; the denoising one
# maps the noisy image back towards a clean digit.
noisy = corrupt(x_test, 0.3, torch.Generator().manual_seed(1))
with torch.no_grad():
    rows = [x_test[:10], noisy[:10], plain(noisy[:10]), denoising(noisy[:10])]
fig = image_grid(torch.cat(rows), columns=10)
fig.suptitle("Clean, noisy, plain AE on noisy, denoising AE on noisy (top to bottom)")
plt.show()

# %%
# The bars, measured on all 450 test images.
clean_error = reconstruction_error(plain, x_test)
noisy_input_error = F.mse_loss(noisy, x_test).item()
plain_on_noisy = reconstruction_error(plain, x_test, noisy)
denoised_error = reconstruction_error(denoising, x_test, noisy)
mean_image_error = (x_test - x_test.mean(dim=0)).pow(2).mean().item()
# the best linear 8-number code: PCA fitted on the training images
pca_error = F.mse_loss(pca_reconstruction(x_train.cpu(), 8, x_test.cpu()), x_test.cpu()).item()
print(f"pixel variance (MSE of always predicting the mean image): {mean_image_error:.4f}")
print(f"autoencoder test MSE (clean input): {clean_error:.4f}")
print(f"PCA with 8 components, test MSE: {pca_error:.4f}")
print(f"noisy input vs clean: {noisy_input_error:.4f}")
print(f"plain autoencoder on noisy input: {plain_on_noisy:.4f}")
print(f"denoising autoencoder on noisy input: {denoised_error:.4f}")
assert clean_error <= 0.025, f"below the bar: {clean_error:.4f} > 0.025"
assert clean_error < pca_error, f"no better than PCA: {clean_error:.4f} >= {pca_error:.4f}"
assert denoised_error < min(noisy_input_error, plain_on_noisy), "denoising did not help"
