"""
RoBERTa's training choices, measured small: static or dynamic masks, batch size
===============================================================================

RoBERTa kept BERT's network and changed how it is trained. Two of its
changes are tried here on a small :class:`snippets.transformer_family.bert.BertForMaskedLM`
with the same number of passages seen: masks drawn once and reused every
epoch (static, as in BERT's original data pipeline) against masks drawn anew
for every batch (dynamic), and, with dynamic masks, batches four times
larger for a quarter of the steps. Each variant is scored by its masked-token
loss on held-out passages, all with the same masks. Which variant wins at
this size is reported, not required. The bar is a sanity check: every
variant beats the unigram baseline (predicting every masked token from the
token frequencies alone) on held-out text.
"""

# %%
# Data: unlabelled passages of 24 sub-word tokens from the three offline
# sources (the Python manual, PyTorch's and NumPy's docstrings); held-out
# passages come from the last fifth of each text.
import matplotlib.pyplot as plt
import torch

from snippets.common.device import pick_device, preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.train import evaluate, fit
from snippets.transformer_family.bert import BertConfig, BertForMaskedLM
from snippets.transformer_family.text_sources import source_texts, source_windows
from snippets.transformers.bpe import BPETokenizer
from snippets.transformers.masked_lm import IGNORE, mask_tokens, masked_lm_loss

generator = seed_everything(0)
use_style()
device = pick_device()
texts = source_texts()
bpe = BPETokenizer.train(" ".join(train[:60_000] for train, _ in texts.values()), 500)
cls_id, sep_id, mask_id = len(bpe), len(bpe) + 1, len(bpe) + 2
vocab_size = len(bpe) + 3
specials = (bpe.pad_id, cls_id, sep_id, mask_id)
length = 24


def passages(parts, per_source, generator):
    """``[CLS] window [SEP]`` ids ``[N, length + 2]`` from every source, shuffled."""
    streams = [torch.tensor(bpe.encode(part)) for part in parts]
    windows, _ = source_windows(streams, length, per_source, generator)
    n = len(windows)
    ids = torch.cat([torch.full((n, 1), cls_id), windows, torch.full((n, 1), sep_id)], dim=1)
    return ids[torch.randperm(n, generator=generator)]


per_source = preset(cpu=800, gpu=8_000, device=device)
train_ids = passages([t for t, _ in texts.values()], per_source, generator)
test_ids = passages([h for _, h in texts.values()], 200, torch.Generator().manual_seed(5))


def corrupt(ids, generator):
    return mask_tokens(ids, mask_id, vocab_size, special_ids=specials, generator=generator)


test_batches = [corrupt(ids, torch.Generator().manual_seed(7)) for ids in test_ids.split(200)]

# %%
# The unigram baseline: every masked token predicted from the token
# frequencies of the training passages.
counts = torch.bincount(train_ids.flatten(), minlength=vocab_size).float() + 1
log_freq = (counts / counts.sum()).log()
targets = torch.cat([labels[labels != IGNORE] for _, labels in test_batches])
unigram = -log_freq[targets].mean().item()
print(f"{len(train_ids):,} training passages; unigram baseline {unigram:.3f} nats per masked token")

# %%
# The variants, each seeing every training passage the same number of times.
d_model, layers = preset(cpu=(64, 2), gpu=(256, 4), device=device)
config = BertConfig(
    vocab_size=vocab_size,
    max_positions=length + 2,
    d_model=d_model,
    num_layers=layers,
    nhead=4,
    dim_feedforward=2 * d_model,
    dropout=0.0,
    pad_id=bpe.pad_id,
)
epochs = preset(cpu=4, gpu=8, device=device, smoke=1)


def pretrain(masks: str, batch: int, lr: float) -> tuple[float, list[float]]:
    """Held-out masked-token loss and the per-epoch training loss of one variant."""
    torch.manual_seed(0)
    model = BertForMaskedLM(config)
    mask_generator = torch.Generator().manual_seed(1)
    if masks == "static":  # masked once, the same masks every epoch

        def forward(model, batch):
            inputs, labels = batch
            return model(inputs), labels

        batches = [corrupt(ids, mask_generator) for ids in train_ids.split(batch)]
    else:  # masked anew every time a batch is used

        def forward(model, ids):
            inputs, labels = corrupt(ids, mask_generator)
            return model(inputs.to(ids.device)), labels.to(ids.device)

        batches = list(train_ids.split(batch))
    history = fit(
        model,
        batches,
        masked_lm_loss,
        torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.01),
        epochs=epochs,
        device=device,
        forward=forward,
    )
    return evaluate(model, test_batches, masked_lm_loss, device)[0], history.train_loss


variants = {
    "static masks, batch 32": ("static", 32, 2e-3),
    "dynamic masks, batch 32": ("dynamic", 32, 2e-3),
    "dynamic masks, batch 128": ("dynamic", 128, 4e-3),
}
results, curves = {}, {}
for name, args in variants.items():
    results[name], curves[name] = pretrain(*args)
    print(f"{name:>26}: held-out masked-token loss {results[name]:.3f}")

fig, (left, right) = plt.subplots(1, 2, figsize=(9, 3.6), layout="constrained")
for name, curve in curves.items():
    left.plot(range(1, epochs + 1), curve, marker="o", label=name)
left.set_xticks(range(1, epochs + 1))
left.set(xlabel="epoch", ylabel="training loss (nats)", title="Masked-token loss, training")
left.legend(loc="lower left")
names, losses = [n.replace(", ", "\n") for n in results], list(results.values())
bars = right.barh(names, losses, color=["C0", "C1", "C2"])
right.bar_label(bars, fmt="%.3f", padding=3)
right.axvline(unigram, color="grey", ls="--")
right.text(unigram, 1.5, " unigram\n baseline", color="grey", va="center")
right.set_xlim(min(losses) - 0.3, unigram + 0.25)
right.set(xlabel="held-out loss (nats), lower is better", title="Held-out masked-token loss")
plt.show()

# %%
# The sanity bar: every variant learned more than the token frequencies.
best = min(results, key=results.get)
print(f"lowest held-out loss at this size: {best}")
for name, loss in results.items():
    assert loss < unigram, f"{name} does not beat the unigram baseline: {loss:.3f}"
