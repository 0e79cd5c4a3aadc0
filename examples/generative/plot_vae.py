"""
A variational autoencoder with a 2-D latent space
=================================================

A VAE learns a 2-D code for binarized handwritten digits by maximizing the
evidence lower bound (ELBO). Because its codes are pushed towards a standard
normal prior, decoding points of the plane gives new digits. The bar: the
test-set ELBO is at least 3 nats per image higher than the exact
log-likelihood of the best model with independent pixels (each pixel its own
coin, with its training frequency): the 2-D code explains structure that
pixel frequencies cannot.
"""

# %%
# Data: digits binarized at 0.5, so every pixel is a coin flip and the
# Bernoulli likelihood is an exact probability.
import matplotlib.pyplot as plt
import torch
from torch.nn import functional as F

from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.plotting import PALETTE, image_grid, plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.generative.vae import VAE, elbo, sample_images, vae_loss

seed_everything(0)
use_style()
device = pick_device()
data = digits()
x_train, x_test = (data.x_train > 0.5).float(), (data.x_test > 0.5).float()
print("train:", tuple(x_train.shape), " test:", tuple(x_test.shape), " device:", device)

# %%
# The model and its training: ``vae_loss`` (the negative ELBO) has the
# ``loss(outputs, targets)`` signature that ``fit`` expects.
epochs = preset(cpu=60, gpu=150, device=device, smoke=1)
model = VAE((1, 8, 8), hidden=preset(cpu=256, gpu=512, device=device), latent=2)
loader = make_loader(x_train, x_train, batch_size=64, seed=0)
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
history = fit(model, loader, vae_loss, optimizer, epochs, device)
model = model.cpu().eval()
plot_curves({"train": history.train_loss}, ylabel="−ELBO (nats per image)", title="Training")
plt.show()

# %%
# The latent space: the mean code ``μ(x)`` of every test image, coloured by
# its label (which the VAE never saw). Similar digits land close together.
with torch.no_grad():
    mu, _ = model.encode(x_test)
fig, ax = plt.subplots(figsize=(6.4, 5.2))
for label in range(10):
    points = mu[data.y_test == label]
    color = PALETTE[label % len(PALETTE)]
    marker = "o" if label < len(PALETTE) else "^"
    ax.scatter(points[:, 0], points[:, 1], s=10, color=color, marker=marker, label=str(label))
ax.set(xlabel="$z_1$", ylabel="$z_2$", title="Test digits in the 2-D latent space")
ax.legend(title="digit", fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
plt.show()

# %%
# Walking the plane: decode a grid of codes between −2 and 2 (where the
# prior puts 95 % of its mass) and see one digit turn into the next.
steps = torch.linspace(-2, 2, 10)
grid = torch.stack(torch.meshgrid(steps, -steps, indexing="xy"), dim=-1).reshape(-1, 2)
with torch.no_grad():
    decoded = torch.sigmoid(model.decode(grid))
fig = image_grid(decoded, columns=10)
fig.suptitle("Decoded codes: z₁ from −2 (left) to 2 (right), z₂ from 2 (top) to −2 (bottom)")
plt.show()

# %%
# New digits: codes drawn from the prior ``N(0, I)``, decoded to pixel
# probabilities.
fig = image_grid(sample_images(model, 20, torch.Generator().manual_seed(0)), columns=10)
fig.suptitle("Samples from the prior")
plt.show()

# %%
# The bar. The test ELBO is averaged over 10 draws of ``z`` per image; the
# baseline is the exact log-likelihood of independent Bernoulli pixels with
# the training frequencies (clamped away from 0 and 1).
torch.manual_seed(0)
with torch.no_grad():
    draws = []
    for _ in range(10):
        logits, mu, logvar = model(x_test)
        draws.append(elbo(logits, x_test, mu, logvar).mean())
    test_elbo = torch.stack(draws).mean().item()
p = x_train.mean(dim=0).clamp(1e-3, 1 - 1e-3)
baseline = -F.binary_cross_entropy(p.expand_as(x_test), x_test, reduction="sum").item() / len(
    x_test
)
print(f"test ELBO: {test_elbo:.2f} nats per image")
print(f"independent pixels, exact log-likelihood: {baseline:.2f} nats per image")
print(f"gain: {test_elbo - baseline:.2f} nats")
assert test_elbo - baseline >= 3.0, f"below the bar: {test_elbo - baseline:.2f} < 3"
