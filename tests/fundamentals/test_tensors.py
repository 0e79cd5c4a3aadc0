import numpy as np
import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st

from snippets.fundamentals.tensors import (
    broadcast_shape,
    channels_last_to_first,
    describe,
    shares_memory,
    tensor_examples,
)


def test_tensor_examples_cover_ranks_0_to_5_in_pytorch_layouts():
    examples = tensor_examples()
    assert sorted(t.ndim for t in examples.values()) == [0, 1, 2, 3, 4, 5]
    assert examples["RGB image [C, H, W]"].shape == (3, 256, 256)
    assert examples["batch of RGB images [N, C, H, W]"].shape == (32, 3, 128, 128)
    assert examples["batch of videos [N, T, C, H, W]"].shape == (10, 16, 3, 64, 64)


def test_describe():
    assert describe(torch.zeros(2, 3)) == "2-D  shape [2, 3]  float32  on cpu"
    assert describe(torch.tensor(1)) == "0-D  shape []  int64  on cpu"
    with pytest.raises(TypeError, match="t must be a torch.Tensor"):
        describe([1, 2])


def test_channels_last_to_first_matches_indexing():
    hwc = torch.rand(4, 5, 3)
    chw = channels_last_to_first(hwc)
    assert chw.shape == (3, 4, 5)
    assert chw[2, 1, 3] == hwc[1, 3, 2]
    assert chw.data_ptr() == hwc.data_ptr()  # a view, no copy
    nhwc = torch.rand(2, 4, 5, 3)
    torch.testing.assert_close(channels_last_to_first(nhwc)[1], channels_last_to_first(nhwc[1]))
    # the layout torch's own conv expects: same result as running conv on a permuted copy
    conv = torch.nn.Conv2d(3, 2, 3)
    torch.testing.assert_close(conv(channels_last_to_first(nhwc)), conv(nhwc.permute(0, 3, 1, 2)))


def test_channels_last_to_first_bad_rank():
    with pytest.raises(ValueError, match="images must have 3 or 4 dimensions, got 2"):
        channels_last_to_first(torch.zeros(4, 4))


def test_from_numpy_shares_memory_and_tensor_copies():
    array = np.arange(4, dtype=np.float32)
    shared, copied = torch.from_numpy(array), torch.tensor(array)
    assert shares_memory(array, shared) and not shares_memory(array, copied)
    array[0] = 99
    assert shared[0] == 99 and copied[0] == 0
    back = shared.numpy()
    assert shares_memory(back, shared)


def test_shares_memory_bad_input():
    with pytest.raises(TypeError, match="array must be a numpy.ndarray"):
        shares_memory([1.0], torch.zeros(1))


shapes = st.lists(st.integers(min_value=1, max_value=4), min_size=0, max_size=4)


@given(a=shapes, b=shapes)
def test_broadcast_shape_matches_torch(a, b):
    try:
        expected = tuple(torch.broadcast_shapes(tuple(a), tuple(b)))
    except RuntimeError:
        with pytest.raises(ValueError, match="do not broadcast"):
            broadcast_shape(a, b)
    else:
        assert broadcast_shape(a, b) == expected


@given(a=shapes)
def test_broadcast_shape_with_itself_and_scalar(a):
    assert broadcast_shape(a, a) == tuple(a)
    assert broadcast_shape(a, ()) == tuple(a)
