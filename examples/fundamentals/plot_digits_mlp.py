"""
An MLP that reads handwritten digits
====================================

A multilayer perceptron built with ``nn.Sequential`` learns to classify the
8×8 handwritten digits that ship with scikit-learn, trained with the site's
``fit`` loop and the Adam optimizer. The bar: at least 95 % accuracy on the
450 held-out test images. A confusion matrix shows which digits it still
mixes up.
"""

# %%
# Data: 1,347 training and 450 test images, ``[N, 1, 8, 8]``, labels 0–9.
import matplotlib.pyplot as plt
import torch
from torch import nn

from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.metrics import accuracy, confusion_matrix, predict
from snippets.common.plotting import (
    image_grid,
    plot_confusion,
    plot_curves,
    plot_mistakes,
    use_style,
)
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.fundamentals.nn_basics import count_parameters, make_mlp

seed_everything(0)
use_style()
device = pick_device()
data = digits(test_fraction=0.25, seed=0)
print("train:", tuple(data.x_train.shape), " test:", tuple(data.x_test.shape), " device:", device)

fig = image_grid(data.x_train[:16], titles=[str(int(t)) for t in data.y_train[:16]])
fig.suptitle("Training images and their labels")
plt.show()

# %%
# The model: flatten 64 pixels, one hidden layer with ReLU and dropout, ten
# output logits. On a GPU the same script uses a wider layer and more epochs.
hidden = preset(cpu=128, gpu=512, device=device)
epochs = preset(cpu=30, gpu=60, device=device, smoke=1)
model = make_mlp([64, hidden, 10], dropout=0.2)
print(model)
print("parameters:", count_parameters(model))

# %%
# Train: the five steps run inside ``fit`` for every batch of 64 images.
train_loader = make_loader(data.x_train, data.y_train, batch_size=64, seed=0)
test_loader = make_loader(data.x_test, data.y_test, batch_size=256, shuffle=False)
optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
history = fit(
    model, train_loader, nn.CrossEntropyLoss(), optimizer, epochs, device, val_batches=test_loader
)
print(
    f"epoch {epochs}: train loss {history.train_loss[-1]:.4f}, test loss {history.val_loss[-1]:.4f}"
)

fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.6))
plot_curves({"train": history.train_loss, "test": history.val_loss}, ax=left, title="Loss")
plot_curves({"test": history.val_accuracy}, ylabel="accuracy", ax=right, title="Test accuracy")
plt.show()

# %%
# Evaluate once more on the whole test set, in eval mode, and look at the
# mistakes in a confusion matrix: rows are the true digits, columns the
# predictions.
logits = predict(model, data.x_test, device)
test_acc = accuracy(logits, data.y_test)
plot_confusion(confusion_matrix(logits.argmax(dim=1), data.y_test, classes=10), title="Test set")
plt.show()

plot_mistakes(data.x_test, data.y_test, logits)
plt.show()

# %%
# The quality bar.
print(f"test accuracy: {test_acc:.4f}")
assert test_acc >= 0.95, f"below the bar: {test_acc:.4f} < 0.95"
