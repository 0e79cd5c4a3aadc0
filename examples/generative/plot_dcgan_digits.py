"""
DCGAN on digits
===============

A convolutional GAN in the style of DCGAN: the generator up-samples noise
with transposed convolutions, the discriminator down-samples images with
strided convolutions, both with batch normalization, and no layer pools or
is fully connected. It is trained on the 1,347 training digits (8×8, scaled
to ``[-1, 1]``). Samples are judged against data the GAN never saw: an MLP
classifier trained on the real training digits (its accuracy on the test
digits is printed) labels 500 generated images, and each generated image is
matched with its nearest neighbour among the 450 held-out test digits. The
bars: the classifier's mean confidence on the samples is at least 0.65,
every digit class receives at least 3 % of them, and the mean distance to
the nearest test digit is at most 1.6 times that of real training digits
and smaller than that of the untrained generator.
"""

# %%
# Data, and a judge trained on the real training digits only.
import matplotlib.pyplot as plt
import torch
from torch import nn

from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.metrics import accuracy
from snippets.common.plotting import image_grid, plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.fundamentals.nn_basics import make_mlp
from snippets.generative.dcgan import DCGANDiscriminator, DCGANGenerator
from snippets.generative.gan import train_gan

seed_everything(0)
use_style()
device = pick_device()
data = digits()
judge = make_mlp([64, 128, 10], dropout=0.2)
fit(
    judge,
    make_loader(data.x_train, data.y_train, seed=0),
    nn.CrossEntropyLoss(),
    torch.optim.Adam(judge.parameters(), lr=1e-3),
    epochs=30,
    device=device,
)
judge = judge.cpu().eval()
with torch.no_grad():
    real_confidence = judge(data.x_test.flatten(1)).softmax(1).max(1).values.mean().item()
    print(f"judge accuracy on real test digits: {accuracy(judge(data.x_test), data.y_test):.3f}")
print(f"judge's mean confidence on real test digits: {real_confidence:.3f}")

# %%
# The two networks. The generator maps 16 noise numbers to a 4×4 map of
# ``width`` channels (a transposed convolution of the 1×1 "image" ``z``),
# then to the 8×8 image; the discriminator mirrors it. At 8×8 each network
# has only two convolutions, so the only batch norm is the generator's
# hidden one: the rules leave none for the discriminator's input and output.
latent = 16
width = preset(cpu=64, gpu=128, device=device)
gen = DCGANGenerator(latent, image_size=8, channels=1, width=width)
disc = DCGANDiscriminator(image_size=8, channels=1, width=width)
print(gen)
print(disc)
untrained = DCGANGenerator(latent, image_size=8, channels=1, width=width).eval()
untrained.load_state_dict(gen.state_dict())  # a copy of the starting point

# %%
# Train with the same loop as the MLP GANs: the non-saturating loss and
# Adam with β₁ = 0.5, as in the DCGAN paper.
# 2000 steps on the CPU give the same confidence in the bar below
steps = preset(cpu=1200, gpu=6000, device=device, smoke=3)
history = train_gan(gen, disc, data.x_train * 2 - 1, steps, batch_size=64, lr=5e-4, device=device)
gen = gen.cpu()
plot_curves(
    {"discriminator": history.d_loss[::20], "generator": history.g_loss[::20]},
    xlabel="step / 20",
    title="DCGAN losses",
)
plt.show()


def sample(model: nn.Module, n: int, seed: int) -> torch.Tensor:
    """``n`` images in ``[0, 1]`` from fixed noise."""
    z = torch.randn(n, latent, generator=torch.Generator().manual_seed(seed))
    with torch.no_grad():
        return (model(z) + 1) / 2


fig = image_grid(torch.cat([sample(gen, 40, 1), data.x_test[:8]]), columns=8)
fig.suptitle("DCGAN samples (first five rows) and real test digits (last row)")
plt.show()

# %%
# The judge and the nearest held-out digits. A collapsed generator would
# give confident labels of one class; blurry samples give low confidence.
fakes, untrained_fakes = sample(gen, 500, 2), sample(untrained, 500, 2)
with torch.no_grad():
    probs = judge(fakes.flatten(1)).softmax(1)
confidence = probs.max(1).values.mean().item()
counts = torch.bincount(probs.argmax(1), minlength=10)


def nearest_test_distance(images: torch.Tensor) -> float:
    """Mean Euclidean distance from each image to its nearest test digit."""
    return torch.cdist(images.flatten(1), data.x_test.flatten(1)).min(1).values.mean().item()


nn_fake = nearest_test_distance(fakes)
nn_untrained = nearest_test_distance(untrained_fakes)
nn_real = nearest_test_distance(data.x_train[:500])
print(f"judge's mean confidence on samples: {confidence:.3f}")
print("samples per class:", counts.tolist())
print(
    f"distance to nearest test digit: samples {nn_fake:.3f}, untrained generator "
    f"{nn_untrained:.3f}, real training digits {nn_real:.3f}"
)

fig, ax = plt.subplots(figsize=(6, 3))
ax.bar(range(10), counts.numpy())
ax.axhline(0.03 * 500, color="black", ls="--", lw=1, label="bar: 3 %")
ax.set(
    xlabel="class given by the judge",
    ylabel="samples",
    xticks=range(10),
    title="What the judge sees in 500 samples",
)
ax.legend()
plt.show()

# %%
# The bars.
assert confidence >= 0.65, f"below the bar: confidence {confidence:.3f} < 0.65"
assert counts.min() >= 0.03 * 500, f"a class is missing: {counts.tolist()}"
assert nn_fake <= 1.6 * nn_real, f"samples far from real digits: {nn_fake:.3f}"
assert nn_fake < nn_untrained, "no closer to real digits than the untrained generator"
print("all bars met")
