"""
Over-fitting and its cures
==========================

A large multilayer perceptron trained on only 100 handwritten digits learns
its training set perfectly and then, as training goes on, gets worse on new
images: it over-fits. Its test loss falls, reaches a minimum and climbs
again while the training loss keeps falling towards zero. Three cures are
compared: weight decay, dropout and early stopping, which watches the loss on
200 separate validation images and keeps the weights from its best epoch.
The bars: the unregularized model's final test loss is at least 1.2 times
its own minimum (the over-fitting is there to cure), and the early-stopped
model's test loss is at most 0.85 times the unregularized model's final one.
Accuracy moves much less than the loss here: what over-fitting spoils first
is the model's confidence, which becomes extreme on images it gets wrong.
"""

# %%
# Data: 100 training images, 200 validation images (both from the training
# split) and the usual 450 test images.
import copy

import matplotlib.pyplot as plt
from torch import nn

from snippets.common.data import digits
from snippets.common.device import pick_device, preset
from snippets.common.plotting import PALETTE, use_style
from snippets.common.seed import seed_everything
from snippets.common.train import evaluate, train_step
from snippets.fundamentals.nn_basics import make_mlp
from snippets.neural_networks.optimizers import Adam
from snippets.neural_networks.regularization import EarlyStopping

seed_everything(0)
use_style()
device = pick_device()
data = digits(seed=0, flat=True)
n_train = 100
train = (data.x_train[:n_train].to(device), data.y_train[:n_train].to(device))
val = [(data.x_train[n_train : n_train + 200], data.y_train[n_train : n_train + 200])]
test = [(data.x_test, data.y_test)]
print(
    "train",
    tuple(train[0].shape),
    "validation",
    tuple(val[0][0].shape),
    "test",
    tuple(data.x_test.shape),
)

# %%
# Three copies of the same over-sized network (two hidden layers of 128
# units, about 26,000 weights for 100 images). One is trained plainly, one
# with decoupled weight decay (AdamW-style, :class:`snippets.neural_networks.optimizers.Adam`
# with ``decoupled=True``), one with dropout after each hidden layer. All
# train full-batch with Adam; every 10 steps counts as an "epoch" for the
# curves and for early stopping.
width = preset(cpu=128, gpu=512, device=device)
epochs = preset(cpu=60, gpu=100, device=device, smoke=1)
seed_everything(0)
plain = make_mlp([64, width, width, 10])
seed_everything(0)
with_dropout = make_mlp([64, width, width, 10], dropout=0.5)
runs = {
    "no regularization": (plain, 0.0),
    "weight decay (λ = 0.5)": (copy.deepcopy(plain), 0.5),
    "dropout (p = 0.5)": (with_dropout, 0.0),
}
loss_fn = nn.CrossEntropyLoss()
curves = {}
stopper = EarlyStopping(patience=15)
for name, (model, weight_decay) in runs.items():
    model.to(device)
    optimizer = Adam(model.parameters(), lr=1e-3, weight_decay=weight_decay, decoupled=True)
    curve = {"train": [], "val": [], "test": [], "test_acc": []}
    for _ in range(epochs):
        model.train()
        for _ in range(10):
            train_loss = train_step(model, train, loss_fn, optimizer)
        curve["train"].append(train_loss)
        curve["val"].append(evaluate(model, val, loss_fn, device)[0])
        test_loss, test_acc = evaluate(model, test, loss_fn, device)
        curve["test"].append(test_loss)
        curve["test_acc"].append(test_acc)
        if name == "no regularization":
            stopper.step(curve["val"][-1], model)  # watch, keep the best weights
    curves[name] = curve
    print(
        f"{name:24s} train loss {curve['train'][-1]:.4f}  test loss {curve['test'][-1]:.3f}  "
        f"test accuracy {curve['test_acc'][-1]:.3f}"
    )

# %%
# Early stopping: restore the plain model's weights from the epoch with the
# lowest validation loss.
stopped = copy.deepcopy(plain)
stopped.load_state_dict(stopper.best_state)
stopped_loss, stopped_acc = evaluate(stopped, test, loss_fn, device)
print(
    f"early stopping (epoch {stopper.best_epoch + 1})  "
    f"test loss {stopped_loss:.3f}  test accuracy {stopped_acc:.3f}"
)

# %%
# The curves. Left: the plain model's training loss heads to zero while its
# validation and test losses turn upwards; the dotted line marks the epoch
# early stopping picks. Right: the test loss of the three training runs.
fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4))
steps = range(1, epochs + 1)
plain_curve = curves["no regularization"]
left.plot(steps, plain_curve["train"], label="train")
left.plot(steps, plain_curve["val"], label="validation")
left.plot(steps, plain_curve["test"], label="test")
left.axvline(stopper.best_epoch + 1, color="grey", linestyle=":", label="early stop")
left.set(yscale="log", xlabel="epoch (10 steps)", ylabel="cross-entropy", title="No regularization")
left.legend()
for color, (name, curve) in zip(PALETTE, curves.items()):
    right.plot(steps, curve["test"], color=color, label=name)
right.axhline(stopped_loss, color="grey", linestyle=":", label="early stopping")
right.set(xlabel="epoch (10 steps)", ylabel="test cross-entropy", title="Test loss")
right.legend()
plt.show()

# %%
# The quality bars.
final = plain_curve["test"][-1]
print(
    f"plain: final test loss {final:.3f}, minimum {min(plain_curve['test']):.3f}; "
    f"early stopped {stopped_loss:.3f}"
)
assert final >= 1.2 * min(plain_curve["test"]), "no over-fitting to cure"
assert stopped_loss <= 0.85 * final, (
    f"early stopping should help: {stopped_loss:.3f} > 0.85 × {final:.3f}"
)
