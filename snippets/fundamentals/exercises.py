"""Coding exercises of the fundamentals chapter: reference solutions and their checkers.

Each function is the reference solution of one exercise; the decorator
registers the inputs it is checked on and wrong solutions that the checker
must reject. Check your own version with
``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import torch

from snippets.common.checks import check_tensor
from snippets.common.exercises import Case, exercise


def _image_batches():
    g = torch.Generator().manual_seed(0)
    for shape in [(4, 3, 5, 6), (2, 1, 4, 4), (8, 2, 3, 1), (3, 5, 2, 2)]:
        images = 10 * torch.rand(shape, generator=g) + torch.arange(shape[1]).view(1, -1, 1, 1)
        yield Case((images,), label=f"[N, C, H, W] = {list(shape)}")
    yield Case((torch.rand(4, 5, 3, generator=g),), label="a 3-D tensor (must raise ValueError)")


def _wrong_global(images: torch.Tensor) -> torch.Tensor:
    return (images - images.mean()) / images.std(unbiased=False)  # one mean for all channels


def _wrong_channels_last(images: torch.Tensor) -> torch.Tensor:
    mean = images.mean(dim=(0, 1, 2), keepdim=True)  # treats the last axis as the channels
    std = images.std(dim=(0, 1, 2), unbiased=False, keepdim=True)
    return (images - mean) / std


@exercise(
    "normalize-images",
    page="fundamentals/tensors",
    task="Standardize a batch [N, C, H, W] per channel: subtract each channel's mean and divide "
    "by its standard deviation (over N, H and W); raise ValueError for anything but 4-D.",
    cases=_image_batches,
    wrong=[_wrong_global, _wrong_channels_last],
)
def normalize_images(images: torch.Tensor) -> torch.Tensor:
    """One mean and one (biased) standard deviation per channel, broadcast back over the batch."""
    check_tensor(images, "images", ndim=4, floating=True)
    mean = images.mean(dim=(0, 2, 3), keepdim=True)  # [1, C, 1, 1]
    std = images.std(dim=(0, 2, 3), unbiased=False, keepdim=True)
    return (images - mean) / std


def _layer_sizes():
    for sizes in [(4, 32, 2), (64, 10), (784, 256, 128, 10), (1, 1), (3, 5, 5, 5, 1)]:
        yield Case((list(sizes),), label=f"sizes {list(sizes)}")


def _wrong_no_bias(sizes):
    return sum(a * b for a, b in zip(sizes, sizes[1:]))  # forgets the biases


def _wrong_input_bias(sizes):
    return sum(a * b + a for a, b in zip(sizes, sizes[1:]))  # a bias per input, not per output


@exercise(
    "mlp-parameter-count",
    page="fundamentals/torch-nn",
    task="Count the parameters of an MLP of nn.Linear layers with these sizes "
    "(e.g. [4, 32, 2]) without building it.",
    cases=_layer_sizes,
    wrong=[_wrong_no_bias, _wrong_input_bias],
)
def mlp_parameter_count(sizes: list[int]) -> int:
    """Each ``nn.Linear(a, b)`` holds an ``[b, a]`` weight and ``b`` biases."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def _line_data():
    g = torch.Generator().manual_seed(1)
    for n in [1, 2, 5, 64]:
        x = torch.randn(n, generator=g, dtype=torch.float64)
        y = 3 * x - 1 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
        w, b = torch.randn(2, generator=g, dtype=torch.float64).tolist()
        yield Case((x, y, w, b), label=f"{n} points")


def _wrong_no_two(x, y, w, b):
    r = w * x + b - y
    return (r * x).mean(), r.mean()  # forgets the 2 of the square's derivative


def _wrong_sum(x, y, w, b):
    r = w * x + b - y
    return 2 * (r * x).sum(), 2 * r.sum()  # the loss is a mean, not a sum


