import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st
from torch import nn

from snippets.cnn.conv import (
    avg_pool2d,
    conv2d,
    conv_output_size,
    correlate2d,
    edge_filters,
    extract_patches,
    layer_geometry,
    max_pool2d,
    receptive_field,
)
from snippets.cnn.lenet import LeNet5

CONV_CASES = [
    # (c_in, c_out, kernel, stride, padding, dilation, groups)
    (3, 4, 3, 1, 0, 1, 1),
    (3, 4, 3, 2, 1, 1, 1),
    (2, 6, (3, 5), (2, 1), (1, 2), 1, 1),
    (4, 4, 3, 1, 2, 2, 1),
    (4, 6, 3, 1, 1, 1, 2),
    (6, 6, 5, 2, 2, 1, 6),  # depthwise
    (6, 12, 3, 1, 1, 2, 3),
    (1, 1, 1, 1, 0, 1, 1),
]


@pytest.mark.parametrize("c_in,c_out,kernel,stride,padding,dilation,groups", CONV_CASES)
def test_conv2d_matches_pytorch(c_in, c_out, kernel, stride, padding, dilation, groups):
    k = kernel if isinstance(kernel, tuple) else (kernel, kernel)
    x = torch.randn(2, c_in, 11, 9)
    weight = torch.randn(c_out, c_in // groups, *k)
    bias = torch.randn(c_out)
    args = (stride, padding, dilation, groups)
    torch.testing.assert_close(conv2d(x, weight, bias, *args), F.conv2d(x, weight, bias, *args))
    torch.testing.assert_close(conv2d(x, weight, None, *args), F.conv2d(x, weight, None, *args))


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(0, 3),
    groups=st.integers(1, 3),
    per_group=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    kernel=st.tuples(st.integers(1, 4), st.integers(1, 4)),
    stride=st.tuples(st.integers(1, 3), st.integers(1, 3)),
    padding=st.tuples(st.integers(0, 2), st.integers(0, 2)),
    dilation=st.tuples(st.integers(1, 2), st.integers(1, 2)),
    extra=st.tuples(st.integers(0, 5), st.integers(0, 5)),
    dtype=st.sampled_from([torch.float32, torch.float64]),
)
def test_conv2d_matches_pytorch_on_random_shapes(
    n, groups, per_group, kernel, stride, padding, dilation, extra, dtype
):
    """Any batch size (0 too), channel groups, rectangular kernels, strides,
    padding and dilation down to the smallest input the kernel fits."""
    c_in, c_out = groups * per_group[0], groups * per_group[1]
    span = [d * (k - 1) + 1 - 2 * p for k, p, d in zip(kernel, padding, dilation)]
    h, w = (max(1, s) + e for s, e in zip(span, extra))  # the padded input holds the kernel
    g = torch.Generator().manual_seed(n + 7 * c_in)
    x = torch.randn(n, c_in, h, w, generator=g, dtype=dtype)
    weight = torch.randn(c_out, per_group[0], *kernel, generator=g, dtype=dtype)
    bias = torch.randn(c_out, generator=g, dtype=dtype)
    args = (stride, padding, dilation, groups)
    ours = conv2d(x, weight, bias, *args)
    assert ours.dtype == dtype
    torch.testing.assert_close(ours, F.conv2d(x, weight, bias, *args))


def test_conv2d_gradients_match_pytorch():
    x = torch.randn(2, 4, 7, 7, requires_grad=True)
    w = torch.randn(6, 2, 3, 3, requires_grad=True)
    conv2d(x, w, stride=2, padding=1, groups=2).square().sum().backward()
    gx, gw = x.grad.clone(), w.grad.clone()
    x.grad, w.grad = None, None
    F.conv2d(x, w, stride=2, padding=1, groups=2).square().sum().backward()
    torch.testing.assert_close(gx, x.grad)
    torch.testing.assert_close(gw, w.grad)


@given(
    size=st.integers(1, 12),
    kernel=st.integers(1, 5),
    stride=st.integers(1, 3),
    padding=st.integers(0, 2),
    dilation=st.integers(1, 3),
)
def test_output_size_formula_matches_pytorch(size, kernel, stride, padding, dilation):
    if dilation * (kernel - 1) + 1 > size + 2 * padding:
        with pytest.raises(ValueError, match="kernel spans"):
            conv_output_size(size, kernel, stride, padding, dilation)
        return
    image, kernel_ = torch.zeros(1, 1, size, size), torch.zeros(1, 1, kernel, kernel)
    out = F.conv2d(image, kernel_, None, stride, padding, dilation)
    assert out.shape[-1] == conv_output_size(size, kernel, stride, padding, dilation)


