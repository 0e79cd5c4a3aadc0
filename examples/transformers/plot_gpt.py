"""
A small GPT that writes like the Python manual
==============================================

A decoder-only Transformer (:class:`snippets.transformers.gpt.GPT`: causal
pre-norm blocks, learned positions, a tied output layer, GPT-2's
initialization) learns to predict the next character of the Python reference
manual, the English text that ships with every Python. Ninety percent of the
text trains it; the last ten percent measures it. The bar: a validation loss
of at most 1.75 nats per character, far below the loss of a model that only
knows how often each character occurs (the unigram baseline printed below).
Then it writes a few samples.
"""

# %%
# Data: the corpus as one stream of character ids, split 90/10 in order.
import math
import time

import matplotlib.pyplot as plt
import torch

from snippets.common.data import text_corpus
from snippets.common.device import pick_device, preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.tokenizers import CharTokenizer
from snippets.common.train import train_step
from snippets.neural_networks.schedules import warmup_cosine_scheduler
from snippets.sequence_models.char_lm import lm_loss, random_windows
from snippets.transformers.gpt import GPT, evaluate_lm, generate, param_groups

generator = seed_everything(0)
use_style()
device = pick_device()
text = text_corpus()
tokenizer = CharTokenizer([text])
data = torch.tensor(tokenizer.encode(text), dtype=torch.int64)
split = int(0.9 * len(data))
train_data, val_data = data[:split], data[split:]
print(f"{len(text):,} characters, vocabulary {len(tokenizer)}, device {device}")

counts = torch.bincount(train_data, minlength=len(tokenizer)).float()
probs = counts / counts.sum()
val_probs = probs[val_data].clamp_min(1e-9)
unigram = -val_probs.log().mean().item()
print(f"unigram baseline: {unigram:.3f} nats/char")

# %%
# The model: on a CPU two blocks of width 64 and a context of 64 characters;
# on a GPU a bigger model sees more text.
context = preset(cpu=64, gpu=128, device=device)
d_model, layers = preset(cpu=(64, 2), gpu=(256, 4), device=device)
steps = preset(cpu=700, gpu=3000, device=device)
batch_size = preset(cpu=32, gpu=64, device=device)
model = GPT(len(tokenizer), context, d_model=d_model, nhead=4, num_layers=layers, dropout=0.0)
model.to(device)
print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")

# %%
# Train on random windows with AdamW, weight decay on the weight matrices only
# (:func:`snippets.transformers.gpt.param_groups`: no decay on biases,
# LayerNorms and embeddings), and a short linear warm-up followed by a cosine
# decay (:func:`snippets.neural_networks.schedules.warmup_cosine_scheduler`).
# Every step is :func:`snippets.common.train.train_step`.
optimizer = torch.optim.AdamW(param_groups(model, weight_decay=0.1), lr=3e-3)
schedule = warmup_cosine_scheduler(optimizer, warmup=steps // 10, total=steps)
val_slice = val_data[: preset(cpu=8_000, gpu=len(val_data), device=device)]
train_curve, val_curve, val_steps = [], [], []
start = time.perf_counter()
for step in range(1, steps + 1):
    x, y = random_windows(train_data, context, batch_size, generator)
    train_curve.append(train_step(model, (x.to(device), y.to(device)), lm_loss, optimizer))
    schedule.step()
    if step % (steps // 6) == 0:
        val_curve.append(evaluate_lm(model, val_slice, context))
        val_steps.append(step)
        print(f"step {step:4d}: train {train_curve[-1]:.3f}  validation {val_curve[-1]:.3f}")
print(f"training took {time.perf_counter() - start:.1f} s")

fig, ax = plt.subplots()
ax.plot(range(1, steps + 1), train_curve, alpha=0.5, label="train (one batch)")
ax.plot(val_steps, val_curve, "o-", label=f"validation (first {len(val_slice):,} characters)")
ax.axhline(unigram, color="grey", ls="--", label="character frequencies only")
ax.set(xlabel="step", ylabel="loss (nats per character)", title="Next-character loss")
ax.legend()
plt.show()

# %%
# Samples: a prompt, then 200 sampled characters at two temperatures. Lower
# temperature sharpens the distribution: more common words, less invention.
prompt = torch.tensor([tokenizer.encode("The ")], dtype=torch.int64, device=device)
for temperature in (0.6, 1.0):
    out = generate(model, prompt, 200, temperature=temperature, top_k=20, generator=generator)
    print(f"--- temperature {temperature} ---")
    print(tokenizer.decode(out[0]))

# %%
# The quality bar, on the whole validation text.
val_loss = evaluate_lm(model, val_data, context)
print(f"validation loss: {val_loss:.3f} nats/char ({val_loss / math.log(2):.2f} bits)")
assert val_loss <= 1.75, f"below the bar: {val_loss:.3f} > 1.75"
