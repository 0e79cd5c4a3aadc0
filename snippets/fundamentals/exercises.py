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
