"""
Two processes, one model: DistributedDataParallel on the CPU
============================================================

``torchrun`` starts two training processes on this machine. They meet on
127.0.0.1, talk through PyTorch's ``gloo`` backend, and each trains the same
digit MLP on its own half of every batch while DDP averages their gradients.
The bar is the claim DDP makes: the weights the two processes end with match,
to within 1e-5, the weights of a single process trained on the whole batches.
Accuracy is not the point here. The run is only 60 plain SGD steps, so the
model is far from the accuracy the same MLP reaches with full training in
the fundamentals chapter (at least 95 %); its held-out test accuracy is
printed, and the check that it reaches 85 % only confirms that the 60 steps
learned something. A last section times mixed precision (``torch.autocast``)
and, on a GPU, ``torch.compile``.
"""

# %%
# The reference: one process, plain SGD on 60 batches of 64 digits.
import contextlib
import subprocess
import sys
import tempfile
from pathlib import Path

import matplotlib.pyplot as plt
import torch

from snippets.common.data import digits
from snippets.common.device import pick_device, preset, torch_threads
from snippets.common.metrics import accuracy
from snippets.common.plotting import plot_curves, use_style
from snippets.common.seed import seed_everything
from snippets.deployment.ddp import demo_batches, free_port, make_model, step_time, train_single

seed_everything(0)
use_style()
device = pick_device()
steps, lr = 60, 0.5
batches = demo_batches(steps, batch_size=64, seed=0)
reference = make_model()
with torch_threads(1):
    losses = train_single(reference, batches, lr=lr)
print(f"single process: loss {losses[0]:.3f} -> {losses[-1]:.3f}")

# %%
# The same training with two processes. ``torchrun`` (the module
# ``torch.distributed.run``) starts ``snippets.deployment.ddp`` twice with ``RANK``,
# ``WORLD_SIZE`` and the meeting address in their environment; rank 0 saves
# the final weights. On a cluster the same command runs once per machine.
weights_file = Path(tempfile.mkdtemp(prefix="ddp-")) / "weights.pt"
command = [
    sys.executable,
    "-m",
    "torch.distributed.run",
    "--nnodes=1",
    "--nproc-per-node=2",
    "--master-addr=127.0.0.1",
    f"--master-port={free_port()}",
    "-m",
    "snippets.deployment.ddp",
    f"--steps={steps}",
    f"--lr={lr}",
    f"--out={weights_file}",
]
print(" ".join(["torchrun", *command[3:]]))
result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
print("\n".join(sorted(line for line in result.stdout.splitlines() if line.startswith("rank"))))
assert result.returncode == 0, result.stderr[-2000:]
ddp_weights = torch.load(weights_file)

# %%
# Compare every parameter tensor. The differences are rounding: two halves
# summed and averaged instead of one sum over the whole batch.
differences = {
    name: (ddp_weights[name] - value).abs().max().item()
    for name, value in reference.state_dict().items()
}
for name, diff in differences.items():
    print(f"{name:9s} max |DDP - single| = {diff:.1e}")

fig, (left, right) = plt.subplots(1, 2, figsize=(9.6, 3.6))
plot_curves({"single process, full batch": losses}, xlabel="step", ax=left, title="Training")
right.bar(list(differences), [max(d, 1e-12) for d in differences.values()], color="#0072B2")
right.axhline(1e-5, color="#D55E00", linestyle="--", label="bar (1e-5)")
right.set(yscale="log", ylabel="max |DDP − single|", title="Weights after training")
right.legend()
plt.show()

data = digits(flat=True, seed=0)
model = make_model()
model.load_state_dict(ddp_weights)
with torch.no_grad():
    test_acc = accuracy(model(data.x_test), data.y_test)
print(f"test accuracy of the DDP-trained model after {steps} steps: {test_acc:.4f}")

# %%
# Mixed precision and compilation. ``torch.autocast`` runs matrix multiplies
# in 16-bit floats; ``torch.compile`` fuses operations into generated
# kernels. Both pay off on GPUs with large layers. On the CPU, bfloat16
# helps only where the processor multiplies bfloat16 natively (recent Intel
# Xeons with AMX or AVX-512 BF16); elsewhere it is slower than float32.
# ``torch.compile`` needs a C++ compiler and a long first call on the CPU, so
# it runs only on CUDA here.
width = preset(cpu=256, gpu=4096, device=device)
batch = preset(cpu=256, gpu=8192, device=device, smoke=64)
x = torch.randn(batch, 64, device=device)
y = torch.randint(0, 10, (batch,), device=device)
configs = {"float32": {}, "autocast bfloat16": {"autocast_dtype": torch.bfloat16}}
if device.type == "cuda":
    configs["autocast float16"] = {"autocast_dtype": torch.float16}
    configs["torch.compile"] = {"compile_model": True}
    configs["torch.compile + bfloat16"] = {"compile_model": True, "autocast_dtype": torch.bfloat16}
timings = {}
timed_steps = preset(cpu=10, gpu=10, device=device, smoke=1)
with torch_threads(1) if device.type == "cpu" else contextlib.nullcontext():
    for name, options in configs.items():
        torch.manual_seed(0)
        net = make_model((64, width, width, 10)).to(device)
        timings[name] = step_time(net, x, y, steps=timed_steps, **options)
base = timings["float32"]
print(f"{'configuration':26s} {'ms/step':>8s} {'speed-up':>9s}   ({device}, width {width})")
for name, seconds in timings.items():
    print(f"{name:26s} {seconds * 1e3:8.2f} {base / seconds:8.2f}x")

# %%
# The quality bar.
worst = max(differences.values())
print(f"largest weight difference: {worst:.2e}; test accuracy: {test_acc:.4f}")
assert worst <= 1e-5, f"DDP and single-process weights differ by {worst:.2e}"
assert test_acc >= 0.85, f"the 60 steps learned too little: {test_acc:.4f} < 0.85"
