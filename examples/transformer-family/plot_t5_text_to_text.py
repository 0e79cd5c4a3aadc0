"""
One T5 for three tasks, text to text, with and without span-corruption pretraining
==================================================================================

A small :class:`snippets.transformer_family.t5.T5` (relative position
buckets, RMSNorm, shared and tied embedding) learns three tasks at once,
told apart only by a prefix in the input: ``"date: march 7, 1998"`` →
``"1998-03-07"``, ``"words: 347"`` → ``"three hundred forty-seven"`` and
``"number: three hundred forty-seven"`` → ``"347"``. One character
vocabulary serves inputs, outputs and T5's sentinel tokens, so one embedding
matrix does too. As T5 was, the model is first pretrained by span corruption
(:func:`snippets.transformer_family.span_corruption.corrupt_ids`), here
briefly, on the Python reference manual; then it and a copy of the untrained
model are fine-tuned on the same schedule with the same batches and compared
by held-out loss after the same number of fine-tuning epochs. The model from
scratch then finishes the schedule. The bars: pretraining lowers the
span-corruption loss on held-out text by at least one nat, and the model
fine-tuned to the end reaches at least 90 % exact match on held-out inputs
of each task (dates never seen in training, three-digit numbers held out of
both number tasks). Whether pretraining helps the tasks at this size is
printed, not required.
"""

# %%
# Data: :func:`snippets.transformer_family.text_to_text.text_to_text_split`
# draws the three tasks; no held-out input occurs in training, and no
# held-out number occurs in either number task (both checked).
import copy
import re
import time

import matplotlib.pyplot as plt
import torch

from snippets.common.data import text_corpus
from snippets.common.device import pick_device, preset, smoke_cut
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.tokenizers import CharTokenizer
from snippets.common.train import evaluate, fit
from snippets.sequence_models.seq2seq import exact_match, greedy_decode, teacher_forcing
from snippets.transformer_family.span_corruption import corrupt_ids, sentinel
from snippets.transformer_family.t5 import T5, T5Config, count_parameters
from snippets.transformer_family.text_sources import source_windows
from snippets.transformer_family.text_to_text import (
    PREFIXES,
    TaskBatches,
    task_ids,
    text_to_text_split,
)

generator = seed_everything(0)
use_style()
device = pick_device()
n_dates = preset(cpu=1500, gpu=20000, device=device)
train_pairs, test_pairs = text_to_text_split(n_dates, 400, n_test_numbers=200, seed=0)
test_pairs = smoke_cut(test_pairs, 60)  # smoke run: a slice (the pairs are shuffled)
shared = {s for s, _ in train_pairs} & {s for s, _ in test_pairs}
print(f"{len(train_pairs):,} training pairs, {len(test_pairs):,} held out")
print("held-out inputs that also occur in training:", len(shared))
assert not shared, f"{len(shared)} held-out inputs also occur in training"
held_out_numbers = {t for s, t in test_pairs if s.startswith("number: ")}
assert not held_out_numbers & {s.removeprefix("words: ") for s, _ in train_pairs}
for s, t in train_pairs[:6]:
    print(f"{s!r:40} -> {t!r}")

# %%
# Pretraining text: the Python reference manual, runs of whitespace made one
# space; its last fifth is held out. One character vocabulary covers it and
# the tasks; T5's sentinels ``<extra_id_0>``, ``<extra_id_1>``, … take the
# last ids, as in T5.
corpus = re.sub(r"\s+", " ", text_corpus())
cut = int(0.8 * len(corpus))
tok = CharTokenizer([s + t for s, t in train_pairs] + [corpus])
n_sentinels = 8
sentinel_ids = list(range(len(tok), len(tok) + n_sentinels))
vocab_size = len(tok) + n_sentinels
print(f"one vocabulary of {len(tok)} characters and {n_sentinels} sentinels, device {device}")


def show(ids):
    """The text of ``ids`` up to ``<eos>``, sentinels written out."""
    out = []
    for i in ids.tolist():
        if i == tok.eos_id:
            break
        if i not in (tok.pad_id, tok.bos_id):
            out.append(sentinel(i - len(tok)) if i >= len(tok) else tok.itos[i])
    return "".join(out)


def frame(targets):
    """``<bos> targets <eos>``, the decoder's input and output for teacher forcing."""
    n = len(targets)
    bos = torch.full((n, 1), tok.bos_id)
    return torch.cat([bos, targets, torch.full((n, 1), tok.eos_id)], dim=1)


