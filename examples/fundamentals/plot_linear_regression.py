"""
Linear regression with autograd, by hand
========================================

Fit a line :math:`y = wx + b` to noisy points using only tensors, autograd and
a hand-written gradient-descent update (no optimizer, no ``nn``). The fitted
parameters must come within 0.01 of the exact least-squares solution, and the
final mean squared error within 1 % of the best possible one.
"""

# %%
# Data: 100 points on the line :math:`y = 2x - 1`, plus Gaussian noise.
import matplotlib.pyplot as plt
import torch

from snippets.common.plotting import plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.fundamentals.data import linear_data
from snippets.fundamentals.linear_regression import fit_line, least_squares

seed_everything(0)
use_style()
x, y = linear_data(n=100, weight=2.0, bias=-1.0, noise=0.3, seed=0)
print("x:", tuple(x.shape), " y:", tuple(y.shape))

# %%
# Fit by gradient descent. Each epoch runs the forward pass, the loss, the
# backward pass and the update, then clears the gradients.
fit = fit_line(x, y, lr=0.5, epochs=60)
print(f"gradient descent: w = {fit.weight:.4f}, b = {fit.bias:.4f}")

# %%
# The best possible answer, for comparison: least squares in closed form.
w_best, b_best = least_squares(x, y)
best_mse = ((w_best * x + b_best - y) ** 2).mean().item()
print(f"least squares:    w = {w_best:.4f}, b = {b_best:.4f}")

# %%
# The loss falls by two orders of magnitude in the first epochs and then
# levels off at the noise floor: no line can explain the noise.
fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.8))
plot_curves({"training MSE": fit.losses}, ylabel="mean squared error", log_y=True, ax=left)
left.axhline(best_mse, color="gray", linestyle="--", label="least-squares MSE")
left.legend()
left.set_title("Loss per epoch")
grid = torch.linspace(-1, 1, 2)
right.scatter(x, y, s=12, alpha=0.6, label="data")
right.plot(grid, fit.weight * grid + fit.bias, label="fitted line", linewidth=2)
right.plot(grid, 2.0 * grid - 1.0, "--", label="true line y = 2x - 1")
right.set(xlabel="x", ylabel="y", title="The fitted line")
right.legend()
plt.show()

# %%
# The quality bar: parameters within 0.01 of least squares, final loss within
# 1 % of the least-squares loss.
final_mse = fit.losses[-1]
print(f"final MSE {final_mse:.5f} vs best {best_mse:.5f}")
assert abs(fit.weight - w_best) < 0.01 and abs(fit.bias - b_best) < 0.01, "did not converge"
assert final_mse <= 1.01 * best_mse, f"final loss {final_mse:.5f} above the bar"
