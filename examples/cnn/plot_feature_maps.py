"""
Filters, feature maps and receptive fields
==========================================

What does a convolutional layer compute? First, four hand-made 3×3
filters (edge detectors, a Laplacian and a blur) run over a digit with the
from-scratch :func:`~snippets.cnn.conv.conv2d`. Then a small CNN learns its own
filters on the digits (bar: at least 97 % test accuracy after a short
training), and we look at the feature maps it produces. Last, the receptive
field of each layer is measured with autograd, as the set of input pixels
whose gradient reaches one output unit, and compared with the formula; the
example asserts that both agree for every layer.
"""

# %%
# A digit, up-sampled from 8×8 to 32×32 so the filter responses are easy to
# see. The filters are applied with padding 1, which keeps the size.
import copy

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from torch import nn

from snippets.cnn.conv import conv2d, edge_filters, layer_geometry, receptive_field
from snippets.cnn.lenet import DigitsCNN
from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit

seed_everything(0)
use_style()
device = pick_device()
data = digits(seed=0)
digit = F.interpolate(data.x_test[:1], size=(32, 32), mode="bilinear", align_corners=False)

filters = edge_filters()
weight = torch.stack(list(filters.values())).unsqueeze(1)  # [4, 1, 3, 3]: 4 filters, 1 channel
responses = conv2d(digit, weight, padding=1)[0]  # [4, 32, 32]
print("input", tuple(digit.shape), "→ feature maps", tuple(responses.shape))

