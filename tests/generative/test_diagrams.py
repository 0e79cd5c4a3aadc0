import matplotlib.pyplot as plt
import pytest
from torch import nn

from snippets.common.diagrams import alt_text, layout_problems
from snippets.generative.diagrams import stylegan_diagram
from snippets.generative.stylegan import StyleGenerator


def test_stylegan_diagram_is_labelled_with_the_real_sizes():
    gen = StyleGenerator(latent_dim=12, w_dim=10, mapping_layers=3, channels=(24, 16, 8))
    fig = stylegan_diagram(gen)
    texts = {t.get_text() for t in fig.findobj(plt.Text)}
    assert "z  (12)" in texts and "w  (10)" in texts and "3 × FC 10" in texts
    assert "constant 4×4×24" in texts
    assert "↑2, mod-conv 3×3 16→8, 16×16" in texts
    assert "toRGB 1×1 → 1" in texts
    assert sum(t == "B" for t in (x.get_text() for x in fig.findobj(plt.Text))) == 5
    assert "up to 16×16" in alt_text(fig)
    assert layout_problems(fig) == []
    plt.close(fig)


def test_stylegan_diagram_bad_input():
    with pytest.raises(TypeError, match="mapping and synthesis networks, got Linear"):
        stylegan_diagram(nn.Linear(2, 2))


def test_latent_diffusion_diagram_is_labelled_with_the_real_sizes():
    from snippets.generative.autoencoder import Autoencoder
    from snippets.generative.diagrams import latent_diffusion_diagram
    from snippets.generative.diffusion import NoisePredictor

    fig = latent_diffusion_diagram(Autoencoder(hidden=32, latent=6), NoisePredictor(6), 50)
    texts = {t.get_text() for t in fig.findobj(plt.Text)}
    assert "encoder\n64→32→6" in texts and "decoder\n→64" in texts
    assert "$z_0$ (6)" in texts and "50 steps of\n$\\epsilon_\\theta$" in texts
    assert "image\n1×8×8" in texts
    assert "code of 6 numbers" in alt_text(fig) and "50 reverse steps" in alt_text(fig)
    assert layout_problems(fig) == []
    plt.close(fig)


def test_latent_diffusion_diagram_bad_input():
    from snippets.generative.autoencoder import Autoencoder
    from snippets.generative.diagrams import latent_diffusion_diagram
    from snippets.generative.diffusion import NoisePredictor

    with pytest.raises(TypeError, match="autoencoder must have image_shape"):
        latent_diffusion_diagram(nn.Linear(2, 2), NoisePredictor(8), 10)
    with pytest.raises(ValueError, match=r"codes \(8 numbers\), got 4"):
        latent_diffusion_diagram(Autoencoder(latent=8), NoisePredictor(4), 10)
    with pytest.raises(ValueError, match="steps must be a positive int"):
        latent_diffusion_diagram(Autoencoder(latent=8), NoisePredictor(8), 0)
