"""
Translating dates with attention
================================

An encoder-decoder reads human-written dates ("March 7, 1998",
"07/03/1998", "7 mar 1998") character by character and writes them in ISO
format ("1998-03-07"). The same model is trained twice with the same budget:
with Luong attention, and without (the decoder sees the source only through
the encoder's final state). The bars: the attention model translates at
least 95 % of 1,000 unseen dates exactly; the baseline stays at least 30
points lower. A heatmap shows which source characters each output
character attended to.
"""

# %%
# Data: 3,000 training pairs and 1,000 test pairs from
# ``snippets.sequence_models.data.date_split``, which skips repeated source
# strings: no test source occurs in training (checked below), although the
# same day may, written in another format. Each side gets its own character
# tokenizer.
import matplotlib.pyplot as plt
import torch
from torch import nn

from snippets.common.data import make_loader
from snippets.common.device import pick_device, preset, smoke_cut
from snippets.common.plotting import plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.common.tokenizers import CharTokenizer
from snippets.common.train import fit
from snippets.sequence_models.data import date_split
from snippets.sequence_models.seq2seq import (
    Seq2Seq,
    encode_pairs,
    exact_match,
    greedy_decode,
    teacher_forcing,
)

seed_everything(0)
use_style()
device = pick_device()
train_pairs, test_pairs = date_split(preset(cpu=3000, gpu=20000, device=device), 1000, seed=0)
test_pairs = smoke_cut(test_pairs, 64)  # smoke run: a slice
shared = {s for s, _ in train_pairs} & {s for s, _ in test_pairs}
print("test sources that also occur in training:", len(shared))
assert not shared, f"{len(shared)} test sources also occur in training"
src_tok = CharTokenizer([s for s, _ in train_pairs])
tgt_tok = CharTokenizer(["0123456789-"])
src, tgt = encode_pairs(train_pairs, src_tok, tgt_tok)
test_src, _ = encode_pairs(test_pairs, src_tok, tgt_tok)
print("source vocabulary:", len(src_tok), " target vocabulary:", len(tgt_tok))
print("src", tuple(src.shape), " tgt", tuple(tgt.shape), " device:", device)
for s, t in train_pairs[:4]:
    print(f"  {s!r:24s} -> {t}")

# %%
# Train both models with the site's loop, ``fit``: 5 epochs of teacher
# forcing (the ``teacher_forcing`` forward function feeds ``tgt[:, :-1]`` and
# scores the predictions against ``tgt[:, 1:]``), cross-entropy that ignores
# padding, Adam, gradients clipped to norm 1. Then decode the test set
# greedily and compare strings.
epochs = preset(cpu=5, gpu=5, device=device, smoke=1)
losses, accuracy, models = {}, {}, {}
targets = [t for _, t in test_pairs]
for name, attention in (("with attention", True), ("no attention", False)):
    seed_everything(0)
    model = Seq2Seq(len(src_tok), len(tgt_tok), embed=32, hidden=64, attention=attention)
    history = fit(
        model,
        make_loader(src, tgt, batch_size=64, seed=0),
        nn.CrossEntropyLoss(ignore_index=tgt_tok.pad_id),
        torch.optim.Adam(model.parameters(), lr=3e-3),
        epochs,
        device,
        max_grad_norm=1.0,
        forward=teacher_forcing,
    )
    losses[name] = history.train_loss
    ids = greedy_decode(model, test_src.to(device), tgt_tok.bos_id, tgt_tok.eos_id, max_len=11)
    predictions = [tgt_tok.decode(row) for row in ids.cpu()]
    accuracy[name] = exact_match(predictions, targets)
    models[name] = model
    print(f"{name:15s} exact match {accuracy[name]:.3f}")
    for (s, t), p in list(zip(test_pairs, predictions))[:3]:
        print(f"    {s!r:24s} -> {p}  ({'ok' if p == t else 'expected ' + t})")

plot_curves(losses, ylabel="cross-entropy per token", title="Training loss", log_y=True)
plt.show()

# %%
# Where the attention looks. For two test dates, row ``k`` is the
# distribution over source characters used to write output character ``k``:
# the year digits attend to the year, the month digits to the month name or
# number, the day digits to the day.
model = models["with attention"].eval()
fig, axes = plt.subplots(1, 2, figsize=(9.6, 3.8))
for ax, index in zip(axes, (0, 5)):
    source, target = test_pairs[index]
    one_src = test_src[index : index + 1, : len(source)].to(device)
    out = greedy_decode(model, one_src, tgt_tok.bos_id, tgt_tok.eos_id, max_len=11)
    text = tgt_tok.decode(out[0].cpu())
    weights = model.last_attention[0, : len(text)].detach().cpu()  # [output chars, source chars]
    ax.imshow(weights.numpy(), cmap="Blues", vmin=0, vmax=1, aspect="auto")
    ax.grid(False)
    ax.set_xticks(range(len(source)), list(source))
    ax.set_yticks(range(len(text)), list(text))
    ax.set(xlabel="source character", ylabel="generated character", title=f"{source!r} → {text}")
plt.show()

# %%
# The bars.
attention_acc, baseline_acc = accuracy["with attention"], accuracy["no attention"]
print(f"exact match: attention {attention_acc:.3f}, no attention {baseline_acc:.3f}")
assert attention_acc >= 0.95, f"below the bar: {attention_acc:.3f} < 0.95"
assert attention_acc - baseline_acc >= 0.30, (
    "attention was expected to beat the baseline by 30 points"
)
