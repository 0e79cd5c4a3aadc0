"""
Optimizers and learning-rate schedules compared
===============================================

Plain SGD, SGD with momentum, RMSProp and Adam, each written from scratch in
:mod:`snippets.neural_networks.optimizers`, first on Rosenbrock's banana-shaped valley and then
training the same digit classifier from the same starting weights. Then the
common learning-rate schedules, and momentum SGD once more with a cosine
schedule. The bars: with momentum, RMSProp or Adam the classifier reaches at
least 93 % test accuracy in 20 epochs, and plain SGD at the same learning
rate as momentum is left with at least twice momentum's training loss.
"""

# %%
# A valley that is easy to fall into and hard to walk along:
# :func:`~snippets.neural_networks.optimizers.rosenbrock` has its minimum at (1, 1) at the end
# of a long, flat, curved floor.
import copy

import matplotlib.pyplot as plt
import torch
from torch import nn

from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.plotting import PALETTE, plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.fundamentals.nn_basics import make_mlp
from snippets.neural_networks.optimizers import make_optimizer, optimize_path, rosenbrock
from snippets.neural_networks.schedules import (
    cosine_lr,
    exponential_lr,
    set_lr,
    step_lr,
    warmup_cosine_lr,
)

seed_everything(0)
use_style()
device = pick_device()

valley_lr = {"sgd": 1e-3, "momentum": 5e-4, "rmsprop": 1e-2, "adam": 0.1}
xs, ys = torch.meshgrid(torch.linspace(-2, 2, 300), torch.linspace(-1, 3, 300), indexing="xy")
fig, ax = plt.subplots(figsize=(7, 5))
levels = rosenbrock(torch.stack([xs, ys], dim=-1)).log10()
ax.contour(xs, ys, levels, levels=20, colors="grey", linewidths=0.6, alpha=0.5)
for color, (name, lr) in zip(PALETTE, valley_lr.items()):
    path, losses = optimize_path(name, start=(-1.5, 2.0), lr=lr, steps=1000)
    ax.plot(path[:, 0], path[:, 1], color=color, linewidth=2.5, label=f"{name} (lr {lr:g})")
    ax.plot(*path[-1], "o", color=color, markersize=7)  # where it ended
    print(f"{name:9s} loss after 1000 steps: {losses[-1]:.2e}  at {path[-1].numpy().round(3)}")
ax.plot(1, 1, "k*", markersize=14, label="minimum (1, 1)")
ax.set(xlabel="x", ylabel="y", title="1000 steps on the Rosenbrock valley")
ax.legend(loc="lower right", fontsize=8)
plt.show()

# %%
# The same four optimizers train one digit classifier. Every run starts from
# a copy of the same initial weights and sees the batches in the same order.
# The adaptive methods (RMSProp, Adam) divide by a running gradient size, so
# their learning rates live on a different scale from SGD's.
data = digits(seed=0, flat=True)
epochs = preset(cpu=20, gpu=40, device=device, smoke=1)
hidden = preset(cpu=64, gpu=256, device=device)
initial = make_mlp([64, hidden, 10])
test = [(data.x_test, data.y_test)]
learning_rates = {"sgd": 0.05, "momentum": 0.05, "rmsprop": 1e-3, "adam": 3e-3}
histories = {}
for name, lr in learning_rates.items():
    model = copy.deepcopy(initial)
    optimizer = make_optimizer(name, model.parameters(), lr)
    loader = make_loader(data.x_train, data.y_train, batch_size=64, seed=0)
    histories[name] = fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs, device, test)
    h = histories[name]
    print(f"{name:9s} lr {lr:<6g} loss {h.train_loss[-1]:.3f}  test acc {h.val_accuracy[-1]:.3f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
plot_curves(
    {n: h.train_loss for n, h in histories.items()}, ax=left, title="Training loss", log_y=True
)
plot_curves(
    {n: h.val_accuracy for n, h in histories.items()},
    ylabel="accuracy",
    ax=right,
    title="Test accuracy",
)
right.set_ylim(0.5, 1.0)
plt.show()

# %%
# Learning-rate schedules: start with large steps, finish with small ones.
# Warm-up first climbs linearly, which protects Adam while its running
# averages are still unreliable; Transformers are trained that way.
total = 100
schedules = {
    "step (÷10 every 30)": [step_lr(t, 0.1, step_size=30) for t in range(total)],
    "exponential (γ = 0.97)": [exponential_lr(t, 0.1, gamma=0.97) for t in range(total)],
    "cosine": [cosine_lr(t, 0.1, total) for t in range(total)],
    "warm-up 10 + cosine": [warmup_cosine_lr(t, 0.1, 10, total) for t in range(total)],
}
ax = plot_curves(schedules, xlabel="step", ylabel="learning rate", title="Schedules")
plt.show()

# %%
# Momentum SGD again, now with the cosine schedule applied epoch by epoch
# through :func:`~snippets.neural_networks.schedules.set_lr`. The smaller late steps make the
# end of the curve smooth; on a problem this small a constant rate is
# already good, so compare the printed numbers rather than expect a miracle.
model = copy.deepcopy(initial)
optimizer = make_optimizer("momentum", model.parameters(), 0.05)
loader = make_loader(data.x_train, data.y_train, batch_size=64, seed=0)
scheduled = {"train_loss": [], "lr": []}
for epoch in range(epochs):
    lr = cosine_lr(epoch, 0.05, epochs, lr_min=1e-3)
    set_lr(optimizer, lr)
    one = fit(model, loader, nn.CrossEntropyLoss(), optimizer, 1, device, test)
    scheduled["train_loss"].append(one.train_loss[0])
    scheduled["lr"].append(lr)
const = histories["momentum"]
print(f"momentum, constant lr: loss {const.train_loss[-1]:.3f}, test {const.val_accuracy[-1]:.3f}")
print(
    f"momentum, cosine lr:   loss {scheduled['train_loss'][-1]:.3f}, test {one.val_accuracy[0]:.3f}"
)
plot_curves(
    {"constant lr": histories["momentum"].train_loss, "cosine schedule": scheduled["train_loss"]},
    title="Momentum SGD: constant vs cosine learning rate",
    log_y=True,
)
plt.show()

# %%
# The quality bars.
final = {name: h.val_accuracy[-1] for name, h in histories.items()}
ratio = histories["sgd"].train_loss[-1] / histories["momentum"].train_loss[-1]
print(
    "test accuracy:",
    {k: round(v, 3) for k, v in final.items()},
    f"SGD/momentum loss ratio {ratio:.1f}",
)
for name in ("momentum", "rmsprop", "adam"):
    assert final[name] >= 0.93, f"{name} below the bar: {final[name]:.3f} < 0.93"
assert ratio >= 2, f"plain SGD should lag behind momentum: loss ratio {ratio:.2f} < 2"
