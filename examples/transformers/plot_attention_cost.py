"""
The quadratic cost of attention
===============================

Self-attention compares every position with every other, so its time and
memory grow with the square of the sequence length ``T``. This example times
the from-scratch :func:`snippets.transformers.attention.scaled_dot_product_attention`
against PyTorch's ``F.scaled_dot_product_attention`` (its plain "math"
backend and whatever fused kernel it picks by default) for growing ``T``, and
measures the memory of the ``T × T`` weight matrix that the plain version
stores. On a GPU it also records the peak GPU memory of each version.
Timings depend on the machine, so they are shown, not asserted (the site
measures speed in its benchmark session). The bar is what does not depend on
the machine: the from-scratch version gives PyTorch's outputs, its
floating-point operations counted by PyTorch's ``FlopCounterMode`` equal
``4·N·H·T²·d`` (two matrix products of ``T × T × d``) at every length, and
the weight matrix takes exactly ``N·H·T²`` numbers, so doubling ``T``
multiplies both by four.
"""

# %%
# Timing: the best of several repeats, after a warm-up call.
import time

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch.nn.attention import SDPBackend, sdpa_kernel
from torch.utils.flop_counter import FlopCounterMode

from snippets.common.device import pick_device, preset
from snippets.common.plotting import use_style
from snippets.common.seed import seed_everything
from snippets.transformers.attention import attention_cost, scaled_dot_product_attention

seed_everything(0)
use_style()
device = pick_device()
batch, heads, head_dim = 4, 4, 32
lengths = preset(
    cpu=[64, 128, 256, 512, 1024],
    gpu=[256, 512, 1024, 2048, 4096, 8192],
    device=device,
    smoke=[256, 512],  # the GPU lengths' 4 GiB attention matrices do not fit a smoke run
)


def best_time(fn, *args, repeats: int = 5) -> float:
    fn(*args)
    if device.type == "cuda":
        torch.cuda.synchronize()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn(*args)
        if device.type == "cuda":
            torch.cuda.synchronize()
        times.append(time.perf_counter() - start)
    return min(times)


def ours(q, k, v):
    return scaled_dot_product_attention(q, k, v, is_causal=True)[0]


def math_backend(q, k, v):
    with sdpa_kernel(SDPBackend.MATH):
        return F.scaled_dot_product_attention(q, k, v, is_causal=True)


def default_backend(q, k, v):
    return F.scaled_dot_product_attention(q, k, v, is_causal=True)


versions = {"from scratch": ours, "PyTorch math": math_backend, "PyTorch default": default_backend}
times = {name: [] for name in versions}
peak_mb = {name: [] for name in versions}
weight_mb, weight_numbers, flops = [], [], []
with torch.no_grad():
    for length in lengths:
        q, k, v = (torch.randn(batch, heads, length, head_dim, device=device) for _ in range(3))
        torch.testing.assert_close(ours(q, k, v), math_backend(q, k, v), atol=1e-4, rtol=1e-4)
        for name, fn in versions.items():
            times[name].append(best_time(fn, q, k, v) * 1e3)
            if device.type == "cuda":
                torch.cuda.reset_peak_memory_stats()
                base = torch.cuda.memory_allocated()
                fn(q, k, v)
                peak_mb[name].append((torch.cuda.max_memory_allocated() - base) / 2**20)
        with FlopCounterMode(display=False) as counter:
            weights = scaled_dot_product_attention(q, k, v, is_causal=True)[1]
        flops.append(counter.get_total_flops())
        weight_numbers.append(weights.nelement())
        weight_mb.append(weights.element_size() * weights.nelement() / 2**20)
        ratio = times["from scratch"][-1] / times["PyTorch math"][-1]
        print(
            f"T={length:5d}: "
            + "  ".join(f"{n} {t[-1]:8.2f} ms" for n, t in times.items())
            + f"  ratio {ratio:.2f}  weights {weight_mb[-1]:.1f} MiB  GFLOP {flops[-1] / 1e9:.3f}"
        )

# %%
# Both axes are logarithmic, so a power law is a straight line; the dashed
# line has slope 2 (time ∝ T²).
fig, (left, right) = plt.subplots(1, 2, figsize=(10, 3.8))
for name, values in times.items():
    left.plot(lengths, values, "o-", label=name)
ref = [times["PyTorch math"][-1] * (t / lengths[-1]) ** 2 for t in lengths]
left.plot(lengths, ref, "k--", lw=1, label="∝ T²")
left.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="time (ms)")
left.set_title(f"Causal attention time ({device.type})")
left.legend()
if device.type == "cuda":
    for name, values in peak_mb.items():
        right.plot(lengths, values, "o-", label=f"{name}: peak")
right.plot(lengths, weight_mb, "k--", lw=1, label="T×T weights (4 bytes each)")
right.set(xscale="log", yscale="log", xlabel="sequence length T", ylabel="memory (MiB)")
right.set_title("Memory of the attention weights")
right.legend()
plt.show()

# %%
# The bar: operation count and weight memory follow ``T²`` exactly. Time is
# reported only: on this machine, at the longest length, the from-scratch
# version took the printed multiple of the math backend's time.
ratio = times["from scratch"][-1] / times["PyTorch math"][-1]
print(f"time, from scratch / math backend at T={lengths[-1]}: {ratio:.2f} (not asserted)")
costs = [attention_cost(t, batch, heads, head_dim) for t in lengths]  # the closed form
expected_flops = [cost.attention_flops for cost in costs]
growth = [b / a for a, b in zip(flops, flops[1:])]
print("counted FLOPs:", flops)
print("growth per doubling of T:", growth)
assert flops == expected_flops, f"below the bar: {flops} != {expected_flops}"
assert weight_numbers == [cost.scores for cost in costs]
assert all(g == 4 for g in growth), f"below the bar: growth {growth}"
