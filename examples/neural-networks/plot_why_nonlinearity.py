"""
Why a network needs a non-linearity
===================================

Two networks with the same layers, one with a ReLU between them and one
without, learn to separate two interleaving half-moons. Without the
activation, the two layers collapse into one linear map, and a straight line
is the best boundary it can draw. Then a single hidden ReLU layer fits a
wavy 1-D curve better and better as it gets wider: the universal
approximation idea in action. The bars: the ReLU network reaches at least
95 % test accuracy on the moons while the linear one stays below 90 %, and
the widest ReLU network's error on the curve is under a tenth of the best
straight line's.
"""

# %%
# Two moons: 750 training and 250 test points, two classes.
import matplotlib.pyplot as plt
import torch
from torch import nn

from snippets.common.device import pick_device, preset
from snippets.common.metrics import accuracy
from snippets.common.plotting import PALETTE, use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.fundamentals.nn_basics import make_mlp
from snippets.neural_networks.data import two_moons, wavy_data, wavy_target
from snippets.neural_networks.mlp_scratch import collapse_linear

seed_everything(0)
use_style()
device = pick_device()
data = two_moons(n=1000, noise=0.2, seed=0)
x_train, y_train = data.x_train.to(device), data.y_train.to(device)

# %%
# Two models with the same hidden width. ``make_mlp`` puts a ReLU between
# its layers; the linear model is the same stack without it.
hidden = preset(cpu=32, gpu=128, device=device)
steps = preset(cpu=400, gpu=1000, device=device, smoke=3)
models = {
    "linear (no activation)": nn.Sequential(nn.Linear(2, hidden), nn.Linear(hidden, 2)),
    "one hidden ReLU layer": make_mlp([2, hidden, 2]),
}
accuracies = {}
for name, model in models.items():
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01)
    # full-batch training: one batch holding every training point, `steps` times
    fit(model, [(x_train, y_train)], nn.CrossEntropyLoss(), optimizer, steps, device)
    model.eval()
    with torch.no_grad():
        accuracies[name] = accuracy(model(data.x_test.to(device)).cpu(), data.y_test)
    print(f"{name:24s} test accuracy {accuracies[name]:.3f}")

# %%
# However many linear layers we stack, they multiply out to a single one:
# :func:`snippets.neural_networks.mlp_scratch.collapse_linear` folds the trained linear model
# into one ``[2, 2]`` matrix and a bias that give the same outputs.
linear = models["linear (no activation)"].cpu()
w, b = collapse_linear([linear[0].weight, linear[1].weight], [linear[0].bias, linear[1].bias])
with torch.no_grad():
    gap = (data.x_test @ w.T + b - linear(data.x_test)).abs().max().item()
print(f"one {tuple(w.shape)} matrix reproduces the two layers; largest difference {gap:.1e}")

# %%
# The decision boundaries: the linear model can only cut the plane with a
# straight line; the ReLU model bends its boundary around the moons.
grid = torch.stack(
    torch.meshgrid(torch.linspace(-1.7, 2.7, 200), torch.linspace(-1.3, 1.8, 160), indexing="xy"),
    dim=-1,
)
fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
for ax, (name, model) in zip(axes, models.items()):
    with torch.no_grad():
        probs = torch.softmax(model.cpu()(grid.reshape(-1, 2)), dim=1)[:, 1].reshape(grid.shape[:2])
    ax.contourf(grid[..., 0], grid[..., 1], probs, levels=20, cmap="RdBu_r", alpha=0.6)
    ax.contour(grid[..., 0], grid[..., 1], probs, levels=[0.5], colors="black")
    ax.scatter(*data.x_test.T, c=[PALETTE[0] if t == 0 else PALETTE[3] for t in data.y_test], s=10)
    ax.set(title=f"{name}: {accuracies[name]:.1%}", xlabel="$x_1$")
    ax.grid(False)
axes[0].set_ylabel("$x_2$")
plt.show()

# %%
# Universal approximation: one hidden ReLU layer can fit any continuous
# curve on an interval if it is wide enough. Each ReLU unit adds one kink to
# a piecewise-linear function; more units, more kinks, a closer fit.
x, y = wavy_data(n=300, noise=0.1, seed=0)
x_grid = torch.linspace(-2, 2, 400).unsqueeze(1)
fits, errors = {}, {}
for width in (0, 4, 16, preset(cpu=64, gpu=256, device=device)):
    model = nn.Linear(1, 1) if width == 0 else make_mlp([1, width, 1])
    optimizer = torch.optim.Adam(model.parameters(), lr=0.02)
    fit(model, [(x.to(device), y.to(device))], nn.MSELoss(), optimizer, 2 * steps, device)
    with torch.no_grad():
        fits[width] = model.cpu()(x_grid)
    label = "straight line" if width == 0 else f"{width} ReLU units"
    errors[label] = nn.functional.mse_loss(fits[width], wavy_target(x_grid)).item()
    print(f"{label:15s} mean squared error to the true curve: {errors[label]:.4f}")

fig, ax = plt.subplots(figsize=(7.2, 4))
ax.scatter(x, y, s=6, color="grey", alpha=0.5, label="training data")
ax.plot(x_grid, wavy_target(x_grid), color="black", linewidth=2, label="true curve")
for (label, _), curve in zip(errors.items(), fits.values()):
    ax.plot(x_grid, curve, label=label)
ax.set(xlabel="x", ylabel="y", title="One hidden layer, wider and wider")
ax.legend(ncols=2, fontsize=8)
plt.show()

# %%
# The quality bars.
relu_acc = accuracies["one hidden ReLU layer"]
linear_acc = accuracies["linear (no activation)"]
widest, line = list(errors.values())[-1], errors["straight line"]
print(f"moons: ReLU {relu_acc:.3f}, linear {linear_acc:.3f}; curve: {widest:.4f} vs {line:.4f}")
assert relu_acc >= 0.95, f"below the bar: {relu_acc:.3f} < 0.95"
assert linear_acc < 0.90, f"the linear model should fail: {linear_acc:.3f} >= 0.90"
assert widest < 0.1 * line, f"the wide network should fit the curve: {widest:.4f}"
