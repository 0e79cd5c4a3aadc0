"""Coding exercises of the neural-networks chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import math

import torch

from snippets.common.exercises import Case, exercise


def _softmax_cases():
    g = torch.Generator().manual_seed(2)
    for shape in [(3,), (4, 5), (2, 3, 7), (1, 1)]:
        x = torch.randn(shape, generator=g, dtype=torch.float64)
        upstream = torch.randn(shape, generator=g, dtype=torch.float64)
        yield Case((x, upstream), label=f"shape {list(shape)}")


def _wrong_diagonal(x, upstream):
    s = x.softmax(dim=-1)
    return s * (1 - s) * upstream  # only the diagonal of the Jacobian


def _wrong_sign(x, upstream):
    s = x.softmax(dim=-1)
    return s * (upstream + (upstream * s).sum(dim=-1, keepdim=True))


@exercise(
    "softmax-backward",
    page="neural-networks/activations",
    task="Given x and the gradient g of a loss with respect to s = softmax(x) (last dimension), "
    "return the gradient with respect to x, without autograd.",
    cases=_softmax_cases,
    wrong=[_wrong_diagonal, _wrong_sign],
)
def softmax_backward(x: torch.Tensor, upstream: torch.Tensor) -> torch.Tensor:
    """``∂L/∂x = s ⊙ (g − ⟨g, s⟩)``: the Jacobian ``diag(s) − s sᵀ`` applied to ``g``."""
    s = x.softmax(dim=-1)
    return s * (upstream - (upstream * s).sum(dim=-1, keepdim=True))


def _focal_cases():
    g = torch.Generator().manual_seed(3)
    for n, c, gamma in [(4, 3, 2.0), (1, 2, 0.0), (16, 10, 1.0), (5, 4, 5.0)]:
        logits = 3 * torch.randn(n, c, generator=g, dtype=torch.float64)
        targets = torch.randint(0, c, (n,), generator=g)
        yield Case((logits, targets, gamma), label=f"N={n}, C={c}, gamma={gamma}")


def _wrong_weight(logits, targets, gamma):
    log_p = logits.log_softmax(dim=1).gather(1, targets[:, None]).squeeze(1)
    return -(log_p.exp() ** gamma * log_p).mean()  # weights by p, not by 1 - p


def _wrong_sum(logits, targets, gamma):
    log_p = logits.log_softmax(dim=1).gather(1, targets[:, None]).squeeze(1)
    return -((1 - log_p.exp()) ** gamma * log_p).sum()  # a sum, not the mean


@exercise(
    "focal-loss",
    page="neural-networks/losses",
    task="The focal loss mean(−(1 − p_t)^γ · log p_t) of logits [N, C] and class indices [N]; "
    "with γ = 0 it is the cross-entropy.",
    cases=_focal_cases,
    wrong=[_wrong_weight, _wrong_sum],
)
def focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float) -> torch.Tensor:
    """Cross-entropy with each term down-weighted by ``(1 − p_t)^γ``: easy examples count less."""
    log_p = logits.log_softmax(dim=1).gather(1, targets[:, None]).squeeze(1)  # log p_t, [N]
    return -((1 - log_p.exp()) ** gamma * log_p).mean()


def _momentum_cases():
    g = torch.Generator().manual_seed(4)
    settings = [((3,), 0.1, 0.9), ((2, 4), 0.01, 0.5), ((5,), 0.5, 0.0), ((1,), 1.0, 0.99)]
    for shape, lr, mu in settings:
        p, grad, v = (torch.randn(shape, generator=g, dtype=torch.float64) for _ in range(3))
        yield Case((p, grad, v, lr, mu), label=f"lr={lr}, momentum={mu}")


def _wrong_plain_momentum(p, grad, v, lr, momentum):
    v = momentum * v + grad
    return p - lr * v, v  # classical momentum: no look-ahead


def _wrong_no_momentum(p, grad, v, lr, momentum):
    return p - lr * grad, grad.clone()  # forgets the velocity


@exercise(
    "nesterov-step",
    page="neural-networks/optimizers",
    task="One step of SGD with Nesterov momentum as torch.optim.SGD(nesterov=True) does it: "
    "v ← μ·v + g, p ← p − lr·(g + μ·v); return (new p, new v).",
    cases=_momentum_cases,
    wrong=[_wrong_plain_momentum, _wrong_no_momentum],
)
def nesterov_step(
    p: torch.Tensor, grad: torch.Tensor, v: torch.Tensor, lr: float, momentum: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """The step looks ahead: it uses the gradient plus the velocity it is about to follow."""
    v = momentum * v + grad
    return p - lr * (grad + momentum * v), v


def _restart_cases():
    settings = [
        (25, 0.1, 5, 1, 0.0),
        (40, 0.5, 3, 2, 0.01),
        (31, 0.2, 1, 3, 0.0),
        (17, 0.05, 7, 1, 0.001),
        (1, 1.0, 4, 1, 0.0),
        (0, 0.1, 2, 1, 0.0),
    ]
    for steps, lr, t0, t_mult, lr_min in settings:
        yield Case(
            (steps, lr, t0),
            {"t_mult": t_mult, "lr_min": lr_min},
            label=f"{steps} steps, t0={t0}, t_mult={t_mult}",
        )


def _wrong_no_restart(steps, lr, t0, t_mult=1, lr_min=0.0):
    rates = [
        lr_min + (lr - lr_min) * (1 + math.cos(math.pi * min(t, t0) / t0)) / 2 for t in range(steps)
    ]
    return torch.tensor(rates, dtype=torch.float64)  # one cosine, then stays at lr_min


def _wrong_restart_late(steps, lr, t0, t_mult=1, lr_min=0.0):
    rates, period, t_cur = [], t0, 0
    for _ in range(steps):
        rates.append(lr_min + (lr - lr_min) * (1 + math.cos(math.pi * t_cur / period)) / 2)
        t_cur += 1
        if t_cur > period:  # off by one: spends a step at lr_min before restarting
            t_cur, period = 0, period * t_mult
    return torch.tensor(rates, dtype=torch.float64)


def _wrong_fixed_period(steps, lr, t0, t_mult=1, lr_min=0.0):
    rates = [
        lr_min + (lr - lr_min) * (1 + math.cos(math.pi * (t % t0) / t0)) / 2 for t in range(steps)
    ]
    return torch.tensor(rates, dtype=torch.float64)  # ignores t_mult


@exercise(
    "cosine-restarts",
    page="neural-networks/schedules",
    task="The learning rates of steps 0 .. steps − 1 of cosine annealing with warm restarts: a "
    "cosine from lr to lr_min over t0 steps, then back to lr with the period multiplied by "
    "t_mult; a float64 tensor [steps].",
    cases=_restart_cases,
    wrong=[_wrong_no_restart, _wrong_restart_late, _wrong_fixed_period],
)
def cosine_restarts(
    steps: int, lr: float, t0: int, t_mult: int = 1, lr_min: float = 0.0
) -> torch.Tensor:
    """SGDR: a cosine inside each cycle; ``t_cur`` counts steps since the last restart."""
    rates, period, t_cur = [], t0, 0
    for _ in range(steps):
        rates.append(lr_min + (lr - lr_min) * (1 + math.cos(math.pi * t_cur / period)) / 2)
        t_cur += 1
        if t_cur == period:  # the cycle is over: restart with a longer one
            t_cur, period = 0, period * t_mult
    return torch.tensor(rates, dtype=torch.float64)


def _kaiming_cases():
    settings = [
        ((64, 32), "fan_in", 0.0),
        ((16, 3, 3, 3), "fan_in", 0.0),
        ((10, 7), "fan_out", 0.0),
        ((8, 4, 5), "fan_out", 0.2),
        ((6, 6, 1, 1), "fan_in", 0.01),
        ((1, 1), "fan_in", 0.0),
    ]
    for shape, mode, slope in settings:
        yield Case(
            (shape,), {"mode": mode, "negative_slope": slope}, label=f"{mode}, slope {slope}"
        )
    yield Case(((128,),), label="a 1-D shape (must raise ValueError)")


def _wrong_no_receptive_field(shape, mode="fan_in", negative_slope=0.0):
    fan = shape[1] if mode == "fan_in" else shape[0]  # forgets the kernel's kH·kW inputs
    return torch.tensor(math.sqrt(2 / (1 + negative_slope**2) / fan), dtype=torch.float64)


def _wrong_in_out_layout(shape, mode="fan_in", negative_slope=0.0):
    if len(shape) < 2:
        raise ValueError("shape must have at least 2 dimensions")
    receptive = math.prod(shape[2:])
    fan = (shape[0] if mode == "fan_in" else shape[1]) * receptive  # reads [in, out]
    return torch.tensor(math.sqrt(2 / (1 + negative_slope**2) / fan), dtype=torch.float64)


def _wrong_relu_gain(shape, mode="fan_in", negative_slope=0.0):
    if len(shape) < 2:
        raise ValueError("shape must have at least 2 dimensions")
    fan = (shape[1] if mode == "fan_in" else shape[0]) * math.prod(shape[2:])
    return torch.tensor(math.sqrt(2 / fan), dtype=torch.float64)  # ignores the negative slope


@exercise(
    "kaiming-std",
    page="neural-networks/initialization",
    task="The standard deviation of Kaiming-normal initialization for a weight of shape "
    "[out, in, *kernel] (nn.Linear or nn.Conv), mode 'fan_in' or 'fan_out', before a leaky ReLU "
    "of the given negative slope; raise ValueError for fewer than two dimensions.",
    cases=_kaiming_cases,
    wrong=[_wrong_no_receptive_field, _wrong_in_out_layout, _wrong_relu_gain],
)
def kaiming_std(
    shape: tuple[int, ...], mode: str = "fan_in", negative_slope: float = 0.0
) -> torch.Tensor:
    """``gain / √fan`` with ``gain = √(2 / (1 + a²))``; a kernel's every tap is one more input."""
    if len(shape) < 2:
        raise ValueError(f"shape must have at least 2 dimensions, got {shape}")
    receptive = math.prod(shape[2:])  # kH · kW for a 2-D convolution, 1 for nn.Linear
    fan = (shape[1] if mode == "fan_in" else shape[0]) * receptive
    gain = math.sqrt(2.0 / (1 + negative_slope**2))
    return torch.tensor(gain / math.sqrt(fan), dtype=torch.float64)


