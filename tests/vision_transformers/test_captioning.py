import pytest
import torch
from torch import nn

from snippets.vision_transformers.captioning import (
    BOS,
    EOS,
    PAD,
    VOCAB,
    Captioner,
    caption_text,
    digit_canvases,
    greedy_caption,
)


def small_digits(m=12):
    generator = torch.Generator().manual_seed(0)
    return torch.rand(m, 1, 8, 8, generator=generator), torch.arange(m) % 10


def test_canvases_place_each_digit_in_its_slot_and_caption_it():
    images, labels = small_digits()
    canvases, captions = digit_canvases(images, labels, 40, 1, 3, torch.Generator().manual_seed(1))
    assert canvases.shape == (40, 1, 8, 24) and captions.shape == (40, 5)
    seen = set()
    for canvas, caption in zip(canvases, captions):
        words = caption_text(caption).split()
        seen.add(len(words))
        assert caption[0] == BOS and caption[len(words) + 1] == EOS
        assert (caption[len(words) + 2 :] == PAD).all()
        for slot in range(3):
            patch = canvas[:, :, 8 * slot : 8 * slot + 8]
            if slot < len(words):
                matches = [i for i in range(len(images)) if torch.equal(images[i], patch)]
                assert matches and all(VOCAB[3 + int(labels[i])] == words[slot] for i in matches)
            else:
                assert (patch == 0).all()  # unused slots stay blank
    assert seen == {1, 2, 3}


def test_caption_text_stops_at_eos():
    ids = torch.tensor([BOS, 3 + 3, 3 + 7, EOS, 3 + 1, PAD])
    assert caption_text(ids) == "three seven"


def model_and_batch(seed=0):
    torch.manual_seed(seed)
    model = Captioner((8, 16), patch_size=4, d_model=16, nhead=2, dim_feedforward=32).eval()
    with torch.no_grad():  # larger output weights: outputs depend on the input, <eos> comes early
        nn.init.normal_(model.head.weight, std=2.0)
    images = torch.rand(3, 1, 8, 16)
    tgt_in = torch.randint(3, len(VOCAB), (3, 4))
    tgt_in[:, 0] = BOS
    return model, images, tgt_in


def test_shapes_and_encode_then_decode_is_the_forward_pass():
    model, images, tgt_in = model_and_batch()
    memory = model.encode(images)
    assert memory.shape == (3, 8, 16)  # (8/4) · (16/4) patches
    logits = model(images, tgt_in)
    assert logits.shape == (3, 4, len(VOCAB))
    torch.testing.assert_close(model.decode(tgt_in, memory), logits)


def test_the_decoder_is_causal_and_reads_the_image():
    model, images, tgt_in = model_and_batch()
    full = model(images, tgt_in)
    changed = tgt_in.clone()
    changed[:, 2:] = 5
    torch.testing.assert_close(model(images, changed)[:, :2], full[:, :2])
    other = images.clone()
    other[:, :, :, 12:] = 0  # blank the last column of patches
    assert not torch.allclose(model(other, tgt_in), full)  # cross-attention reads every patch


def test_greedy_caption_matches_a_step_by_step_argmax():
    for seed in range(3):
        model, images, _ = model_and_batch(seed)
        out = greedy_caption(model, images, max_len=5)
        for row, image in zip(out, images):
            ys = [BOS]
            for _ in range(5):
                ys.append(int(model(image[None], torch.tensor([ys]))[0, -1].argmax()))
                if ys[-1] == EOS:
                    break
            ys += [EOS] * (len(row) - len(ys))
            assert row.tolist() == ys


def test_bad_input():
    images, labels = small_digits()
    with pytest.raises(ValueError, match="images must be \\[M, 1, 8, 8\\]"):
        digit_canvases(images, labels[:3], 5)
    with pytest.raises(ValueError, match="min_digits <= max_digits"):
        digit_canvases(images, labels, 5, min_digits=3, max_digits=2)
    with pytest.raises(ValueError, match="divisible by patch_size=3"):
        Captioner((8, 16), patch_size=3)
    model, images, tgt_in = model_and_batch()
    with pytest.raises(ValueError, match="images must be 8×16"):
        model.encode(torch.rand(1, 1, 8, 24))
    with pytest.raises(TypeError, match="images must"):
        model.encode(torch.zeros(1, 1, 8, 16, dtype=torch.int64))
    with pytest.raises(ValueError, match="tgt_in must hold ids from 0 to 12"):
        model(images, tgt_in + 20)
    with pytest.raises(ValueError, match="same batch size"):
        model.decode(tgt_in[:2], model.encode(images))
    with pytest.raises(ValueError, match="more than max_len=16"):
        model(images, torch.ones(3, 17, dtype=torch.int64))
    with pytest.raises(ValueError, match="max_len must be > 0"):
        greedy_caption(model, images, 0)
