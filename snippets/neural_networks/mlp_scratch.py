"""A multilayer perceptron written with tensors only: no autograd, no ``nn.Module``.

The forward pass stores what the backward pass needs; the backward pass
applies the chain rule layer by layer, from the loss back to the first
weights; plain stochastic gradient descent updates the weights. The tests
check every gradient against autograd's.

Two helpers look at what layers compute without training them:
:func:`collapse_linear` folds a stack of linear layers into one, and
:func:`relu_interpolant` sets the weights of a one-hidden-layer ReLU network
by hand so that it follows any curve through given points.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.common.metrics import accuracy
from snippets.common.train import History
from snippets.neural_networks.activations import relu, relu_grad
from snippets.neural_networks.losses import cross_entropy, cross_entropy_grad


@dataclass
class Gradients:
    """Gradients of the loss, one tensor per weight matrix and bias vector."""

    weights: list[torch.Tensor]
    biases: list[torch.Tensor]


class ScratchMLP:
    """Fully connected layers with ReLU between them, trained without autograd.

    Layer ``l`` computes ``z_l = h_{l-1} W_lᵀ + b_l`` and, except for the last
    layer, ``h_l = relu(z_l)``. The last layer returns raw scores (logits).
    Weights are stored like ``nn.Linear``'s, ``[out, in]``, and drawn from
    ``N(0, 2 / in)`` (Kaiming initialisation for ReLU); biases start at 0.

    Shapes:
        input ``[N, sizes[0]]`` (or ``[N, C, H, W]``, flattened) → logits ``[N, sizes[-1]]``.

    Raises:
        ValueError: if fewer than two sizes are given or a size is not positive.
    """

    def __init__(self, sizes: Sequence[int], seed: int = 0) -> None:
        sizes = list(sizes)
        if len(sizes) < 2:
            raise ValueError(f"sizes must list at least input and output sizes, got {sizes}")
        if any(not isinstance(s, int) or s < 1 for s in sizes):
            raise ValueError(f"sizes must be positive integers, got {sizes}")
        generator = torch.Generator().manual_seed(seed)
        self.sizes = sizes
        self.weights: list[torch.Tensor] = []
        self.biases: list[torch.Tensor] = []
        for n_in, n_out in zip(sizes[:-1], sizes[1:]):
            std = math.sqrt(2.0 / n_in)
            self.weights.append(torch.randn(n_out, n_in, generator=generator) * std)
            self.biases.append(torch.zeros(n_out))
        self._inputs: list[torch.Tensor] = []  # h_0 = x, h_1, ..., h_{L-1}
        self._pre: list[torch.Tensor] = []  # z_1, ..., z_L

    def to(self, device: torch.device | str) -> ScratchMLP:
        """Move every weight and bias to ``device`` and return ``self``."""
        self.weights = [w.to(device) for w in self.weights]
        self.biases = [b.to(device) for b in self.biases]
        return self

    def parameters(self) -> list[torch.Tensor]:
        """All weights and biases, layer by layer: ``[W_1, b_1, W_2, b_2, ...]``."""
        return [t for pair in zip(self.weights, self.biases) for t in pair]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Compute the logits and remember each layer's input and pre-activation.

        Shapes:
            ``x`` ``[N, in]`` or ``[N, C, H, W]`` → ``[N, out]``.

        Raises:
            ValueError: if ``x`` has the wrong number of features.
        """
        check_tensor(x, "x", floating=True)
        h = x.reshape(len(x), -1)
        if h.shape[1] != self.sizes[0]:
            raise ValueError(f"x must have {self.sizes[0]} features, got {h.shape[1]}")
        self._inputs, self._pre = [], []
        last = len(self.weights) - 1
        for layer, (w, b) in enumerate(zip(self.weights, self.biases)):
            self._inputs.append(h)
            z = h @ w.T + b  # [N, in] @ [in, out] + [out] -> [N, out]
            self._pre.append(z)
            h = relu(z) if layer < last else z
        return h

    __call__ = forward

    def backward(self, grad_logits: torch.Tensor) -> Gradients:
        """Backpropagate ``∂L/∂logits`` through the layers of the last forward pass.

        For layer ``l`` with upstream gradient ``δ_l = ∂L/∂z_l``:
        ``∂L/∂W_l = δ_lᵀ h_{l-1}``, ``∂L/∂b_l = Σ_rows δ_l`` and
        ``δ_{l-1} = (δ_l W_l) ⊙ relu'(z_{l-1})``.

        Shapes:
            ``grad_logits`` ``[N, out]``, the same shape as the logits.

        Raises:
            RuntimeError: if :meth:`forward` has not been called.
            ValueError: if ``grad_logits`` does not match the last logits.
        """
        if not self._pre:
            raise RuntimeError("call forward() before backward()")
        check_tensor(grad_logits, "grad_logits", ndim=2, floating=True)
        if grad_logits.shape != self._pre[-1].shape:
            raise ValueError(
                f"grad_logits must have the logits' shape {tuple(self._pre[-1].shape)}, "
                f"got {tuple(grad_logits.shape)}"
            )
        grad_w: list[torch.Tensor] = [torch.empty(0)] * len(self.weights)
        grad_b: list[torch.Tensor] = [torch.empty(0)] * len(self.weights)
        delta = grad_logits  # ∂L/∂z for the last layer
        for layer in reversed(range(len(self.weights))):
            grad_w[layer] = delta.T @ self._inputs[layer]  # [out, N] @ [N, in] -> [out, in]
            grad_b[layer] = delta.sum(dim=0)  # [out]
            if layer > 0:  # pass the gradient on to the layer below
                delta = (delta @ self.weights[layer]) * relu_grad(self._pre[layer - 1])
        return Gradients(grad_w, grad_b)

    def sgd_step(self, grads: Gradients, lr: float) -> None:
        """Move every parameter against its gradient: ``θ ← θ − lr · ∂L/∂θ``.

        Raises:
            ValueError: if ``lr`` is not positive.
        """
        check_positive(lr, "lr")
        for i, (gw, gb) in enumerate(zip(grads.weights, grads.biases)):
            self.weights[i] = self.weights[i] - lr * gw
            self.biases[i] = self.biases[i] - lr * gb