def _running_cases():
    g = torch.Generator().manual_seed(5)
    settings = [
        ((8, 3), 0.1),
        ((5, 4, 3, 3), 0.1),
        ((2, 1), 0.5),
        ((1, 2, 3, 3), 1.0),
        ((7, 5), 0.0),
    ]
    for shape, momentum in settings:
        c = shape[1]
        x = 2 + 3 * torch.randn(shape, generator=g, dtype=torch.float64)
        mean = torch.randn(c, generator=g, dtype=torch.float64)
        var = 1 + torch.rand(c, generator=g, dtype=torch.float64)
        yield Case((x, mean, var, momentum), label=f"x {list(shape)}, momentum {momentum}")


def _wrong_biased(x, running_mean, running_var, momentum):
    dims = [d for d in range(x.ndim) if d != 1]
    mean, var = x.mean(dim=dims), x.var(dim=dims, unbiased=False)  # stores the biased variance
    return (1 - momentum) * running_mean + momentum * mean, (
        1 - momentum
    ) * running_var + momentum * var


def _wrong_swapped(x, running_mean, running_var, momentum):
    dims = [d for d in range(x.ndim) if d != 1]
    mean, var = x.mean(dim=dims), x.var(dim=dims)
    return momentum * running_mean + (1 - momentum) * mean, momentum * running_var + (
        1 - momentum
    ) * var


