"""Coding exercises of the generative-models chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import torch

from snippets.common.exercises import Case, exercise


def _pca_cases():
    g = torch.Generator().manual_seed(11)
    settings = [(20, 5, 2), (8, 3, 0), (10, 4, 4), (7, 9, 3), (2, 3, 1), (31, 6, 5)]
    for n, d, k in settings:
        scales = torch.linspace(3.0, 0.5, d, dtype=torch.float64)  # unequal spread per axis
        x = torch.randn(n, d, generator=g, dtype=torch.float64) * scales + 4.0  # off-centre
        yield Case((x, k), label=f"N={n}, D={d}, k={k}")
    x = torch.randn(12, 4, generator=g) * torch.tensor([2.0, 1.0, 0.5, 0.1]) - 1.0
    yield Case((x, 2), label="float32, N=12, D=4, k=2")


def _wrong_uncentred(x, k):
    variances = torch.linalg.svdvals(x).square()  # forgets to subtract the mean
    return variances[:k].sum() / variances.sum()


def _wrong_singular_values(x, k):
    s = torch.linalg.svdvals(x - x.mean(dim=0))  # singular values, not variances
    return s[:k].sum() / s.sum()


@exercise(
    "pca-explained-variance",
    page="generative/autoencoders",
    task="The fraction of the total variance of data x [N, D] that its top k principal "
    "components keep (0 for k = 0, 1 for k = D), as a 0-d tensor of x's dtype.",
    cases=_pca_cases,
    wrong=[_wrong_uncentred, _wrong_singular_values],
)
def pca_explained_variance(x: torch.Tensor, k: int) -> torch.Tensor:
    """The variance along each principal axis is a squared singular value of the centred data.

    Keeping the top ``k`` axes keeps the ``k`` largest of them; what is left
    over is exactly the squared error of the best rank-``k`` reconstruction.
    """
    variances = torch.linalg.svdvals(x - x.mean(dim=0)).square()  # descending, [min(N, D)]
    return variances[:k].sum() / variances.sum()


def _kl_cases():
    g = torch.Generator().manual_seed(12)
    for n, d in [(4, 2), (1, 1), (0, 3), (6, 8), (3, 5)]:
        mu_q, logvar_q, mu_p = (torch.randn(n, d, generator=g, dtype=torch.float64) for _ in "qlp")
        logvar_p = 0.5 * torch.randn(n, d, generator=g, dtype=torch.float64)
        yield Case((mu_q, logvar_q, mu_p, logvar_p), label=f"N={n}, latent={d}")
    mu_q, logvar_q, mu_p, logvar_p = (torch.randn(5, 4, generator=g) for _ in range(4))
    yield Case((mu_q, logvar_q, mu_p, logvar_p), label="float32, N=5, latent=4")


def _wrong_reversed(mu_q, logvar_q, mu_p, logvar_p):
    # KL(p ‖ q): the two Gaussians swapped
    ratio = (logvar_p - logvar_q).exp()
    return 0.5 * (logvar_q - logvar_p + ratio + (mu_q - mu_p).square() / logvar_q.exp() - 1).sum(1)


def _wrong_unscaled_mean(mu_q, logvar_q, mu_p, logvar_p):
    ratio = (logvar_q - logvar_p).exp()
    # the squared distance of the means is not divided by the prior's variance
    return 0.5 * (logvar_p - logvar_q + ratio + (mu_q - mu_p).square() - 1).sum(1)


@exercise(
    "diagonal-gaussian-kl",
    page="generative/vae",
    task="KL(N(mu_q, diag exp(logvar_q)) ‖ N(mu_p, diag exp(logvar_p))) for each row of "
    "[N, latent] inputs, returned as [N]: the VAE's KL against a learned prior.",
    cases=_kl_cases,
    wrong=[_wrong_reversed, _wrong_unscaled_mean],
)
def diagonal_gaussian_kl(
    mu_q: torch.Tensor, logvar_q: torch.Tensor, mu_p: torch.Tensor, logvar_p: torch.Tensor
) -> torch.Tensor:
    """``½ Σ_j (log σ²_p/σ²_q + (σ²_q + (μ_q − μ_p)²)/σ²_p − 1)``, one latent at a time.

    With ``μ_p = 0`` and ``log σ²_p = 0`` it is the VAE's KL to ``N(0, I)``.
    """
    var_p = logvar_p.exp()
    per_latent = logvar_p - logvar_q + (logvar_q.exp() + (mu_q - mu_p).square()) / var_p - 1
    return 0.5 * per_latent.sum(dim=1)


def _hinge_cases():
    g = torch.Generator().manual_seed(13)
    for n, m in [(4, 4), (1, 1), (6, 3), (9, 16)]:
        real = 2 * torch.randn(n, generator=g, dtype=torch.float64)
        fake = 2 * torch.randn(m, generator=g, dtype=torch.float64)
        yield Case((real, fake), label=f"{n} real, {m} fake")
    yield Case((torch.tensor([3.0, 0.2, -0.4]), torch.tensor([-2.0, 0.6])), label="float32")


def _wrong_no_margin(real_logits, fake_logits):
    return -real_logits.mean() + fake_logits.mean()  # the Wasserstein critic loss: no clamp


def _wrong_signs(real_logits, fake_logits):
    # the margins on the wrong sides: real pushed below −1, fake above +1
    return (1 + real_logits).clamp(min=0).mean() + (1 - fake_logits).clamp(min=0).mean()


@exercise(
    "hinge-discriminator-loss",
    page="generative/gan",
    task="The hinge loss of a discriminator: mean(max(0, 1 − D(x))) over real logits [N] "
    "plus mean(max(0, 1 + D(G(z)))) over fake logits [M].",
    cases=_hinge_cases,
    wrong=[_wrong_no_margin, _wrong_signs],
)
def hinge_discriminator_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Real logits are pushed above +1 and fake ones below −1; past the margin a sample costs 0."""
    real = (1 - real_logits).clamp(min=0).mean()
    fake = (1 + fake_logits).clamp(min=0).mean()
    return real + fake