def span_batches(text, windows, length, batch, generator):
    """``(corrupted input, framed target)`` batches from random windows of ``text``."""
    stream = torch.tensor(tok.encode(text))
    ids, _ = source_windows([stream], length, windows, generator)
    inputs, targets = corrupt_ids(ids, sentinel_ids, generator=generator)
    return list(zip(inputs.split(batch), frame(targets).split(batch)))


window = 40
pretrain_steps = preset(cpu=100, gpu=3000, device=device, smoke=2)
pretrain_batches = span_batches(corpus[:cut], 32 * pretrain_steps, window, 32, generator)
held_out_spans = span_batches(corpus[cut:], 512, window, 256, torch.Generator().manual_seed(1))
inputs, targets = held_out_spans[0][0][0], held_out_spans[0][1][0]
print(f"a window of {window} characters, corrupted ({len(inputs)} in, {len(targets)} out):")
print(f"  input:  {show(inputs)!r}")
print(f"  target: {show(targets)!r}")

src_train = tok.encode_batch([s for s, _ in train_pairs])
tgt_train = tok.encode_batch([t for _, t in train_pairs], add_bos=True, add_eos=True)

# %%
# The model: T5's recipe at a small size, two encoder and two decoder
# layers, 32 position buckets up to a distance of 64.
d_model = preset(cpu=64, gpu=128, device=device)
config = T5Config(
    vocab_size=vocab_size,
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
torch.manual_seed(0)
initial = T5(config).to(device)
print(f"parameters: {count_parameters(initial):,}")
loss_fn = torch.nn.CrossEntropyLoss(ignore_index=tok.pad_id)


def schedule(model, lr, total_steps):
    """T5's optimizer, Adafactor, and a learning rate that rises, then decays to zero.

    Adafactor's step is relative to the size of each weight, which suits T5's
    initialization, where the embedding has standard deviation 1 and the
    query weights ``(d_model · d_kv)^-1/2``. With Adam's step, the same size
    for every weight, the embedding barely moves in a short run, and this
    model learns far more slowly. The learning rate rises for the first tenth
    of the steps, then decays to zero.
    """
    optimizer = torch.optim.Adafactor(model.parameters(), lr=lr)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, total_steps=total_steps, pct_start=0.1, cycle_momentum=False
    )
    return optimizer, scheduler


# %%
# Pretraining: one pass over random windows of the manual, each with its own
# random spans dropped. The decoder learns to write back the dropped spans.
pretrained = copy.deepcopy(initial)
span_loss_before = evaluate(pretrained, held_out_spans, loss_fn, device, teacher_forcing)[0]
start = time.perf_counter()
optimizer, scheduler = schedule(pretrained, 3e-2, len(pretrain_batches))
fit(
    pretrained,
    pretrain_batches,
    loss_fn,
    optimizer,
    1,
    device,
    scheduler=scheduler,
    forward=teacher_forcing,
)
print(f"pretraining: {len(pretrain_batches)} steps in {time.perf_counter() - start:.1f} s")
span_loss = evaluate(pretrained, held_out_spans, loss_fn, device, teacher_forcing)[0]
print(f"held-out span-corruption loss: {span_loss_before:.3f} before, {span_loss:.3f} after")
pretrained.eval()
filled = greedy_decode(pretrained, inputs[None].to(device), tok.bos_id, tok.eos_id, max_len=20)
print(f"  the pretrained model writes: {show(filled[0].cpu())!r}")

# %%
# Fine-tuning, on the same schedule for the pretrained model and for a copy
# of the untrained one: the batches hold one task each
# (:class:`~snippets.transformer_family.text_to_text.TaskBatches`, the same
# order for both), so a short ``"words: 7"`` is not padded to the length of a
# spelled-out number. Both are compared after the first ``early`` epochs of
# the schedule, the same fine-tuning budget for each; the model from scratch
# then finishes the schedule, and its final score is the example's bar.
# (Fine-tuning the pretrained model to the end too would double the run
# time.)
epochs = preset(cpu=8, gpu=10, device=device, smoke=2)
early = preset(cpu=3, gpu=3, device=device, smoke=1)
test_batches = TaskBatches(
    tok.encode_batch([s for s, _ in test_pairs]),
    tok.encode_batch([t for _, t in test_pairs], add_bos=True, add_eos=True),
    task_ids(test_pairs),
    batch_size=200,
)


