"""
Export three models to ONNX and run them with onnxruntime
=========================================================

The site's digit MLP and digit CNN are trained for a few epochs, then
exported to ONNX together with a Transformer encoder whose batch and
sequence axes stay dynamic. Each file passes ``onnx.checker``, runs in
onnxruntime without PyTorch, and is compared with PyTorch on inputs of
several sizes. The bar: every output within 1e-4 of PyTorch's, and the
onnxruntime classifiers at least 95 % accurate on the 450 test digits. A
table and a chart compare CPU latency.
"""

# %%
# Train the two classifiers briefly with the site's ``fit`` loop.
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import nn

from snippets.cnn.lenet import DigitsCNN
from snippets.common.data import digits, make_loader
from snippets.common.device import pick_device, preset, torch_threads
from snippets.common.metrics import accuracy
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.common.train import fit
from snippets.deployment.onnx_export import (
    OPSET,
    export_onnx,
    input_shape,
    max_abs_difference,
    median_latency,
    ort_session,
    run_ort,
)
from snippets.fundamentals.nn_basics import make_mlp
from snippets.transformers.transformer import Encoder, EncoderLayer

seed_everything(0)
use_style()
device = pick_device()
data = digits(seed=0)
loader = make_loader(data.x_train, data.y_train, batch_size=64, seed=0)

mlp = make_mlp([64, 128, 10], dropout=0.1)
cnn = DigitsCNN(channels=(16, 32))
# The models are tiny, so on the CPU one thread is faster than several.
with torch_threads(1):
    for model, epochs in (
        (mlp, preset(cpu=20, gpu=40, device=device)),
        (cnn, preset(cpu=4, gpu=10, device=device)),
    ):
        optimizer = torch.optim.Adam(model.parameters(), lr=2e-3)
        fit(model, loader, nn.CrossEntropyLoss(), optimizer, epochs, device)
        model.cpu().eval()  # ONNX files are exported from the CPU copy

encoder = Encoder(EncoderLayer(d_model=32, nhead=4, dim_feedforward=64, dropout=0.0), 2).eval()

# %%
# Export. Axis 0 of every input is the batch and may change size; the encoder
# also keeps its sequence axis (1) free. The files go to a temporary folder.
specs = {
    "MLP": (mlp, torch.randn(2, 1, 8, 8), {0: "batch"}),
    "CNN": (cnn, torch.randn(2, 1, 8, 8), {0: "batch"}),
    "Encoder": (encoder, torch.randn(2, 5, 32), {0: "batch", 1: "sequence"}),
}
folder = Path(tempfile.mkdtemp(prefix="onnx-"))
sessions = {}
for name, (model, example, dynamic) in specs.items():
    path = folder / f"{name.lower()}.onnx"
    proto = export_onnx(model, example, dynamic, path=path)
    sessions[name] = ort_session(path, threads=1)
    print(
        f"{name:8s} opset {OPSET}  input {input_shape(proto)}  "
        f"{len(proto.graph.node):3d} nodes  {path.stat().st_size / 1024:6.1f} KiB"
    )

# %%
# Parity: the same inputs through PyTorch and onnxruntime, at sizes other
# than the ones used for tracing. The classifiers also get the whole test set.
test_shapes = {
    "MLP": [(1, 1, 8, 8), (450, 1, 8, 8)],
    "CNN": [(1, 1, 8, 8), (450, 1, 8, 8)],
    "Encoder": [(1, 3, 32), (8, 40, 32), (64, 12, 32)],
}
worst = 0.0
for name, shapes in test_shapes.items():
    model = specs[name][0]
    for shape in shapes:
        x = data.x_test if shape[0] == 450 else torch.randn(*shape)
        diff = max_abs_difference(model, sessions[name], x)
        worst = max(worst, diff)
        print(f"{name:8s} input {str(list(shape)):16s} max |PyTorch - onnxruntime| = {diff:.2e}")

ort_accuracy = {}
for name in ("MLP", "CNN"):
    with torch.no_grad():
        torch_acc = accuracy(specs[name][0](data.x_test), data.y_test)
    ort_accuracy[name] = accuracy(run_ort(sessions[name], data.x_test), data.y_test)
    print(f"{name}: test accuracy PyTorch {torch_acc:.4f}, onnxruntime {ort_accuracy[name]:.4f}")

# %%
# Latency on this CPU: median of 50 calls, one image (or one 16-token
# sequence) and a batch of 256, both on one thread so that the comparison
# is fair and other programs on the machine disturb it less.
rows = []
repeats = preset(cpu=50, gpu=50, device=device, smoke=3)  # smoke run: a few calls
with torch_threads(1), torch.no_grad():
    for name, (model, _, _) in specs.items():
        for batch in (1, 256):
            shape = (batch, 16, 32) if name == "Encoder" else (batch, 1, 8, 8)
            x = torch.randn(*shape)
            feed = {"input": x.numpy()}
            t_torch = median_latency(lambda m=model, x=x: m(x), repeats=repeats)
            t_ort = median_latency(lambda s=sessions[name], f=feed: s.run(None, f), repeats=repeats)
            rows.append((name, batch, t_torch * 1e3, t_ort * 1e3))

print(f"{'model':8s} {'batch':>5s} {'PyTorch ms':>11s} {'onnxruntime ms':>15s} {'speed-up':>9s}")
for name, batch, t_torch, t_ort in rows:
    print(f"{name:8s} {batch:5d} {t_torch:11.3f} {t_ort:15.3f} {t_torch / t_ort:8.1f}x")

fig, ax = plt.subplots(figsize=(7.5, 3.6))
labels = [f"{name}\nbatch {batch}" for name, batch, _, _ in rows]
pos = np.arange(len(rows))
ax.bar(pos - 0.2, [r[2] for r in rows], width=0.4, label="PyTorch (eager)")
ax.bar(pos + 0.2, [r[3] for r in rows], width=0.4, label="onnxruntime")
ax.set(xticks=pos, xticklabels=labels, ylabel="median latency (ms)", yscale="log")
ax.set_title("CPU inference latency")
ax.legend()
plt.show()

# %%
# The quality bar.
print(f"largest difference: {worst:.2e}; onnxruntime accuracy: {ort_accuracy}")
assert worst <= 1e-4, f"outputs differ by {worst:.2e} > 1e-4"
assert min(ort_accuracy.values()) >= 0.95, f"below the bar: {ort_accuracy}"
