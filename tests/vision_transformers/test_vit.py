import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from snippets.transformers.transformer import Encoder, EncoderLayer
from snippets.vision_transformers.vit import (
    LinearPatchEmbedding,
    PatchEmbedding,
    ViT,
    attention_maps,
    attention_rollout,
    patchify,
    position_similarity,
)


def test_patchify_by_hand():
    image = torch.arange(16.0).reshape(1, 1, 4, 4)  # rows 0-3, 4-7, 8-11, 12-15
    patches = patchify(image, 2)
    assert patches.shape == (1, 4, 4)
    # patches go row by row; each lists its pixels row by row
    assert patches[0].tolist() == [
        [0, 1, 4, 5],
        [2, 3, 6, 7],
        [8, 9, 12, 13],
        [10, 11, 14, 15],
    ]


@settings(max_examples=20)
@given(
    channels=st.integers(1, 3),
    patch=st.integers(1, 4),
    rows=st.integers(1, 3),
    cols=st.integers(1, 3),
    dim=st.integers(1, 8),
)
def test_conv_and_linear_patch_embeddings_are_equal(channels, patch, rows, cols, dim):
    conv = PatchEmbedding(channels, dim, patch)
    linear = LinearPatchEmbedding.from_conv(conv)
    images = torch.randn(2, channels, rows * patch, cols * patch)
    tokens = conv(images)
    assert tokens.shape == (2, rows * cols, dim)
    torch.testing.assert_close(linear(images), tokens, rtol=1e-5, atol=1e-5)


def test_vit_shapes_and_class_token():
    model = ViT(image_size=16, patch_size=4, num_classes=7, dim=32, depth=2, heads=4, mlp_dim=64)
    images = torch.randn(3, 1, 16, 16)
    tokens = model.embed(images)
    assert tokens.shape == (3, 17, 32)
    # the class token is the same learned vector (plus position 0) for every image
    torch.testing.assert_close(tokens[0, 0], tokens[2, 0])
    want = (model.cls_token[0, 0] + model.pos_embed[0, 0]).expand(3, -1)
    torch.testing.assert_close(tokens[:, 0], want)
    assert model(images).shape == (3, 7)


def test_vit_encoder_is_the_pre_norm_gelu_stack():
    model = ViT(image_size=8, patch_size=4, dim=16, depth=2, heads=2, mlp_dim=32).eval()
    assert isinstance(model.encoder, Encoder) and model.encoder.norm is None
    assert all(isinstance(layer, EncoderLayer) for layer in model.encoder.layers)
    assert len(model.encoder.layers) == 2
    images = torch.randn(2, 1, 8, 8)
    x = model.embed(images)
    for layer in model.encoder.layers:  # pre-norm: x + MHA(LN(x)), then x + MLP(LN(x))
        h = layer.norm1(x)
        x = x + layer.self_attn(h, h, h, need_weights=False)[0]
        h = layer.norm2(x)
        x = x + layer.linear2(torch.nn.functional.gelu(layer.linear1(h)))
    torch.testing.assert_close(model(images), model.head(model.norm(x[:, 0])))


def test_vit_encoder_matches_pytorch_reference():
    # the same weights in PyTorch's own pre-norm GELU encoder give the same tokens
    model = ViT(image_size=8, patch_size=4, dim=16, depth=2, heads=2, mlp_dim=32).eval()
    layer = torch.nn.TransformerEncoderLayer(
        16, 2, 32, 0.0, activation="gelu", batch_first=True, norm_first=True
    )
    reference = torch.nn.TransformerEncoder(layer, 2, enable_nested_tensor=False).eval()
    reference.load_state_dict(model.encoder.state_dict())
    tokens = model.embed(torch.randn(3, 1, 8, 8))
    torch.testing.assert_close(model.encoder(tokens), reference(tokens), rtol=1e-5, atol=1e-5)


