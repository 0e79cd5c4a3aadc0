"""
Six CNN families on the same digits, at the same budget
=======================================================

VGG, GoogLeNet, ResNet (bottleneck blocks), DenseNet, MobileNetV2 and
MobileNetV3 are built from the same modules as their ImageNet versions, with
widths and depths cut until each has roughly 20 to 30 thousand parameters
(the full networks have 3.5 to 138 million). Every one trains on the same
8×8 handwritten digits, with the same optimizer, schedule and number of
epochs. The plots set test accuracy against the number of parameters and
against the CPU time training took.

The budget is tiny and the task easy, so the comparison says little about
ImageNet: it shows that each family's block works at small scale, and what
it costs to train. The bar: every family reaches at least 95 % accuracy on
the 450 held-out test digits.
"""

# %%
# Data: the 1,347 training and 450 test digits of the site's fixed split, at
# their own 8×8 size: every network starts with a stride-1 "small" stem, and
# two or three halvings leave a 2×2 or 1×1 map.
import time

import matplotlib.pyplot as plt
import torch
from torch import nn

from snippets.cnn.densenet import DenseNet
from snippets.cnn.inception import GOOGLENET_MODULES, GoogLeNet
from snippets.cnn.mobilenet import MobileNetV2, MobileNetV3, V2Stage, V3Block
from snippets.cnn.resnet import ResNet
from snippets.cnn.vgg import VGG
from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset
from snippets.common.metrics import accuracy, predict
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.fundamentals.nn_basics import count_parameters

seed_everything(0)
use_style()
device = pick_device()
data = digits(seed=0)
x_train, x_test = data.x_train, data.x_test
print("train:", tuple(x_train.shape), " test:", tuple(x_test.shape), " device:", device)

# %%
# The six networks. ``scale`` multiplies the widths: 1 on a CPU, 2 on a GPU
# (about four times the parameters). Every network keeps its family's block:
# stacked 3×3 convolutions (with batch norm), Inception modules (one per
# group: 3b, 4e and 5b of GoogLeNet's table), bottleneck residual blocks,
# dense blocks with transitions, inverted residuals, and inverted residuals
# with squeeze-and-excitation and hard-swish.
modules = GOOGLENET_MODULES
inception_groups = ((modules[0][1],), (modules[1][4],), (modules[2][1],))
scale = preset(cpu=1, gpu=2, device=device)


def families(s: int) -> dict[str, nn.Module]:
    return {
        "VGG": VGG(
            (16 * s, "M", 32 * s, "M", 48 * s, "M"),
            classes=10, in_channels=1, hidden=48 * s, pool_size=1, dropout=0.2,
            batch_norm=True,
        ),
        "GoogLeNet": GoogLeNet(10, 1, inception_groups, width=s / 10, stem="small"),
        "ResNet": ResNet(
            (1, 1, 1), (8 * s, 16 * s, 24 * s),
            classes=10, in_channels=1, stem="small", block="bottleneck",
        ),
        "DenseNet": DenseNet(
            (3, 3, 3), growth=10 * s, stem_channels=16 * s, bn_size=2,
            classes=10, in_channels=1, stem="small",
        ),
        "MobileNetV2": MobileNetV2(
            10, width=s, stages=(V2Stage(1, 16, 1, 1), V2Stage(4, 24, 2, 2), V2Stage(4, 32, 1, 2)),
            in_channels=1, stem_channels=16, head_channels=64, stem_stride=1, dropout=0.1,
        ),
        "MobileNetV3": MobileNetV3(
            10, width=s,
            blocks=(
                V3Block(3, 16, 16, True, "relu", 1),
                V3Block(3, 48, 24, False, "relu", 2),
                V3Block(5, 64, 24, True, "hswish", 2),
            ),
            in_channels=1, stem_channels=16, head_channels=64 * s, stem_stride=1, dropout=0.1,
        ),
    }  # fmt: skip


models = families(scale)
for name, model in models.items():
    print(f"{name:12s} {count_parameters(model):7,d} parameters")

# %%
# Training: the same recipe for all, with the site's ``fit`` loop. AdamW with
# a one-cycle schedule (the scheduler steps after every batch). The CPU time
# of each run is measured with ``time.process_time``; it varies a little
# from machine to machine and run to run, the accuracies do not.
epochs = preset(cpu=8, gpu=30, device=device, smoke=1)
train_loader = make_loader(x_train, data.y_train, batch_size=64, seed=0)
results = {}
for name, model in models.items():
    seed_everything(0)
    model = model.to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=4e-3, weight_decay=1e-2)
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=4e-3, total_steps=epochs * len(train_loader)
    )
    start = time.process_time()
    fit(model, train_loader, nn.CrossEntropyLoss(), optimizer, epochs, device, scheduler=schedule)
    seconds = time.process_time() - start
    test_acc = accuracy(predict(model, x_test, device), data.y_test)
    results[name] = (count_parameters(model), seconds, test_acc)
    print(f"{name:12s} test accuracy {test_acc:.4f}")
print(f"(CPU seconds of training: {', '.join(f'{n} {r[1]:.1f}' for n, r in results.items())})")

# %%
# Accuracy against size and against training time. The families sit close
# together in accuracy; their training costs differ more, because parameters
# are not operations: a layer at the full 8×8 resolution costs far more time
# per weight than one on a 2×2 map, and many small layers (DenseNet,
# the Inception modules) cost more time than a few wide ones.
fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.8), sharey=True)
for name, (params, seconds, acc) in results.items():
    for ax, x in ((left, params), (right, seconds)):
        ax.scatter(x, 100 * acc, s=40, zorder=3)
        ax.annotate(name, (x, 100 * acc), xytext=(5, 4), textcoords="offset points", fontsize=9)
left.set(xlabel="parameters", ylabel="test accuracy (%)", title="Accuracy against parameters")
right.set(xlabel="CPU seconds of training", title="Accuracy against training time")
sizes = [params for params, _, _ in results.values()]
fig.suptitle(
    f"Six CNN families, {min(sizes) / 1e3:.0f}–{max(sizes) / 1e3:.0f} k parameters each, "
    f"{epochs} epochs on 8×8 digits"
)
plt.show()

# %%
# The quality bar: every family at least 95 % on the held-out test digits.
worst = min(results, key=lambda n: results[n][2])
print(f"lowest test accuracy: {worst} {results[worst][2]:.4f}")
assert all(acc >= 0.95 for _, _, acc in results.values()), f"below the bar: {results}"
