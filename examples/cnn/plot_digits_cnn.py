"""
A small CNN reads handwritten digits
====================================

A convolutional network with two blocks of 3×3 convolutions, batch norm,
ReLU and max pooling learns the 8×8 handwritten digits that ship with
scikit-learn. It has more parameters than the multilayer perceptron of the
fundamentals chapter (the run prints both counts), but far fewer than a
fully connected layer would need to look at every position the way its
filters do: every filter is shared across all positions of the image, and
it makes a fraction of the MLP's mistakes. The bar: at least 98 %
accuracy on the 450 held-out test images. The last figure shows every test
digit it still gets wrong.
"""

# %%
# Data: 1,347 training and 450 test images, ``[N, 1, 8, 8]``, labels 0–9.
import matplotlib.pyplot as plt
import torch
from torch import nn

from snippets.cnn.lenet import DigitsCNN
from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.metrics import accuracy, confusion_matrix, predict
from snippets.common.plotting import plot_confusion, plot_curves, plot_mistakes, use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.fundamentals.nn_basics import count_parameters, make_mlp

seed_everything(0)
use_style()
device = pick_device()
data = digits(test_fraction=0.25, seed=0)
print("train:", tuple(data.x_train.shape), " test:", tuple(data.x_test.shape), " device:", device)

# %%
# The model: conv → BN → ReLU → conv → BN → ReLU → max-pool, twice
# (8×8 → 4×4 → 2×2), then dropout and one linear layer. Convolutions keep the
# image's layout, so a stroke is recognized wherever it appears. On a GPU the
# same script trains wider layers for longer.
channels = preset(cpu=(16, 32), gpu=(64, 128), device=device)
epochs = preset(cpu=15, gpu=40, device=device, smoke=1)
model = DigitsCNN(channels=channels, classes=10, dropout=0.3)
print(model)
with torch.device("meta"):  # shapes only: no memory, no random numbers drawn
    mlp = make_mlp([64, 128, 10], dropout=0.2)  # the fundamentals chapter's MLP, CPU size
print(
    f"parameters: {count_parameters(model):,} (the MLP of the fundamentals chapter: "
    f"{count_parameters(mlp):,})"
)

# %%
# Train with the site's ``fit`` loop and Adam, batches of 128 images.
train_loader = make_loader(data.x_train, data.y_train, batch_size=128, seed=0)
test_loader = make_loader(data.x_test, data.y_test, batch_size=512, shuffle=False)
optimizer = torch.optim.Adam(model.parameters(), lr=2e-3, weight_decay=1e-4)
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
# Evaluate on the whole test set in eval mode (batch norm uses its running
# statistics, dropout is off) and count the mistakes per class.
logits = predict(model, data.x_test, device)
test_acc = accuracy(logits, data.y_test)
predicted = logits.argmax(dim=1)
plot_confusion(confusion_matrix(predicted, data.y_test, classes=10), title="Test set")
plt.show()

# %%
# Every misclassified test digit, with the true label, the prediction and
# the model's confidence in it. Most are digits that a person would also
# hesitate over at 8×8 pixels.
print("misclassified:", int((predicted != data.y_test).sum()), "of", len(data.y_test))
plot_mistakes(data.x_test, data.y_test, logits)
plt.show()

# %%
# The quality bar.
print(f"test accuracy: {test_acc:.4f}")
assert test_acc >= 0.98, f"below the bar: {test_acc:.4f} < 0.98"
