"""
A neural network from scratch on handwritten digits
===================================================

A multilayer perceptron written with tensors only (no autograd, no
``nn.Module``, no optimizer object): a forward pass, a backward pass that
applies the chain rule by hand, and a plain gradient-descent update. It
reads the 8×8 digits that ship with scikit-learn. The bar: at least 95 %
accuracy on the 450 held-out test images.
"""

# %%
# Data: 1,347 training and 450 test images, flattened to 64 pixels each.
import matplotlib.pyplot as plt

from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.metrics import accuracy, confusion_matrix
from snippets.common.plotting import plot_confusion, plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.neural_networks.mlp_scratch import ScratchMLP, fit_scratch

seed_everything(0)
use_style()
device = pick_device()
data = digits(test_fraction=0.25, seed=0, flat=True)
print("train:", tuple(data.x_train.shape), " test:", tuple(data.x_test.shape), " device:", device)

# %%
# The network: 64 inputs → a hidden ReLU layer → 10 logits. Its weights are
# plain tensors in two lists; nothing records a graph.
hidden = preset(cpu=64, gpu=256, device=device)
epochs = preset(cpu=50, gpu=80, device=device, smoke=1)
model = ScratchMLP([64, hidden, 10], seed=0)
print("weights:", [tuple(w.shape) for w in model.weights])
print("parameters:", sum(p.numel() for p in model.parameters()))

# %%
# Training: every batch runs forward, the cross-entropy loss, the hand-written
# backward pass and the update ``θ ← θ − η ∂L/∂θ``
# (see :func:`snippets.neural_networks.mlp_scratch.scratch_train_step`).
train_loader = make_loader(data.x_train, data.y_train, batch_size=128, seed=0)
history = fit_scratch(
    model, train_loader, epochs, lr=0.2, val_data=(data.x_test, data.y_test), device=device
)
print(
    f"epoch {epochs}: train loss {history.train_loss[-1]:.4f}, test loss {history.val_loss[-1]:.4f}"
)

fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.6))
plot_curves({"train": history.train_loss, "test": history.val_loss}, ax=left, title="Loss")
plot_curves({"test": history.val_accuracy}, ylabel="accuracy", ax=right, title="Test accuracy")
right.axhline(0.95, color="grey", linestyle=":", label="bar (95 %)")
right.legend()
plt.show()

# %%
# Which digits does it still confuse? Rows are the true digits, columns the
# predictions.
logits = model.forward(data.x_test.to(device)).cpu()
test_acc = accuracy(logits, data.y_test)
plot_confusion(confusion_matrix(logits.argmax(dim=1), data.y_test, classes=10), title="Test set")
plt.show()

# %%
# The first layer's weights, one 8×8 image per hidden unit: each unit has
# learned its own pattern of pixels to look for.
w = model.weights[0][:32].cpu().reshape(-1, 8, 8)
fig, axes = plt.subplots(4, 8, figsize=(8, 4.2))
for ax, image in zip(axes.flat, w):
    ax.imshow(image.numpy(), cmap="RdBu_r", vmin=-w.abs().max(), vmax=w.abs().max())
    ax.axis("off")
fig.suptitle("First-layer weights of 32 hidden units (red +, blue −)")
plt.show()

# %%
# The quality bar.
print(f"test accuracy: {test_acc:.4f}")
assert test_acc >= 0.95, f"below the bar: {test_acc:.4f} < 0.95"
