"""Denoising diffusion (DDPM): noise the data step by step, learn to undo it.

The forward process adds a little Gaussian noise at each of ``T`` steps until
the data is pure noise. A network learns to predict the noise that was added
(the training objective is a plain mean squared error), and ancestral sampling
runs the chain backwards from noise to data. Time steps are 0-based here:
index ``t`` in code is step ``t + 1`` in the paper's notation.

Also here: :func:`mmd2`, the squared maximum mean discrepancy, a two-sample
distance used to measure how close generated points are to real ones.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.fundamentals.nn_basics import make_mlp
from snippets.transformers.positional import sinusoidal_features

NoiseModel = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


class Schedule(NamedTuple):
    """The noise schedule: per-step variances and their running products.

    Shapes:
        every field is ``[T]``: ``betas`` (β), ``alphas`` (α = 1 − β) and
        ``alpha_bars`` (ᾱ_t = α_1 ⋯ α_t).
    """

    betas: torch.Tensor
    alphas: torch.Tensor
    alpha_bars: torch.Tensor

    @property
    def steps(self) -> int:
        """Number of diffusion steps ``T``."""
        return len(self.betas)


def linear_schedule(
    steps: int = 1000, beta_start: float = 1e-4, beta_end: float = 0.02
) -> Schedule:
    """β rising linearly, as in DDPM, rescaled so any ``steps`` adds the same noise.

    ``beta_start`` and ``beta_end`` are the values for 1,000 steps (the
    paper's); with fewer steps each β is multiplied by ``1000 / steps`` so the
    chain still ends close to pure noise.

    Shapes:
        a :class:`Schedule` of ``[steps]`` tensors (float32).

    Raises:
        ValueError: if ``steps`` is not positive or the scaled betas leave
            ``(0, 1)``.
    """
    check_positive(steps, "steps")
    scale = 1000 / steps
    betas = torch.linspace(beta_start * scale, beta_end * scale, steps, dtype=torch.float64)
    if not (0 < betas.min() and betas.max() < 1):
        raise ValueError(
            f"betas must lie in (0, 1), got [{betas.min():.4g}, {betas.max():.4g}] "
            f"for steps={steps}, beta_start={beta_start}, beta_end={beta_end}"
        )
    alphas = 1 - betas
    return Schedule(betas.float(), alphas.float(), torch.cumprod(alphas, 0).float())


def _gather(values: torch.Tensor, t: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    """``values[t]`` reshaped to ``[N, 1, ..., 1]`` so it broadcasts against ``like``."""
    return values.to(like.device)[t].reshape(-1, *([1] * (like.ndim - 1)))


def _check_steps(t: torch.Tensor, x: torch.Tensor, schedule: Schedule) -> None:
    check_tensor(t, "t", ndim=1, dtype=torch.int64)
    if len(t) != len(x):
        raise ValueError(f"t must hold one step per sample, got {len(t)} for {len(x)} samples")
    if len(t) and (t.min() < 0 or t.max() >= schedule.steps):
        raise ValueError(
            f"t must lie in [0, {schedule.steps}), got values in [{t.min()}, {t.max()}]"
        )


def q_step(
    x_prev: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule
) -> torch.Tensor:
    """One forward step: ``x_t = √α_t · x_{t−1} + √β_t · ε``.

    Shapes:
        ``x_prev`` and ``noise`` ``[N, ...]``, ``t`` ``[N]`` (int64) →
        ``[N, ...]``.
    """
    check_tensor(x_prev, "x_prev", floating=True)
    _check_steps(t, x_prev, schedule)
    alpha = _gather(schedule.alphas, t, x_prev)
    return alpha.sqrt() * x_prev + (1 - alpha).sqrt() * noise


def q_sample(
    x0: torch.Tensor, t: torch.Tensor, noise: torch.Tensor, schedule: Schedule
) -> torch.Tensor:
    """Jump straight to step ``t``: ``x_t = √ᾱ_t · x_0 + √(1 − ᾱ_t) · ε``.

    This closed form is what makes training cheap: no need to run ``t``
    single steps to get a noisy sample.

    Shapes:
        ``x0`` and ``noise`` ``[N, ...]``, ``t`` ``[N]`` (int64) → ``[N, ...]``.

    Raises:
        ValueError: if ``noise`` and ``x0`` differ in shape or a step is out
            of range.
    """
    check_tensor(x0, "x0", floating=True)
    check_tensor(noise, "noise", floating=True)
    if noise.shape != x0.shape:
        raise ValueError(
            f"noise must have the shape of x0 {tuple(x0.shape)}, got {tuple(noise.shape)}"
        )
    _check_steps(t, x0, schedule)
    alpha_bar = _gather(schedule.alpha_bars, t, x0)
    return alpha_bar.sqrt() * x0 + (1 - alpha_bar).sqrt() * noise


def time_embedding(t: torch.Tensor, dim: int, max_period: float = 1000.0) -> torch.Tensor:
    """Sinusoidal features of the step, as in the Transformer's positions.

    Feature ``i < dim/2`` is ``sin(t · ω_i)`` and feature ``dim/2 + i`` is
    ``cos(t · ω_i)``, with ``ω_i = max_period^(−i / (dim/2))``: the
    Transformer's :func:`~snippets.transformers.positional.sinusoidal_features`
    in the two-halves layout.

    Shapes:
        ``t`` ``[N]`` → ``[N, dim]``.

    Raises:
        ValueError: if ``dim`` is not a positive even number.
    """
    check_tensor(t, "t", ndim=1)
    if isinstance(dim, bool) or not isinstance(dim, int) or dim <= 0 or dim % 2:
        raise ValueError(f"dim must be a positive even int, got {dim!r}")
    return sinusoidal_features(t, dim, base=max_period, interleave=False)


class NoisePredictor(nn.Module):
    """An MLP ``ε_θ(x_t, t)`` that predicts the noise inside ``x_t``.

    The input is flattened, joined with a sinusoidal embedding of ``t`` and
    passed through ``depth`` hidden layers with SiLU; the output has the
    input's shape. Enough for 2-D points and 8×8 digits; image models use a
    U-Net instead.

    Shapes:
        ``x`` ``[N, ...]`` with ``features`` numbers per sample, ``t`` ``[N]``
        → ``[N, ...]``.
    """

    def __init__(self, features: int, hidden: int = 128, depth: int = 3, time_dim: int = 32):
        super().__init__()
        check_positive(features, "features")
        check_positive(hidden, "hidden")
        check_positive(depth, "depth")
        self.features, self.time_dim = features, time_dim
        sizes = [features + time_dim, *[hidden] * depth, features]
        self.net = make_mlp(sizes, activation=nn.SiLU)

    def forward(self, x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", floating=True)
        flat = x.flatten(1)
        if flat.shape[1] != self.features:
            raise ValueError(
                f"x must hold {self.features} features per sample, got {flat.shape[1]} "
                f"(shape {tuple(x.shape)})"
            )
        check_tensor(t, "t", ndim=1)
        if len(t) != len(x):
            raise ValueError(f"t must hold one step per sample of x ({len(x)}), got {len(t)}")
        hidden = torch.cat([flat, time_embedding(t, self.time_dim)], dim=1)
        return self.net(hidden).reshape(x.shape)


def ddpm_loss(
    model: NoiseModel,
    x0: torch.Tensor,
    schedule: Schedule,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """The simplified DDPM objective ``E‖ε − ε_θ(√ᾱ_t x_0 + √(1−ᾱ_t) ε, t)‖²``.

    A random step ``t`` and fresh noise ``ε`` are drawn for every sample.

    Shapes:
        ``x0`` ``[N, ...]`` → a scalar (mean over samples and features).
    """
    check_tensor(x0, "x0", floating=True)
    t = torch.randint(schedule.steps, (len(x0),), generator=generator).to(x0.device)
    noise = torch.randn(x0.shape, generator=generator).to(x0.device)
    x_t = q_sample(x0, t, noise, schedule)
    return nn.functional.mse_loss(model(x_t, t), noise)


def p_step(
    model: NoiseModel,
    x_t: torch.Tensor,
    t: int,
    schedule: Schedule,
    noise: torch.Tensor | None = None,
) -> torch.Tensor:
    """One reverse step ``x_t → x_{t−1}`` of ancestral sampling.

    ``x_{t−1} = (x_t − β_t/√(1−ᾱ_t) · ε_θ(x_t, t)) / √α_t + σ_t z`` with
    ``z`` standard normal (``noise``, or fresh noise when it is ``None``) and
    ``σ_t² = β̃_t = β_t (1 − ᾱ_{t−1}) / (1 − ᾱ_t)``, the variance of the true
    posterior ``q(x_{t−1} | x_t, x_0)``. The last step (``t = 0``) adds no
    noise.

    Shapes:
        ``x_t`` ``[N, ...]`` → ``[N, ...]``; ``noise``, if given, like ``x_t``.

    Raises:
        ValueError: if ``t`` is outside ``[0, T)``.
    """
    check_tensor(x_t, "x_t", floating=True)
    if not 0 <= t < schedule.steps:
        raise ValueError(f"t must lie in [0, {schedule.steps}), got {t}")
    beta, alpha, alpha_bar = (float(v[t]) for v in schedule)
    steps = torch.full((len(x_t),), t, dtype=torch.int64, device=x_t.device)
    eps = model(x_t, steps)
    mean = (x_t - beta / math.sqrt(1 - alpha_bar) * eps) / math.sqrt(alpha)
    if t == 0:
        return mean
    if noise is None:
        noise = torch.randn_like(x_t)
    variance = beta * (1 - float(schedule.alpha_bars[t - 1])) / (1 - alpha_bar)
    return mean + math.sqrt(variance) * noise


def train_diffusion(
    model: nn.Module,
    data: torch.Tensor,
    schedule: Schedule,
    steps: int,
    batch_size: int = 256,
    lr: float = 1e-3,
    device: torch.device | str = "cpu",
    seed: int = 0,
) -> list[float]:
    """Train a noise predictor with :func:`ddpm_loss` on random batches of ``data``.

    Adam with a cosine-decaying learning rate; one optimizer step per batch.

    Shapes:
        ``data`` ``[N, ...]``; returns the loss of every step.
    """
    check_tensor(data, "data", floating=True)
    check_positive(steps, "steps")
    check_positive(batch_size, "batch_size")
    generator = torch.Generator().manual_seed(seed)
    model.to(device).train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=steps)
    losses = []
    for _ in range(steps):
        idx = torch.randint(len(data), (batch_size,), generator=generator)
        loss = ddpm_loss(model, data[idx].to(device), schedule, generator)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        scheduler.step()
        losses.append(loss.item())
    model.eval()
    return losses


@torch.no_grad()
def sample(
    model: NoiseModel,
    shape: Sequence[int],
    schedule: Schedule,
    generator: torch.Generator | None = None,
    device: torch.device | str = "cpu",
    keep_every: int = 0,
) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """Ancestral sampling: start from ``x_T ~ N(0, I)`` and apply every :func:`p_step`.

    Returns:
        the samples ``[*shape]`` and, if ``keep_every > 0``, the chain
        ``x_T, …`` every ``keep_every`` steps plus the final ``x_0`` (on the
        CPU), for plotting the reverse process; otherwise an empty list.
    """
    check_positive(keep_every, "keep_every", allow_zero=True)
    x = torch.randn(tuple(shape), generator=generator).to(device)
    chain = [x.cpu()] if keep_every else []
    for t in reversed(range(schedule.steps)):
        z = torch.randn(tuple(shape), generator=generator).to(device)
        x = p_step(model, x, t, schedule, noise=z)
        if keep_every and (t % keep_every == 0 and t > 0):
            chain.append(x.cpu())
    if keep_every:
        chain.append(x.cpu())
    return x, chain


def mmd2(x: torch.Tensor, y: torch.Tensor, bandwidths: float | Sequence[float] = 1.0) -> float:
    """Squared maximum mean discrepancy with a Gaussian (RBF) kernel.

    ``MMD² = mean k(x, x') + mean k(y, y') − 2 mean k(x, y)`` with
    ``k(a, b) = Σ_h exp(−‖a − b‖² / (2h²))`` summed over the bandwidths ``h``
    (the biased estimate, which is never negative). It is zero when the two
    samples are identical and grows as their distributions move apart.

    Shapes:
        ``x`` ``[N, D]`` and ``y`` ``[M, D]`` → a Python float.

    Raises:
        ValueError: if the samples are not 2-D, differ in ``D``, or a
            bandwidth is not positive.
    """
    check_tensor(x, "x", ndim=2, floating=True)
    check_tensor(y, "y", ndim=2, floating=True)
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"x and y must have the same dimension, got {x.shape[1]} and {y.shape[1]}")
    widths = [bandwidths] if isinstance(bandwidths, (int, float)) else list(bandwidths)
    for h in widths:
        check_positive(h, "bandwidths")
    x, y = x.double(), y.double()

    def kernel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
        sq = torch.cdist(a, b).square()
        return sum(torch.exp(-sq / (2 * h * h)) for h in widths)

    value = kernel(x, x).mean() + kernel(y, y).mean() - 2 * kernel(x, y).mean()
    return max(value.item(), 0.0)
