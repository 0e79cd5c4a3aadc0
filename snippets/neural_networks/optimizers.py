"""Gradient-descent optimizers written out: SGD, momentum, RMSProp, Adam and AdamW.

Each class works like its ``torch.optim`` namesake: it holds a list of
parameter tensors, reads their ``.grad`` (filled by autograd), and updates
them in place in ``step()``. The tests run both side by side and check
that the parameters agree after every step.
"""

from __future__ import annotations

from collections.abc import Iterable

import torch

from snippets.common.checks import check_positive


def _check_beta(value: float, name: str) -> None:
    check_positive(value, name, allow_zero=True)
    if value >= 1:
        raise ValueError(f"{name} must be in [0, 1), got {value}")


class ScratchOptimizer:
    """Base class: keeps the parameters, the learning rate and step counters.

    ``steps`` counts calls of :meth:`step`; ``param_steps[i]`` counts the
    updates parameter ``i`` actually received. They differ when a parameter
    has no gradient on some steps (a frozen layer, an embedding row not in the
    batch), and Adam's bias correction must use the parameter's own count, as
    ``torch.optim`` keeps it in each parameter's state.

    Raises:
        ValueError: if no parameter is given or ``lr`` is not positive.
        TypeError: if a parameter is not a tensor that requires gradients.
    """

    def __init__(self, params: Iterable[torch.Tensor], lr: float) -> None:
        self.params = list(params)
        if not self.params:
            raise ValueError("params must hold at least one tensor, got an empty list")
        for i, p in enumerate(self.params):
            if not isinstance(p, torch.Tensor) or not p.requires_grad:
                raise TypeError(f"params[{i}] must be a tensor with requires_grad=True")
        check_positive(lr, "lr")
        self.lr = lr
        self.steps = 0
        self.param_steps = [0] * len(self.params)

    def zero_grad(self) -> None:
        """Forget the gradients of the last backward pass (set them to ``None``)."""
        for p in self.params:
            p.grad = None

    @torch.no_grad()
    def step(self) -> None:
        """Update every parameter that has a gradient."""
        self.steps += 1
        for i, p in enumerate(self.params):
            if p.grad is not None:  # no gradient: no update, and no step counted
                self.param_steps[i] += 1
                self._update(i, p, p.grad)

    def _update(self, i: int, p: torch.Tensor, grad: torch.Tensor) -> None:
        raise NotImplementedError


class SGD(ScratchOptimizer):
    """Stochastic gradient descent, optionally with momentum and weight decay.

    With ``g = ∇L + λθ`` (``λ`` = ``weight_decay``):
    plain SGD does ``θ ← θ − η g``; with momentum ``μ`` it keeps a velocity
    ``v ← μ v + g`` (``v = g`` on the first step) and does ``θ ← θ − η v``,
    as ``torch.optim.SGD`` does.

    Raises:
        ValueError: if ``momentum`` is outside ``[0, 1)`` or ``weight_decay`` is negative.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float,
        momentum: float = 0.0,
        weight_decay: float = 0.0,
    ) -> None:
        super().__init__(params, lr)
        _check_beta(momentum, "momentum")
        check_positive(weight_decay, "weight_decay", allow_zero=True)
        self.momentum, self.weight_decay = momentum, weight_decay
        self.velocity: list[torch.Tensor | None] = [None] * len(self.params)

    def _update(self, i: int, p: torch.Tensor, grad: torch.Tensor) -> None:
        g = grad + self.weight_decay * p if self.weight_decay else grad
        if self.momentum:
            v = self.velocity[i]
            v = g.clone() if v is None else self.momentum * v + g
            self.velocity[i] = v
            g = v
        p.sub_(self.lr * g)


class RMSProp(ScratchOptimizer):
    """RMSProp: divide each step by a running root-mean-square of the gradients.

    ``s ← α s + (1 − α) g²`` and ``θ ← θ − η g / (√s + ε)``: parameters with
    consistently large gradients take smaller steps, rarely-updated ones larger.

    Raises:
        ValueError: if ``alpha`` is outside ``[0, 1)`` or ``eps`` is not positive.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 0.01,
        alpha: float = 0.99,
        eps: float = 1e-8,
    ) -> None:
        super().__init__(params, lr)
        _check_beta(alpha, "alpha")
        check_positive(eps, "eps")
        self.alpha, self.eps = alpha, eps
        self.square_avg = [torch.zeros_like(p) for p in self.params]

    def _update(self, i: int, p: torch.Tensor, grad: torch.Tensor) -> None:
        s = self.square_avg[i]
        s.mul_(self.alpha).add_((1 - self.alpha) * grad * grad)
        p.sub_(self.lr * grad / (s.sqrt() + self.eps))


