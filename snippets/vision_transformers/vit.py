"""The Vision Transformer (ViT): an image read as a sequence of patches.

The image is cut into square patches; each patch is flattened and projected
to a vector (a "word"); a learned class token is put in front and learned
position embeddings are added; a standard Transformer encoder mixes the
tokens; and an MLP head classifies the image from the class token's final
state (Dosovitskiy et al., 2021).
"""

from __future__ import annotations

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.transformers.transformer import Encoder, EncoderLayer


def _check_images(images: object, patch_size: int) -> torch.Tensor:
    images = check_tensor(images, "images", ndim=4, floating=True)
    h, w = images.shape[-2:]
    if h % patch_size or w % patch_size:
        raise ValueError(
            f"images must have height and width divisible by patch_size={patch_size}, got {h}×{w}"
        )
    return images


def patchify(images: torch.Tensor, patch_size: int) -> torch.Tensor:
    """Cut images into non-overlapping square patches and flatten each one.

    Patches are numbered row by row; each patch vector lists its pixels
    channel by channel, then row by row, the same order as a
    ``Conv2d`` weight ``[out, C, p, p]`` flattened.

    Shapes:
        ``images`` ``[N, C, H, W]`` -> ``[N, (H/p)·(W/p), C·p·p]``.

    Raises:
        ValueError: if ``H`` or ``W`` is not a multiple of ``patch_size``.
    """
    check_positive(patch_size, "patch_size")
    images = _check_images(images, patch_size)
    n, c, h, w = images.shape
    p = patch_size
    patches = images.reshape(n, c, h // p, p, w // p, p)  # split rows and columns
    patches = patches.permute(0, 2, 4, 1, 3, 5)  # [N, H/p, W/p, C, p, p]
    return patches.reshape(n, (h // p) * (w // p), c * p * p)


class PatchEmbedding(nn.Module):
    """Patch embedding as one strided convolution (kernel = stride = patch size).

    Shapes:
        ``images`` ``[N, C, H, W]`` -> tokens ``[N, (H/p)·(W/p), dim]``.
    """

    def __init__(self, in_channels: int, dim: int, patch_size: int) -> None:
        super().__init__()
        for value, name in ((in_channels, "in_channels"), (dim, "dim"), (patch_size, "patch_size")):
            check_positive(value, name)
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, dim, kernel_size=patch_size, stride=patch_size)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        images = _check_images(images, self.patch_size)
        return self.proj(images).flatten(2).transpose(1, 2)  # [N, dim, h, w] -> [N, h·w, dim]


class LinearPatchEmbedding(nn.Module):
    """Patch embedding as the paper writes it: flatten each patch, then a linear map.

    The same function as :class:`PatchEmbedding`: a convolution whose kernel
    equals its stride sees each patch exactly once, so it is one matrix
    multiply per patch. :meth:`from_conv` copies the weights across.

    Shapes:
        ``images`` ``[N, C, H, W]`` -> tokens ``[N, (H/p)·(W/p), dim]``.
    """

    def __init__(self, in_channels: int, dim: int, patch_size: int) -> None:
        super().__init__()
        for value, name in ((in_channels, "in_channels"), (dim, "dim"), (patch_size, "patch_size")):
            check_positive(value, name)
        self.patch_size = patch_size
        self.proj = nn.Linear(in_channels * patch_size * patch_size, dim)

    @classmethod
    def from_conv(cls, conv_embedding: PatchEmbedding) -> LinearPatchEmbedding:
        """Build the linear version holding the convolution's weights.

        ``Conv2d`` weight ``[dim, C, p, p]`` reshaped to ``[dim, C·p·p]``.
        """
        conv = conv_embedding.proj
        dim, c, p, _ = conv.weight.shape
        linear = cls(c, dim, p)
        with torch.no_grad():
            linear.proj.weight.copy_(conv.weight.reshape(dim, c * p * p))
            linear.proj.bias.copy_(conv.bias)
        return linear

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.proj(patchify(images, self.patch_size))


class ViT(nn.Module):
    """A Vision Transformer classifier.

    ``[class] + patch tokens`` plus learned position embeddings go through
    ``depth`` pre-norm Transformer encoder layers with GELU, as in the paper
    (the :class:`~snippets.transformers.transformer.EncoderLayer` of the
    Transformer chapter); a final LayerNorm and a linear head read the class
    token.

    Shapes:
        ``images`` ``[N, C, H, W]`` -> logits ``[N, num_classes]``.

    Raises:
        ValueError: if the image size is not a multiple of the patch size or
            ``dim`` is not divisible by ``heads``.
    """

    def __init__(
        self,
        image_size: int = 16,
        patch_size: int = 4,
        in_channels: int = 1,
        num_classes: int = 10,
        dim: int = 64,
        depth: int = 4,
        heads: int = 4,
        mlp_dim: int = 128,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        for value, name in ((image_size, "image_size"), (depth, "depth"), (heads, "heads")):
            check_positive(value, name)
        if image_size % patch_size:
            raise ValueError(
                f"image_size must be a multiple of patch_size, got {image_size} and {patch_size}"
            )
        if dim % heads:
            raise ValueError(f"dim must be divisible by heads, got {dim} and {heads}")
        self.grid = image_size // patch_size  # patches per side
        self.patch_embed = PatchEmbedding(in_channels, dim, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.pos_embed = nn.Parameter(torch.randn(1, 1 + self.grid**2, dim) * 0.02)
        layer = EncoderLayer(dim, heads, mlp_dim, dropout, activation="gelu", norm_first=True)
        self.encoder = Encoder(layer, depth)  # ``depth`` copies of the layer
        self.norm = nn.LayerNorm(dim)
        self.head = nn.Linear(dim, num_classes)

    def embed(self, images: torch.Tensor) -> torch.Tensor:
        """Tokens entering the encoder: class token + patches, plus positions.

        Shapes:
            ``[N, C, H, W]`` -> ``[N, 1 + (H/p)·(W/p), dim]``.
        """
        tokens = self.patch_embed(images)  # [N, P, D]
        if tokens.shape[1] != self.pos_embed.shape[1] - 1:
            raise ValueError(
                f"images must give {self.pos_embed.shape[1] - 1} patches, got {tokens.shape[1]} "
                f"(shape {tuple(images.shape)})"
            )
        cls = self.cls_token.expand(len(tokens), -1, -1)  # [N, 1, D]
        return torch.cat([cls, tokens], dim=1) + self.pos_embed

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        encoded = self.encoder(self.embed(images))  # [N, 1 + P, D]
        return self.head(self.norm(encoded[:, 0]))  # classify from the class token


@torch.no_grad()
def attention_maps(model: ViT, images: torch.Tensor) -> torch.Tensor:
    """Self-attention weights of every encoder layer, averaged over heads.

    Asks every encoder layer to keep its attention weights
    (``keep_weights``), runs the encoder once, reads them and restores the
    setting. Call ``model.eval()`` first: in training mode the weights are
    those after dropout.

    Shapes:
        ``images`` ``[N, C, H, W]`` -> ``[depth, N, T, T]`` with
        ``T = 1 + patches``; row ``i`` is how token ``i`` spreads its
        attention, so every row sums to 1.
    """
    check_tensor(images, "images", ndim=4, floating=True)
    layers = model.encoder.layers
    kept = [layer.keep_weights for layer in layers]
    try:
        for layer in layers:
            layer.keep_weights = True
        model.encoder(model.embed(images))
        maps = [layer.attention_weights.mean(dim=1) for layer in layers]  # mean over heads
    finally:
        for layer, keep in zip(layers, kept):
            layer.keep_weights = keep
    return torch.stack(maps)


def attention_rollout(maps: torch.Tensor) -> torch.Tensor:
    """Attention rollout (Abnar & Zuidema, 2020): attention through all layers.

    The residual connection is modelled by mixing each layer's attention
    ``A`` with the identity, ``0.5·A + 0.5·I`` (rows renormalized), and the
    layers are chained by matrix products. Row 0 of the result says how much
    each input token feeds the final class token; the ViT paper uses it for
    its attention figures.

    Shapes:
        ``maps`` ``[depth, N, T, T]`` -> ``[N, T, T]``, rows summing to 1.

    Raises:
        ValueError: if ``maps`` is not 4-D with square last two dimensions.
    """
    check_tensor(maps, "maps", ndim=4, floating=True)
    if maps.shape[-1] != maps.shape[-2]:
        raise ValueError(f"maps must be [depth, N, T, T], got {tuple(maps.shape)}")
    eye = torch.eye(maps.shape[-1], dtype=maps.dtype, device=maps.device)
    rollout = eye.expand(maps.shape[1:]).clone()
    for layer_map in maps:
        mixed = 0.5 * layer_map + 0.5 * eye
        mixed = mixed / mixed.sum(-1, keepdim=True)
        rollout = mixed @ rollout
    return rollout


def position_similarity(pos_embed: torch.Tensor, grid: int) -> torch.Tensor:
    """Cosine similarity of every patch's position embedding with every other.

    The class token's embedding (the first row) is left out. Entry
    ``[i, j, k, l]`` compares the patch at row ``i``, column ``j`` with the
    one at row ``k``, column ``l``; a model that learned the 2-D layout shows
    a bright spot around ``(i, j)`` in each ``[k, l]`` map.

    Shapes:
        ``pos_embed`` ``[1, 1 + grid², D]`` (or ``[1 + grid², D]``) ->
        ``[grid, grid, grid, grid]``.

    Raises:
        ValueError: if the number of embeddings is not ``1 + grid²``.
    """
    check_tensor(pos_embed, "pos_embed", ndim=(2, 3), floating=True)
    check_positive(grid, "grid")
    table = pos_embed.detach().reshape(-1, pos_embed.shape[-1])
    if len(table) != 1 + grid * grid:
        raise ValueError(
            f"pos_embed must hold 1 + grid² = {1 + grid * grid} rows, got {len(table)}"
        )
    patches = nn.functional.normalize(table[1:], dim=-1)  # [grid², D], unit length
    return (patches @ patches.T).reshape(grid, grid, grid, grid)
