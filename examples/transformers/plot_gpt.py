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
# Data: the corpus as one stream of character ids, split 90/10 in order
# (:func:`snippets.llm.training.token_split`, shared with the examples of the
# language-model chapter).
import math

import matplotlib.pyplot as plt
import torch

from snippets.common.data import text_corpus
from snippets.common.device import pick_device, preset, smoke_cut
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.tokenizers import CharTokenizer
from snippets.llm.training import token_split, train_lm, unigram_loss
from snippets.transformers.attention import use_fused_attention
from snippets.transformers.gpt import GPT, evaluate_lm, generate

generator = seed_everything(0)
use_style()
device = pick_device()
text = text_corpus()
tokenizer = CharTokenizer([text])
train_data, val_data = token_split(text, tokenizer)
val_data = smoke_cut(val_data, 2_000)  # smoke run: a slice
print(f"{len(text):,} characters, vocabulary {len(tokenizer)}, device {device}")
unigram = unigram_loss(train_data, val_data, len(tokenizer))
print(f"unigram baseline: {unigram:.3f} nats/char")

# %%
# The model: on a CPU two blocks of width 64 and a context of 64 characters;
# on a GPU a bigger model sees more text, and PyTorch's fused attention kernel
# (:func:`snippets.transformers.attention.use_fused_attention`) does the attention.
context = preset(cpu=64, gpu=128, device=device)
d_model, layers = preset(cpu=(64, 2), gpu=(256, 4), device=device)
steps = preset(cpu=700, gpu=800, device=device, smoke=2)  # more steps overfit this small text
batch_size = preset(cpu=32, gpu=64, device=device, smoke=8)
model = GPT(len(tokenizer), context, d_model=d_model, nhead=4, num_layers=layers, dropout=0.0)
use_fused_attention(model, preset(cpu=False, gpu=True, device=device))  # PyTorch's kernel on GPU
model.to(device)
print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")

# %%
# Train on random windows with AdamW, weight decay on the weight matrices only
# (:func:`snippets.transformers.gpt.param_groups`: no decay on biases,
# LayerNorms and embeddings), and a short linear warm-up followed by a cosine
# decay (:func:`snippets.neural_networks.schedules.warmup_cosine_scheduler`).
# :func:`snippets.llm.training.train_lm` runs the steps, each one
# :func:`snippets.common.train.train_step`.
val_slice = val_data[: preset(cpu=8_000, gpu=len(val_data), device=device)]
curves = train_lm(
    model, train_data, val_slice, steps=steps, context=context, batch_size=batch_size,
    lr=3e-3, generator=generator, evals=preset(cpu=6, gpu=6, device=device, smoke=1),
)  # fmt: skip
print(f"training took {curves.seconds:.1f} s")

fig, ax = plt.subplots()
ax.plot(range(1, steps + 1), curves.train, alpha=0.5, label="train (one batch)")
ax.plot(
    curves.val_steps, curves.val, "o-", label=f"validation (first {len(val_slice):,} characters)"
)
ax.axhline(unigram, color="grey", ls="--", label="character frequencies only")
ax.set(xlabel="step", ylabel="loss (nats per character)", title="Next-character loss")
ax.legend()
plt.show()

# %%
# Samples: a prompt, then 200 sampled characters at two temperatures. Lower
# temperature sharpens the distribution: more common words, less invention.
prompt = torch.tensor([tokenizer.encode("The ")], dtype=torch.int64, device=device)
n_new = preset(cpu=200, gpu=200, device=device, smoke=8)  # smoke run: a few characters
for temperature in (0.6, 1.0):
    out = generate(model, prompt, n_new, temperature=temperature, top_k=20, generator=generator)
    print(f"--- temperature {temperature} ---")
    print(tokenizer.decode(out[0]))

# %%
# The quality bar, on the whole validation text.
val_loss = evaluate_lm(model, val_data, context)
print(f"validation loss: {val_loss:.3f} nats/char ({val_loss / math.log(2):.2f} bits)")
assert val_loss <= 1.75, f"below the bar: {val_loss:.3f} > 1.75"
