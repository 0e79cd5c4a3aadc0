"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "cnn"
NAMES = [e.name for e in exercises(CHAPTER)]


@pytest.mark.parametrize("name", NAMES)
def test_checker_passes_the_reference_and_rejects_each_wrong_solution(name):
    exercise = next(e for e in exercises(CHAPTER) if e.name == name)
    assert check(name, exercise.reference, verbose=False)
    for wrong in exercise.wrong:
        result = check(name, wrong, verbose=False)
        assert not result, f"{name}: the checker accepts {wrong.__name__}"
        assert result.message.startswith("fails on"), result.message


def test_references_agree_with_pytorch():
    import torch
    import torch.nn.functional as F
    from torch import nn
    from torch.utils.flop_counter import FlopCounterMode

    from snippets.cnn.conv import conv2d
    from snippets.cnn.efficientnet import B0_STAGES, VARIANTS, MBConv, efficientnet
    from snippets.cnn.exercises import (
        channel_shuffle,
        conv2d_weight_grad,
        conv_macs,
        drop_path_rates,
        lenet_subsampling,
        max_pool_backward,
        stacked_conv_kernel,
        zero_pad_shortcut,
    )

    g = torch.Generator().manual_seed(0)
    x = torch.randn(2, 3, 7, 6, dtype=torch.float64, generator=g)
    weight = torch.randn(4, 3, 3, 3, dtype=torch.float64, generator=g, requires_grad=True)
    out = F.conv2d(x, weight, stride=2, padding=1)
    upstream = torch.randn(out.shape, dtype=torch.float64, generator=g)
    out.backward(upstream)
    torch.testing.assert_close(conv2d_weight_grad(x, upstream, 3, stride=2, padding=1), weight.grad)
    # the site's own conv2d (a cross-correlation) has the same weight gradient
    w = weight.detach().clone().requires_grad_()
    conv2d(x, w, stride=2, padding=1).backward(upstream)
    torch.testing.assert_close(w.grad, weight.grad)

    x = torch.randn(2, 3, 7, 5, dtype=torch.float64, generator=g, requires_grad=True)
    out = F.max_pool2d(x, 2)
    upstream = torch.randn(out.shape, dtype=torch.float64, generator=g)
    out.backward(upstream)
    torch.testing.assert_close(max_pool_backward(x.detach(), upstream, 2), x.grad)

    layers = [(3, 64, 11, 224, 4, 2, 1), (32, 32, 3, 15, 2, 1, 32)]
    for c_in, c_out, k, size, s, p, groups in layers:
        conv = nn.Conv2d(c_in, c_out, k, s, p, groups=groups, bias=False, device="meta")
        with FlopCounterMode(display=False) as counter:
            conv(torch.empty(1, c_in, size, size, device="meta"))
        macs = conv_macs(c_in, c_out, k, size, size, stride=s, padding=p, groups=groups)
        assert 2 * macs == counter.get_total_flops()  # a multiply-accumulate is 2 flops

    x = torch.randn(2, 12, 3, 3, generator=g)
    torch.testing.assert_close(channel_shuffle(x, 3), nn.ChannelShuffle(3)(x))

    x = torch.randn(2, 3, 5, 5, generator=g)
    identity = torch.zeros(7, 3, 1, 1)
    identity[:3, :, 0, 0] = torch.eye(3)  # a stride-2 1×1 conv that copies x into 3 of 7 channels
    torch.testing.assert_close(zero_pad_shortcut(x, 7, 2), F.conv2d(x, identity, stride=2))

    x, weight, bias = torch.randn(2, 6, 7, 7, generator=g), torch.randn(6), torch.randn(6)
    tied = nn.Conv2d(6, 6, 2, stride=2, groups=6)  # a depthwise conv with four tied weights
    with torch.no_grad():
        tied.weight.copy_(weight.view(6, 1, 1, 1).expand(6, 1, 2, 2))
        tied.bias.copy_(bias)
    torch.testing.assert_close(lenet_subsampling(x, weight, bias), tied(x))

    x = torch.randn(2, 3, 9, 8, dtype=torch.float64, generator=g)
    for k1, k2 in [((3, 3), (3, 3)), ((1, 7), (7, 1)), ((2, 3), (3, 1))]:
        first = torch.randn(5, 3, *k1, dtype=torch.float64, generator=g)
        second = torch.randn(4, 5, *k2, dtype=torch.float64, generator=g)
        kernel = stacked_conv_kernel(first, second)
        torch.testing.assert_close(F.conv2d(x, kernel), F.conv2d(F.conv2d(x, first), second))

    for name in ["b0", "b7"]:
        with torch.device("meta"):  # no memory, instant
            model = efficientnet(name)
        built = [b.drop_prob for b in model.modules() if isinstance(b, MBConv)]
        layers = [stage.layers for stage in B0_STAGES]
        rates = drop_path_rates(layers, VARIANTS[name].depth, 0.2)
        torch.testing.assert_close(rates, torch.tensor(built, dtype=torch.float64))
