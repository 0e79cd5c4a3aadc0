import pytest
import torch
import torch.nn.functional as F
from hypothesis import given
from hypothesis import strategies as st
from torch.distributions import Independent, Normal, kl_divergence

from snippets.generative.vae import VAE, elbo, gaussian_kl, reparameterize, sample_images, vae_loss


@given(st.integers(min_value=0, max_value=10_000))
def test_gaussian_kl_matches_torch_distributions(seed):
    generator = torch.Generator().manual_seed(seed)
    mu = torch.randn(6, 3, generator=generator, dtype=torch.float64) * 2
    logvar = torch.randn(6, 3, generator=generator, dtype=torch.float64)
    q = Independent(Normal(mu, torch.exp(0.5 * logvar)), 1)
    prior = Independent(Normal(torch.zeros_like(mu), torch.ones_like(mu)), 1)
    torch.testing.assert_close(gaussian_kl(mu, logvar), kl_divergence(q, prior))


def test_kl_is_zero_only_at_the_prior():
    zeros = torch.zeros(2, 4)
    torch.testing.assert_close(gaussian_kl(zeros, zeros), torch.zeros(2))
    assert (gaussian_kl(zeros + 0.1, zeros) > 0).all()


def test_reparameterize_moments_and_gradients():
    mu = torch.tensor([[1.0, -2.0]], requires_grad=True)
    logvar = torch.tensor([[0.0, 2.0 * torch.log(torch.tensor(3.0)).item()]], requires_grad=True)
    z = reparameterize(mu.expand(50_000, 2), logvar.expand(50_000, 2))
    torch.testing.assert_close(z.mean(0), torch.tensor([1.0, -2.0]), atol=0.05, rtol=0)
    torch.testing.assert_close(z.std(0), torch.tensor([1.0, 3.0]), atol=0.05, rtol=0)
    z.sum().backward()  # gradients reach mu and logvar through the sample
    torch.testing.assert_close(mu.grad, torch.tensor([[50_000.0, 50_000.0]]))
    assert logvar.grad is not None and logvar.grad.abs().sum() > 0
    fixed = reparameterize(torch.zeros(1, 2), torch.zeros(1, 2), noise=torch.tensor([[0.5, 1.0]]))
    torch.testing.assert_close(fixed, torch.tensor([[0.5, 1.0]]))
    with pytest.raises(ValueError, match="logvar must have the shape of mu"):
        reparameterize(torch.zeros(2, 2), torch.zeros(2, 3))


def test_elbo_is_log_likelihood_minus_kl():
    x = torch.tensor([[1.0, 0.0, 1.0]])
    logits = torch.tensor([[2.0, -1.0, 0.5]])
    mu, logvar = torch.tensor([[0.3, -0.2]]), torch.tensor([[0.1, -0.4]])
    p = torch.sigmoid(logits)
    log_lik = torch.log(p[0, 0]) + torch.log(1 - p[0, 1]) + torch.log(p[0, 2])
    torch.testing.assert_close(elbo(logits, x, mu, logvar), (log_lik - gaussian_kl(mu, logvar)))
    with pytest.raises(ValueError, match="logits must have the shape of x"):
        elbo(logits[:, :2], x, mu, logvar)


def test_vae_shapes_loss_and_samples():
    model = VAE((1, 8, 8), hidden=16, latent=2)
    x = torch.rand(5, 1, 8, 8).round()
    outputs = model(x)
    assert [tuple(t.shape) for t in outputs] == [(5, 1, 8, 8), (5, 2), (5, 2)]
    loss = vae_loss(outputs, x)
    # The negative ELBO from the formula, with PyTorch's own pieces: Bernoulli
    # reconstruction (BCE with logits, summed over pixels) plus the KL divergence of
    # N(mu, sigma²) from N(0, I) (torch.distributions), both averaged over the batch.
    logits, mu, logvar = outputs
    reconstruction = F.binary_cross_entropy_with_logits(logits, x, reduction="none").sum((1, 2, 3))
    posterior = Normal(mu, (0.5 * logvar).exp())
    kl = kl_divergence(posterior, Normal(torch.zeros_like(mu), torch.ones_like(mu))).sum(1)
    torch.testing.assert_close(loss, (reconstruction + kl).mean())
    loss.backward()
    images = sample_images(model, 3, torch.Generator().manual_seed(0))
    assert images.shape == (3, 1, 8, 8) and images.min() >= 0 and images.max() <= 1
    with pytest.raises(ValueError, match=r"x must be \[N, 1, 8, 8\]"):
        model(torch.zeros(5, 64))
    with pytest.raises(ValueError, match="n must be > 0"):
        sample_images(model, 0)


def test_training_raises_the_elbo():
    from snippets.common.data import make_loader
    from snippets.common.train import fit

    x = (torch.rand(256, 1, 4, 4) > 0.5).float()
    x[:128] = 1.0  # two kinds of image: all on, random
    model = VAE((1, 4, 4), hidden=32, latent=2)
    before = vae_loss(model(x), x).item()
    history = fit(
        model,
        make_loader(x, x, batch_size=64),
        vae_loss,
        torch.optim.Adam(model.parameters(), 1e-2),
        20,
    )
    assert history.train_loss[-1] < before - 2.0


def test_losses_reject_mismatched_batches():
    with pytest.raises(
        ValueError, match=r"logvar must have the shape of mu \(3, 2\), got \(3, 3\)"
    ):
        gaussian_kl(torch.zeros(3, 2), torch.zeros(3, 3))
    with pytest.raises(ValueError, match=r"mu must hold one row per sample of x \(3\), got 2"):
        elbo(torch.zeros(3, 4), torch.zeros(3, 4), torch.zeros(2, 2), torch.zeros(2, 2))
