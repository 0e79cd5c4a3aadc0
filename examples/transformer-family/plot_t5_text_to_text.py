"""
One T5 for three tasks, text to text
====================================

A small :class:`snippets.transformer_family.t5.T5` (relative position
buckets, RMSNorm, shared and tied embedding) learns three tasks at once,
told apart only by a prefix in the input: ``"date: march 7, 1998"`` →
``"1998-03-07"``, ``"words: 347"`` → ``"three hundred forty-seven"`` and
``"number: three hundred forty-seven"`` → ``"347"``. One character
vocabulary serves inputs and outputs, so one embedding matrix does too.
The bar: at least 90 % exact match on held-out inputs of each task (dates
never seen in training, three-digit numbers held out of both number tasks).
"""

# %%
# Data: :func:`snippets.transformer_family.text_to_text.text_to_text_split`
# draws the three tasks; no held-out input occurs in training, and no
# held-out number occurs in either number task (both checked).
import time

import matplotlib.pyplot as plt
import torch

from snippets.common.device import pick_device, preset
from snippets.common.plotting import plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.common.tokenizers import CharTokenizer
from snippets.common.train import fit
from snippets.sequence_models.seq2seq import exact_match, greedy_decode, teacher_forcing
from snippets.transformer_family.t5 import T5, T5Config, count_parameters
from snippets.transformer_family.text_to_text import (
    PREFIXES,
    TaskBatches,
    task_ids,
    text_to_text_split,
)

seed_everything(0)
use_style()
device = pick_device()
n_dates = preset(cpu=1500, gpu=20000, device=device)
train_pairs, test_pairs = text_to_text_split(n_dates, 400, n_test_numbers=200, seed=0)
shared = {s for s, _ in train_pairs} & {s for s, _ in test_pairs}
print(f"{len(train_pairs):,} training pairs, {len(test_pairs):,} held out")
print("held-out inputs that also occur in training:", len(shared))
assert not shared, f"{len(shared)} held-out inputs also occur in training"
held_out_numbers = {t for s, t in test_pairs if s.startswith("number: ")}
assert not held_out_numbers & {s.removeprefix("words: ") for s, _ in train_pairs}
tok = CharTokenizer([s + t for s, t in train_pairs])
for s, t in train_pairs[:6]:
    print(f"{s!r:40} -> {t!r}")
print(f"one vocabulary of {len(tok)} characters, device {device}")

src_train = tok.encode_batch([s for s, _ in train_pairs])
tgt_train = tok.encode_batch([t for _, t in train_pairs], add_bos=True, add_eos=True)
src_test = tok.encode_batch([s for s, _ in test_pairs])

# %%
# The model: T5's recipe at a small size, two encoder and two decoder
# layers, 32 position buckets up to a distance of 64.
d_model = preset(cpu=64, gpu=128, device=device)
config = T5Config(
    vocab_size=len(tok),
    d_model=d_model,
    num_layers=2,
    num_decoder_layers=2,
    num_heads=4,
    d_kv=d_model // 4,
    d_ff=2 * d_model,
    num_buckets=32,
    max_distance=64,
    dropout=0.0,
    pad_id=tok.pad_id,
)
model = T5(config).to(device)
print(f"parameters: {count_parameters(model):,}")

# %%
# Training with the site's loop and teacher forcing. The batches hold one
# task each (:class:`~snippets.transformer_family.text_to_text.TaskBatches`),
# so a short ``"words: 7"`` is not padded to the length of a spelled-out
# number. The optimizer is T5's, Adafactor: its step is relative to the size
# of each weight, which suits T5's initialization, where the embedding has
# standard deviation 1 and the query weights ``(d_model · d_kv)^-1/2``. With
# Adam's step, the same size for every weight, the embedding barely moves in
# a short run, and this model learns far more slowly. The learning rate
# rises for the first tenth of the steps, then decays to zero.
epochs = preset(cpu=8, gpu=10, device=device, smoke=1)
batches = TaskBatches(src_train, tgt_train, task_ids(train_pairs), batch_size=16, seed=0)
optimizer = torch.optim.Adafactor(model.parameters(), lr=3e-2)
scheduler = torch.optim.lr_scheduler.OneCycleLR(
    optimizer,
    max_lr=3e-2,
    total_steps=epochs * len(batches),
    pct_start=0.1,
    cycle_momentum=False,
)
loss_fn = torch.nn.CrossEntropyLoss(ignore_index=tok.pad_id)
start = time.perf_counter()
history = fit(
    model,
    batches,
    loss_fn,
    optimizer,
    epochs,
    device,
    scheduler=scheduler,
    forward=teacher_forcing,
    log=True,
)
print(f"training took {time.perf_counter() - start:.1f} s")

# %%
# Greedy decoding of every held-out input, scored per task.
model.eval()
out = greedy_decode(model, src_test.to(device), tok.bos_id, tok.eos_id, max_len=30).cpu()
predictions = [tok.decode(row) for row in out]
scores = {}
for prefix in PREFIXES:
    rows = [i for i, (s, _) in enumerate(test_pairs) if s.startswith(prefix)]
    task = prefix.rstrip(": ")
    scores[task] = exact_match([predictions[i] for i in rows], [test_pairs[i][1] for i in rows])
    print(f"{task:7} {len(rows):4} held out, exact match {scores[task]:.4f}")
for (s, t), p in list(zip(test_pairs, predictions))[:8]:
    print(f"{s!r:40} -> {p!r} {'ok' if p == t else 'expected ' + repr(t)}")

fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.4))
plot_curves({"train": history.train_loss}, ax=left, title="Training loss")
right.bar(list(scores), list(scores.values()))
right.axhline(0.9, color="k", linestyle="--", linewidth=1, label="bar")
right.set(ylim=(0, 1), xlabel="task", ylabel="exact match", title="Held-out exact match")
right.legend()
plt.show()

# %%
# The quality bar.
worst = min(scores.values())
print(f"lowest exact match over the three tasks: {worst:.4f}")
assert worst >= 0.9, f"below the bar: {worst:.4f} < 0.9"