def test_output_size_known_layers():
    assert conv_output_size(224, 11, 4, 2) == 55  # AlexNet conv1
    assert conv_output_size(55, 3, 2) == 27  # AlexNet's overlapping pooling
    assert conv_output_size(32, 5) == 28  # LeNet-5 C1
    assert conv_output_size(8, 3, 1, 1) == 8  # "same" padding


def test_output_size_bad_input():
    with pytest.raises(ValueError, match="stride must be > 0, got 0"):
        conv_output_size(8, 3, stride=0)
    with pytest.raises(ValueError, match="padding must be >= 0, got -1"):
        conv_output_size(8, 3, padding=-1)
    with pytest.raises(ValueError, match="kernel spans 9 pixels but the padded input has only 8"):
        conv_output_size(8, 5, dilation=2)


def test_correlate2d_is_convolution_without_flip():
    image, kernel = torch.randn(7, 6), torch.randn(3, 2)
    expected = F.conv2d(image[None, None], kernel[None, None])[0, 0]
    torch.testing.assert_close(correlate2d(image, kernel), expected)
    batched = conv2d(image[None, None], kernel[None, None])[0, 0]
    torch.testing.assert_close(correlate2d(image, kernel), batched)


def test_correlate2d_bad_input():
    with pytest.raises(ValueError, match="kernel must fit inside image"):
        correlate2d(torch.randn(3, 3), torch.randn(4, 1))
    with pytest.raises(ValueError, match="image must have 2 dimensions"):
        correlate2d(torch.randn(1, 3, 3), torch.randn(2, 2))
    with pytest.raises(TypeError, match="kernel must have a floating-point dtype"):
        correlate2d(torch.randn(3, 3), torch.ones(2, 2, dtype=torch.int64))


def test_extract_patches_holds_every_window():
    x = torch.arange(2 * 3 * 6 * 5, dtype=torch.float32).reshape(2, 3, 6, 5)
    p = extract_patches(x, kernel=(3, 2), stride=(2, 1), padding=0, dilation=(1, 2))
    assert p.shape == (2, 3, 3, 2, 2, 3)
    # output position (1, 2) starts at row 2, column 2; offset (u, v) adds (u, 2v)
    for u in range(3):
        for v in range(2):
            torch.testing.assert_close(p[:, :, u, v, 1, 2], x[:, :, 2 + u, 2 + 2 * v])


def test_conv2d_bad_input():
    x = torch.randn(1, 4, 5, 5)
    with pytest.raises(ValueError, match="groups=3 must divide both input channels"):
        conv2d(x, torch.randn(6, 1, 3, 3), groups=3)
    with pytest.raises(ValueError, match="weight must have 2 input channels per group"):
        conv2d(x, torch.randn(6, 4, 3, 3), groups=2)
    with pytest.raises(ValueError, match="bias must have 6 entries, got 5"):
        conv2d(x, torch.randn(6, 4, 3, 3), torch.randn(5))
    with pytest.raises(ValueError, match="x must have 4 dimensions"):
        conv2d(torch.randn(4, 5, 5), torch.randn(6, 4, 3, 3))
    with pytest.raises(TypeError, match="stride must be an int or a pair of ints"):
        conv2d(x, torch.randn(6, 4, 3, 3), stride=1.5)
    with pytest.raises(ValueError, match="dilation must be > 0"):
        conv2d(x, torch.randn(6, 4, 3, 3), dilation=(1, 0))
    with pytest.raises(TypeError, match="weight must have dtype torch.float64, got torch.float32"):
        conv2d(torch.zeros(1, 1, 4, 4, dtype=torch.float64), torch.zeros(1, 1, 3, 3))
    with pytest.raises(TypeError, match="bias must have dtype torch.float32"):
        conv2d(torch.zeros(1, 1, 4, 4), torch.zeros(2, 1, 3, 3), bias=torch.zeros(2).double())


@pytest.mark.parametrize(
    "kernel,stride,padding,dilation",
    [(2, None, 0, 1), (3, 2, 1, 1), ((3, 2), (1, 2), (1, 1), 1), (3, 1, 1, 2), (2, 1, 0, 1)],
)
def test_max_pool_matches_pytorch(kernel, stride, padding, dilation):
    x = torch.randn(2, 3, 9, 8)
    torch.testing.assert_close(
        max_pool2d(x, kernel, stride, padding, dilation),
        F.max_pool2d(x, kernel, stride, padding, dilation),
    )


