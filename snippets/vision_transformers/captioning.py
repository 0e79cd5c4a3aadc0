"""Image captioning: a ViT encoder and a Transformer decoder that writes words.

The image is cut into patches and encoded exactly as in the ViT
(:class:`~snippets.vision_transformers.vit.PatchEmbedding`, learned position
embeddings, a pre-norm Transformer encoder), but *all* patch states are kept
as the memory. A Transformer decoder (the site's
:class:`~snippets.transformers.transformer.Transformer` decoder stack: masked
self-attention, cross-attention to the patches, feed-forward) writes the
caption one word at a time. The task here: canvases of two or three
handwritten digits side by side, captioned with the digits' names, such as
``"three seven one"``.
"""

from __future__ import annotations

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.transformers.attention import causal_mask, padding_mask
from snippets.transformers.embeddings import check_token_ids
from snippets.transformers.transformer import Transformer
from snippets.vision_transformers.vit import PatchEmbedding

WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
PAD, BOS, EOS = 0, 1, 2
VOCAB = ("<pad>", "<bos>", "<eos>", *WORDS)  # word of digit d has id 3 + d


def digit_canvases(
    images: torch.Tensor,
    labels: torch.Tensor,
    n: int,
    min_digits: int = 2,
    max_digits: int = 3,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Canvases of ``min_digits`` to ``max_digits`` random digits in a row, and their captions.

    Digit ``k`` of a canvas fills columns ``8k … 8k+7``; unused slots stay
    blank. The caption ids are ``<bos>``, one word per digit, ``<eos>``,
    padded with ``<pad>``.

    Shapes:
        ``images`` ``[M, 1, 8, 8]``, ``labels`` ``[M]`` -> canvases
        ``[n, 1, 8, 8 · max_digits]`` and captions ``[n, max_digits + 2]`` (int64).

    Raises:
        ValueError: if the shapes disagree or the digit counts are not
            ``1 <= min_digits <= max_digits``.
    """
    check_tensor(images, "images", ndim=4, floating=True)
    check_tensor(labels, "labels", ndim=1, dtype=torch.int64)
    if images.shape[1:] != (1, 8, 8) or len(images) != len(labels) or len(images) == 0:
        raise ValueError(
            f"images must be [M, 1, 8, 8] with one label each, got {tuple(images.shape)} and "
            f"{len(labels)} labels"
        )
    check_positive(n, "n")
    if not 1 <= min_digits <= max_digits:
        raise ValueError(
            f"min_digits and max_digits must satisfy 1 <= min_digits <= max_digits, got "
            f"{min_digits} and {max_digits}"
        )
    counts = torch.randint(min_digits, max_digits + 1, (n,), generator=generator)
    picks = torch.randint(0, len(images), (n, max_digits), generator=generator)
    canvases = torch.zeros(n, 1, 8, 8 * max_digits)
    captions = torch.full((n, max_digits + 2), PAD, dtype=torch.int64)
    captions[:, 0] = BOS
    for i in range(n):
        k = int(counts[i])
        for slot in range(k):
            canvases[i, :, :, 8 * slot : 8 * slot + 8] = images[picks[i, slot]]
        captions[i, 1 : k + 1] = 3 + labels[picks[i, :k]]
        captions[i, k + 1] = EOS
    return canvases, captions


def caption_text(ids: torch.Tensor) -> str:
    """Words of one caption ``[T]``, stopping at ``<eos>`` and skipping ``<pad>``/``<bos>``."""
    words = []
    for i in ids.tolist():
        if i == EOS:
            break
        if i not in (PAD, BOS):
            words.append(VOCAB[i])
    return " ".join(words)


class Captioner(nn.Module):
    """ViT encoder over the patches, Transformer decoder over the words.

    Shapes:
        ``images`` ``[N, C, H, W]`` (``H``, ``W`` divisible by ``patch_size``)
        and ``tgt_in`` ``[N, T]`` (int64) -> logits ``[N, T, vocab]``;
        ``encode(images)`` gives the memory ``[N, (H/p)(W/p), d_model]``.
    """

    def __init__(
        self,
        image_size: tuple[int, int],
        patch_size: int,
        vocab: int = len(VOCAB),
        d_model: int = 64,
        nhead: int = 4,
        num_encoder_layers: int = 2,
        num_decoder_layers: int = 2,
        dim_feedforward: int = 128,
        max_len: int = 16,
        in_channels: int = 1,
    ) -> None:
        super().__init__()
        height, width = image_size
        for value, name in ((height, "image height"), (width, "image width")):
            check_positive(value, name)
            if value % patch_size:
                raise ValueError(
                    f"image_size must be divisible by patch_size={patch_size}, got {image_size}"
                )
        check_positive(vocab, "vocab")
        check_positive(max_len, "max_len")
        self.image_size, self.max_len = (height, width), max_len
        patches = (height // patch_size) * (width // patch_size)
        self.patches = PatchEmbedding(in_channels, d_model, patch_size)
        self.patch_positions = nn.Parameter(torch.randn(1, patches, d_model) * 0.02)
        self.words = nn.Embedding(vocab, d_model, padding_idx=PAD)
        self.word_positions = nn.Parameter(torch.randn(1, max_len, d_model) * 0.02)
        self.transformer = Transformer(
            d_model,
            nhead,
            num_encoder_layers,
            num_decoder_layers,
            dim_feedforward,
            dropout=0.0,
            activation="gelu",
            norm_first=True,
        )
        self.head = nn.Linear(d_model, vocab)

    def encode(self, images: torch.Tensor) -> torch.Tensor:
        """Patch states ``[N, P, d_model]``: the memory the decoder attends to."""
        check_tensor(images, "images", ndim=4, floating=True)
        if tuple(images.shape[-2:]) != self.image_size:
            raise ValueError(
                f"images must be {self.image_size[0]}×{self.image_size[1]}, got "
                f"{images.shape[-2]}×{images.shape[-1]}"
            )
        return self.transformer.encoder(self.patches(images) + self.patch_positions)

    def decode(self, tgt_in: torch.Tensor, memory: torch.Tensor) -> torch.Tensor:
        """Logits ``[N, T, vocab]`` for the words so far ``[N, T]``, given ``encode(images)``."""
        check_token_ids(tgt_in, "tgt_in", self.words.num_embeddings)
        if tgt_in.shape[1] > self.max_len:
            raise ValueError(
                f"tgt_in has {tgt_in.shape[1]} positions, more than max_len={self.max_len}"
            )
        check_tensor(memory, "memory", ndim=3)
        if len(memory) != len(tgt_in):
            raise ValueError(
                f"memory and tgt_in must hold the same batch size, got {len(memory)} and "
                f"{len(tgt_in)}"
            )
        steps = tgt_in.shape[1]
        hidden = self.transformer.decoder(
            self.words(tgt_in) + self.word_positions[:, :steps],
            memory,
            tgt_mask=causal_mask(steps, device=tgt_in.device),
            tgt_key_padding_mask=padding_mask(tgt_in, PAD),
        )
        return self.head(hidden)

    def forward(self, images: torch.Tensor, tgt_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits for every position of ``tgt_in`` at once."""
        return self.decode(tgt_in, self.encode(images))


@torch.no_grad()
def greedy_caption(model: Captioner, images: torch.Tensor, max_len: int) -> torch.Tensor:
    """Write captions word by word, always taking the most likely next word.

    The encoder reads each image once; rows that wrote ``<eos>`` are padded
    with ``<eos>``, and decoding stops when every row has ended.

    Shapes:
        ``images`` ``[N, C, H, W]`` -> ids ``[N, 1 + steps]`` starting with
        ``<bos>``, ``steps <= max_len``.
    """
    check_positive(max_len, "max_len")
    was_training = model.training
    model.eval()
    memory = model.encode(images)
    out = torch.full((len(images), 1), BOS, dtype=torch.int64, device=images.device)
    done = torch.zeros(len(images), dtype=torch.bool, device=images.device)
    for _ in range(max_len):
        next_id = model.decode(out, memory)[:, -1].argmax(dim=-1).masked_fill(done, EOS)
        out = torch.cat([out, next_id[:, None]], dim=1)
        done |= next_id == EOS
        if done.all():
            break
    model.train(was_training)
    return out
