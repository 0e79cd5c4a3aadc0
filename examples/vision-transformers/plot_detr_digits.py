"""
DETR finds digits on a canvas
=============================

A small DETR (a CNN backbone, a transformer encoder-decoder and six learned
object queries) learns to put a box around every handwritten digit on a
32×32 canvas holding one to three of them. There are no anchors and no
non-maximum suppression: Hungarian matching pairs queries with digits and the
set loss does the rest. The bar: average precision at IoU 0.5 (``AP@0.5``) of at
least 0.70 on 300 held-out canvases whose digits the model has never seen.
"""

# %%
# Data: canvases from :func:`snippets.vision_transformers.data.digit_canvas`. Training canvases
# use digits of the training split, test canvases those of the test split.
# Each box is the tight box around a digit's ink, stored as normalized
# ``(cx, cy, w, h)``. The task here is *where* the digits are, so every box
# gets the single class "digit" (label 0); telling the ten digits apart as
# well needs a longer training run than a CPU budget of half a minute.
import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from snippets.common.data import make_loader
from snippets.common.device import pick_device, preset
from snippets.common.plotting import PALETTE, plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.vision_transformers.boxes import box_cxcywh_to_xyxy, box_iou
from snippets.vision_transformers.data import digit_canvas
from snippets.vision_transformers.detr import DETR, average_precision, detect, set_loss
from snippets.vision_transformers.matcher import match_batch

seed_everything(0)
use_style()
device = pick_device()
CANVAS = 32
n_train = preset(cpu=1600, gpu=8000, device=device, smoke=256)  # smoke run: fewer canvases
epochs = preset(cpu=5, gpu=20, device=device, smoke=1)
train = digit_canvas(n_train, canvas=CANVAS, split="train", seed=0)
test = digit_canvas(300, canvas=CANVAS, split="test", seed=1)
train_labels = [torch.zeros_like(t) for t in train.labels]  # one class: "digit"
test_labels = [torch.zeros_like(t) for t in test.labels]
print("train:", tuple(train.images.shape), " test:", tuple(test.images.shape), " device:", device)


def draw(ax, image, boxes, color, scores=None):
    """Show one canvas with its (cx, cy, w, h) boxes drawn in pixels."""
    ax.imshow(image[0].cpu().numpy(), cmap="gray_r", vmin=0, vmax=1)
    for k, (x0, y0, x1, y1) in enumerate((box_cxcywh_to_xyxy(boxes) * CANVAS).tolist()):
        # pixel k covers [k - 0.5, k + 0.5] in imshow's coordinates
        ax.add_patch(Rectangle((x0 - 0.5, y0 - 0.5), x1 - x0, y1 - y0, fill=False, color=color))
        if scores is not None:
            ax.text(x0 - 0.5, y0 - 1, f"{scores[k]:.2f}", color=color, fontsize=7)
    ax.set(xticks=[], yticks=[])
    ax.grid(False)


fig, axes = plt.subplots(1, 6, figsize=(9.6, 1.9))
for ax, i in zip(axes, range(6)):
    draw(ax, train.images[i], train.boxes[i], PALETTE[2])
fig.suptitle("Training canvases and their true boxes")
plt.show()

# %%
# The model: the backbone turns the 32×32 canvas into an 8×8 grid of
# 64-channel features, i.e. 64 tokens; two encoder and two decoder layers;
# six queries, each answering "digit or no object" and a box.
model = DETR(num_classes=1, num_queries=6, dim=64, heads=4, encoder_layers=2, decoder_layers=2)
model.to(device)
print("parameters:", sum(p.numel() for p in model.parameters()))

# %%
# Train with the set loss and the site's ``fit``. Each canvas holds its own
# number of digits, so a batch is ``(images, (labels, boxes))`` with the
# targets as lists, one tensor per canvas: ``make_loader`` keeps targets of
# varying size as lists, and ``fit`` moves the nested tensors to the device.
# The batches are drawn in a new random order every epoch;
# the model returns a tuple ``(logits, boxes)``, and the loss function unpacks
# both into :func:`snippets.vision_transformers.detr.set_loss` and records
# its three parts for the plot. Gradient clipping and a one-cycle
# learning-rate schedule, stepped after every batch, keep the early steps,
# when the matching still changes from step to step, stable.
batch_size = 32
steps_per_epoch = -(-n_train // batch_size)


targets = list(zip(train_labels, train.boxes))  # per canvas: (labels [T], boxes [T, 4])
loader = make_loader(train.images, targets, batch_size=batch_size, seed=0)


parts: dict[str, list[float]] = {"class": [], "l1": [], "giou": []}  # one value per step


def detr_loss(outputs, targets):
    losses = set_loss(*outputs, *targets)  # logits, boxes, target labels, target boxes
    for key in parts:
        parts[key].append(losses[key].item())
    return losses["total"]


optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
schedule = torch.optim.lr_scheduler.OneCycleLR(
    optimizer, 2e-3, total_steps=epochs * steps_per_epoch, pct_start=0.1
)
history = fit(
    model,
    loader,
    detr_loss,
    optimizer,
    epochs,
    device,
    max_grad_norm=0.5,
    scheduler=schedule,
    forward=lambda m, batch: (m(batch[0]), batch[1]),
)
# every epoch has the same number of equal batches: average each part per epoch
per_epoch = {k: torch.tensor(v).reshape(epochs, -1).mean(1).tolist() for k, v in parts.items()}
for epoch in range(epochs):
    losses = ", ".join(f"{k} {v[epoch]:.3f}" for k, v in per_epoch.items())
    print(f"epoch {epoch + 1}: total {history.train_loss[epoch]:.3f} ({losses})")

plot_curves(per_epoch, title="The three parts of the set loss (training)", log_y=True)
plt.show()

# %%
# Evaluate on the held-out canvases: keep the queries whose "digit"
# probability exceeds 0.5, then compute ``AP@0.5``. Also report the mean IoU
# between each true box and the query it is matched to.
model.eval()
with torch.no_grad():
    logits, boxes = model(test.images.to(device))
logits, boxes = logits.cpu(), boxes.cpu()
detections = detect(logits, boxes, threshold=0.5)
ap50 = average_precision(detections, test_labels, test.boxes, num_classes=1, iou_threshold=0.5)
matches = match_batch(logits, boxes, test_labels, test.boxes)
matched_iou = torch.cat(
    [
        box_iou(box_cxcywh_to_xyxy(boxes[n, q]), box_cxcywh_to_xyxy(test.boxes[n][t]))[0].diagonal()
        for n, (q, t) in enumerate(matches)
    ]
)
found = sum(len(d.scores) for d in detections)
print(f"{found} detections for {sum(len(b) for b in test.boxes)} true digits")
print(f"mean IoU of matched boxes: {matched_iou.mean():.3f}")

# %%
# Predicted boxes (orange, with their scores) on held-out canvases, and the
# true boxes (green, dashed) underneath.
fig, axes = plt.subplots(2, 6, figsize=(9.6, 3.6))
for ax, i in zip(axes.flat, range(12)):
    draw(ax, test.images[i], test.boxes[i], PALETTE[2])
    for patch in ax.patches:
        patch.set_linestyle("--")
    draw(ax, test.images[i], detections[i].boxes, PALETTE[1], detections[i].scores.tolist())
fig.suptitle("DETR on held-out canvases: predicted (orange) and true (green) boxes")
plt.show()

# %%
# The quality bar.
print(f"test AP@0.5: {ap50:.3f}")
assert ap50 >= 0.70, f"below the bar: {ap50:.3f} < 0.70"