def test_pool_gradients_match_pytorch_and_ties_share_the_gradient():
    x = torch.randn(2, 3, 9, 8, requires_grad=True)  # distinct values: one winner per window
    for ours, theirs in [(max_pool2d, F.max_pool2d), (avg_pool2d, F.avg_pool2d)]:
        (g_ours,) = torch.autograd.grad(ours(x, 3, 2, 1).square().sum(), x)
        (g_torch,) = torch.autograd.grad(theirs(x, 3, 2, 1).square().sum(), x)
        torch.testing.assert_close(g_ours, g_torch)
    tied = torch.tensor([[[[9.0, 9.0], [1.0, 2.0]]]], requires_grad=True)
    max_pool2d(tied, 2).sum().backward()  # amax splits the gradient between the tied maxima
    torch.testing.assert_close(tied.grad, torch.tensor([[[[0.5, 0.5], [0.0, 0.0]]]]))


@pytest.mark.parametrize("count_include_pad", [True, False])
@pytest.mark.parametrize(
    "kernel,stride,padding", [(2, None, 0), (3, 2, 1), ((3, 2), (1, 2), (1, 1)), (4, 3, 2)]
)
def test_avg_pool_matches_pytorch(kernel, stride, padding, count_include_pad):
    x = torch.randn(2, 3, 9, 8)
    torch.testing.assert_close(
        avg_pool2d(x, kernel, stride, padding, count_include_pad),
        F.avg_pool2d(x, kernel, stride, padding, count_include_pad=count_include_pad),
    )


def test_pool_bad_input():
    with pytest.raises(ValueError, match="padding must be at most half the kernel"):
        max_pool2d(torch.randn(1, 1, 6, 6), 2, padding=2)
    with pytest.raises(ValueError, match="padding must be at most half the kernel"):
        avg_pool2d(torch.randn(1, 1, 6, 6), (3, 3), padding=(0, 2))
    with pytest.raises(ValueError, match="kernel must be > 0"):
        avg_pool2d(torch.randn(1, 1, 6, 6), 0)


def test_receptive_field_known_values():
    assert receptive_field([(3, 1, 1), (3, 1, 1), (2, 2, 1), (3, 1, 1)]) == [3, 5, 6, 10]
    assert receptive_field([(3, 1, 1), (3, 1, 2), (3, 1, 4)]) == [3, 7, 15]  # dilation doubling
    assert receptive_field([]) == []


@given(
    st.lists(
        st.tuples(st.integers(1, 4), st.integers(1, 2), st.integers(1, 2)), min_size=1, max_size=4
    )
)
def test_receptive_field_matches_gradient(layers):
    """The input pixels that influence one output are exactly the computed field."""
    size = 96  # wider than the largest field drawn (91); one row keeps it cheap
    x = torch.zeros(1, 1, 1, size, requires_grad=True)
    out = x
    for kernel, stride, dilation in layers:
        weight = torch.ones(1, 1, 1, kernel)
        out = F.conv2d(out, weight, stride=(1, stride), dilation=(1, dilation))
    out[0, 0, 0, 0].backward()
    touched = torch.nonzero(x.grad[0, 0, 0]).flatten()
    assert touched.max().item() - touched.min().item() + 1 == receptive_field(layers)[-1]


def test_receptive_field_bad_input():
    with pytest.raises(ValueError, match=r"layers\[1\] stride must be > 0"):
        receptive_field([(3, 1, 1), (3, 0, 1)])
    with pytest.raises(ValueError, match=r"layers\[0\] must be \(kernel, stride, dilation\)"):
        receptive_field([(3, 1)])


def test_layer_geometry_of_lenet():
    geometry = layer_geometry(LeNet5())
    assert [g for _, g in geometry] == [(5, 1, 1), (2, 2, 1), (5, 1, 1), (2, 2, 1), (5, 1, 1)]
    assert receptive_field([g for _, g in geometry])[-1] == 32  # C5 sees the whole 32×32 input
    assert layer_geometry(nn.Sequential(nn.MaxPool2d(3, 2, dilation=2))) == [("0", (3, 2, 2))]


def test_edge_filters_respond_to_edges():
    filters = edge_filters()
    step = torch.zeros(6, 6)
    step[:, 3:] = 1.0  # dark left half, bright right half: a vertical edge
    response_x = correlate2d(step, filters["sobel x"])
    assert response_x[:, 1:3].min() == 4.0  # windows that straddle the edge
    assert response_x[:, 0].abs().max() == 0.0 and response_x[:, 3].abs().max() == 0.0
    assert correlate2d(step, filters["sobel y"]).abs().max() == 0.0  # no horizontal edge
    assert filters["blur"].sum().item() == pytest.approx(1.0)
    assert filters["laplacian"].sum().item() == 0.0  # flat regions give 0
