"""
A scaled-down EfficientNet on warped digits
===========================================

The digits are up-sampled to 16×16 and every image is randomly rotated
(±15°), zoomed (0.9–1.1×) and shifted (±10 %): a harder task than the
clean 8×8 digits, and one where data augmentation multiplies a small
training set. A three-stage EfficientNet built from the same MBConv blocks
as EfficientNet-B0 (depthwise convolutions, squeeze-and-excitation,
stochastic depth), about 100 times smaller, learns it with a one-cycle
learning-rate schedule. The bar: at least 95 % accuracy on the 450 warped
test digits, whose images and warps are never seen in training.
"""

# %%
# Data: three warped copies of each of the 1,347 training digits; one warped
# copy of each test digit, drawn with a different seed.
import matplotlib.pyplot as plt
import torch
from torch import nn

from snippets.cnn.data import augmented_digits
from snippets.cnn.efficientnet import efficientnet_b0, efficientnet_digits
from snippets.common.data import make_loader
from snippets.common.device import pick_device, preset
from snippets.common.metrics import accuracy, predict
from snippets.common.plotting import image_grid, plot_curves, plot_mistakes, use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.fundamentals.nn_basics import count_parameters

seed_everything(0)
use_style()
device = pick_device()
copies = preset(cpu=3, gpu=8, device=device)
data = augmented_digits(size=16, copies=copies, seed=0)
print("train:", tuple(data.x_train.shape), " test:", tuple(data.x_test.shape), " device:", device)

n_base = len(data.y_train) // copies  # 1,347 digits, then their next warped copies
show = torch.cat([data.x_train[c * n_base : c * n_base + 8] for c in range(copies)])
fig = image_grid(show, titles=[str(int(t)) for t in data.y_train[:8]] * copies, columns=8)
fig.suptitle(f"Eight training digits (columns) in {copies} random warps (rows)")
plt.show()

# %%
# The model: stem (stride 2) → MBConv stages 16 → 24 → 40 channels at
# 8×8 → 4×4 → 2×2 → 1×1 head with 128 channels → pooling → linear. On a GPU
# the same code trains a wider and deeper version, scaled like B1–B7.
width, depth = preset(cpu=(1.0, 1.0), gpu=(1.5, 2.0), device=device)
model = efficientnet_digits(width=width, depth=depth).to(device)
b0_size = count_parameters(efficientnet_b0())
print(f"parameters: {count_parameters(model):,} (EfficientNet-B0: {b0_size:,})")
print(model.features[2][0])  # the first MBConv of the second stage

# %%
# Training with the site's ``fit`` loop: the learning rate follows one cycle
# (warm up, then anneal towards zero; the scheduler steps after every batch)
# and the model is evaluated on the test digits after every epoch.
epochs = preset(cpu=8, gpu=20, device=device, smoke=1)
train_loader = make_loader(data.x_train, data.y_train, batch_size=128, seed=0)
test_loader = make_loader(data.x_test, data.y_test, batch_size=512, shuffle=False)
optimizer = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=1e-2)
schedule = torch.optim.lr_scheduler.OneCycleLR(
    optimizer, max_lr=3e-3, total_steps=epochs * len(train_loader)
)
history = fit(
    model,
    train_loader,
    nn.CrossEntropyLoss(),
    optimizer,
    epochs,
    device,
    val_batches=test_loader,
    scheduler=schedule,
    log=True,
)

fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.6))
plot_curves({"train": history.train_loss, "test": history.val_loss}, ax=left, title="Loss")
plot_curves({"test": history.val_accuracy}, ylabel="accuracy", ax=right, title="Test accuracy")
plt.show()

# %%
# Mistakes on the warped test digits, if any remain.
logits = predict(model, data.x_test, device)
plot_mistakes(data.x_test, data.y_test, logits, title="Misclassified warped test digits")
plt.show()

# %%
# The quality bar.
test_acc = accuracy(logits, data.y_test)
print(f"test accuracy: {test_acc:.4f}")
assert test_acc >= 0.95, f"below the bar: {test_acc:.4f} < 0.95"
