"""
Characters or BPE tokens: the same model, measured in bits per character
========================================================================

The same small :class:`snippets.llm.model.ModernLM` learns the Python
reference manual twice: once one character per token, once on the
byte-pair-encoding tokens of :class:`snippets.transformers.bpe.BPETokenizer`,
trained on the training text only. A BPE token holds a few characters, so
its loss per token is not comparable with a loss per character; both are
turned into **bits per character** of the same validation text
(:func:`snippets.llm.bpc.evaluate_bits_per_char`: the total loss over the
text, divided by ``ln 2`` and by its characters). Both models get the same
steps, batch size and context in tokens. The bar: both reach fewer bits per
character than the character frequencies alone (printed below).
"""

# %%
# Data: the text is split 90/10 by characters first, so that both models
# are measured on exactly the same validation characters; the BPE merges are
# learned from the training part only.
import math

import matplotlib.pyplot as plt
import torch

from snippets.common.data import text_corpus
from snippets.common.device import pick_device, preset, smoke_cut
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.tokenizers import CharTokenizer
from snippets.llm.bpc import bits_per_char, evaluate_bits_per_char
from snippets.llm.lora import count_parameters
from snippets.llm.model import ModernLM
from snippets.llm.training import train_lm, unigram_loss
from snippets.transformers.attention import use_fused_attention
from snippets.transformers.bpe import BPETokenizer

generator = seed_everything(0)
use_style()
device = pick_device()
text = text_corpus()
split = int(0.9 * len(text))
train_text, val_text = text[:split], smoke_cut(text[split:], 2_000)  # smoke run: a slice
vocab_size = 512
tokenizers = {
    "characters": CharTokenizer([train_text]),
    f"BPE, {vocab_size} tokens": BPETokenizer.train(train_text, vocab_size),
}
data = {}
for name, tokenizer in tokenizers.items():
    train = torch.tensor(tokenizer.encode(train_text), dtype=torch.int64)
    val = torch.tensor(tokenizer.encode(val_text), dtype=torch.int64)
    head = torch.tensor(tokenizer.encode(val_text[:8_000]), dtype=torch.int64)  # for the curves
    data[name] = (train, val, head)
    print(f"{name}: {len(val):,} validation tokens, {len(val_text) / len(val):.2f} characters each")

# %%
# The baseline in the same unit: a model that knows only how often each
# character occurs.
chars = data["characters"]
unigram = unigram_loss(chars[0], chars[1], len(tokenizers["characters"])) / math.log(2)
print(f"character frequencies only: {unigram:.3f} bits/char")

# %%
# The same model shape for both; only the vocabulary, and with it the
# embedding, differs.
# The text is small for BPE (a few hundred thousand tokens): a larger model or
# longer training only learns the training text by heart.
context = 64
dim, layers = preset(cpu=(64, 2), gpu=(128, 2), device=device)
steps = preset(cpu=250, gpu=400, device=device, smoke=2)
batch_size = 32
results = {}
for name, tokenizer in tokenizers.items():
    model = ModernLM(len(tokenizer), dim, layers, heads=4, kv_heads=2, context=context)
    use_fused_attention(model, preset(cpu=False, gpu=True, device=device))
    model.to(device)
    print(f"--- {name}: {count_parameters(model):,} parameters")
    generator.manual_seed(0)
    train, val, head = data[name]
    curve = train_lm(
        model, train, head, steps=steps, context=context, batch_size=batch_size,
        lr=3e-3, generator=generator, evals=preset(cpu=5, gpu=5, device=device, smoke=1),
    )  # fmt: skip
    # the curve holds nats per token on the first 8,000 validation characters: in bits per char
    predicted = head[1 : (len(head) - 1) // context * context + 1].tolist()
    head_chars = sum(len(tokenizer.itos[i]) for i in predicted)
    curve_bpc = [bits_per_char(nats, len(predicted), head_chars) for nats in curve.val]
    results[name] = (
        curve.val_steps,
        curve_bpc,
        evaluate_bits_per_char(model, val, context, tokenizer),
    )

fig, ax = plt.subplots()
for name, (val_steps, curve_bpc, _) in results.items():
    ax.plot(val_steps, curve_bpc, "o-", label=name)
ax.axhline(unigram, color="grey", ls="--", label="character frequencies only")
ax.set(
    xlabel="step",
    ylabel="bits per character",
    title="The first 8,000 validation characters, two tokenizers",
)
ax.legend(loc="center right")
plt.show()

# %%
# With the same context in tokens, a BPE window covers a few times more
# characters of text, and every step trains on that much more text; the
# price is a larger embedding and a harder choice at each step, among
# hundreds of tokens instead of about a hundred characters.
#
# The quality bar, on the whole validation text.
for name, (_, _, bpc) in results.items():
    print(f"{name:>16}: {bpc:.3f} bits/char")
for name, (_, _, bpc) in results.items():
    assert bpc < unigram, f"{name} below the bar: {bpc:.3f} >= {unigram:.3f} bits/char"
