"""
Choosing the learning rate
==========================

The same line fitted with four learning rates. Too small and the loss crawls;
well chosen and it converges in a few dozen steps; too large and every step
overshoots until the loss explodes. The bar: the well-chosen rates reach the
least-squares loss within 1 %, the smallest does not get there in the same
number of epochs, and the largest diverges.
"""

# %%
import math

import matplotlib.pyplot as plt

from snippets.common.plotting import plot_curves, use_style
from snippets.fundamentals.data import linear_data
from snippets.fundamentals.linear_regression import fit_line, least_squares

use_style()
x, y = linear_data(n=100, seed=0)
w_best, b_best = least_squares(x, y)
best = ((w_best * x + b_best - y) ** 2).mean().item()

# %%
# The mean squared error of a line is a quadratic bowl in :math:`(w, b)`. Its
# curvature (the Hessian) is :math:`2\,\mathbb{E}[[x^2, x], [x, 1]]`, and
# gradient descent diverges once the learning rate exceeds 2 divided by the
# largest curvature.
import torch

hessian = 2 * torch.tensor([[(x**2).mean().item(), x.mean().item()], [x.mean().item(), 1.0]])
largest = torch.linalg.eigvalsh(hessian).max().item()
print(f"largest curvature {largest:.3f}: steps above lr = {2 / largest:.3f} diverge")

rates = [0.01, 0.1, 0.5, 1.1]
fits = {lr: fit_line(x, y, lr=lr, epochs=60) for lr in rates}
for lr, fit in fits.items():
    print(f"lr = {lr:<5} final loss = {fit.losses[-1]:.4g}")

# %%
ax = plot_curves({f"lr = {lr}": f.losses for lr, f in fits.items()}, log_y=True)
ax.axhline(best, color="gray", linestyle="--", label="least squares")
ax.set_ylim(top=1e3)
ax.legend()
ax.set_title("Loss per epoch for four learning rates")
plt.show()

# %%
# The quality bar.
final = {lr: f.losses[-1] for lr, f in fits.items()}
assert final[0.1] <= 1.01 * best and final[0.5] <= 1.01 * best, "good rates did not converge"
assert final[0.01] > 1.5 * best, "the tiny rate should still be far from the minimum"
assert not math.isfinite(final[1.1]) or final[1.1] > 1e3 * best, "lr = 1.1 should diverge"
assert 0.5 < 2 / largest < 1.1, "the divergence threshold should lie between the rates"
print("bar reached: 0.1 and 0.5 converge, 0.01 is too slow, 1.1 diverges")
