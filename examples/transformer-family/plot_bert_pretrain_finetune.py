"""
Pretrain a small BERT, then fine-tune it with few labels
========================================================

A small :class:`snippets.transformer_family.bert.BertForMaskedLM` reads
unlabelled text from three offline sources (the Python reference manual, the
docstrings of PyTorch's functions, the docstrings of NumPy's functions) and
learns to fill in masked sub-word tokens. Its encoder is then fine-tuned to tell
which source a 24-token passage (about 70 characters) comes from, with 32, 128 or 512 labelled
passages, against the same network trained from scratch on the labels alone
with the same number of fine-tuning steps. Held-out passages come from the
last fifth of every text, which neither pretraining nor fine-tuning sees.
The bar: averaged over the three label budgets, pretraining raises held-out
accuracy by at least 5 points, and the pretrained model beats chance (1/3) at
every label budget. (The gain at one budget alone swings by several points
with the pretraining seed; the average is what holds.)
"""

# %%
# Data: the three sources, each cut into a training part and a held-out part,
# cut into sub-word tokens by a byte-pair encoding
# (:class:`snippets.transformers.bpe.BPETokenizer`) learned on the training
# parts. BERT's three extra tokens, ``[CLS]``, ``[SEP]`` and ``[MASK]``, take
# the next three ids (:class:`snippets.transformer_family.pretraining.SourcePassages`).
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from snippets.common.device import pick_device, preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.train import evaluate, fit
from snippets.transformer_family.bert import BertForClassification
from snippets.transformer_family.pretraining import SourcePassages
from snippets.transformer_family.text_sources import SOURCES

generator = seed_everything(0)
use_style()
device = pick_device()
task = SourcePassages(length=24)  # tokens per passage, about 70 characters
print(
    f"vocabulary {task.vocab_size}, training tokens per source: "
    f"{[len(s) for s in task.streams['train']]}"
)

# %%
# The model: a BERT of width 64 with two layers on a CPU, bigger on a GPU.
# Dropout is off: at this size the runs are too short for it to pay.
config = task.config(*preset(cpu=(64, 2), gpu=(256, 4), device=device))

# %%
# Pretraining: masked tokens on unlabelled passages of all three sources. The
# masks are drawn anew for every batch, with the 80/10/10 rule of
# :func:`snippets.transformers.masked_lm.mask_tokens`
# (:meth:`snippets.transformer_family.pretraining.SourcePassages.pretrained_bert`).
start = time.perf_counter()
pretrained, history = task.pretrained_bert(
    config, preset(cpu=3_000, gpu=30_000, device=device, smoke=4), 4, generator, device
)
print(
    f"pretraining: {time.perf_counter() - start:.1f} s, masked-token loss "
    f"{history.train_loss[0]:.3f} -> {history.train_loss[-1]:.3f}"
)

# %%
# Fine-tuning: the same classifier, its encoder either copied from the
# pretrained model or left at its random start, trained for the same number
# of steps on the same labelled passages.
test_ids, test_labels = task.passages(
    "held out", preset(cpu=900, gpu=900, device=device, smoke=4), torch.Generator().manual_seed(5)
)
test_batches = list(zip(test_ids.split(256), test_labels.split(256)))
steps = preset(cpu=60, gpu=300, device=device, smoke=3)
budgets = (32, 128, 512)


def fine_tune(labelled: int, from_pretrained: bool) -> float:
    """Held-out accuracy after fine-tuning on ``labelled`` passages."""
    torch.manual_seed(labelled)
    ids, labels = task.passages("train", labelled // 3 + 1, torch.Generator().manual_seed(labelled))
    keep = torch.randperm(len(labels), generator=torch.Generator().manual_seed(0))[:labelled]
    model = BertForClassification(config, len(SOURCES))
    if from_pretrained:
        model.bert.load_state_dict(pretrained.bert.state_dict())
    batches = list(zip(ids[keep].split(32), labels[keep].split(32)))
    fit(
        model,
        batches,
        F.cross_entropy,
        torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01),
        epochs=max(1, steps // len(batches)),
        device=device,
    )
    return evaluate(model, test_batches, F.cross_entropy, device)[1]


results = {True: [], False: []}
for labelled in budgets:
    for from_pretrained in (True, False):
        results[from_pretrained].append(fine_tune(labelled, from_pretrained))
    print(
        f"{labelled:4d} labels: pretrained {results[True][-1]:.3f}, "
        f"from scratch {results[False][-1]:.3f}"
    )

fig, ax = plt.subplots()
ax.plot(budgets, results[True], "o-", label="pretrained on masked tokens")
ax.plot(budgets, results[False], "s--", label="from scratch")
ax.axhline(1 / 3, color="grey", ls=":", label="chance")
ax.set_xscale("log")
ax.set_xticks(budgets, [str(b) for b in budgets])
ax.set_xticks([], minor=True)
ax.set(
    xlabel="labelled passages",
    ylabel="held-out accuracy",
    title="Which source is this passage from?",
)
ax.legend()
plt.show()

# %%
# The quality bar, on held-out passages.
gains = [p - s for p, s in zip(results[True], results[False])]
gain = sum(gains) / len(gains)
print(
    "pretraining adds "
    + ", ".join(f"{100 * g:+.1f}" for g in gains)
    + f" points at {budgets} labels: {100 * gain:.1f} on average"
)
assert gain >= 0.05, f"below the bar: pretraining adds only {100 * gain:.1f} points on average"
assert min(results[True]) > 1 / 3, f"not above chance: {results[True]}"