def _wrong_batch_axis(x, running_mean, running_var, momentum):
    mean, var = x.mean(dim=0), x.var(dim=0)  # for images: one value per pixel, not per channel
    return (1 - momentum) * running_mean + momentum * mean, (
        1 - momentum
    ) * running_var + momentum * var


@exercise(
    "batchnorm-running-stats",
    page="neural-networks/regularization",
    task="The running mean and variance that batch normalization stores after one training batch "
    "x [N, C] or [N, C, H, W], as nn.BatchNorm1d/2d does: return (new mean, new var), each [C].",
    cases=_running_cases,
    wrong=[_wrong_biased, _wrong_swapped, _wrong_batch_axis],
)
def batchnorm_running_stats(
    x: torch.Tensor, running_mean: torch.Tensor, running_var: torch.Tensor, momentum: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``r ← (1 − m) r + m · stat`` per channel, storing the unbiased variance (× n/(n − 1))."""
    dims = [d for d in range(x.ndim) if d != 1]  # every axis but the channels
    mean = x.mean(dim=dims)  # [C]
    var = x.var(dim=dims, unbiased=True)  # [C], over the n = N·H·W values of each channel
    new_mean = (1 - momentum) * running_mean + momentum * mean
    new_var = (1 - momentum) * running_var + momentum * var
    return new_mean, new_var


def _tanh_layer_cases():
    g = torch.Generator().manual_seed(6)
    for n, d_in, d_out in [(4, 3, 2), (1, 5, 5), (7, 2, 6), (0, 3, 4)]:
        x = torch.randn(n, d_in, generator=g, dtype=torch.float64)
        w = torch.randn(d_out, d_in, generator=g, dtype=torch.float64)
        b = torch.randn(d_out, generator=g, dtype=torch.float64)
        upstream = torch.randn(n, d_out, generator=g, dtype=torch.float64)
        yield Case((x, w, b, upstream), label=f"N={n}, in={d_in}, out={d_out}")


def _wrong_no_derivative(x, w, b, upstream):
    delta = upstream  # forgets to multiply by tanh'(z)
    return delta @ w, delta.T @ x, delta.sum(dim=0)


def _wrong_mean_bias(x, w, b, upstream):
    delta = upstream * (1 - torch.tanh(x @ w.T + b) ** 2)
    return delta @ w, delta.T @ x, delta.mean(dim=0)  # averages what the batch adds up


def _wrong_transposed(x, w, b, upstream):
    delta = upstream * (1 - torch.tanh(x @ w.T + b) ** 2)
    return delta @ w, x.T @ delta, delta.sum(dim=0)  # [in, out]: the transpose of W's layout


@exercise(
    "linear-tanh-backward",
    page="neural-networks/mlp-from-scratch",
    task="For one layer h = tanh(x Wᵀ + b) with x [N, in], W [out, in], b [out], and the gradient "
    "upstream = ∂L/∂h [N, out], return (∂L/∂x, ∂L/∂W, ∂L/∂b) without autograd.",
    cases=_tanh_layer_cases,
    wrong=[_wrong_no_derivative, _wrong_mean_bias, _wrong_transposed],
)
def linear_tanh_backward(
    x: torch.Tensor, w: torch.Tensor, b: torch.Tensor, upstream: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``δ = upstream ⊙ (1 − tanh²(z))``, then ``δ W``, ``δᵀ x`` and the column sums of ``δ``."""
    h = torch.tanh(x @ w.T + b)  # [N, out]
    delta = upstream * (1 - h**2)  # ∂L/∂z, [N, out]
    return delta @ w, delta.T @ x, delta.sum(dim=0)  # [N, in], [out, in], [out]


def _fold_cases():
    g = torch.Generator().manual_seed(7)
    for d_out, d_in, eps in [(3, 4, 1e-5), (5, 5, 0.1), (1, 1, 1e-5), (2, 7, 0.5)]:
        w = torch.randn(d_out, d_in, generator=g, dtype=torch.float64)
        b = torch.randn(d_out, generator=g, dtype=torch.float64)
        mean = torch.randn(d_out, generator=g, dtype=torch.float64)
        var = 0.05 + torch.rand(d_out, generator=g, dtype=torch.float64)
        gamma = 1 + torch.randn(d_out, generator=g, dtype=torch.float64)
        beta = torch.randn(d_out, generator=g, dtype=torch.float64)
        yield Case((w, b, mean, var, gamma, beta, eps), label=f"out={d_out}, in={d_in}, eps={eps}")


def _wrong_unscaled_mean(w, b, running_mean, running_var, gamma, beta, eps):
    scale = gamma / torch.sqrt(running_var + eps)
    return w * scale[:, None], b * scale + beta - running_mean  # subtracts the mean unscaled


def _wrong_columns(w, b, running_mean, running_var, gamma, beta, eps):
    scale = gamma / torch.sqrt(running_var + eps)
    return w * scale, (b - running_mean) * scale + beta  # scales W's columns (inputs), not rows


def _wrong_no_eps(w, b, running_mean, running_var, gamma, beta, eps):
    scale = gamma / torch.sqrt(running_var)  # forgets eps
    return w * scale[:, None], (b - running_mean) * scale + beta


@exercise(
    "fold-batchnorm",
    page="neural-networks/nonlinearity",
    task="Fold an nn.Linear (W [out, in], b [out]) followed by a batch normalization in eval mode "
    "(running mean and variance, γ, β, eps, each [out]) into one linear layer: return (W', b').",
    cases=_fold_cases,
    wrong=[_wrong_unscaled_mean, _wrong_columns, _wrong_no_eps],
)
def fold_batchnorm(
    w: torch.Tensor,
    b: torch.Tensor,
    running_mean: torch.Tensor,
    running_var: torch.Tensor,
    gamma: torch.Tensor,
    beta: torch.Tensor,
    eps: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode batch norm is affine, ``s ⊙ (z − μ) + β`` with ``s = γ / √(σ² + ε)``: fold it."""
    scale = gamma / torch.sqrt(running_var + eps)  # [out]
    return w * scale[:, None], (b - running_mean) * scale + beta  # row j of W times s_j