class Adam(ScratchOptimizer):
    """Adam: momentum on the gradient plus RMSProp's scaling, both bias-corrected.

    ``m ← β₁ m + (1 − β₁) g``, ``v ← β₂ v + (1 − β₂) g²``,
    ``m̂ = m / (1 − β₁ᵗ)``, ``v̂ = v / (1 − β₂ᵗ)``, ``θ ← θ − η m̂ / (√v̂ + ε)``.

    ``weight_decay`` adds ``λθ`` to the gradient (L2 regularisation, as
    ``torch.optim.Adam``); with ``decoupled=True`` it instead shrinks the
    weights directly, ``θ ← θ (1 − ηλ)``, as ``torch.optim.AdamW``.

    Raises:
        ValueError: if a beta is outside ``[0, 1)``, ``eps`` is not positive or
            ``weight_decay`` is negative.
    """

    def __init__(
        self,
        params: Iterable[torch.Tensor],
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ) -> None:
        super().__init__(params, lr)
        _check_beta(betas[0], "betas[0]")
        _check_beta(betas[1], "betas[1]")
        check_positive(eps, "eps")
        check_positive(weight_decay, "weight_decay", allow_zero=True)
        self.betas, self.eps = betas, eps
        self.weight_decay, self.decoupled = weight_decay, decoupled
        self.m = [torch.zeros_like(p) for p in self.params]
        self.v = [torch.zeros_like(p) for p in self.params]

    def _update(self, i: int, p: torch.Tensor, grad: torch.Tensor) -> None:
        beta1, beta2 = self.betas
        if self.weight_decay and self.decoupled:
            p.mul_(1 - self.lr * self.weight_decay)
        elif self.weight_decay:
            grad = grad + self.weight_decay * p
        self.m[i].mul_(beta1).add_((1 - beta1) * grad)
        self.v[i].mul_(beta2).add_((1 - beta2) * grad * grad)
        t = self.param_steps[i]  # this parameter's own number of updates
        m_hat = self.m[i] / (1 - beta1**t)
        v_hat = self.v[i] / (1 - beta2**t)
        p.sub_(self.lr * m_hat / (v_hat.sqrt() + self.eps))


def make_optimizer(name: str, params: Iterable[torch.Tensor], lr: float) -> ScratchOptimizer:
    """Build an optimizer by name: ``"sgd"``, ``"momentum"`` (μ = 0.9), ``"rmsprop"`` or ``"adam"``.

    Raises:
        ValueError: if ``name`` is not one of those.
    """
    builders = {
        "sgd": lambda: SGD(params, lr),
        "momentum": lambda: SGD(params, lr, momentum=0.9),
        "rmsprop": lambda: RMSProp(params, lr),
        "adam": lambda: Adam(params, lr),
    }
    if name not in builders:
        raise ValueError(f"name must be one of {tuple(builders)}, got {name!r}")
    return builders[name]()


def rosenbrock(xy: torch.Tensor, a: float = 1.0, b: float = 100.0) -> torch.Tensor:
    """Rosenbrock's banana-shaped valley ``(a − x)² + b (y − x²)²``, minimum 0 at ``(a, a²)``.

    A classic test for optimizers: the valley floor is easy to find and very
    flat along its length, so plain gradient descent crawls.

    Shapes:
        ``xy`` ``[..., 2]`` → ``[...]``.
    """
    if not isinstance(xy, torch.Tensor) or xy.shape[-1:] != (2,):
        shape = tuple(xy.shape) if isinstance(xy, torch.Tensor) else type(xy).__name__
        raise ValueError(f"xy must be a tensor of shape [..., 2], got {shape}")
    x, y = xy[..., 0], xy[..., 1]
    return (a - x) ** 2 + b * (y - x**2) ** 2


def optimize_path(
    name: str, start: tuple[float, float], lr: float, steps: int
) -> tuple[torch.Tensor, list[float]]:
    """Minimise :func:`rosenbrock` from ``start`` with an optimizer; return the path.

    Shapes:
        path ``[steps + 1, 2]`` (start included) and ``steps + 1`` losses.

    Raises:
        ValueError: if ``steps`` is not positive or ``name`` is unknown.
    """
    check_positive(steps, "steps")
    xy = torch.tensor(start, dtype=torch.float64, requires_grad=True)
    optimizer = make_optimizer(name, [xy], lr)
    path, losses = [xy.detach().clone()], [rosenbrock(xy).item()]
    for _ in range(steps):
        loss = rosenbrock(xy)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        path.append(xy.detach().clone())
        losses.append(rosenbrock(xy).item())
    return torch.stack(path), losses
