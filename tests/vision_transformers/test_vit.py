import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

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


def test_vit_encoder_is_pytorch_reference_stack():
    model = ViT(image_size=8, patch_size=4, dim=16, depth=2, heads=2, mlp_dim=32).eval()
    images = torch.randn(2, 1, 8, 8)
    x = model.embed(images)
    for layer in model.encoder.layers:  # pre-norm: x + MHA(LN(x)), then x + MLP(LN(x))
        h = layer.norm1(x)
        x = x + layer.self_attn(h, h, h, need_weights=False)[0]
        h = layer.norm2(x)
        x = x + layer.linear2(torch.nn.functional.gelu(layer.linear1(h)))
    torch.testing.assert_close(model(images), model.head(model.norm(x[:, 0])))


def test_attention_maps_match_the_layers_attention():
    model = ViT(image_size=8, patch_size=4, dim=16, depth=3, heads=2, mlp_dim=32).eval()
    images = torch.randn(2, 1, 8, 8)
    maps = attention_maps(model, images)
    assert maps.shape == (3, 2, 5, 5)
    torch.testing.assert_close(maps.sum(-1), torch.ones(3, 2, 5))
    # first layer recomputed by hand: softmax(q k^T / sqrt(d)) averaged over heads
    layer = model.encoder.layers[0]
    h = layer.norm1(model.embed(images))
    q, k, _ = torch.nn.functional.linear(h, layer.self_attn.in_proj_weight).chunk(3, dim=-1)
    q = q + layer.self_attn.in_proj_bias[:16]
    k = k + layer.self_attn.in_proj_bias[16:32]
    q, k = (t.reshape(2, 5, 2, 8).transpose(1, 2) for t in (q, k))
    by_hand = ((q @ k.transpose(-1, -2)) / 8**0.5).softmax(-1).mean(1)
    torch.testing.assert_close(maps[0], by_hand.detach())


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
