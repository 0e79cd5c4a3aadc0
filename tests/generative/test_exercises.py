"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "generative"
NAMES = [e.name for e in exercises(CHAPTER)]


@pytest.mark.parametrize("name", NAMES)
def test_checker_passes_the_reference_and_rejects_each_wrong_solution(name):
    exercise = next(e for e in exercises(CHAPTER) if e.name == name)
    assert check(name, exercise.reference, verbose=False)
    for wrong in exercise.wrong:
        result = check(name, wrong, verbose=False)
        assert not result, f"{name}: the checker accepts {wrong.__name__}"
        assert result.message.startswith("fails on"), result.message


def test_references_agree_with_pytorch():
    import torch
    from torch.distributions import Normal, kl_divergence

    from snippets.generative.autoencoder import pca_reconstruction
    from snippets.generative.diffusion import linear_schedule, q_sample
    from snippets.generative.exercises import (
        ddim_step,
        diagonal_gaussian_kl,
        hinge_discriminator_loss,
        pca_explained_variance,
        truncated_styles,
    )
    from snippets.generative.stylegan import mix_styles
    from snippets.generative.vae import gaussian_kl

    g = torch.Generator().manual_seed(0)

    # explained variance = 1 − (error of the best rank-k reconstruction) / (total variance)
    x = torch.randn(30, 6, generator=g, dtype=torch.float64) * torch.arange(1, 7) + 2
    for k in (1, 3, 6):
        left = (x - pca_reconstruction(x, k)).square().sum() / (x - x.mean(0)).square().sum()
        torch.testing.assert_close(pca_explained_variance(x, k), 1 - left)

    mu_q, logvar_q, mu_p, logvar_p = (
        torch.randn(4, 3, generator=g, dtype=torch.float64) for _ in range(4)
    )
    q, p = Normal(mu_q, (0.5 * logvar_q).exp()), Normal(mu_p, (0.5 * logvar_p).exp())
    torch.testing.assert_close(
        diagonal_gaussian_kl(mu_q, logvar_q, mu_p, logvar_p), kl_divergence(q, p).sum(-1)
    )
    zeros = torch.zeros_like(mu_q)
    torch.testing.assert_close(
        diagonal_gaussian_kl(mu_q, logvar_q, zeros, zeros), gaussian_kl(mu_q, logvar_q)
    )

    # by hand: real (0 + 0.5) / 2 = 0.25, fake (0 + 1) / 2 = 0.5
    loss = hinge_discriminator_loss(torch.tensor([2.0, 0.5]), torch.tensor([-3.0, 0.0]))
    torch.testing.assert_close(loss, torch.tensor(0.75))

    # with the true noise, a DDIM step lands exactly on q_sample at the previous level
    schedule = linear_schedule(50)
    alpha_bars = schedule.alpha_bars.double()
    x0, eps = torch.randn(2, 5, 3, generator=g, dtype=torch.float64)
    t = torch.tensor([0, 1, 17, 33, 49])
    x_t = q_sample(x0, t, eps, schedule._replace(alpha_bars=alpha_bars))
    previous = ddim_step(x_t, eps, t, alpha_bars)
    torch.testing.assert_close(previous[0], x0[0])
    expected = q_sample(x0[1:], t[1:] - 1, eps[1:], schedule._replace(alpha_bars=alpha_bars))
    torch.testing.assert_close(previous[1:], expected)

    # truncating layers < cutoff of a single w is mixing the truncated w with w at the cutoff
    w, w_avg = torch.randn(3, 4, generator=g), torch.randn(4, generator=g)
    ws = w[:, None].expand(3, 6, 4)
    for cutoff in (0, 2, 6):
        torch.testing.assert_close(
            truncated_styles(ws, w_avg, 0.7, cutoff),
            mix_styles(w_avg + 0.7 * (w - w_avg), w, 6, cutoff),
        )