def _alpha_bars(steps: int) -> torch.Tensor:
    betas = torch.linspace(1e-3, 0.2, steps, dtype=torch.float64)  # ᾱ ends near 0, never at 0
    return torch.cumprod(1 - betas, dim=0)


def _ddim_cases():
    g = torch.Generator().manual_seed(14)
    for n, shape, steps in [(5, (2,), 50), (1, (3,), 10), (4, (1, 4, 4), 100), (0, (2,), 20)]:
        x = torch.randn(n, *shape, generator=g, dtype=torch.float64)
        eps = torch.randn(n, *shape, generator=g, dtype=torch.float64)
        t = torch.randint(0, steps, (n,), generator=g)
        if n > 1:
            t[0], t[-1] = 0, steps - 1  # the first and the last step
        yield Case((x, eps, t, _alpha_bars(steps)), label=f"x {[n, *shape]}, T={steps}")
    yield Case(
        (
            torch.randn(3, 2, generator=g, dtype=torch.float64),
            torch.zeros(3, 2, dtype=torch.float64),
            torch.tensor([0, 0, 0]),
            _alpha_bars(10),
        ),
        label="every sample at t = 0",
    )


def _wrong_wraps_at_zero(x, predicted_noise, t, alpha_bars):
    shape = (-1,) + (1,) * (x.ndim - 1)
    ab = alpha_bars[t].reshape(shape)
    ab_prev = alpha_bars[t - 1].reshape(shape)  # t = 0 reads alpha_bars[-1], the noisiest step
    x0 = (x - (1 - ab).sqrt() * predicted_noise) / ab.sqrt()
    return ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * predicted_noise


def _wrong_drops_noise(x, predicted_noise, t, alpha_bars):
    shape = (-1,) + (1,) * (x.ndim - 1)
    ab = alpha_bars[t].reshape(shape)
    ones = torch.ones_like(alpha_bars[:1])
    ab_prev = torch.cat([ones, alpha_bars])[t].reshape(shape)
    x0 = (x - (1 - ab).sqrt() * predicted_noise) / ab.sqrt()
    return ab_prev.sqrt() * x0  # forgets to put back the noise of step t − 1


