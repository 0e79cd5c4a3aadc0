"""Variational autoencoder (VAE): an autoencoder whose codes are distributions.

The encoder outputs the mean and log-variance of a Gaussian ``q(z | x)``; a
code is *sampled* from it with the reparameterization trick, so gradients
flow through the sampling. Training maximizes the evidence lower bound
(ELBO): reconstruct well, and keep ``q(z | x)`` close to the prior
``N(0, I)``. Because the codes fill the prior, decoding ``z ~ N(0, I)``
produces new images.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from snippets.common.checks import check_positive, check_tensor
from snippets.fundamentals.nn_basics import make_mlp

VaeOutput = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def reparameterize(
    mu: torch.Tensor, logvar: torch.Tensor, noise: torch.Tensor | None = None
) -> torch.Tensor:
    """Sample ``z = μ + σ · ε`` with ``σ = exp(logvar / 2)`` and ``ε ~ N(0, I)``.

    The randomness sits in ``ε``, which does not depend on the parameters, so
    ``z`` is a differentiable function of ``μ`` and ``logvar``.

    Shapes:
        ``mu``, ``logvar`` (and ``noise``, if given) ``[N, latent]`` →
        ``[N, latent]``.

    Raises:
        ValueError: if the shapes differ.
    """
    check_tensor(mu, "mu", ndim=2, floating=True)
    check_tensor(logvar, "logvar", ndim=2, floating=True)
    if logvar.shape != mu.shape:
        raise ValueError(
            f"logvar must have the shape of mu {tuple(mu.shape)}, got {tuple(logvar.shape)}"
        )
    if noise is None:
        noise = torch.randn_like(mu)
    return mu + torch.exp(0.5 * logvar) * noise


def gaussian_kl(mu: torch.Tensor, logvar: torch.Tensor) -> torch.Tensor:
    """``KL(N(μ, diag σ²) ‖ N(0, I))`` in closed form, one value per sample.

    ``KL = ½ Σ_j (μ_j² + σ_j² − log σ_j² − 1)``.

    Shapes:
        ``mu``, ``logvar`` ``[N, latent]`` → ``[N]``.

    Raises:
        ValueError: if ``mu`` and ``logvar`` differ in shape.
    """
    check_tensor(mu, "mu", ndim=2, floating=True)
    check_tensor(logvar, "logvar", ndim=2, floating=True)
    if logvar.shape != mu.shape:
        raise ValueError(
            f"logvar must have the shape of mu {tuple(mu.shape)}, got {tuple(logvar.shape)}"
        )
    return 0.5 * (mu.square() + logvar.exp() - logvar - 1).sum(dim=1)


class VAE(nn.Module):
    """An MLP VAE for images with pixel values in ``[0, 1]``.

    The decoder returns *logits* of independent Bernoulli pixels; apply
    ``sigmoid`` to see probabilities.

    Shapes:
        ``x`` ``[N, *image_shape]`` → ``(logits [N, *image_shape],
        mu [N, latent], logvar [N, latent])``.
    """

    def __init__(
        self, image_shape: tuple[int, ...] = (1, 8, 8), hidden: int = 256, latent: int = 2
    ) -> None:
        super().__init__()
        check_positive(hidden, "hidden")
        check_positive(latent, "latent")
        self.image_shape, self.latent = tuple(image_shape), latent
        pixels = int(torch.Size(self.image_shape).numel())
        self.encoder = make_mlp([pixels, hidden]).append(nn.ReLU())  # Flatten, Linear, ReLU
        self.to_mu = nn.Linear(hidden, latent)
        self.to_logvar = nn.Linear(hidden, latent)
        self.decoder = make_mlp([latent, hidden, pixels])

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        check_tensor(x, "x", floating=True)
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"x must be [N, {', '.join(map(str, self.image_shape))}], "
                f"got shape {tuple(x.shape)}"
            )
        h = self.encoder(x)
        return self.to_mu(h), self.to_logvar(h)

    def decode(self, z: torch.Tensor) -> torch.Tensor:
        check_tensor(z, "z", ndim=2, floating=True)
        return self.decoder(z).reshape(len(z), *self.image_shape)

    def forward(self, x: torch.Tensor) -> VaeOutput:
        mu, logvar = self.encode(x)
        return self.decode(reparameterize(mu, logvar)), mu, logvar  # z ~ q(z | x)


def elbo(
    logits: torch.Tensor, x: torch.Tensor, mu: torch.Tensor, logvar: torch.Tensor
) -> torch.Tensor:
    """The evidence lower bound per sample, in nats.

    ``ELBO = E_q[log p(x | z)] − KL(q(z | x) ‖ p(z)) ≤ log p(x)``, with
    Bernoulli pixels ``log p(x | z) = −BCE(logits, x)`` summed over pixels
    and the one-sample estimate of the expectation that ``logits`` (decoded
    from one ``z``) provides.

    Shapes:
        ``logits`` and ``x`` ``[N, ...]``, ``mu``/``logvar`` ``[N, latent]``
        → ``[N]``.

    Raises:
        ValueError: if ``logits`` and ``x`` differ in shape, or ``mu`` does not
            hold one row per sample of ``x``.
    """
    check_tensor(logits, "logits", floating=True)
    check_tensor(x, "x", floating=True)
    if logits.shape != x.shape:
        raise ValueError(
            f"logits must have the shape of x {tuple(x.shape)}, got {tuple(logits.shape)}"
        )
    check_tensor(mu, "mu", ndim=2, floating=True)
    if len(mu) != len(x):
        raise ValueError(f"mu must hold one row per sample of x ({len(x)}), got {len(mu)}")
    log_likelihood = -F.binary_cross_entropy_with_logits(logits, x, reduction="none")
    return log_likelihood.flatten(1).sum(dim=1) - gaussian_kl(mu, logvar)


def vae_loss(outputs: VaeOutput, x: torch.Tensor) -> torch.Tensor:
    """Negative ELBO averaged over the batch; fits ``snippets.common.train.fit``.

    Shapes:
        ``outputs`` as returned by :class:`VAE`, ``x`` ``[N, ...]`` → a scalar.
    """
    logits, mu, logvar = outputs
    return -elbo(logits, x, mu, logvar).mean()


@torch.no_grad()
def sample_images(model: VAE, n: int, generator: torch.Generator | None = None) -> torch.Tensor:
    """Decode ``n`` codes drawn from the prior ``N(0, I)`` into pixel probabilities.

    Shapes:
        → ``[n, *image_shape]`` with values in ``[0, 1]``.
    """
    check_positive(n, "n")
    device = next(model.parameters()).device
    z = torch.randn(n, model.latent, generator=generator).to(device)
    return torch.sigmoid(model.decode(z))