fig, axes = plt.subplots(2, 5, figsize=(10, 4.4))
axes[0, 0].imshow(digit[0, 0].numpy(), cmap="gray_r")
axes[0, 0].set_title(f"input (a {int(data.y_test[0])})")
axes[1, 0].axis("off")
for k, (name, kernel) in enumerate(filters.items(), start=1):
    limit = kernel.abs().max()
    axes[0, k].imshow(kernel.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[0, k].set_title(f"filter: {name}")
    for (i, j), value in zip(
        torch.cartesian_prod(torch.arange(3), torch.arange(3)), kernel.flatten()
    ):
        color = "white" if abs(value) > 0.6 * limit else "black"
        axes[0, k].text(int(j), int(i), f"{value:.2g}", ha="center", va="center", color=color)
    limit = responses[k - 1].abs().max()
    axes[1, k].imshow(responses[k - 1].numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    axes[1, k].set_title(f"response: {name}")
for ax in axes.flat:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.grid(False)
fig.suptitle("Hand-made filters (top) and their feature maps (bottom; red positive, blue negative)")
plt.show()

# %%
# A small CNN learns its own filters. A short training is enough to see
# structure: the first layer's 3×3 filters become stroke and edge
# detectors, similar to the hand-made ones.
channels = preset(cpu=(16, 32), gpu=(32, 64), device=device)
epochs = preset(cpu=8, gpu=20, device=device, smoke=1)
model = DigitsCNN(channels=channels)
history = fit(
    model,
    make_loader(data.x_train, data.y_train, batch_size=128, seed=0),
    nn.CrossEntropyLoss(),
    torch.optim.Adam(model.parameters(), lr=2e-3),
    epochs,
    device,
    val_batches=make_loader(data.x_test, data.y_test, batch_size=512, shuffle=False),
)
test_acc = history.val_accuracy[-1]
print(f"test accuracy after {epochs} epochs: {test_acc:.4f}")
model = model.cpu().eval()

first = model.features[0][0].weight.detach()  # [16, 1, 3, 3]
fig, axes = plt.subplots(2, 8, figsize=(9, 2.6))
for ax, kernel in zip(axes.flat, first[:16, 0]):
    limit = kernel.abs().max()
    ax.imshow(kernel.numpy(), cmap="RdBu_r", vmin=-limit, vmax=limit)
    ax.axis("off")
fig.suptitle("Learned 3×3 filters of the first layer")
plt.show()

# %%
# Feature maps of one test digit after each block. After the first block
# (8×8) the maps still look like the digit, each highlighting different
# strokes; after the second (2×2, before the classifier) they are
# abstract evidence for or against classes.
with torch.no_grad():
    after_first = model.features[:3](data.x_test[:1])[0]  # [16, 4, 4] after pooling
    before_pool = model.features[:2](data.x_test[:1])[0]  # [16, 8, 8]
    after_second = model.features(data.x_test[:1])[0]  # [32, 2, 2]
fig, axes = plt.subplots(3, 8, figsize=(9, 3.9))
rows = [("block 1, 8×8", before_pool), ("pool 1, 4×4", after_first), ("block 2, 2×2", after_second)]
for r, (label, maps) in enumerate(rows):
    for c in range(8):
        axes[r, c].imshow(maps[c].numpy(), cmap="viridis")
        axes[r, c].set_xticks([])
        axes[r, c].set_yticks([])
        axes[r, c].grid(False)
    axes[r, 0].set_ylabel(label, fontsize=8)
fig.suptitle(f"Feature maps of a test digit (label {int(data.y_test[0])}): 8 channels per layer")
plt.show()

# %%
# Receptive fields. The formula walks the layers: a 3×3 convolution adds 2
# input pixels times the current stride product, a 2×2 pool doubles that
# product. Autograd measures the same thing: back-propagate from the centre
# unit of a layer's output on a larger blank image and see which input
# pixels receive gradient. Max pooling passes gradient only to the winner of
# each window and ReLU blocks it where the unit is off, which hides part of
# the field, so the measurement runs on a copy with average pooling and no
# ReLU: every pixel that *could* matter then shows up.


linear = copy.deepcopy(model.features)
for name, module in list(linear.named_modules()):
    parent = linear.get_submodule(name.rpartition(".")[0]) if "." in name else linear
    child = name.rpartition(".")[2]
    if isinstance(module, nn.ReLU):
        setattr(parent, child, nn.Identity())
    elif isinstance(module, nn.MaxPool2d):
        setattr(parent, child, nn.AvgPool2d(module.kernel_size, module.stride))

geometry = layer_geometry(linear)
fields = receptive_field([g for _, g in geometry])
labels = ["conv 1", "conv 2", "pool 1", "conv 3", "conv 4", "pool 2"]
size, measured = 40, []
fig, axes = plt.subplots(1, len(geometry), figsize=(11, 2.5))
for k, ((name, layer), field) in enumerate(zip(geometry, fields)):
    x = torch.zeros(1, 1, size, size, requires_grad=True)
    depth = int(name.split(".")[0]) + 1  # the blocks up to and including this layer
    out = linear[:depth](x)
    centre = out.shape[-1] // 2
    out[0, :, centre, centre].sum().backward()
    touched = torch.nonzero(x.grad[0, 0].abs() > 0)
    rows, cols = touched[:, 0], touched[:, 1]
    extent = int(rows.max() - rows.min() + 1), int(cols.max() - cols.min() + 1)
    measured.append(extent)
    axes[k].imshow(x.grad[0, 0].abs().numpy(), cmap="magma")
    box = Rectangle((cols.min() - 0.5, rows.min() - 0.5), field, field, fill=False, ec="cyan")
    axes[k].add_patch(box)
    axes[k].set_title(f"{labels[k]}: {field}×{field}", fontsize=9)
    axes[k].axis("off")
    print(f"{labels[k]}  (kernel, stride, dilation) {layer}: field {field}, measured {extent}")
fig.suptitle("|gradient| of one unit on a 40×40 input; cyan box: receptive field from the formula")
plt.show()

# %%
# The bars: a trained model, and formula and measurement agree for every layer.
print(f"test accuracy: {test_acc:.4f}")
assert test_acc >= 0.97, f"below the bar: {test_acc:.4f} < 0.97"
assert measured == [(f, f) for f in fields], f"receptive fields differ: {measured} vs {fields}"
