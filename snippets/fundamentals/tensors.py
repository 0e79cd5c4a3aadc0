"""Tensors: shapes with meaning, dtypes, devices, NumPy interop and broadcasting."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from snippets.common.checks import check_tensor


def tensor_examples() -> dict[str, torch.Tensor]:
    """One real-world tensor for each rank from 0 to 5, in PyTorch's layouts.

    PyTorch puts channels *before* height and width: an image is
    ``[C, H, W]``, a batch ``[N, C, H, W]``, a video batch ``[N, T, C, H, W]``.
    """
    return {
        "loss value (scalar)": torch.tensor(0.6931),
        "word embedding (vector)": torch.tensor([0.12, -0.84, 0.33]),
        "grey image [H, W]": torch.zeros(28, 28),
        "RGB image [C, H, W]": torch.zeros(3, 256, 256),
        "batch of RGB images [N, C, H, W]": torch.zeros(32, 3, 128, 128),
        "batch of videos [N, T, C, H, W]": torch.zeros(10, 16, 3, 64, 64),
    }


def describe(t: torch.Tensor) -> str:
    """One line with a tensor's rank, shape, dtype and device.

    >>> describe(torch.zeros(2, 3))
    '2-D  shape [2, 3]  float32  on cpu'
    """
    check_tensor(t, "t")
    dtype = str(t.dtype).removeprefix("torch.")
    return f"{t.ndim}-D  shape {list(t.shape)}  {dtype}  on {t.device}"


def channels_last_to_first(images: torch.Tensor) -> torch.Tensor:
    """Reorder ``[H, W, C]`` (or ``[N, H, W, C]``) to PyTorch's channels-first layout.

    Images read by NumPy, Pillow or Matplotlib are channels-last; PyTorch's
    convolution layers expect ``[C, H, W]`` / ``[N, C, H, W]``. ``permute``
    returns a view: no data is copied.

    Raises:
        ValueError: if ``images`` is not 3-D or 4-D.
    """
    check_tensor(images, "images", ndim=(3, 4))
    if images.ndim == 3:
        return images.permute(2, 0, 1)
    return images.permute(0, 3, 1, 2)


def shares_memory(array: np.ndarray, tensor: torch.Tensor) -> bool:
    """True when ``tensor`` and ``array`` read the same bytes.

    ``torch.from_numpy(a)`` and ``t.numpy()`` (on the CPU) share memory, so a
    change to one is seen by the other; ``torch.tensor(a)`` copies.
    """
    if not isinstance(array, np.ndarray):
        raise TypeError(f"array must be a numpy.ndarray, got {type(array).__name__}")
    check_tensor(tensor, "tensor")
    if tensor.device.type != "cpu":
        return False
    return tensor.data_ptr() == array.__array_interface__["data"][0]


def broadcast_shape(a: Sequence[int], b: Sequence[int]) -> tuple[int, ...]:
    """The shape that ``a`` and ``b`` broadcast to, by PyTorch's (NumPy's) rule.

    Align the shapes on the right; each pair of sizes must be equal or one of
    them 1, and the result takes the larger. Missing leading sizes count as 1.

    >>> broadcast_shape((8, 1, 3), (5, 1))
    (8, 5, 3)

    Raises:
        ValueError: if a pair of sizes is neither equal nor 1.
    """
    result = []
    for i in range(1, max(len(a), len(b)) + 1):
        x = a[-i] if i <= len(a) else 1
        y = b[-i] if i <= len(b) else 1
        if x != y and x != 1 and y != 1:
            raise ValueError(
                f"shapes {tuple(a)} and {tuple(b)} do not broadcast: "
                f"size {x} vs {y} in dimension -{i}"
            )
        result.append(max(x, y))
    return tuple(reversed(result))
