"""
A character-level LSTM language model
=====================================

An LSTM reads the Python reference manual (about 465 KB of English prose that
ships with Python) one character at a time and learns to predict the next
one. Generated text is sampled at three temperatures, and the gates of the
trained LSTM are shown on a real sentence. The bar: a validation loss of at
most 1.9 nats per character on held-out text; the run also prints the
score of a model that only knew the character frequencies.
"""

# %%
# Data: the corpus as one long sequence of character ids; the last 10 % is
# held out for validation.
import math

import matplotlib.pyplot as plt
import torch

from snippets.common.data import text_corpus
from snippets.common.device import pick_device, preset, to_device
from snippets.common.plotting import PALETTE, use_style
from snippets.common.seed import seed_everything
from snippets.common.tokenizers import CharTokenizer
from snippets.common.train import evaluate, train_step
from snippets.sequence_models.char_lm import (
    CharLM,
    generate,
    lm_loss,
    random_windows,
    temperature_probs,
)
from snippets.sequence_models.lstm import ScratchLSTM
from snippets.sequence_models.rnn import gate_trace

generator = seed_everything(0)
use_style()
device = pick_device()
text = text_corpus()
tokenizer = CharTokenizer(text)
ids = torch.tensor(tokenizer.encode(text))
cut = int(0.9 * len(ids))
train_ids, val_ids = ids[:cut], ids[cut:]
validation = [random_windows(val_ids, 128, 64, torch.Generator().manual_seed(1))]  # one batch
print(f"{len(text):,} characters, vocabulary {len(tokenizer)} (4 special tokens)")
print("device:", device)

# %%
# The model and its training: every update reads 32 random windows of 64
# characters and predicts each next character (``lm_loss``, the cross-entropy
# over all positions). Every update draws fresh windows, so there are no
# epochs: the loop calls the site's ``train_step`` once per update (gradients
# clipped to norm 1) and ``evaluate`` every 50 updates, instead of ``fit``.
# On a GPU the same script trains a wider model for longer.
hidden = preset(cpu=192, gpu=512, device=device)
updates = preset(cpu=400, gpu=3000, device=device, smoke=5)
model = CharLM(len(tokenizer), embed=32, hidden=hidden).to(device)
optimizer = torch.optim.Adam(model.parameters(), lr=4e-3)

history = {"train": [], "validation": []}
for step in range(1, updates + 1):
    batch = to_device(random_windows(train_ids, 64, 32, generator), device)
    history["train"].append(train_step(model, batch, lm_loss, optimizer, max_grad_norm=1.0))
    if step % 50 == 0 or step == updates:
        history["validation"].append((step, evaluate(model, validation, lm_loss, device)[0]))

unigram = -sum(c / len(ids) * math.log(c / len(ids)) for c in torch.bincount(ids).tolist() if c)
fig, ax = plt.subplots(figsize=(6.4, 3.6))
ax.plot(range(1, updates + 1), history["train"], alpha=0.4, label="train (one batch)")
steps, values = zip(*history["validation"])
ax.plot(steps, values, "o-", label="validation")
ax.axhline(unigram, color="grey", linestyle="--", label="character frequencies only")
ax.set(xlabel="update", ylabel="cross-entropy (nats per character)", title="Learning to spell")
ax.legend()
plt.show()

# %%
# Temperature. Dividing the logits by ``T`` before the softmax sharpens the
# next-character distribution (``T < 1``) or flattens it (``T > 1``). Here is
# the distribution after the prompt ``"The ret"``, then text sampled at three
# temperatures from the same prompt.
prompt = "The ret"
model.eval()
with torch.no_grad():
    logits = model(torch.tensor([tokenizer.encode(prompt)], device=device))[0, -1].cpu()
logits[:4] = float("-inf")  # special tokens are never sampled
temperatures = (0.3, 0.8, 1.5)
top = torch.softmax(logits, -1).topk(8).indices
fig, ax = plt.subplots(figsize=(6.4, 3.2))
width = 0.27
for k, (temperature, colour) in enumerate(zip(temperatures, PALETTE)):
    probs = temperature_probs(logits, temperature)[top]
    ax.bar(
        (torch.arange(8) + (k - 1) * width).numpy(),
        probs.numpy(),
        width,
        color=colour,
        label=f"T = {temperature}",
    )
ax.set_xticks(range(8), [repr(tokenizer.itos[i]) for i in top])
ax.set(xlabel=f"next character after {prompt!r}", ylabel="probability")
ax.legend()
plt.show()

for temperature in temperatures:
    sample = generate(model, tokenizer, prompt, 160, temperature, torch.Generator().manual_seed(0))
    print(f"--- temperature {temperature} ---\n{sample}\n")

# %%
# The gates on a real sentence. The input, forget and output gates of 24 of
# the LSTM's units while it reads a sentence from the corpus: some units keep
# their forget gate near 1 across the whole sentence (long memory), others
# open and close with almost every character.
sentence = "The return statement leaves the current function call."
with torch.no_grad():
    embedded = model.embed(torch.tensor(tokenizer.encode(sentence), device=device))
    trace = {k: v.cpu() for k, v in gate_trace(model.lstm, embedded, ScratchLSTM).items()}
fig, axes = plt.subplots(3, 1, figsize=(9.6, 6.0), sharex=True)
for ax, gate in zip(axes, ("input", "forget", "output")):
    image = ax.imshow(trace[gate][:, :24].T.numpy(), aspect="auto", cmap="viridis", vmin=0, vmax=1)
    ax.set(ylabel="unit", title=f"{gate} gate")
    ax.grid(False)
fig.colorbar(image, ax=axes, shrink=0.8)
axes[-1].set_xticks(range(len(sentence)), list(sentence))
plt.show()

# %%
# The bar.
final, _ = evaluate(model, validation, lm_loss, device)
print(f"validation loss: {final:.3f} nats per character (frequencies only: {unigram:.3f})")
assert final <= 1.9, f"above the bar: {final:.3f} > 1.9"
