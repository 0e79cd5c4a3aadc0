"""Coding exercises of the neural-networks chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

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
