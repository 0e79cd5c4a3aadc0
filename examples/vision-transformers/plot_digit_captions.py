"""
A Vision Transformer writes captions for rows of digits
=======================================================

Two or three handwritten digits stand side by side on an 8×24 canvas; the
caption names them in order, such as "three seven one". A ViT encoder turns
the twelve 4×4 patches into twelve vectors, and a Transformer decoder writes
the caption word by word, attending to the patches
(:class:`snippets.vision_transformers.captioning.Captioner`). Training
canvases are built from the training digits only, test canvases from the
held-out digits. The bar: at least 0.80 of the held-out canvases captioned
exactly right (every word, the right number of words). A figure shows which
patches each word attended to.
"""

# %%
# Data: 4,000 training canvases from the 1,347 training digits, 500 test
# canvases from the 450 held-out digits; captions are ``<bos>``, one word per
# digit, ``<eos>``.
import matplotlib.pyplot as plt
import torch
from torch import nn

from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.sequence_models.seq2seq import exact_match, teacher_forcing
from snippets.vision_transformers.captioning import (
    PAD,
    Captioner,
    caption_text,
    digit_canvases,
    greedy_caption,
)

generator = seed_everything(0)
use_style()
device = pick_device()
data = digits()
n_train = preset(cpu=4000, gpu=20000, device=device)
train_x, train_y = digit_canvases(data.x_train, data.y_train, n_train, generator=generator)
test_x, test_y = digit_canvases(data.x_test, data.y_test, 500, generator=generator)
print(f"canvases {tuple(train_x.shape[1:])}: {len(train_x):,} for training, {len(test_x)} held out")
print("first caption:", caption_text(train_y[0]))

# %%
# Model and training: teacher forcing (the decoder reads the true caption
# shifted right) with the site's training loop.
d_model = preset(cpu=64, gpu=128, device=device)
epochs = preset(cpu=8, gpu=15, device=device, smoke=1)
model = Captioner((8, 24), patch_size=4, d_model=d_model, dim_feedforward=2 * d_model).to(device)
print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")
optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3)
history = fit(
    model,
    make_loader(train_x, train_y, batch_size=64),
    nn.CrossEntropyLoss(ignore_index=PAD),
    optimizer,
    epochs=epochs,
    device=device,
    forward=teacher_forcing,
)
print(f"training loss: first epoch {history.train_loss[0]:.3f}, last {history.train_loss[-1]:.3f}")

# %%
# The bar: greedy captions of the held-out canvases, compared word for word.
predicted = greedy_caption(model, test_x.to(device), max_len=5).cpu()
guesses = [caption_text(ids) for ids in predicted]
truths = [caption_text(ids) for ids in test_y]
score = exact_match(guesses, truths)
print(f"held-out exact match: {score:.3f}")
assert score >= 0.80, f"held-out exact match {score:.3f} is below the bar 0.80"

# %%
# Held-out canvases with the caption the model wrote (red when wrong).
fig, axes = plt.subplots(4, 2, figsize=(8, 5))
for ax, image, guess, truth in zip(axes.flat, test_x, guesses, truths):
    ax.imshow(image[0].numpy(), cmap="gray_r")
    ax.set_title(
        guess if guess == truth else f"{guess} (true: {truth})",
        color="black" if guess == truth else "red",
        fontsize=10,
    )
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Captions written for held-out canvases")
plt.show()

# %%
# Where each word looked: the last decoder layer's cross-attention (mean of
# its heads) from each written word to the 2 × 6 grid of patches.
last = model.transformer.decoder.layers[-1]
last.keep_weights = True
example = 0
with torch.no_grad():
    model.eval()
    ids = predicted[example : example + 1].to(device)
    model.decode(ids, model.encode(test_x[example : example + 1].to(device)))
weights = last.cross_attention_weights[0].mean(dim=0).cpu()  # [T, 12]
last.keep_weights = False
words = guesses[example].split()
fig, axes = plt.subplots(1, len(words) + 1, figsize=(2.6 * (len(words) + 1), 2.0))
axes[0].imshow(test_x[example, 0].numpy(), cmap="gray_r")
axes[0].set_title("canvas")
for step, (ax, word) in enumerate(zip(axes[1:], words)):
    # word `step` is predicted at decoder position `step`, which reads <bos> and the words before
    ax.imshow(weights[step].reshape(2, 6).numpy(), cmap="viridis")
    ax.set_title(f"writing “{word}”")
for ax in axes:
    ax.set_xlabel("patch column")
    ax.set_xticks([])
    ax.set_yticks([])
fig.suptitle("Cross-attention over the patches while each word is written")
plt.show()