def scratch_train_step(model: ScratchMLP, x: torch.Tensor, y: torch.Tensor, lr: float) -> float:
    """Forward, loss, backward and update on one batch; return the batch loss.

    Shapes:
        ``x`` ``[N, in]`` (or images), ``y`` ``[N]`` int64 class labels.
    """
    logits = model.forward(x)  # forward pass
    loss = cross_entropy(logits, y)  # loss
    grads = model.backward(cross_entropy_grad(logits, y))  # backward pass, by hand
    model.sgd_step(grads, lr)  # update
    return loss.item()


def fit_scratch(
    model: ScratchMLP,
    train_batches: Iterable[tuple[torch.Tensor, torch.Tensor]],
    epochs: int,
    lr: float,
    val_data: tuple[torch.Tensor, torch.Tensor] | None = None,
    device: torch.device | str = "cpu",
) -> History:
    """Train ``model`` with :func:`scratch_train_step`; return a
    :class:`~snippets.common.train.History`.

    ``train_batches`` is re-iterated every epoch (pass a ``DataLoader`` or a list).
    ``val_data`` is one ``(x, y)`` pair evaluated after every epoch.

    Raises:
        ValueError: if ``epochs`` or ``lr`` is not positive.
    """
    check_positive(epochs, "epochs")
    check_positive(lr, "lr")
    model.to(device)
    history = History()
    for _ in range(epochs):
        total, count = 0.0, 0
        for x, y in train_batches:
            x, y = x.to(device), y.to(device)
            total += scratch_train_step(model, x, y, lr) * len(x)
            count += len(x)
        history.train_loss.append(total / count)
        if val_data is not None:
            x_val, y_val = (t.to(device) for t in val_data)
            logits = model.forward(x_val)
            history.val_loss.append(cross_entropy(logits, y_val).item())
            history.val_accuracy.append(accuracy(logits, y_val))
    return history


