"""
Distil a small BERT into one with half the layers
=================================================

A four-layer :class:`snippets.transformer_family.bert.BertForClassification`
(the teacher) learns which of three offline sources a 24-token passage comes
from (the Python reference manual, PyTorch's docstrings, NumPy's
docstrings). A two-layer student starts from every other layer of the
teacher (:func:`snippets.transformer_family.distillation.student_from_teacher`)
and learns from the teacher's temperature-softened probabilities, the true
labels and the teacher's last hidden states
(:class:`snippets.transformer_family.distillation.DistillationLoss`). The
bar: on held-out passages the student keeps at least 90 % of the teacher's
accuracy. The example also prints the parameter ratio and the measured
speed-up (timings vary from machine to machine, so they are not asserted).
"""

# %%
# Data: the three sources as sub-word tokens, training and held-out parts
# apart (the same set-up as the pretraining example).
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from snippets.common.device import pick_device, preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.train import evaluate, fit
from snippets.fundamentals.nn_basics import count_parameters
from snippets.transformer_family.bert import BertConfig, BertForClassification
from snippets.transformer_family.distillation import (
    DistillationLoss,
    student_from_teacher,
)
from snippets.transformer_family.text_sources import SOURCES, source_texts, source_windows
from snippets.transformers.bpe import BPETokenizer

generator = seed_everything(0)
use_style()
device = pick_device()
texts = source_texts()
bpe = BPETokenizer.train(" ".join(train[:60_000] for train, _ in texts.values()), 500)
cls_id, sep_id = len(bpe), len(bpe) + 1
train_streams = [torch.tensor(bpe.encode(train)) for train, _ in texts.values()]
held_out_streams = [torch.tensor(bpe.encode(held)) for _, held in texts.values()]
length = 24


def passages(streams, per_source, generator):
    """``[CLS] window [SEP]`` ids ``[N, length + 2]`` and the source of each."""
    windows, labels = source_windows(streams, length, per_source, generator)
    n = len(windows)
    ids = torch.cat([torch.full((n, 1), cls_id), windows, torch.full((n, 1), sep_id)], dim=1)
    return ids, labels


train_ids, train_labels = passages(
    train_streams, preset(cpu=1_000, gpu=10_000, device=device), generator
)
order = torch.randperm(len(train_labels), generator=generator)
train_ids, train_labels = train_ids[order], train_labels[order]
test_ids, test_labels = passages(held_out_streams, 300, torch.Generator().manual_seed(5))
train_batches = list(zip(train_ids.split(32), train_labels.split(32)))
test_batches = list(zip(test_ids.split(256), test_labels.split(256)))

# %%
# The teacher: four layers of width 64 on a CPU, trained on the labels.
d_model, layers = preset(cpu=(64, 4), gpu=(256, 8), device=device)
config = BertConfig(
    vocab_size=len(bpe) + 3,
    max_positions=length + 2,
    d_model=d_model,
    num_layers=layers,
    nhead=4,
    dim_feedforward=2 * d_model,
    dropout=0.1,
    pad_id=bpe.pad_id,
)
teacher = BertForClassification(config, len(SOURCES))
epochs = preset(cpu=2, gpu=4, device=device)
fit(
    teacher,
    train_batches,
    F.cross_entropy,
    torch.optim.AdamW(teacher.parameters(), lr=1e-3, weight_decay=0.01),
    epochs=epochs,
    device=device,
)
teacher.eval()
teacher_accuracy = evaluate(teacher, test_batches, F.cross_entropy, device)[1]
print(f"teacher ({layers} layers): held-out accuracy {teacher_accuracy:.3f}")

# %%
# The teacher's outputs on the training passages, computed once. At T = 1 its
# probabilities are confident; at T = 4 the runner-up classes show, and that
# is what the student learns from ("dark knowledge").
with torch.no_grad():
    teacher_hidden = torch.cat([teacher.bert(ids.to(device)) for ids, _ in train_batches])
    teacher_logits = teacher.classify(teacher_hidden)
print("teacher, first passage, T=1:", torch.softmax(teacher_logits[0], -1).cpu().numpy().round(3))
print(
    "teacher, first passage, T=4:", torch.softmax(teacher_logits[0] / 4, -1).cpu().numpy().round(3)
)
transfer = list(
    zip(
        train_ids.split(32),
        train_labels.split(32),
        teacher_logits.split(32),
        teacher_hidden.split(32),
    )
)


def distil_forward(model, batch):
    """Student outputs ``(logits, hidden)`` and targets ``(teacher logits, hidden, labels)``."""
    ids, labels, t_logits, t_hidden = batch
    hidden = model.bert(ids)
    return (model.classify(hidden), hidden), (t_logits, t_hidden, labels)


# %%
# The student: half the layers, started from layers 0 and 2 of the teacher,
# trained with the three losses for as many epochs as the teacher. For
# comparison, the same student trained on the labels alone.
student = student_from_teacher(teacher, layers // 2)
loss = DistillationLoss(temperature=4.0, soft=5.0, hard=2.0, cosine=1.0)
history = fit(
    student,
    transfer,
    loss,
    torch.optim.AdamW(student.parameters(), lr=1e-3, weight_decay=0.01),
    epochs=epochs,
    device=device,
    forward=distil_forward,
)
student.eval()
student_accuracy = evaluate(student, test_batches, F.cross_entropy, device)[1]

alone = student_from_teacher(BertForClassification(config, len(SOURCES)), layers // 2)
fit(
    alone,
    train_batches,
    F.cross_entropy,
    torch.optim.AdamW(alone.parameters(), lr=1e-3, weight_decay=0.01),
    epochs=epochs,
    device=device,
)
alone_accuracy = evaluate(alone, test_batches, F.cross_entropy, device)[1]
print(f"student ({layers // 2} layers), distilled: held-out accuracy {student_accuracy:.3f}")
print(f"student ({layers // 2} layers), labels only, random start: {alone_accuracy:.3f}")

# %%
# Size and speed: parameters, and the time of one forward pass over the
# held-out passages (the median of five).


def forward_time(model) -> float:
    times = []
    with torch.no_grad():
        for _ in range(5):
            start = time.perf_counter()
            model(test_ids.to(device))
            times.append(time.perf_counter() - start)
    return sorted(times)[2]


ratio = count_parameters(student) / count_parameters(teacher)
speed_up = forward_time(teacher) / forward_time(student)
print(f"parameters: teacher {count_parameters(teacher):,}, student {count_parameters(student):,}")
print(f"parameter ratio {ratio:.2f}, measured speed-up {speed_up:.2f}x")

fig, ax = plt.subplots()
names = [f"teacher\n{layers} layers", "student\ndistilled", "student\nlabels only"]
values = [teacher_accuracy, student_accuracy, alone_accuracy]
ax.bar(names, values, color=["C0", "C1", "C2"])
ax.axhline(0.9 * teacher_accuracy, color="grey", ls="--", label="90 % of the teacher")
ax.set(ylabel="held-out accuracy", title="Distillation keeps the teacher's accuracy", ylim=(0, 1))
ax.legend(loc="lower right")
plt.show()

# %%
# The quality bar, on held-out passages.
kept = student_accuracy / teacher_accuracy
print(f"the student keeps {100 * kept:.1f} % of the teacher's held-out accuracy")
assert kept >= 0.9, f"below the bar: the student keeps only {kept:.3f}"
