"""Autoencoders: squeeze the input through a small code and rebuild it.

An encoder maps an image to a short *code* (the latent vector), a decoder maps
the code back to an image, and training minimizes the reconstruction error.
Because the code is smaller than the input, the network must keep what
matters and drop the rest. A *denoising* autoencoder sees a corrupted input
and must rebuild the clean one, which forces it to learn what digits look
like instead of copying pixels.
"""

from __future__ import annotations

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.fundamentals.nn_basics import make_mlp


def corrupt(
    x: torch.Tensor, noise_std: float, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Add Gaussian noise of standard deviation ``noise_std``, clipped to ``[0, 1]``.

    Shapes:
        ``x`` ``[N, ...]`` → ``[N, ...]``.

    Raises:
        ValueError: if ``noise_std`` is negative.
    """
    check_tensor(x, "x", floating=True)
    check_positive(noise_std, "noise_std", allow_zero=True)
    noise = torch.randn(x.shape, generator=generator).to(x.device)
    return (x + noise_std * noise).clamp(0.0, 1.0)


class Autoencoder(nn.Module):
    """An MLP autoencoder for images with pixel values in ``[0, 1]``.

    ``encode`` flattens the image and maps it to ``latent`` numbers;
    ``decode`` maps them back and ends in a sigmoid so pixels stay in
    ``[0, 1]``. With ``noise_std > 0`` the model corrupts its input with
    :func:`corrupt` while training (a denoising autoencoder); in ``eval()``
    mode it never adds noise.

    Shapes:
        ``x`` ``[N, *image_shape]`` → reconstruction ``[N, *image_shape]``;
        codes are ``[N, latent]``.
    """

    def __init__(
        self,
        image_shape: tuple[int, ...] = (1, 8, 8),
        hidden: int = 128,
        latent: int = 8,
        noise_std: float = 0.0,
    ) -> None:
        super().__init__()
        check_positive(latent, "latent")
        check_positive(noise_std, "noise_std", allow_zero=True)
        self.image_shape, self.noise_std = tuple(image_shape), noise_std
        pixels = int(torch.Size(self.image_shape).numel())
        self.encoder = make_mlp([pixels, hidden, latent])
        self.decoder = nn.Sequential(make_mlp([latent, hidden, pixels]), nn.Sigmoid())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", floating=True)
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"x must be [N, {', '.join(map(str, self.image_shape))}], "
                f"got shape {tuple(x.shape)}"
            )
        return self.encoder(x)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        check_tensor(codes, "codes", ndim=2, floating=True)
        return self.decoder(codes).reshape(len(codes), *self.image_shape)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.training and self.noise_std > 0:
            x = corrupt(x, self.noise_std)
        return self.decode(self.encode(x))


@torch.no_grad()
def reconstruction_error(
    model: nn.Module, clean: torch.Tensor, noisy: torch.Tensor | None = None
) -> float:
    """Mean squared error per pixel between ``clean`` and the reconstruction.

    The model reads ``noisy`` if given (to measure denoising), else ``clean``.
    It runs in eval mode, so no training noise is added.

    Shapes:
        ``clean`` and ``noisy`` ``[N, *image_shape]`` → a Python float.
    """
    was_training = model.training
    model.eval()
    inputs = clean if noisy is None else noisy
    rebuilt = model(inputs)
    if isinstance(rebuilt, tuple):  # a SparseAutoencoder also returns its codes
        rebuilt = rebuilt[0]
    error = nn.functional.mse_loss(rebuilt, clean).item()
    model.train(was_training)
    return error


def pca_reconstruction(train: torch.Tensor, k: int, x: torch.Tensor | None = None) -> torch.Tensor:
    """Rebuild ``x`` from its first ``k`` principal components, fitted on ``train``.

    The closed-form linear autoencoder: the code is ``z = Vᵀ(x − m)`` and the
    reconstruction ``m + V z``, where ``m`` is the mean of ``train`` and the
    columns of ``V`` ``[D, k]`` are its top ``k`` principal directions (right
    singular vectors of the centred data). No code of ``k`` numbers made by
    a linear map rebuilds ``train`` with a smaller squared error.

    Shapes:
        ``train`` ``[N, ...]`` and ``x`` ``[M, ...]`` (default: ``train``) with
        the same ``D`` numbers per sample → like ``x``.

    Raises:
        ValueError: if ``k`` is not in ``[1, min(N, D)]`` or the samples of
            ``x`` and ``train`` differ in size.
    """
    check_tensor(train, "train", floating=True)
    x = train if x is None else check_tensor(x, "x", floating=True)
    flat = train.flatten(1)
    if isinstance(k, bool) or not isinstance(k, int) or not 1 <= k <= min(flat.shape):
        raise ValueError(f"k must be an int in [1, {min(flat.shape)}], got {k!r}")
    if x.flatten(1).shape[1] != flat.shape[1]:
        raise ValueError(
            f"x must hold {flat.shape[1]} numbers per sample like train, got shape {tuple(x.shape)}"
        )
    mean = flat.mean(dim=0)
    _, _, vh = torch.linalg.svd(flat - mean, full_matrices=False)
    v = vh[:k].T  # [D, k]: the principal directions, orthonormal columns
    codes = (x.flatten(1) - mean) @ v  # [M, k]
    return (codes @ v.T + mean).reshape(x.shape)


def kl_sparsity(mean_activation: torch.Tensor, target: float) -> torch.Tensor:
    """Sparsity penalty ``Σ_j KL(ρ ‖ ρ̂_j)`` between a target and mean activations.

    Each code unit ``j`` is treated as a coin that is "on" with probability
    ``ρ̂_j``, its mean activation over a batch; the penalty is the KL
    divergence of the target coin ``ρ`` from it,
    ``ρ log(ρ/ρ̂_j) + (1 − ρ) log((1 − ρ)/(1 − ρ̂_j))``, summed over units.
    It is zero when every ``ρ̂_j = ρ`` and grows without bound as ``ρ̂_j``
    nears 0 or 1. ``ρ̂`` is clamped to ``[1e-6, 1 − 1e-6]`` so the
    logarithms stay finite.

    Shapes:
        ``mean_activation`` ``[units]`` with values in ``[0, 1]`` → a scalar.

    Raises:
        ValueError: if ``target`` is not strictly between 0 and 1.
    """
    check_tensor(mean_activation, "mean_activation", ndim=1, floating=True)
    check_positive(target, "target")
    if not target < 1:
        raise ValueError(f"target must be between 0 and 1, got {target}")
    rho_hat = mean_activation.clamp(1e-6, 1 - 1e-6)
    rho = torch.as_tensor(target, dtype=rho_hat.dtype, device=rho_hat.device)
    kl = rho * torch.log(rho / rho_hat) + (1 - rho) * torch.log((1 - rho) / (1 - rho_hat))
    return kl.sum()


class SparseAutoencoder(nn.Module):
    """One layer of sigmoid code units, possibly more of them than pixels.

    ``encode`` maps the flattened image to ``code`` numbers in ``(0, 1)``
    (a unit is "on" near 1 and "off" near 0); ``decode`` is one linear layer
    and a sigmoid. ``forward`` returns the reconstruction *and* the codes, so
    that :func:`sparse_autoencoder_loss` can penalize the codes.

    Shapes:
        ``x`` ``[N, *image_shape]`` → (reconstruction ``[N, *image_shape]``,
        codes ``[N, code]``).
    """

    def __init__(self, image_shape: tuple[int, ...] = (1, 8, 8), code: int = 64) -> None:
        super().__init__()
        check_positive(code, "code")
        self.image_shape = tuple(image_shape)
        pixels = int(torch.Size(self.image_shape).numel())
        self.encoder = nn.Sequential(nn.Flatten(), nn.Linear(pixels, code), nn.Sigmoid())
        self.decoder = nn.Sequential(nn.Linear(code, pixels), nn.Sigmoid())

    def encode(self, x: torch.Tensor) -> torch.Tensor:
        check_tensor(x, "x", floating=True)
        if tuple(x.shape[1:]) != self.image_shape:
            raise ValueError(
                f"x must be [N, {', '.join(map(str, self.image_shape))}], "
                f"got shape {tuple(x.shape)}"
            )
        return self.encoder(x)

    def decode(self, codes: torch.Tensor) -> torch.Tensor:
        check_tensor(codes, "codes", ndim=2, floating=True)
        return self.decoder(codes).reshape(len(codes), *self.image_shape)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        codes = self.encode(x)
        return self.decode(codes), codes


def sparse_autoencoder_loss(
    outputs: tuple[torch.Tensor, torch.Tensor],
    target: torch.Tensor,
    sparsity_target: float = 0.05,
    kl_weight: float = 0.0,
    l1_weight: float = 0.0,
) -> torch.Tensor:
    """Reconstruction error plus sparsity penalties on the codes.

    ``MSE(x̂, x) + kl_weight · Σ_j KL(ρ ‖ ρ̂_j) + l1_weight · mean |z|``, where
    ``ρ̂_j`` is unit ``j``'s mean activation over the batch (see
    :func:`kl_sparsity`). With both weights zero it is a plain autoencoder's
    loss. Its signature ``(outputs, targets)`` fits the ``fit`` loop.

    Shapes:
        ``outputs`` = (reconstruction ``[N, ...]``, codes ``[N, code]``),
        ``target`` like the reconstruction → a scalar.
    """
    reconstruction, codes = outputs
    check_tensor(codes, "codes", ndim=2, floating=True)
    check_positive(kl_weight, "kl_weight", allow_zero=True)
    check_positive(l1_weight, "l1_weight", allow_zero=True)
    loss = nn.functional.mse_loss(reconstruction, target)
    if kl_weight > 0:
        loss = loss + kl_weight * kl_sparsity(codes.mean(dim=0), sparsity_target)
    if l1_weight > 0:
        loss = loss + l1_weight * codes.abs().mean()
    return loss