@exercise(
    "ddim-step",
    page="generative/diffusion",
    task="One deterministic DDIM step x_t → x_{t−1} (η = 0) from the predicted noise, per-sample "
    "steps t [N] and alpha_bars [T], where step −1 is clean data (ᾱ = 1).",
    cases=_ddim_cases,
    wrong=[_wrong_wraps_at_zero, _wrong_drops_noise],
)
def ddim_step(
    x: torch.Tensor, predicted_noise: torch.Tensor, t: torch.Tensor, alpha_bars: torch.Tensor
) -> torch.Tensor:
    """Estimate ``x̂_0`` from ``x_t``, then re-noise it to level ``t − 1`` with the same noise.

    ``x̂_0 = (x_t − √(1 − ᾱ_t) ε̂) / √ᾱ_t`` and
    ``x_{t−1} = √ᾱ_{t−1} x̂_0 + √(1 − ᾱ_{t−1}) ε̂``; no fresh noise is drawn.
    """
    shape = (-1,) + (1,) * (x.ndim - 1)  # [N, 1, ..., 1]: broadcasts over a sample
    ab = alpha_bars[t].reshape(shape)
    padded = torch.cat([torch.ones_like(alpha_bars[:1]), alpha_bars])  # index t holds ᾱ_{t−1}
    ab_prev = padded[t].reshape(shape)
    x0 = (x - (1 - ab).sqrt() * predicted_noise) / ab.sqrt()
    return ab_prev.sqrt() * x0 + (1 - ab_prev).sqrt() * predicted_noise


def _truncation_cases():
    g = torch.Generator().manual_seed(15)
    settings = [(2, 4, 3, 0.7, 2), (1, 1, 2, 0.5, 1), (3, 6, 4, 0.0, 6), (2, 5, 3, 1.0, 3)]
    settings += [(4, 8, 5, 0.6, 0), (3, 7, 2, 1.5, 4)]
    for n, layers, d, psi, cutoff in settings:
        ws = torch.randn(n, layers, d, generator=g, dtype=torch.float64)
        w_avg = torch.randn(d, generator=g, dtype=torch.float64)
        yield Case(
            (ws, w_avg, psi, cutoff), label=f"ws {[n, layers, d]}, psi={psi}, cutoff={cutoff}"
        )


def _wrong_scales_w(ws, w_avg, psi, cutoff):
    layer = torch.arange(ws.shape[1])[None, :, None]
    return torch.where(layer < cutoff, psi * ws, ws)  # shrinks towards 0, not towards w_avg


def _wrong_every_layer(ws, w_avg, psi, cutoff):
    return w_avg + psi * (ws - w_avg)  # ignores the cutoff


def _wrong_inclusive_cutoff(ws, w_avg, psi, cutoff):
    layer = torch.arange(ws.shape[1])[None, :, None]
    return torch.where(layer <= cutoff, w_avg + psi * (ws - w_avg), ws)  # one layer too many


@exercise(
    "truncated-styles",
    page="generative/stylegan",
    task="The truncation trick on per-layer latents ws [N, L, w_dim]: move the layers "
    "< cutoff to w_avg + psi·(w − w_avg), leave the others unchanged.",
    cases=_truncation_cases,
    wrong=[_wrong_scales_w, _wrong_every_layer, _wrong_inclusive_cutoff],
)
def truncated_styles(
    ws: torch.Tensor, w_avg: torch.Tensor, psi: float, cutoff: int
) -> torch.Tensor:
    """Pull the coarse layers' latents towards the average one: typical samples, less variety."""
    truncated = w_avg + psi * (ws - w_avg)  # w_avg [w_dim] broadcasts over N and L
    layer = torch.arange(ws.shape[1], device=ws.device)[None, :, None]  # [1, L, 1]
    return torch.where(layer < cutoff, truncated, ws)
