"""Convolution and pooling written from scratch, and the arithmetic of their shapes.

A convolutional layer slides a small kernel over the image and takes a dot
product at every position. Here that is written out twice: once with plain
loops for one grey image (:func:`correlate2d`), once for whole batches with
strides, padding, dilation and groups (:func:`conv2d`), gathering the
windows by slicing and contracting them with ``einsum``. Pooling reuses the
same windows. The tests compare every function with ``torch.nn.functional``.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from snippets.common.checks import check_positive, check_tensor

IntPair = int | tuple[int, int]


def _pair(value: IntPair, name: str, *, allow_zero: bool = False) -> tuple[int, int]:
    """Turn ``3`` or ``(3, 5)`` into a pair of ints, checking each is positive."""
    pair = (value, value) if isinstance(value, int) and not isinstance(value, bool) else value
    if not isinstance(pair, tuple) or len(pair) != 2:
        raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
    for v in pair:
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{name} must be an int or a pair of ints, got {value!r}")
        check_positive(v, name, allow_zero=allow_zero)
    return pair


def conv_output_size(
    size: int, kernel: int, stride: int = 1, padding: int = 0, dilation: int = 1
) -> int:
    """Length of a convolution's or pooling's output along one spatial axis.

    ``floor((size + 2*padding - dilation*(kernel - 1) - 1) / stride) + 1``

    >>> conv_output_size(224, kernel=11, stride=4, padding=2)  # AlexNet's first layer
    55

    Raises:
        ValueError: if a size is not positive, ``padding`` is negative, or the
            (dilated) kernel is larger than the padded input.
    """
    for value, name in ((size, "size"), (kernel, "kernel"), (stride, "stride")):
        check_positive(value, name)
    check_positive(dilation, "dilation")
    check_positive(padding, "padding", allow_zero=True)
    span = dilation * (kernel - 1) + 1  # the kernel's extent once dilated
    if span > size + 2 * padding:
        raise ValueError(
            f"the kernel spans {span} pixels but the padded input has only {size + 2 * padding}"
        )
    return (size + 2 * padding - span) // stride + 1


def correlate2d(image: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Slide ``kernel`` over ``image`` with two loops: the definition, nothing more.

    ``out[i, j] = sum_{u, v} image[i + u, j + v] * kernel[u, v]`` (no padding,
    stride 1). Deep-learning "convolution" is this cross-correlation: the
    kernel is not flipped.

    Shapes:
        ``image`` ``[H, W]``, ``kernel`` ``[kH, kW]`` → ``[H - kH + 1, W - kW + 1]``.

    Raises:
        ValueError: if either tensor is not 2-D or the kernel is larger than the image.
    """
    check_tensor(image, "image", ndim=2, floating=True)
    check_tensor(kernel, "kernel", ndim=2, floating=True)
    (h, w), (kh, kw) = image.shape, kernel.shape
    if kh > h or kw > w:
        raise ValueError(
            f"kernel must fit inside image, got kernel {tuple(kernel.shape)} "
            f"and image {tuple(image.shape)}"
        )
    out = torch.empty(h - kh + 1, w - kw + 1, dtype=image.dtype)
    for i in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[i, j] = (image[i : i + kh, j : j + kw] * kernel).sum()
    return out


def extract_patches(
    x: torch.Tensor,
    kernel: IntPair,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    pad_value: float = 0.0,
) -> torch.Tensor:
    """Every window a kernel sees, gathered into one tensor ("im2col").

    For each of the ``kH * kW`` kernel offsets ``(u, v)`` one strided slice of
    the padded input picks the pixel under that offset at every output
    position; stacking the slices gives all windows at once.

    Shapes:
        ``x`` ``[N, C, H, W]`` → ``[N, C, kH, kW, H_out, W_out]`` with
        ``H_out = conv_output_size(H, kH, ...)``.

    Raises:
        ValueError: if ``x`` is not 4-D, an argument is out of range, or the
            kernel does not fit.
    """
    check_tensor(x, "x", ndim=4)
    (kh, kw), (sh, sw) = _pair(kernel, "kernel"), _pair(stride, "stride")
    (ph, pw), (dh, dw) = _pair(padding, "padding", allow_zero=True), _pair(dilation, "dilation")
    h_out = conv_output_size(x.shape[2], kh, sh, ph, dh)
    w_out = conv_output_size(x.shape[3], kw, sw, pw, dw)
    padded = F.pad(x, (pw, pw, ph, ph), value=pad_value)
    rows = []
    for u in range(kh):
        cols = []
        for v in range(kw):
            top, left = u * dh, v * dw  # where offset (u, v) lands in the first window
            cols.append(
                padded[
                    :,
                    :,
                    top : top + sh * (h_out - 1) + 1 : sh,
                    left : left + sw * (w_out - 1) + 1 : sw,
                ]
            )
        rows.append(torch.stack(cols, dim=2))  # [N, C, kW, H_out, W_out]
    return torch.stack(rows, dim=2)  # [N, C, kH, kW, H_out, W_out]