def held_out_loss(model):
    """Mean cross-entropy per target character on the held-out pairs, teacher forced."""
    return evaluate(model, test_batches, loss_fn, device, teacher_forcing)[0]


def exact_matches(model):
    """Greedy answers to every held-out input, and the exact match of each task.

    Decoding runs task by task, each up to two characters past its longest
    training target, so the short answers of one task do not wait for the
    long ones of another.
    """
    model.eval()
    predictions, scores = [""] * len(test_pairs), {}
    for prefix in PREFIXES:
        rows = [i for i, (s, _) in enumerate(test_pairs) if s.startswith(prefix)]
        longest = max(len(t) for s, t in train_pairs if s.startswith(prefix))
        src = tok.encode_batch([test_pairs[i][0] for i in rows]).to(device)
        out = greedy_decode(model, src, tok.bos_id, tok.eos_id, max_len=longest + 2).cpu()
        for i, row in zip(rows, out):
            predictions[i] = show(row)
        scores[prefix.rstrip(": ")] = exact_match(
            [predictions[i] for i in rows], [test_pairs[i][1] for i in rows]
        )
    return scores, predictions


def fine_tuning(model):
    """A function that fine-tunes ``model`` for more epochs of one shared schedule."""
    batches = TaskBatches(src_train, tgt_train, task_ids(train_pairs), batch_size=16, seed=0)
    optimizer, scheduler = schedule(model, 3e-2, epochs * len(batches))

    def more(n):
        history = fit(
            model,
            batches,
            loss_fn,
            optimizer,
            n,
            device,
            scheduler=scheduler,
            forward=teacher_forcing,
        )
        return history.train_loss

    return more


models = {"pretrained": pretrained, "from scratch": copy.deepcopy(initial)}
curves, early_loss, resume = {}, {}, {}
for name, model in models.items():
    start = time.perf_counter()
    resume[name] = fine_tuning(model)
    curves[name] = resume[name](early)
    early_loss[name] = held_out_loss(model)
    print(f"{name:>12}, {early} epochs in {time.perf_counter() - start:4.1f} s: ", end="")
    print(f"held-out loss {early_loss[name]:.3f} nats per character")

# %%
# The model from scratch finishes the schedule and is scored by exact match.
start = time.perf_counter()
curves["from scratch"] += resume["from scratch"](epochs - early)
scores, predictions = exact_matches(models["from scratch"])
print(f"from scratch, the other {epochs - early} epochs in {time.perf_counter() - start:.1f} s")
for task, value in scores.items():
    print(f"  {task:7} exact match {value:.4f}")
for (s, t), p in list(zip(test_pairs, predictions))[:6]:
    print(f"{s!r:40} -> {p!r} {'ok' if p == t else 'expected ' + repr(t)}")

fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.6), layout="constrained")
for k, (name, curve) in enumerate(curves.items()):
    left.plot(range(1, len(curve) + 1), curve, marker="o", color=f"C{k}", label=f"{name}, training")
    left.plot(
        early, early_loss[name], marker="*", ms=12, ls="", color=f"C{k}", label=f"{name}, held out"
    )
left.axvline(early, color="grey", ls=":")
left.set(xlabel="epoch", ylabel="loss (nats)", yscale="log", title="Fine-tuning loss")
left.legend(fontsize="small")
right.bar(list(scores), list(scores.values()), color="C1")
right.axhline(0.9, color="k", linestyle="--", linewidth=1, label="bar")
right.set(ylim=(0, 1), xlabel="task", ylabel="exact match")
right.set_title(f"Held-out exact match, from scratch, {epochs} epochs")
right.legend(loc="lower right")
plt.show()

# %%
# The bars, and what pretraining changed at the same fine-tuning budget.
gain = early_loss["from scratch"] - early_loss["pretrained"]
print(
    f"after {early} epochs of fine-tuning, pretraining lowers the held-out loss by "
    f"{gain:+.3f} nats ({gain / early_loss['from scratch']:+.0%})"
)
worst = min(scores.values())
print(f"from scratch after {epochs} epochs, lowest exact match over the three tasks: {worst:.4f}")
assert span_loss < span_loss_before - 1, f"pretraining did not learn: {span_loss:.3f}"
assert worst >= 0.9, f"below the bar: {worst:.4f} < 0.9"
