import math

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.generative.autoencoder import (
    Autoencoder,
    SparseAutoencoder,
    corrupt,
    kl_sparsity,
    pca_reconstruction,
    reconstruction_error,
    sparse_autoencoder_loss,
)


@given(st.floats(min_value=0.0, max_value=2.0))
def test_corrupt_stays_in_range_and_is_identity_without_noise(std):
    x = torch.rand(16, 1, 8, 8)
    noisy = corrupt(x, std, torch.Generator().manual_seed(0))
    assert noisy.shape == x.shape and noisy.min() >= 0 and noisy.max() <= 1
    if std == 0.0:
        torch.testing.assert_close(noisy, x)


def test_corrupt_adds_noise_of_the_given_size():
    x = torch.full((100_000,), 0.5)
    noise = corrupt(x, 0.1, torch.Generator().manual_seed(0)) - x  # almost never clipped
    assert abs(noise.std().item() - 0.1) < 0.002
    with pytest.raises(ValueError, match="noise_std must be >= 0"):
        corrupt(x, -0.1)


def test_autoencoder_shapes_and_noise_only_in_training():
    model = Autoencoder((1, 8, 8), hidden=16, latent=3, noise_std=0.5)
    x = torch.rand(4, 1, 8, 8)
    assert model.encode(x).shape == (4, 3)
    assert model(x).shape == (4, 1, 8, 8)
    model.eval()
    torch.testing.assert_close(model(x), model(x))  # deterministic in eval mode
    torch.testing.assert_close(model(x), model.decode(model.encode(x)))
    model.train()
    assert not torch.allclose(model(x), model(x))  # fresh corruption every call
    with pytest.raises(ValueError, match=r"x must be \[N, 1, 8, 8\]"):
        model.encode(torch.zeros(4, 64))
    with pytest.raises(ValueError, match="codes must have 2 dimensions"):
        model.decode(torch.zeros(3))


def test_reconstruction_error_is_the_mse():
    model = Autoencoder((1, 2, 2), hidden=4, latent=1)
    clean, noisy = torch.rand(3, 1, 2, 2), torch.rand(3, 1, 2, 2)
    model.eval()
    with torch.no_grad():
        expected = ((model(noisy) - clean) ** 2).mean().item()
    model.train()
    assert reconstruction_error(model, clean, noisy) == pytest.approx(expected)
    assert model.training  # the mode is restored


def test_training_lowers_the_error():
    from snippets.common.data import make_loader
    from snippets.common.train import fit

    x = torch.rand(8, 1, 4, 4).repeat(32, 1, 1, 1)  # 8 distinct images
    model = Autoencoder((1, 4, 4), hidden=32, latent=4)
    before = reconstruction_error(model, x)
    fit(
        model,
        make_loader(x, x, batch_size=32),
        torch.nn.functional.mse_loss,
        torch.optim.Adam(model.parameters(), 1e-2),
        30,
    )
    assert reconstruction_error(model, x) < 0.2 * before


def test_pca_reconstruction_matches_sklearn():
    from sklearn.decomposition import PCA

    generator = torch.Generator().manual_seed(0)
    train = torch.randn(50, 6, generator=generator, dtype=torch.float64)
    x = torch.randn(7, 6, generator=generator, dtype=torch.float64)
    pca = PCA(n_components=3).fit(train.numpy())
    expected = torch.from_numpy(pca.inverse_transform(pca.transform(x.numpy())))
    torch.testing.assert_close(pca_reconstruction(train, 3, x), expected)


def test_pca_reconstruction_is_exact_on_rank_k_data_and_improves_with_k():
    generator = torch.Generator().manual_seed(1)
    codes, basis = torch.randn(40, 2, generator=generator), torch.randn(2, 16, generator=generator)
    images = (codes @ basis + 3.0).reshape(40, 1, 4, 4)  # a plane, shifted off the origin
    rebuilt = pca_reconstruction(images, 2)
    assert rebuilt.shape == images.shape
    torch.testing.assert_close(rebuilt, images, atol=1e-4, rtol=1e-4)
    noisy = images + 0.1 * torch.randn(images.shape, generator=generator)
    errors = [((pca_reconstruction(noisy, k) - noisy) ** 2).mean() for k in (1, 2, 4, 8)]
    assert errors == sorted(errors, reverse=True)


def test_pca_reconstruction_bad_input():
    train = torch.randn(5, 3)
    with pytest.raises(ValueError, match=r"k must be an int in \[1, 3\], got 4"):
        pca_reconstruction(train, 4)
    with pytest.raises(ValueError, match="k must be an int"):
        pca_reconstruction(train, 0)
    with pytest.raises(ValueError, match="x must hold 3 numbers per sample"):
        pca_reconstruction(train, 1, torch.randn(2, 4))
    with pytest.raises(TypeError, match="train must have a floating-point dtype"):
        pca_reconstruction(torch.ones(5, 3, dtype=torch.int64), 1)