def conv2d(
    x: torch.Tensor,
    weight: torch.Tensor,
    bias: torch.Tensor | None = None,
    stride: IntPair = 1,
    padding: IntPair = 0,
    dilation: IntPair = 1,
    groups: int = 1,
) -> torch.Tensor:
    """2-D convolution (cross-correlation) of a batch, like ``F.conv2d``.

    With ``groups = g`` the input channels are cut into ``g`` groups and each
    group of output channels sees only its own group of inputs;
    ``groups = C_in`` is a *depthwise* convolution (one filter per channel).

    Shapes:
        ``x`` ``[N, C_in, H, W]``, ``weight`` ``[C_out, C_in / groups, kH, kW]``,
        ``bias`` ``[C_out]`` → ``[N, C_out, H_out, W_out]``.

    Raises:
        ValueError: if the channel counts do not fit ``groups``, or any size
            is out of range.
        TypeError: if ``weight`` or ``bias`` has another dtype than ``x``.
    """
    check_tensor(x, "x", ndim=4, floating=True)
    check_tensor(weight, "weight", ndim=4, dtype=x.dtype)  # same dtype as x, as F.conv2d needs
    check_positive(groups, "groups")
    n, c_in = x.shape[:2]
    c_out, c_group, kh, kw = weight.shape
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"groups={groups} must divide both input channels ({c_in}) and output channels "
            f"({c_out})"
        )
    if c_group != c_in // groups:
        raise ValueError(
            f"weight must have {c_in // groups} input channels per group (C_in / groups), "
            f"got {c_group} (shape {tuple(weight.shape)})"
        )
    patches = extract_patches(x, (kh, kw), stride, padding, dilation)
    h_out, w_out = patches.shape[-2:]
    patches = patches.reshape(n, groups, c_group, kh, kw, h_out, w_out)
    w = weight.reshape(groups, c_out // groups, c_group, kh, kw)
    # for every group g and output channel o: sum over input channel c and offsets (i, j)
    out = torch.einsum("ngcijhw,gocij->ngohw", patches, w).reshape(n, c_out, h_out, w_out)
    if bias is not None:
        check_tensor(bias, "bias", ndim=1, dtype=x.dtype)
        if bias.shape[0] != c_out:
            raise ValueError(f"bias must have {c_out} entries, got {bias.shape[0]}")
        out = out + bias.view(1, c_out, 1, 1)
    return out


def max_pool2d(
    x: torch.Tensor,
    kernel: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    dilation: IntPair = 1,
) -> torch.Tensor:
    """Largest value in every window, channel by channel, like ``F.max_pool2d``.

    ``stride`` defaults to ``kernel`` (windows side by side, no overlap).
    Padding counts as minus infinity, so it never wins. The gradient goes to
    each window's maximum; where several elements tie for it, ``amax``
    splits the gradient between them (``F.max_pool2d`` gives it to one).

    Shapes:
        ``[N, C, H, W]`` → ``[N, C, H_out, W_out]``.

    Raises:
        ValueError: if ``padding`` exceeds half the kernel (as in PyTorch) or
            a size is out of range.
    """
    check_tensor(x, "x", ndim=4, floating=True)
    kernel = _pair(kernel, "kernel")
    _check_pool_padding(kernel, _pair(padding, "padding", allow_zero=True))
    patches = extract_patches(
        x, kernel, stride if stride is not None else kernel, padding, dilation, float("-inf")
    )
    return patches.amax(dim=(2, 3))


def avg_pool2d(
    x: torch.Tensor,
    kernel: IntPair,
    stride: IntPair | None = None,
    padding: IntPair = 0,
    count_include_pad: bool = True,
) -> torch.Tensor:
    """Mean of every window, channel by channel, like ``F.avg_pool2d``.

    With ``count_include_pad=False`` the padded zeros are left out of the
    divisor, so border windows average only real pixels.

    Shapes:
        ``[N, C, H, W]`` → ``[N, C, H_out, W_out]``.

    Raises:
        ValueError: if ``padding`` exceeds half the kernel or a size is out of range.
    """
    check_tensor(x, "x", ndim=4, floating=True)
    kernel = _pair(kernel, "kernel")
    _check_pool_padding(kernel, _pair(padding, "padding", allow_zero=True))
    stride = stride if stride is not None else kernel
    total = extract_patches(x, kernel, stride, padding).sum(dim=(2, 3))
    if count_include_pad:
        return total / (kernel[0] * kernel[1])
    ones = torch.ones(1, 1, *x.shape[2:], dtype=x.dtype)
    count = extract_patches(ones, kernel, stride, padding).sum(dim=(2, 3))
    return total / count


def _check_pool_padding(kernel: tuple[int, int], padding: tuple[int, int]) -> None:
    if padding[0] > kernel[0] // 2 or padding[1] > kernel[1] // 2:
        raise ValueError(f"padding must be at most half the kernel {kernel}, got {padding}")


def receptive_field(layers: Sequence[tuple[int, int, int]]) -> list[int]:
    """Receptive-field size after each layer of a stack of convolutions/poolings.

    ``layers`` lists ``(kernel, stride, dilation)`` from input to output. With
    ``j`` the distance in input pixels between neighbouring outputs (the
    product of the strides so far), each layer grows the field by
    ``dilation * (kernel - 1) * j``:

    ``r_l = r_{l-1} + d_l (k_l - 1) j_{l-1}``, ``j_l = j_{l-1} s_l``, ``r_0 = j_0 = 1``.

    >>> receptive_field([(3, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)])
    [3, 5, 6, 10]

    Raises:
        ValueError: if a kernel, stride or dilation is not positive.
    """
    field, jump, sizes = 1, 1, []
    for index, layer in enumerate(layers):
        if len(layer) != 3:
            raise ValueError(f"layers[{index}] must be (kernel, stride, dilation), got {layer!r}")
        kernel, stride, dilation = layer
        for value, name in ((kernel, "kernel"), (stride, "stride"), (dilation, "dilation")):
            check_positive(value, f"layers[{index}] {name}")
        field += dilation * (kernel - 1) * jump
        jump *= stride
        sizes.append(field)
    return sizes


def layer_geometry(model: nn.Module) -> list[tuple[str, tuple[int, int, int]]]:
    """``(name, (kernel, stride, dilation))`` of every Conv2d and pooling layer, in order.

    Reads the first spatial axis (the models here use square kernels); feed
    the geometry to :func:`receptive_field`.
    """
    geometry = []
    for name, module in model.named_modules():
        if isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
            k, s = _pair(module.kernel_size, "kernel"), _pair(module.stride, "stride")
            d = _pair(getattr(module, "dilation", 1), "dilation")
            geometry.append((name, (k[0], s[0], d[0])))
    return geometry


def edge_filters() -> dict[str, torch.Tensor]:
    """Four hand-made 3×3 filters: two Sobel edge detectors, a Laplacian and a blur.

    A vertical edge (dark to bright from left to right) gives a large
    positive response to ``"sobel x"``; ``"laplacian"`` responds to spots and
    thin strokes; ``"blur"`` averages the neighbourhood.

    Shapes:
        each filter ``[3, 3]``.
    """
    sobel_x = torch.tensor([[-1.0, 0.0, 1.0], [-2.0, 0.0, 2.0], [-1.0, 0.0, 1.0]])
    return {
        "sobel x": sobel_x,
        "sobel y": sobel_x.T.contiguous(),
        "laplacian": torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]]),
        "blur": torch.full((3, 3), 1.0 / 9.0),
    }
