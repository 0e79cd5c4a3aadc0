import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.generative.autoencoder import (
    Autoencoder,
    corrupt,
    pca_reconstruction,
    reconstruction_error,
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