@given(
    st.lists(st.floats(0.01, 0.99), min_size=1, max_size=16),
    st.floats(0.01, 0.99),
)
def test_kl_sparsity_equals_its_formula(means, target):
    rho_hat = torch.tensor(means, dtype=torch.float64)
    expected = sum(
        target * math.log(target / r) + (1 - target) * math.log((1 - target) / (1 - r))
        for r in means
    )
    assert kl_sparsity(rho_hat, target).item() == pytest.approx(expected, rel=1e-9, abs=1e-12)


@given(st.floats(0.01, 0.99), st.integers(1, 8))
def test_kl_sparsity_is_zero_at_the_target_and_positive_elsewhere(target, units):
    at_target = torch.full((units,), target, dtype=torch.float64)
    assert kl_sparsity(at_target, target).item() == pytest.approx(0.0, abs=1e-12)
    off_target = at_target.clone()
    off_target[0] = 0.5 * target + 0.5  # halfway to 1: never equal to the target
    assert kl_sparsity(off_target, target).item() > 0


@given(st.floats(0.02, 0.98), st.floats(0.02, 0.98))
def test_kl_sparsity_gradient_pushes_activations_toward_the_target(mean, target):
    rho_hat = torch.tensor([mean], dtype=torch.float64, requires_grad=True)
    (grad,) = torch.autograd.grad(kl_sparsity(rho_hat, target), rho_hat)
    # dKL/dρ̂ = −ρ/ρ̂ + (1 − ρ)/(1 − ρ̂): a gradient step −grad moves ρ̂ toward ρ
    expected = -target / mean + (1 - target) / (1 - mean)
    assert grad.item() == pytest.approx(expected, rel=1e-9, abs=1e-12)
    if abs(mean - target) > 1e-6:
        assert math.copysign(1.0, -grad.item()) == math.copysign(1.0, target - mean)


def test_kl_sparsity_bad_input():
    with pytest.raises(ValueError, match="target must be between 0 and 1, got 1.0"):
        kl_sparsity(torch.full((3,), 0.5), 1.0)
    with pytest.raises(ValueError, match="target must be > 0"):
        kl_sparsity(torch.full((3,), 0.5), 0.0)
    with pytest.raises(ValueError, match="mean_activation must have 1 dimension,"):
        kl_sparsity(torch.full((2, 3), 0.5), 0.1)


def test_sparse_autoencoder_shapes_and_loss_parts():
    torch.manual_seed(0)
    model = SparseAutoencoder((1, 8, 8), code=100)  # wider than the 64 pixels
    x = torch.rand(5, 1, 8, 8)
    rebuilt, codes = model(x)
    assert rebuilt.shape == x.shape and codes.shape == (5, 100)
    assert codes.min() > 0 and codes.max() < 1
    plain = sparse_autoencoder_loss((rebuilt, codes), x)
    torch.testing.assert_close(plain, torch.nn.functional.mse_loss(rebuilt, x))
    kl = sparse_autoencoder_loss((rebuilt, codes), x, sparsity_target=0.1, kl_weight=0.5)
    torch.testing.assert_close(kl, plain + 0.5 * kl_sparsity(codes.mean(0), 0.1))
    l1 = sparse_autoencoder_loss((rebuilt, codes), x, l1_weight=2.0)
    torch.testing.assert_close(l1, plain + 2.0 * codes.abs().mean())
    assert reconstruction_error(model, x) == pytest.approx(plain.item())
    with pytest.raises(ValueError, match=r"x must be \[N, 1, 8, 8\]"):
        model(torch.rand(5, 64))
    with pytest.raises(ValueError, match="kl_weight must be >= 0"):
        sparse_autoencoder_loss((rebuilt, codes), x, kl_weight=-1.0)


def test_kl_penalty_makes_the_code_sparse():
    """A few hundred steps with the penalty pull the mean activation to the target."""
    torch.manual_seed(0)
    x = torch.rand(128, 1, 4, 4)
    model = SparseAutoencoder((1, 4, 4), code=32)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    for _ in range(200):
        loss = sparse_autoencoder_loss(model(x), x, sparsity_target=0.05, kl_weight=0.05)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    with torch.no_grad():
        _, codes = model(x)
    assert abs(codes.mean().item() - 0.05) < 0.03
    assert (codes < 0.1).float().mean() > 0.6
