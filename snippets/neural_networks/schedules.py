"""Learning-rate schedules: the learning rate as a function of the step number.

Large steps early make fast progress; small steps late let the weights
settle into a minimum instead of bouncing around it. Each ``*_lr`` function
returns the learning rate for step ``t`` (counting from 0) in closed form, the
value ``torch.optim.lr_scheduler`` would set after ``t`` calls to
``scheduler.step()``; only :func:`warmup_lr`, the Transformer paper's
schedule, counts from 1 as the paper does. Each ``*_scheduler`` function wraps
a schedule in a ``LambdaLR`` to step after every ``optimizer.step()``.
"""

from __future__ import annotations

import math

import torch

from snippets.common.checks import check_positive


def _check_step(t: int) -> None:
    if isinstance(t, bool) or not isinstance(t, int):
        raise TypeError(f"t must be an int, got {type(t).__name__}")
    if t < 0:
        raise ValueError(f"t must be >= 0, got {t}")


def step_lr(t: int, lr: float, step_size: int, gamma: float = 0.1) -> float:
    """Step decay: multiply by ``gamma`` every ``step_size`` steps, ``η_t = η γ^{⌊t / s⌋}``.

    Raises:
        ValueError: if ``t`` is negative or ``lr``, ``step_size`` or ``gamma`` is not positive.
    """
    _check_step(t)
    check_positive(lr, "lr")
    check_positive(step_size, "step_size")
    check_positive(gamma, "gamma")
    return lr * gamma ** (t // step_size)


def exponential_lr(t: int, lr: float, gamma: float) -> float:
    """Exponential decay: ``η_t = η γᵗ``.

    Raises:
        ValueError: if ``t`` is negative or ``lr`` or ``gamma`` is not positive.
    """
    _check_step(t)
    check_positive(lr, "lr")
    check_positive(gamma, "gamma")
    return lr * gamma**t


def cosine_lr(t: int, lr: float, total: int, lr_min: float = 0.0) -> float:
    """Cosine annealing from ``lr`` to ``lr_min`` over ``total`` steps.

    ``η_t = η_min + (η − η_min)(1 + cos(π t / T)) / 2``; it stays at
    ``lr_min`` after ``t = T``.

    Raises:
        ValueError: if ``t`` is negative, ``lr`` or ``total`` is not positive, or
            ``lr_min`` is negative.
    """
    _check_step(t)
    check_positive(lr, "lr")
    check_positive(total, "total")
    check_positive(lr_min, "lr_min", allow_zero=True)
    t = min(t, total)
    return lr_min + (lr - lr_min) * (1 + math.cos(math.pi * t / total)) / 2


def warmup_cosine_lr(t: int, lr: float, warmup: int, total: int, lr_min: float = 0.0) -> float:
    """Linear warm-up to ``lr`` over ``warmup`` steps, then cosine decay to ``lr_min``.

    Step ``t < warmup`` uses ``η (t + 1) / warmup``, so the first step is
    small but not zero and step ``warmup − 1`` reaches the peak ``η``; from
    step ``warmup`` on, :func:`cosine_lr` runs over the remaining
    ``total − warmup`` steps. Transformers
    are usually trained this way: large early steps with Adam's not yet
    reliable second-moment estimates can wreck them.

    Raises:
        ValueError: if ``t`` is negative, ``warmup`` is negative, or
            ``total`` is not greater than ``warmup``.
    """
    _check_step(t)
    check_positive(warmup, "warmup", allow_zero=True)
    check_positive(total, "total")
    if total <= warmup:
        raise ValueError(f"total must be greater than warmup ({warmup}), got {total}")
    check_positive(lr, "lr")
    if t < warmup:
        return lr * (t + 1) / warmup
    return cosine_lr(t - warmup, lr, total - warmup, lr_min)


def warmup_cosine_scheduler(
    optimizer: torch.optim.Optimizer, warmup: int, total: int, lr_min: float = 0.0
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that follows :func:`warmup_cosine_lr` from each group's learning rate.

    The peak of every parameter group is the ``lr`` it has when the
    scheduler is created; ``lr_min`` is the same absolute floor for all of
    them. Call ``scheduler.step()`` after every ``optimizer.step()``.

    Raises:
        ValueError: as :func:`warmup_cosine_lr` does, when the scheduler is created.
    """
    peaks = [group["lr"] for group in optimizer.param_groups]
    for peak in peaks:
        warmup_cosine_lr(0, peak, warmup, total, lr_min)  # check the arguments now

    def factor(peak: float):
        return lambda t: warmup_cosine_lr(t, peak, warmup, total, lr_min) / peak

    return torch.optim.lr_scheduler.LambdaLR(optimizer, [factor(peak) for peak in peaks])


def warmup_lr(step: int, d_model: int, warmup_steps: int = 4000, factor: float = 1.0) -> float:
    """The paper's schedule: ``factor · d_model^-0.5 · min(step^-0.5, step · warmup^-1.5)``.

    The step counts from 1. It rises linearly for ``warmup_steps`` steps,
    peaks at ``factor / sqrt(d_model · warmup_steps)``, then decays like
    ``1/√step``. The original Transformer was trained with it.

    Raises:
        ValueError: if ``step``, ``d_model`` or ``warmup_steps`` is not positive.
    """
    check_positive(step, "step")
    check_positive(d_model, "d_model")
    check_positive(warmup_steps, "warmup_steps")
    return factor * d_model**-0.5 * min(step**-0.5, step * warmup_steps**-1.5)


def warmup_scheduler(
    optimizer: torch.optim.Optimizer, d_model: int, warmup_steps: int = 4000, factor: float = 1.0
) -> torch.optim.lr_scheduler.LambdaLR:
    """A ``LambdaLR`` that sets the learning rate to :func:`warmup_lr` at every step.

    Create the optimizer with ``lr=1.0`` (the schedule multiplies it) and call
    ``scheduler.step()`` after every ``optimizer.step()``.
    """
    return torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda s: warmup_lr(s + 1, d_model, warmup_steps, factor)
    )


def set_lr(optimizer: object, lr: float) -> None:
    """Set the learning rate of a ``torch.optim`` optimizer or a scratch optimizer.

    Call it before every ``optimizer.step()`` with the schedule's value.

    Raises:
        ValueError: if ``lr`` is not positive.
        TypeError: if ``optimizer`` has neither ``param_groups`` nor ``lr``.
    """
    check_positive(lr, "lr")
    if hasattr(optimizer, "param_groups"):
        for group in optimizer.param_groups:
            group["lr"] = lr
    elif hasattr(optimizer, "lr"):
        optimizer.lr = lr
    else:
        raise TypeError(f"optimizer must have param_groups or lr, got {type(optimizer).__name__}")
