"""Coding exercises of the convolutional-networks chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from snippets.common.exercises import Case, exercise


def _weight_grad_cases():
    g = torch.Generator().manual_seed(11)
    # (N, C, H, W, O, kernel, stride, padding)
    settings = [
        (2, 3, 5, 5, 4, 3, 1, 0),
        (1, 2, 7, 6, 3, 3, 2, 1),
        (3, 1, 4, 4, 2, 1, 1, 0),
        (2, 2, 6, 5, 1, 2, 2, 0),
        (1, 1, 1, 1, 1, 1, 1, 0),
        (0, 2, 5, 5, 3, 3, 1, 1),
    ]
    for n, c, h, w, o, k, s, p in settings:
        x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
        ho, wo = (h + 2 * p - k) // s + 1, (w + 2 * p - k) // s + 1
        upstream = torch.randn(n, o, ho, wo, generator=g, dtype=torch.float64)
        label = f"N={n}, C={c}, {h}x{w}, O={o}, kernel={k}, stride={s}, padding={p}"
        yield Case((x, upstream, k), {"stride": s, "padding": p}, label=label)


def _wrong_batch_mean(x, upstream, kernel, stride=1, padding=0):
    patches = F.unfold(x, kernel, padding=padding, stride=stride)
    grad = (upstream.flatten(2) @ patches.transpose(1, 2)).sum(0) / max(len(x), 1)
    return grad.reshape(upstream.shape[1], x.shape[1], kernel, kernel)  # averages the batch


def _wrong_flipped(x, upstream, kernel, stride=1, padding=0):
    patches = F.unfold(x, kernel, padding=padding, stride=stride)
    grad = (upstream.flatten(2) @ patches.transpose(1, 2)).sum(0)
    return grad.reshape(upstream.shape[1], x.shape[1], kernel, kernel).flip(-2, -1)  # true conv


@exercise(
    "conv2d-weight-grad",
    page="cnn/convolution",
    task="Given the input x [N, C, H, W] of a convolution with a square kernel, its stride and "
    "padding, and the gradient of a loss with respect to its output [N, O, H', W'], return the "
    "gradient with respect to the weight [O, C, k, k], without autograd.",
    cases=_weight_grad_cases,
    wrong=[_wrong_batch_mean, _wrong_flipped],
)
def conv2d_weight_grad(
    x: torch.Tensor, upstream: torch.Tensor, kernel: int, stride: int = 1, padding: int = 0
) -> torch.Tensor:
    """Each weight multiplies one input pixel per output position: sum upstream × patch.

    With the patches of ``x`` as columns ``[N, C·k·k, L]`` (``L = H'·W'``), the
    output is ``W @ patches``, so ``∂L/∂W = Σ_n upstream_n @ patches_nᵀ``,
    summed over the batch and the positions, then reshaped to ``[O, C, k, k]``.
    """
    patches = F.unfold(x, kernel, padding=padding, stride=stride)  # [N, C·k·k, L]
    grad = (upstream.flatten(2) @ patches.transpose(1, 2)).sum(0)  # [O, C·k·k]
    return grad.reshape(upstream.shape[1], x.shape[1], kernel, kernel)


def _pool_backward_cases():
    g = torch.Generator().manual_seed(12)
    for n, c, h, w, k in [(2, 3, 4, 4, 2), (1, 2, 5, 7, 2), (2, 1, 6, 6, 3), (1, 1, 1, 1, 1)]:
        x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
        upstream = torch.randn(n, c, h // k, w // k, generator=g, dtype=torch.float64)
        yield Case((x, upstream, k), label=f"N={n}, C={c}, {h}x{w}, kernel={k}")
    x = torch.randn(0, 2, 4, 4, generator=g)
    yield Case((x, torch.randn(0, 2, 2, 2, generator=g), 2), label="empty batch, float32")


def _windows(x: torch.Tensor, kernel: int) -> torch.Tensor:
    n, c, h, w = x.shape
    ho, wo = h // kernel, w // kernel
    crop = x[:, :, : ho * kernel, : wo * kernel]
    return crop.reshape(n, c, ho, kernel, wo, kernel).permute(0, 1, 2, 4, 3, 5)


def _unwindow(windows: torch.Tensor, shape: torch.Size) -> torch.Tensor:
    n, c, ho, wo, k, _ = windows.shape
    out = windows.new_zeros(shape)
    out[:, :, : ho * k, : wo * k] = windows.permute(0, 1, 2, 4, 3, 5).reshape(n, c, ho * k, wo * k)
    return out


def _wrong_spread(x, upstream, kernel):
    k = kernel
    spread = upstream[..., None, None].expand(*upstream.shape, k, k) / (k * k)
    return _unwindow(spread, x.shape)  # the backward pass of average pooling


def _wrong_copy(x, upstream, kernel):
    k = kernel
    return _unwindow(upstream[..., None, None].expand(*upstream.shape, k, k), x.shape)


@exercise(
    "max-pool-backward",
    page="cnn/pooling",
    task="Given x [N, C, H, W] and the gradient of a loss with respect to max_pool2d(x, kernel) "
    "(stride = kernel, no padding), return the gradient with respect to x, without autograd.",
    cases=_pool_backward_cases,
    wrong=[_wrong_spread, _wrong_copy],
)
def max_pool_backward(x: torch.Tensor, upstream: torch.Tensor, kernel: int) -> torch.Tensor:
    """Only the maximum of each window reached the output, so only it gets the gradient.

    The other inputs of the window, and the rows and columns that no window
    covers (when ``H`` or ``W`` is not a multiple of ``kernel``), get zero.
    """
    windows = _windows(x, kernel).flatten(-2)  # [N, C, H', W', k·k]
    winner = F.one_hot(windows.argmax(dim=-1), kernel * kernel).to(x.dtype)
    routed = winner * upstream[..., None]  # the gradient lands on the arg-max
    return _unwindow(routed.unflatten(-1, (kernel, kernel)), x.shape)


def _subsampling_cases():
    g = torch.Generator().manual_seed(15)
    for n, c, h, w in [(2, 6, 28, 28), (1, 3, 5, 7), (3, 1, 2, 2), (1, 2, 3, 2)]:
        x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
        weight, bias = (torch.randn(c, generator=g, dtype=torch.float64) for _ in range(2))
        yield Case((x, weight, bias), label=f"N={n}, C={c}, {h}x{w}")
    c = 4
    x, weight, bias = torch.randn(0, c, 6, 6, generator=g), torch.randn(c), torch.randn(c)
    yield Case((x, weight, bias), label="empty batch, float32")


def _wrong_mean(x, weight, bias):
    pooled = F.avg_pool2d(x, 2)  # the mean of the window, not its sum
    return weight[:, None, None] * pooled + bias[:, None, None]


def _wrong_stride_one(x, weight, bias):
    summed = 4 * F.avg_pool2d(x, 2, stride=1)  # overlapping windows
    return weight[:, None, None] * summed + bias[:, None, None]


@exercise(
    "lenet-subsampling",
    page="cnn/lenet",
    task="LeNet-5's sub-sampling layer before its squashing function: each output is the sum of a "
    "2 × 2 window (stride 2) of x [N, C, H, W], times a coefficient of its channel (weight [C]), "
    "plus a bias of its channel (bias [C]).",
    cases=_subsampling_cases,
    wrong=[_wrong_mean, _wrong_stride_one],
)
def lenet_subsampling(x: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> torch.Tensor:
    """The paper's S2 and S4: a 2 × 2 sum pool with one trainable scale and shift per channel.

    It is a depthwise 2 × 2 convolution with stride 2 whose four weights are
    tied to one value; the sum is four times the average pool.
    """
    summed = 4 * F.avg_pool2d(x, 2)  # [N, C, H // 2, W // 2]
    return weight[:, None, None] * summed + bias[:, None, None]


def _macs_cases():
    # (c_in, c_out, kernel, height, width, stride, padding, groups)
    settings = [
        (3, 64, 11, 224, 224, 4, 2, 1),
        (192, 64, 1, 28, 28, 1, 0, 1),
        (64, 64, 3, 56, 56, 1, 1, 1),
        (32, 32, 3, 112, 112, 2, 1, 32),
        (8, 12, 5, 9, 7, 2, 2, 4),
        (1, 1, 1, 1, 1, 1, 0, 1),
    ]
    for c_in, c_out, k, h, w, s, p, groups in settings:
        yield Case(
            (c_in, c_out, k, h, w),
            {"stride": s, "padding": p, "groups": groups},
            label=f"{c_in}→{c_out}, kernel {k}, {h}x{w}, stride {s}, groups {groups}",
        )
    yield Case((6, 8, 3, 10, 10), {"groups": 4}, label="6 channels in 4 groups")


def _wrong_input_size(c_in, c_out, kernel, height, width, stride=1, padding=0, groups=1):
    if c_in % groups or c_out % groups:
        raise ValueError("channels must be divisible by groups")
    return c_out * height * width * (c_in // groups) * kernel * kernel  # ignores stride, padding


def _wrong_no_groups(c_in, c_out, kernel, height, width, stride=1, padding=0, groups=1):
    if c_in % groups or c_out % groups:
        raise ValueError("channels must be divisible by groups")
    h_out = (height + 2 * padding - kernel) // stride + 1
    w_out = (width + 2 * padding - kernel) // stride + 1
    return c_out * h_out * w_out * c_in * kernel * kernel  # every output sees every channel


@exercise(
    "conv-macs",
    page="cnn/alexnet",
    task="The number of multiply-accumulates of one image through nn.Conv2d(c_in, c_out, kernel, "
    "stride, padding, groups=groups) on a height × width input; ValueError if c_in or c_out is "
    "not divisible by groups.",
    cases=_macs_cases,
    wrong=[_wrong_input_size, _wrong_no_groups],
)
def conv_macs(
    c_in: int,
    c_out: int,
    kernel: int,
    height: int,
    width: int,
    stride: int = 1,
    padding: int = 0,
    groups: int = 1,
) -> int:
    """One multiply-accumulate per weight of a filter, per output channel and position.

    A filter of a grouped convolution sees ``c_in / groups`` channels, so the
    cost is ``c_out · H' · W' · (c_in / groups) · k²``.
    """
    if c_in % groups or c_out % groups:
        raise ValueError(f"c_in={c_in} and c_out={c_out} must be divisible by groups={groups}")
    h_out = (height + 2 * padding - kernel) // stride + 1
    w_out = (width + 2 * padding - kernel) // stride + 1
    return c_out * h_out * w_out * (c_in // groups) * kernel * kernel


def _stacked_cases():
    g = torch.Generator().manual_seed(16)
    # (C, M, O, first kernel, second kernel)
    settings = [
        (2, 3, 4, (3, 3), (3, 3)),
        (1, 1, 1, (1, 7), (7, 1)),
        (3, 2, 5, (1, 1), (3, 3)),
        (2, 4, 1, (3, 1), (2, 3)),
        (1, 1, 1, (1, 1), (1, 1)),
    ]
    for c, m, o, k1, k2 in settings:
        first = torch.randn(m, c, *k1, generator=g, dtype=torch.float64)
        second = torch.randn(o, m, *k2, generator=g, dtype=torch.float64)
        yield Case((first, second), label=f"C={c}, M={m}, O={o}, kernels {k1} then {k2}")
    bad = torch.randn(3, 2, 3, 3, generator=g), torch.randn(4, 2, 3, 3, generator=g)
    yield Case(bad, label="first gives 3 channels, second reads 2")


def _wrong_correlation(first, second):
    if second.shape[1] != first.shape[0]:
        raise ValueError("the second convolution must read the first one's channels")
    k2h, k2w = second.shape[-2:]
    padded = F.pad(first.transpose(0, 1), (k2w - 1, k2w - 1, k2h - 1, k2h - 1))
    return F.conv2d(padded, second).transpose(0, 1)  # slides without flipping


def _wrong_layout(first, second):
    if second.shape[1] != first.shape[0]:
        raise ValueError("the second convolution must read the first one's channels")
    return F.conv_transpose2d(first.transpose(0, 1), second.transpose(0, 1))  # [C, O, …]


@exercise(
    "stacked-conv-kernel",
    page="cnn/vgg-inception",
    task="The one kernel [O, C, kh1 + kh2 − 1, kw1 + kw2 − 1] of a convolution with weight first "
    "[M, C, kh1, kw1] followed by one with weight second [O, M, kh2, kw2] (stride 1, no padding, "
    "no bias, no activation); ValueError if second does not read M channels.",
    cases=_stacked_cases,
    wrong=[_wrong_correlation, _wrong_layout],
)
def stacked_conv_kernel(first: torch.Tensor, second: torch.Tensor) -> torch.Tensor:
    """Two linear convolutions in a row are one convolution with a larger kernel.

    ``K[o, c, u, v] = Σ_m Σ_(a, b) second[o, m, a, b] · first[m, c, u − a, v − b]``:
    each offset of the second kernel shifts a copy of the first, which is what
    a transposed convolution of ``first`` by ``second`` computes.
    """
    if second.shape[1] != first.shape[0]:
        raise ValueError(
            f"second must read the {first.shape[0]} channels of first, got {second.shape[1]}"
        )
    return F.conv_transpose2d(first.transpose(0, 1), second.transpose(0, 1)).transpose(0, 1)


def _shuffle_cases():
    g = torch.Generator().manual_seed(13)
    for n, c, h, w, groups in [(2, 6, 3, 3, 2), (1, 12, 2, 5, 3), (3, 8, 1, 1, 4), (1, 5, 4, 4, 1)]:
        x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
        yield Case((x, groups), label=f"N={n}, C={c}, {h}x{w}, groups={groups}")
    yield Case((torch.randn(0, 6, 2, 2, generator=g), 3), label="empty batch, float32")
    yield Case((torch.randn(1, 6, 2, 2, generator=g), 4), label="6 channels, 4 groups")


def _wrong_inverse(x, groups):
    n, c, h, w = x.shape
    if c % groups:
        raise ValueError("channels must be divisible by groups")
    return x.reshape(n, c // groups, groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def _wrong_no_check(x, groups):
    n, c, h, w = x.shape
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


@exercise(
    "channel-shuffle",
    page="cnn/mobilenet",
    task="ShuffleNet's channel shuffle of x [N, C, H, W] with `groups` groups: channel j of group "
    "i moves to position j·groups + i; ValueError if C is not divisible by groups.",
    cases=_shuffle_cases,
    wrong=[_wrong_inverse, _wrong_no_check],
)
def channel_shuffle(x: torch.Tensor, groups: int) -> torch.Tensor:
    """View the channels as a ``[groups, C/groups]`` grid and read it column by column.

    After the shuffle every group of the next grouped convolution holds one
    channel from each group of the previous one.
    """
    n, c, h, w = x.shape
    if c % groups:
        raise ValueError(f"the {c} channels must be divisible by groups={groups}")
    return x.reshape(n, groups, c // groups, h, w).transpose(1, 2).reshape(n, c, h, w)


def _shortcut_cases():
    g = torch.Generator().manual_seed(14)
    for n, c, h, w, c_out, s in [(2, 4, 6, 6, 8, 2), (1, 3, 5, 7, 6, 2), (2, 2, 3, 3, 2, 1)]:
        x = torch.randn(n, c, h, w, generator=g, dtype=torch.float64)
        yield Case((x, c_out, s), label=f"N={n}, C={c}, {h}x{w}, c_out={c_out}, stride={s}")
    yield Case((torch.randn(1, 1, 1, 1, generator=g), 3, 2), label="1x1 image, float32")
    yield Case((torch.randn(0, 2, 4, 4, generator=g), 4, 2), label="empty batch, float32")
    yield Case((torch.randn(1, 4, 4, 4, generator=g), 2, 2), label="fewer output channels")


def _wrong_average(x, c_out, stride):
    if c_out < x.shape[1]:
        raise ValueError("c_out must be at least the number of channels")
    pooled = F.avg_pool2d(x, stride, ceil_mode=True)  # averages instead of subsampling
    return F.pad(pooled, (0, 0, 0, 0, 0, c_out - x.shape[1]))


def _wrong_zeros_first(x, c_out, stride):
    if c_out < x.shape[1]:
        raise ValueError("c_out must be at least the number of channels")
    kept = x[:, :, ::stride, ::stride]
    return F.pad(kept, (0, 0, 0, 0, c_out - x.shape[1], 0))  # the zero channels come first


@exercise(
    "zero-pad-shortcut",
    page="cnn/architectures",
    task="The parameter-free shortcut of the CIFAR ResNets (option A): keep every stride-th pixel "
    "of x [N, C, H, W] in each direction (starting at 0), then append c_out − C channels of zeros; "
    "ValueError if c_out < C.",
    cases=_shortcut_cases,
    wrong=[_wrong_average, _wrong_zeros_first],
)
def zero_pad_shortcut(x: torch.Tensor, c_out: int, stride: int) -> torch.Tensor:
    """An identity that fits the shapes: subsample like a stride-``s`` 1×1 conv, pad the channels.

    It adds no parameters; the first ``C`` output channels carry ``x`` and the
    new ones start at zero, for the residual branch to fill.
    """
    if c_out < x.shape[1]:
        raise ValueError(f"c_out must be at least the {x.shape[1]} input channels, got {c_out}")
    kept = x[:, :, ::stride, ::stride]  # [N, C, ⌈H/s⌉, ⌈W/s⌉]
    return F.pad(kept, (0, 0, 0, 0, 0, c_out - x.shape[1]))


def _rate_cases():
    b0 = [1, 2, 2, 3, 3, 4, 1]  # blocks per stage of EfficientNet-B0
    for layers, depth, p in [(b0, 1.0, 0.2), (b0, 1.1, 0.2), (b0, 3.1, 0.2), ([3, 2], 1.5, 0.3)]:
        yield Case((layers, depth, p), label=f"{len(layers)} stages, depth {depth}, p={p}")
    yield Case(([1], 1.0, 0.5), label="one block")
    yield Case(([], 2.0, 0.2), label="no stages")


def _wrong_last_is_p(stage_layers, depth, p):
    total = sum(math.ceil(n * depth) for n in stage_layers)
    return torch.arange(1, total + 1, dtype=torch.float64) * p / total  # first block drops too


def _wrong_rounded(stage_layers, depth, p):
    total = sum(round(n * depth) for n in stage_layers)  # rounds instead of rounding up
    return torch.arange(total, dtype=torch.float64) * p / total


def _wrong_per_stage(stage_layers, depth, p):
    rates = [torch.arange(math.ceil(n * depth), dtype=torch.float64) for n in stage_layers]
    total = sum(len(r) for r in rates)
    return torch.cat([r * p / total for r in rates]) if rates else torch.zeros(0).double()


@exercise(
    "drop-path-rates",
    page="cnn/efficientnet",
    task="The stochastic-depth probability of every MBConv block of an EfficientNet, in order, as "
    "a float64 tensor: stage s has ceil(layers[s] · depth) blocks, and block i of all T blocks "
    "(from 0) gets p · i / T.",
    cases=_rate_cases,
    wrong=[_wrong_last_is_p, _wrong_rounded, _wrong_per_stage],
)
def drop_path_rates(stage_layers: list[int], depth: float, p: float) -> torch.Tensor:
    """Deeper blocks are dropped more often: the rate grows linearly with the block's index.

    The index runs over the whole network, not per stage, and the first block
    is never dropped; the last one gets ``p · (T − 1) / T``, just under ``p``.
    """
    total = sum(math.ceil(n * depth) for n in stage_layers)  # depth scaling rounds up
    return torch.arange(total, dtype=torch.float64) * p / total
