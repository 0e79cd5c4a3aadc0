"""
A Transformer that translates dates
===================================

An encoder-decoder Transformer (:class:`snippets.transformers.transformer.Seq2SeqTransformer`,
post-norm, as in the original paper) learns to rewrite human-written dates
such as ``"march 7, 1998"`` or ``"07/03/1998"`` as ISO dates
``"1998-03-07"``. It is trained with teacher forcing, label smoothing and the
paper's warm-up schedule, then decodes greedily, one character at a time.
The bar: at least 93 % of 1,000 held-out dates translated exactly. The
cross-attention maps show which source characters each output character
reads.
"""

# %%
# Data: training and held-out pairs from :func:`snippets.sequence_models.data.date_split`,
# which skips repeated source strings, so no held-out date string occurs in
# training (checked below). One character vocabulary for the sources and one
# for the targets, both built from the training pairs.
import time

import matplotlib.pyplot as plt
import torch

from snippets.common.data import make_loader
from snippets.common.device import pick_device, preset, smoke_cut
from snippets.common.plotting import plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.common.tokenizers import CharTokenizer
from snippets.common.train import fit
from snippets.neural_networks.losses import label_smoothed_cross_entropy
from snippets.neural_networks.schedules import warmup_scheduler
from snippets.sequence_models.data import date_split
from snippets.sequence_models.seq2seq import exact_match, greedy_decode, teacher_forcing
from snippets.transformers.transformer import Seq2SeqTransformer

seed_everything(0)
use_style()
device = pick_device()
n_train = preset(cpu=18000, gpu=60000, device=device)
train_pairs, test_pairs = date_split(n_train, 1000, seed=0)
test_pairs = smoke_cut(test_pairs, 64)  # smoke run: a slice
shared = {s for s, _ in train_pairs} & {s for s, _ in test_pairs}
print(f"{len(train_pairs):,} training pairs, {len(test_pairs):,} held out")
print("held-out sources that also occur in training:", len(shared))
assert not shared, f"{len(shared)} held-out sources also occur in training"
src_tok = CharTokenizer([s for s, _ in train_pairs])
tgt_tok = CharTokenizer([t for _, t in train_pairs])
for s, t in train_pairs[:5]:
    print(f"{s!r:24} -> {t!r}")
print(f"source vocabulary {len(src_tok)}, target vocabulary {len(tgt_tok)}, device {device}")

src_train = src_tok.encode_batch([s for s, _ in train_pairs])
tgt_train = tgt_tok.encode_batch([t for _, t in train_pairs], add_bos=True, add_eos=True)
src_test = src_tok.encode_batch([s for s, _ in test_pairs])

# %%
# The model: two encoder and two decoder layers of width 64 on a CPU.
d_model = preset(cpu=64, gpu=128, device=device)
model = Seq2SeqTransformer(
    len(src_tok),
    len(tgt_tok),
    d_model=d_model,
    nhead=4,
    num_encoder_layers=2,
    num_decoder_layers=2,
    dim_feedforward=2 * d_model,
    dropout=0.0,
).to(device)
print(f"parameters: {sum(p.numel() for p in model.parameters()):,}")

# %%
# Training, with the site's one loop :func:`snippets.common.train.fit` and
# the forward function of the recurrent models,
# :func:`snippets.sequence_models.seq2seq.teacher_forcing`: the decoder input
# is the target shifted right (``<bos>`` first), and the loss compares each
# position with the next target character, ignoring padding.
# The optimizer follows the paper: Adam with β₂ = 0.98 and the warm-up
# schedule (learning rate rising for 300 steps, then decaying), stepped after
# every batch.
epochs = preset(cpu=3, gpu=6, device=device, smoke=1)
batches = make_loader(src_train, tgt_train, batch_size=32, seed=0)
optimizer = torch.optim.Adam(model.parameters(), lr=1.0, betas=(0.9, 0.98), eps=1e-9)
scheduler = warmup_scheduler(optimizer, d_model, warmup_steps=300, factor=1.0)


def loss_fn(logits, targets):
    return label_smoothed_cross_entropy(logits, targets, 0.1, ignore_index=tgt_tok.pad_id)


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

fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.4))
plot_curves({"train (label-smoothed)": history.train_loss}, ax=left, title="Training loss")
right.plot(history.learning_rate)
right.set(xlabel="step", ylabel="learning rate", title="Warm-up schedule")
plt.show()

# %%
# Greedy decoding of the 1,000 held-out dates, and exact-match accuracy.
model.eval()
out = greedy_decode(model, src_test.to(device), tgt_tok.bos_id, tgt_tok.eos_id, max_len=12).cpu()
predictions = [tgt_tok.decode(row) for row in out]
exact = exact_match(predictions, [t for _, t in test_pairs])
for (s, t), p in list(zip(test_pairs, predictions))[:8]:
    print(f"{s!r:24} -> {p!r} {'ok' if p == t else 'expected ' + t}")
wrong = [(s, t, p) for (s, t), p in zip(test_pairs, predictions) if p != t]
print(f"{len(wrong)} mistakes, e.g.", wrong[:3])

# %%
# Cross-attention: for one date, the weights of the last decoder layer
# (averaged over heads) for every output character (rows) over the source
# characters (columns). The year digits read the year, the month digits read
# the month name or number.
example = "september 21, 1987"
src = src_tok.encode_batch([example]).to(device)
ids = greedy_decode(model, src, tgt_tok.bos_id, tgt_tok.eos_id, max_len=12)
layer = model.transformer.decoder.layers[-1]
layer.keep_weights = True
with torch.no_grad():
    model(src, ids[:, :-1])
weights = layer.cross_attention_weights[0].mean(0).cpu()  # [T, S]
layer.keep_weights = False
out_chars = list(tgt_tok.decode(ids[0])) + ["<eos>"]
fig, ax = plt.subplots(figsize=(7.5, 4.2))
ax.imshow(weights[: len(out_chars)].numpy(), cmap="viridis", aspect="auto")
ax.grid(False)
ax.set_xticks(range(len(example)), list(example))
ax.set_yticks(range(len(out_chars)), out_chars)
ax.set(xlabel="source character", ylabel="output character", title="Cross-attention, last layer")
plt.show()

# %%
# The quality bar.
print(f"exact match on {len(test_pairs)} held-out dates: {exact:.4f}")
assert exact >= 0.93, f"below the bar: {exact:.4f} < 0.93"
