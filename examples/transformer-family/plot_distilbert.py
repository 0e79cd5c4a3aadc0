"""
Distil a pretrained small BERT into one with half the layers
============================================================

The teacher is the small BERT of the pretraining example: a
:class:`snippets.transformer_family.bert.BertForMaskedLM` of two layers of
width 64 (four of width 256 on a GPU), pretrained on masked tokens of
unlabelled passages from three offline sources (the Python reference manual,
PyTorch's docstrings, NumPy's docstrings), then fine-tuned as a
:class:`snippets.transformer_family.bert.BertForClassification` to tell which
source a 24-token passage comes from. The student has half the layers, starts
from every other layer of the fine-tuned teacher
(:func:`snippets.transformer_family.distillation.student_from_teacher`), and
learns from the teacher's temperature-softened probabilities, the true labels
and the teacher's last hidden states
(:class:`snippets.transformer_family.distillation.DistillationLoss`). For
comparison, the same half-depth network is trained on the labels alone from
a random start.

Speed is counted, not timed: PyTorch's own
:class:`torch.utils.flop_counter.FlopCounterMode` counts the floating-point
operations of one forward pass of teacher and student over the same held-out
passages (:func:`snippets.transformer_family.distillation.forward_flops`), a
number that does not depend on the machine. The bar: on held-out passages
the student keeps at least 95 % of the fine-tuned teacher's accuracy, and
the teacher costs at least 1.9 times the student's operations. The measured
wall-clock speed-up is printed too, but not asserted: it varies from machine
to machine.
"""

# %%
# Data: the three sources as sub-word tokens, training and held-out parts
# apart (:class:`snippets.transformer_family.pretraining.SourcePassages`, the
# set-up of the pretraining example).
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F

from snippets.common.device import pick_device, preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.train import evaluate, fit
from snippets.fundamentals.nn_basics import count_parameters
from snippets.transformer_family.bert import BertForClassification
from snippets.transformer_family.distillation import (
    DistillationLoss,
    forward_flops,
    student_from_teacher,
)
from snippets.transformer_family.pretraining import SourcePassages
from snippets.transformer_family.text_sources import SOURCES

generator = seed_everything(0)
use_style()
device = pick_device()
task = SourcePassages(length=24)
test_ids, test_labels = task.passages(
    "held out", preset(cpu=300, gpu=300, device=device, smoke=4), torch.Generator().manual_seed(5)
)
test_batches = list(zip(test_ids.split(256), test_labels.split(256)))

# %%
# The teacher, step 1: masked-token pretraining on unlabelled training
# passages, the recipe and size of the pretraining example.
config = task.config(*preset(cpu=(64, 2), gpu=(256, 4), device=device))
layers = config.num_layers
pretrained, history = task.pretrained_bert(
    config, preset(cpu=3_000, gpu=30_000, device=device, smoke=4), 2, generator, device
)
print(f"pretraining: masked-token loss {history.train_loss[0]:.3f} -> {history.train_loss[-1]:.3f}")

# %%
# The teacher, step 2: the pretrained encoder under a new classifier,
# fine-tuned on labelled training passages.
train_ids, train_labels = task.passages(
    "train", preset(cpu=1_000, gpu=10_000, device=device, smoke=4), generator, shuffle=True
)
train_batches = list(zip(train_ids.split(32), train_labels.split(32)))
epochs = preset(cpu=3, gpu=4, device=device, smoke=1)


def train_on_labels(model: BertForClassification) -> float:
    """Train ``model`` on the labelled passages; its held-out accuracy."""
    fit(
        model,
        train_batches,
        F.cross_entropy,
        torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.01),
        epochs=epochs,
        device=device,
    )
    return evaluate(model, test_batches, F.cross_entropy, device)[1]


teacher = BertForClassification(config, len(SOURCES))
teacher.bert.load_state_dict(pretrained.bert.state_dict())
teacher_accuracy = train_on_labels(teacher)
teacher.eval()
print(
    f"teacher ({layers} layers), pretrained, fine-tuned: held-out accuracy {teacher_accuracy:.3f}"
)

# %%
# The teacher's outputs on the training passages, computed once. At T = 1 its
# probabilities are confident; at T = 4 the runner-up classes show, and that
# is what the student learns from ("dark knowledge").
with torch.no_grad():
    teacher_hidden = torch.cat([teacher.bert(ids.to(device)) for ids, _ in train_batches])
    teacher_logits = teacher.classify(teacher_hidden)
for t in (1, 4):
    p = torch.softmax(teacher_logits[0] / t, -1).cpu().numpy().round(3)
    print(f"teacher, first passage, T={t}: {p}")
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
# The student: half the layers, started from every other layer of the
# teacher (its layer 0 on a CPU; layers 0 and 2 of four on a GPU), trained
# with the three losses for as many epochs as the teacher. For comparison,
# the same half-depth network trained on the labels alone from a random start.
half = layers // 2
student = student_from_teacher(teacher, half)
fit(
    student,
    transfer,
    DistillationLoss(temperature=4.0, soft=5.0, hard=2.0, cosine=1.0),
    torch.optim.AdamW(student.parameters(), lr=1e-3, weight_decay=0.01),
    epochs=epochs,
    device=device,
    forward=distil_forward,
)
student.eval()
student_accuracy = evaluate(student, test_batches, F.cross_entropy, device)[1]
alone_accuracy = train_on_labels(
    student_from_teacher(BertForClassification(config, len(SOURCES)), half)
)
print(f"student ({half} of {layers} layers), distilled: held-out accuracy {student_accuracy:.3f}")
print(f"student ({half} of {layers} layers), labels only, random start: {alone_accuracy:.3f}")

# %%
# Cost: parameters, floating-point operations of one forward pass over the
# held-out passages (counted), and its time (measured, the median of five).


def forward_time(model) -> float:
    times = []
    with torch.no_grad():
        for _ in range(5):
            start = time.perf_counter()
            model(test_ids.to(device))
            times.append(time.perf_counter() - start)
    return sorted(times)[2]


teacher_flops = forward_flops(teacher, test_ids.to(device))
student_flops = forward_flops(student, test_ids.to(device))
flop_ratio = teacher_flops / student_flops
print(f"parameters: teacher {count_parameters(teacher):,}, student {count_parameters(student):,}")
print(
    f"forward pass over {len(test_ids)} passages: teacher {teacher_flops:,} FLOPs, "
    f"student {student_flops:,} FLOPs, ratio {flop_ratio:.3f}"
)
print(f"measured speed-up on this machine: {forward_time(teacher) / forward_time(student):.2f}x")

fig, ax = plt.subplots()
names = [f"teacher\n{layers} layers", "student\ndistilled", "student\nlabels only"]
values = [teacher_accuracy, student_accuracy, alone_accuracy]
ax.bar(names, values, color=["C0", "C1", "C2"])
ax.axhline(0.95 * teacher_accuracy, color="grey", ls="--", label="95 % of the teacher")
ax.axhline(1 / 3, color="grey", ls=":", label="chance")
ax.set(ylabel="held-out accuracy", title="Distillation keeps the teacher's accuracy", ylim=(0, 1))
ax.legend(loc="lower right")
plt.show()

# %%
# The quality bar, on held-out passages, and the counted cost.
kept = student_accuracy / teacher_accuracy
print(f"the student keeps {100 * kept:.1f} % of the teacher's held-out accuracy")
assert kept >= 0.95, f"below the bar: the student keeps only {kept:.3f}"
assert flop_ratio >= 1.9, f"the student is not cheap enough: FLOP ratio {flop_ratio:.2f}"
