"""
A conditional GAN that draws the digit you ask for
==================================================

Both networks of a GAN also receive the class label (one-hot), so the
generator learns ``p(image | digit)`` and can be asked for a "7". Samples
are judged by an independent classifier trained on real digits. The bar: on
500 generated images (50 per class) the classifier reads the requested
digit at least 80 % of the time.
"""

# %%
# Data and a judge: an MLP classifier trained on the real training digits.
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
from snippets.generative.gan import Discriminator, Generator, train_gan

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
    print(f"judge accuracy on real test digits: {accuracy(judge(data.x_test), data.y_test):.3f}")

# %%
# The conditional GAN: 16 noise numbers plus a one-hot label in, an 8×8
# image with pixels in ``[0, 1]`` out; the discriminator reads the image and
# the label, so a well-drawn "3" labelled "7" counts as fake.
latent = 16
gen = Generator(latent, (1, 8, 8), hidden=(128, 256), num_classes=10, output="sigmoid")
disc = Discriminator(64, hidden=(256, 128), num_classes=10)
steps = preset(cpu=2000, gpu=8000, device=device, smoke=3)
history = train_gan(
    gen, disc, data.x_train, steps, labels=data.y_train, batch_size=128, lr=1e-3, device=device
)
gen = gen.cpu()
plot_curves(
    {"discriminator": history.d_loss[::20], "generator": history.g_loss[::20]},
    xlabel="step / 20",
    title="Losses of the two players",
)
plt.show()

# %%
# Ask for each digit five times (one row per noise vector, one column per
# digit): the label controls *which* digit, the noise controls the style.
z = torch.randn(5, latent, generator=torch.Generator().manual_seed(1))
z = z.repeat_interleave(10, dim=0)
labels = torch.arange(10).repeat(5)
with torch.no_grad():
    images = gen(z, labels)
fig = image_grid(images, titles=[str(int(y)) for y in labels], columns=10)
fig.suptitle("Generated digits: columns 0–9, rows share the noise")
plt.show()

# %%
# The bar: does the judge read the digit that was asked for?
requested = torch.arange(10).repeat(50)
with torch.no_grad():
    fakes = gen(torch.randn(500, latent, generator=torch.Generator().manual_seed(2)), requested)
    agreement = accuracy(judge(fakes), requested)
print(f"judge agrees with the requested digit: {agreement:.3f}")
assert agreement >= 0.80, f"below the bar: {agreement:.3f} < 0.80"