@exercise(
    "line-gradient",
    page="fundamentals/autograd",
    task="Return the gradient (dL/dw, dL/db) of L = mean((w·x + b − y)²) "
    "worked out by hand, without autograd.",
    cases=_line_data,
    wrong=[_wrong_no_two, _wrong_sum],
)
def line_gradient(
    x: torch.Tensor, y: torch.Tensor, w: float, b: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """``dL/dw = 2·mean(r·x)``, ``dL/db = 2·mean(r)`` with residuals ``r = w·x + b − y``."""
    r = w * x + b - y
    return 2 * (r * x).mean(), 2 * r.mean()


def _epoch_cases():
    g = torch.Generator().manual_seed(2)
    for n, batch_size, lr in [(10, 4, 0.1), (8, 8, 0.05), (13, 1, 0.02), (1, 3, 0.1), (0, 2, 0.1)]:
        x = torch.randn(n, generator=g, dtype=torch.float64)
        y = 2 * x - 1 + 0.1 * torch.randn(n, generator=g, dtype=torch.float64)
        w, b = torch.randn(2, generator=g, dtype=torch.float64).tolist()
        yield Case((x, y, w, b, lr, batch_size), label=f"{n} points, batches of {batch_size}")


def _wrong_full_batch(x, y, w, b, lr, batch_size):
    w, b = torch.tensor(w, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    if len(x):  # one update per epoch, as if the whole set were one batch
        r = w * x + b - y
        w, b = w - lr * 2 * (r * x).mean(), b - lr * 2 * r.mean()
    return w, b


def _wrong_drop_last(x, y, w, b, lr, batch_size):
    w, b = torch.tensor(w, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    for start in range(0, len(x) - batch_size + 1, batch_size):  # skips the last partial batch
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        r = w * xb + b - yb
        w, b = w - lr * 2 * (r * xb).mean(), b - lr * 2 * r.mean()
    return w, b


def _wrong_stale_residual(x, y, w, b, lr, batch_size):
    w, b = torch.tensor(w, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    r_all = w * x + b - y  # residuals computed once, before the epoch
    for start in range(0, len(x), batch_size):
        r, xb = r_all[start : start + batch_size], x[start : start + batch_size]
        w, b = w - lr * 2 * (r * xb).mean(), b - lr * 2 * r.mean()
    return w, b


@exercise(
    "minibatch-epoch",
    page="fundamentals/training",
    task="One epoch of mini-batch gradient descent on L = mean((w·x + b − y)²): batches of "
    "batch_size points in order (the last one may be smaller), one update per batch; return "
    "(w, b) as float64 tensors.",
    cases=_epoch_cases,
    wrong=[_wrong_full_batch, _wrong_drop_last, _wrong_stale_residual],
)
def minibatch_epoch(
    x: torch.Tensor, y: torch.Tensor, w: float, b: float, lr: float, batch_size: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Each batch sees the parameters the previous batch left: forward, gradient, update."""
    w_t, b_t = torch.tensor(w, dtype=torch.float64), torch.tensor(b, dtype=torch.float64)
    for start in range(0, len(x), batch_size):
        xb, yb = x[start : start + batch_size], y[start : start + batch_size]
        r = w_t * xb + b_t - yb  # residuals of this batch with the current parameters
        w_t = w_t - lr * 2 * (r * xb).mean()
        b_t = b_t - lr * 2 * r.mean()
    return w_t, b_t


_STATE_COPIES = {"sgd": 0, "momentum": 1, "adam": 2}


def _parameter_sets():
    def params(*specs):
        out = []
        for shape, dtype, trainable in specs:
            out.append(torch.zeros(shape, dtype=dtype).requires_grad_(trainable))
        return out

    f32, f64, bf16 = torch.float32, torch.float64, torch.bfloat16
    mlp = [((128, 64), f32, True), ((128,), f32, True), ((10, 128), f32, True), ((10,), f32, True)]
    yield Case((params(*mlp), "adam"), label="MLP 64-128-10, float32, Adam")
    yield Case((params(*mlp), "sgd"), label="MLP 64-128-10, float32, SGD")
    yield Case((params(((3, 5), f64, True), ((3,), f64, True)), "momentum"), label="float64")
    half = [((16, 8), bf16, True), ((16,), bf16, True)]
    yield Case((params(*half), "adam"), label="bfloat16, Adam")
    frozen = [((32, 16), f32, False), ((32,), f32, False), ((4, 32), f32, True), ((4,), f32, True)]
    yield Case((params(*frozen), "adam"), label="first layer frozen, Adam")
    yield Case(([], "adam"), label="no parameters")
    yield Case((params(((2, 2), f32, True)), "rmsprop"), label="unknown optimizer (ValueError)")


def _wrong_four_bytes(parameters, optimizer):
    copies = 2 + _STATE_COPIES[optimizer]
    return sum(p.numel() * (4 * copies if p.requires_grad else 4) for p in parameters)


def _wrong_frozen_too(parameters, optimizer):
    copies = 2 + _STATE_COPIES[optimizer]  # frozen weights get no gradient and no state
    return sum(p.numel() * p.element_size() * copies for p in parameters)


def _wrong_no_gradients(parameters, optimizer):
    copies = 1 + _STATE_COPIES[optimizer]  # weights and optimizer state, but no .grad
    return sum(
        p.numel() * p.element_size() * (copies if p.requires_grad else 1) for p in parameters
    )


@exercise(
    "training-bytes",
    page="fundamentals/gpu",
    task="The bytes that training holds for these parameters with optimizer 'sgd', 'momentum' or "
    "'adam': each weight, plus a gradient and the optimizer's state (0, 1 or 2 tensors of its "
    "shape and dtype) for those that require gradients; ValueError for another optimizer.",
    cases=_parameter_sets,
    wrong=[_wrong_four_bytes, _wrong_frozen_too, _wrong_no_gradients],
)
def training_bytes(parameters: list[torch.Tensor], optimizer: str) -> int:
    """Weights always; gradient and optimizer state only where ``requires_grad`` is set."""
    if optimizer not in _STATE_COPIES:
        raise ValueError(f"optimizer must be one of {sorted(_STATE_COPIES)}, got {optimizer!r}")
    total = 0
    for p in parameters:
        copies = 1 + (1 + _STATE_COPIES[optimizer] if p.requires_grad else 0)
        total += p.numel() * p.element_size() * copies  # element_size: 4 for float32, 2 for bf16
    return total


def _square_cases():
    for x, limit in [(1.5, 100.0), (3.0, 10.0), (1.01, 2.0), (20.0, 10.0), (1.2, 1e6)]:
        yield Case((torch.tensor(x, dtype=torch.float64), limit), label=f"x = {x}, limit {limit:g}")
    yield Case(
        (torch.tensor(0.5, dtype=torch.float64), 10.0), label="x ≤ 1 (must raise ValueError)"
    )


def _wrong_doubling_gradient(x, limit):
    if x.item() <= 1:
        raise ValueError("x must be > 1")
    y, steps = x.clone(), 0
    while y <= limit:
        y, steps = y * y, steps + 1
    return y, torch.tensor(2.0**steps, dtype=x.dtype)  # the derivative of doubling, not squaring


def _wrong_new_value(x, limit):
    if x.item() <= 1:
        raise ValueError("x must be > 1")
    y, grad = x.clone(), torch.ones_like(x)
    while y <= limit:
        y = y * y
        grad = grad * 2 * y  # uses the squared value, not the one that was squared
    return y, grad


@exercise(
    "square-until",
    page="fundamentals/why-pytorch",
    task="Square x (a scalar > 1) until it exceeds limit; return the result y and dy/dx worked out "
    "by the chain rule as the loop runs, without autograd; ValueError if x ≤ 1.",
    cases=_square_cases,
    wrong=[_wrong_doubling_gradient, _wrong_new_value],
)
def square_until(x: torch.Tensor, limit: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Each squaring multiplies the derivative by ``2·y`` at the value it squares."""
    if x.item() <= 1:
        raise ValueError(f"x must be > 1 (else the loop never ends), got {x.item()}")
    y, grad = x.clone(), torch.ones_like(x)
    while y <= limit:
        grad = grad * 2 * y  # d(y²)/dy = 2y, chained onto dy/dx so far
        y = y * y
    return y, grad