def _attention_by_hand(layer: EncoderLayer, x: torch.Tensor, heads: int) -> torch.Tensor:
    """softmax(q kᵀ / √d) of the layer's attention on its normed input, averaged over heads."""
    n, t, dim = x.shape
    h = torch.nn.functional.layer_norm(
        x, (dim,), layer.norm1.weight, layer.norm1.bias, layer.norm1.eps
    )
    w_q, w_k, _ = layer.self_attn.in_proj_weight.chunk(3)
    b_q, b_k, _ = layer.self_attn.in_proj_bias.chunk(3)
    q, k = h @ w_q.T + b_q, h @ w_k.T + b_k
    q, k = (u.reshape(n, t, heads, dim // heads).transpose(1, 2) for u in (q, k))
    return ((q @ k.transpose(-1, -2)) / (dim // heads) ** 0.5).softmax(-1).mean(1)


def test_attention_maps_match_the_layers_attention():
    model = ViT(image_size=8, patch_size=4, dim=16, depth=3, heads=2, mlp_dim=32).eval()
    images = torch.randn(2, 1, 8, 8)
    maps = attention_maps(model, images)
    assert maps.shape == (3, 2, 5, 5)
    torch.testing.assert_close(maps.sum(-1), torch.ones(3, 2, 5))
    with torch.no_grad():  # every layer recomputed by hand, on the tokens entering it
        x = model.embed(images)
        for depth, layer in enumerate(model.encoder.layers):
            torch.testing.assert_close(maps[depth], _attention_by_hand(layer, x, heads=2))
            x = layer(x)
    assert not any(layer.keep_weights for layer in model.encoder.layers)  # setting restored


def test_attention_maps_restore_keep_weights():
    model = ViT(image_size=8, patch_size=4, dim=16, depth=2, heads=2, mlp_dim=32).eval()
    model.encoder.layers[1].keep_weights = True
    attention_maps(model, torch.randn(1, 1, 8, 8))
    assert [layer.keep_weights for layer in model.encoder.layers] == [False, True]


@given(st.integers(1, 4), st.integers(1, 3), st.integers(2, 6))
def test_rollout_rows_are_distributions(depth, batch, tokens):
    maps = torch.rand(depth, batch, tokens, tokens).softmax(-1)
    rollout = attention_rollout(maps)
    assert rollout.shape == (batch, tokens, tokens)
    torch.testing.assert_close(rollout.sum(-1), torch.ones(batch, tokens))
    assert (rollout >= 0).all()


def test_rollout_by_hand():
    identity = torch.eye(3).expand(2, 1, 3, 3)
    torch.testing.assert_close(attention_rollout(identity), torch.eye(3).expand(1, 3, 3))
    uniform = torch.full((1, 1, 2, 2), 0.5)  # one layer: 0.5·uniform + 0.5·I
    torch.testing.assert_close(
        attention_rollout(uniform), torch.tensor([[[0.75, 0.25], [0.25, 0.75]]])
    )


def test_position_similarity():
    pos = torch.randn(1, 1 + 9, 6)
    sim = position_similarity(pos, 3)
    assert sim.shape == (3, 3, 3, 3)
    flat = sim.reshape(9, 9)
    torch.testing.assert_close(flat.diagonal(), torch.ones(9))
    torch.testing.assert_close(flat, flat.T)
    a, b = pos[0, 1 + 1], pos[0, 1 + 5]  # patch (0, 1) against patch (1, 2)
    torch.testing.assert_close(sim[0, 1, 1, 2], torch.cosine_similarity(a, b, dim=0))


def test_bad_input():
    with pytest.raises(ValueError, match="divisible by patch_size=4, got 6×8"):
        patchify(torch.zeros(1, 1, 6, 8), 4)
    with pytest.raises(ValueError, match="images must have 4 dimensions"):
        PatchEmbedding(1, 8, 2)(torch.zeros(1, 4, 4))
    with pytest.raises(ValueError, match="patch_size must be > 0"):
        LinearPatchEmbedding(1, 8, 0)
    with pytest.raises(ValueError, match="image_size must be a multiple of patch_size"):
        ViT(image_size=10, patch_size=4)
    with pytest.raises(ValueError, match="dim must be divisible by heads"):
        ViT(dim=30, heads=4)
    with pytest.raises(ValueError, match="images must give 16 patches, got 4"):
        ViT(image_size=16, patch_size=4)(torch.zeros(1, 1, 8, 8))
    with pytest.raises(ValueError, match=r"maps must be \[depth, N, T, T\]"):
        attention_rollout(torch.zeros(1, 1, 2, 3))
    with pytest.raises(ValueError, match="1 \\+ grid² = 10 rows, got 5"):
        position_similarity(torch.zeros(5, 4), 3)