def collapse_linear(
    weights: Sequence[torch.Tensor], biases: Sequence[torch.Tensor]
) -> tuple[torch.Tensor, torch.Tensor]:
    """Fold a stack of linear layers (no activation between them) into one.

    ``W_2 (W_1 x + b_1) + b_2 = (W_2 W_1) x + (W_2 b_1 + b_2)``: without a
    non-linearity, any depth computes a single affine map.

    Shapes:
        ``weights[l]`` ``[out_l, in_l]``, ``biases[l]`` ``[out_l]`` →
        ``W`` ``[out_L, in_1]``, ``b`` ``[out_L]``.

    Raises:
        ValueError: if the lists are empty, differ in length, or the sizes do not chain.
    """
    if not weights or len(weights) != len(biases):
        raise ValueError(
            f"weights and biases must be non-empty lists of the same length, "
            f"got {len(weights)} and {len(biases)}"
        )
    w, b = weights[0], biases[0]
    for i, (w_next, b_next) in enumerate(zip(weights[1:], biases[1:]), start=1):
        if w_next.shape[1] != w.shape[0]:
            raise ValueError(
                f"weights[{i}] must take {w.shape[0]} inputs, got shape {tuple(w_next.shape)}"
            )
        w, b = w_next @ w, w_next @ b + b_next
    return w, b


def relu_interpolant(knots: torch.Tensor, values: torch.Tensor) -> nn.Sequential:
    """A one-hidden-layer ReLU network, weights set by hand, that joins points by straight lines.

    Hidden unit ``k`` computes ``relu(x − knots[k])``: zero left of its knot,
    a unit slope right of it (a *hinge*). The output layer adds the hinges
    with weights equal to the change of slope at each knot, plus
    ``values[0]`` as its bias, so the network equals the piecewise-linear
    interpolation of the points: ``values[k]`` at ``knots[k]``, straight
    between neighbours, and constant beyond the first and last knot (like
    ``numpy.interp``). ``K`` knots need ``K`` hidden units. This is the
    one-dimensional picture behind the universal approximation theorem.

    Shapes:
        ``knots`` and ``values`` ``[K]`` (``K ≥ 2``, knots strictly increasing)
        → a module mapping ``[N, 1]`` to ``[N, 1]``, with ``K`` hidden units.

    Raises:
        TypeError: if an argument is not a floating-point tensor.
        ValueError: if the arguments are not 1-D of the same length ``K ≥ 2``, or
            the knots are not strictly increasing.
    """
    check_tensor(knots, "knots", ndim=1, floating=True)
    check_tensor(values, "values", ndim=1, floating=True)
    if len(knots) < 2 or values.shape != knots.shape:
        raise ValueError(
            f"knots and values must be 1-D with the same length of at least 2, "
            f"got shapes {tuple(knots.shape)} and {tuple(values.shape)}"
        )
    if not bool((knots[1:] > knots[:-1]).all()):
        raise ValueError(f"knots must be strictly increasing, got {knots.tolist()}")
    slopes = (values[1:] - values[:-1]) / (knots[1:] - knots[:-1])  # [K - 1]
    # output weight of hinge k: the slope right of knot k minus the slope left of it
    padded = torch.cat([slopes.new_zeros(1), slopes, slopes.new_zeros(1)])  # flat at both ends
    changes = padded[1:] - padded[:-1]  # [K]
    k = len(knots)
    net = nn.Sequential(nn.Linear(1, k), nn.ReLU(), nn.Linear(k, 1))
    net = net.to(knots.dtype)
    with torch.no_grad():
        net[0].weight.copy_(torch.ones(k, 1))
        net[0].bias.copy_(-knots)
        net[2].weight.copy_(changes[None, :])
        net[2].bias.copy_(values[:1])
    return net
