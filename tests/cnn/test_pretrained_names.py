"""torchvision's state-dict names, written out from its construction rules, load into our modules.

The ``*_names`` functions below list the keys and shapes that torchvision's
builders register, in their order, following the file of
``pytorch/vision`` that each cites, without looking at this chapter's
modules. The ``*_forward`` functions compute each network's output from such
a state dict with ``torch.nn.functional``, as torchvision's ``forward`` does.
So a renaming that loses or invents a key fails the key comparison, and one
that swaps two tensors of equal shape (which ``load_state_dict`` would
accept) fails the output comparison.
"""

from __future__ import annotations

import math
import re
from collections import OrderedDict

import pytest
import torch
import torch.nn.functional as F

from snippets.cnn.densenet import DenseNet, densenet121
from snippets.cnn.inception import googlenet, inception_v3
from snippets.cnn.mobilenet import mobilenet_v2, mobilenet_v3_large
from snippets.cnn.pretrained_names import ARCHS, from_torchvision, load_torchvision_file
from snippets.cnn.resnet import resnet18, resnet50, resnet101
from snippets.cnn.vgg import CONFIGS, VGG, vgg16, vgg19

# ------------------------------------------------------------------ names and shapes


class Names(OrderedDict):
    """Key → shape, in the order torchvision registers the tensors."""

    def conv(self, name: str, c_in: int, c_out: int, k, groups: int = 1, bias: bool = False):
        kh, kw = (k, k) if isinstance(k, int) else k
        self[f"{name}.weight"] = (c_out, c_in // groups, kh, kw)
        if bias:
            self[f"{name}.bias"] = (c_out,)

    def bn(self, name: str, c: int):
        for tensor in ("weight", "bias", "running_mean", "running_var"):
            self[f"{name}.{tensor}"] = (c,)
        self[f"{name}.num_batches_tracked"] = ()

    def linear(self, name: str, n_in: int, n_out: int):
        self[f"{name}.weight"] = (n_out, n_in)
        self[f"{name}.bias"] = (n_out,)

    def basic(self, name: str, c_in: int, c_out: int, k):
        """torchvision's ``BasicConv2d`` (GoogLeNet, Inception-v3): ``conv`` then ``bn``."""
        self.conv(f"{name}.conv", c_in, c_out, k)
        self.bn(f"{name}.bn", c_out)


VGG16 = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"]
VGG19 = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"] + [512, 512, 512, 512, "M"] * 2


def vgg_names(config, hidden=4096, classes=1000) -> Names:
    # torchvision/models/vgg.py: make_layers (conv and relu per number, pool per "M"), VGG
    n, c, i = Names(), 3, 0
    for v in config:
        if v == "M":
            i += 1
            continue
        n.conv(f"features.{i}", c, v, 3, bias=True)
        i, c = i + 2, v
    n.linear("classifier.0", c * 7 * 7, hidden)
    n.linear("classifier.3", hidden, hidden)
    n.linear("classifier.6", hidden, classes)
    return n


def resnet_names(blocks, bottleneck: bool) -> Names:
    # torchvision/models/resnet.py: ResNet._make_layer, BasicBlock, Bottleneck
    n, c, grow = Names(), 64, 4 if bottleneck else 1
    n.conv("conv1", 3, 64, 7)
    n.bn("bn1", 64)
    for i, (count, planes) in enumerate(zip(blocks, (64, 128, 256, 512))):
        for j in range(count):
            p = f"layer{i + 1}.{j}"
            if bottleneck:
                for k, (a, b, size) in enumerate(
                    [(c, planes, 1), (planes, planes, 3), (planes, 4 * planes, 1)], 1
                ):
                    n.conv(f"{p}.conv{k}", a, b, size)
                    n.bn(f"{p}.bn{k}", b)
            else:
                n.conv(f"{p}.conv1", c, planes, 3)
                n.bn(f"{p}.bn1", planes)
                n.conv(f"{p}.conv2", planes, planes, 3)
                n.bn(f"{p}.bn2", planes)
            if j == 0 and (i > 0 or c != grow * planes):
                n.conv(f"{p}.downsample.0", c, grow * planes, 1)
                n.bn(f"{p}.downsample.1", grow * planes)
            c = grow * planes
    n.linear("fc", c, 1000)
    return n


#: torchvision/models/googlenet.py: the Inception(in, ch1x1, ch3x3red, ch3x3, ch5x5red,
#: ch5x5, pool_proj) calls of GoogLeNet.__init__
GOOGLENET = {
    "3a": (192, 64, 96, 128, 16, 32, 32),
    "3b": (256, 128, 128, 192, 32, 96, 64),
    "4a": (480, 192, 96, 208, 16, 48, 64),
    "4b": (512, 160, 112, 224, 24, 64, 64),
    "4c": (512, 128, 128, 256, 24, 64, 64),
    "4d": (512, 112, 144, 288, 32, 64, 64),
    "4e": (528, 256, 160, 320, 32, 128, 128),
    "5a": (832, 256, 160, 320, 32, 128, 128),
    "5b": (832, 384, 192, 384, 48, 128, 128),
}


def googlenet_names() -> Names:
    # torchvision/models/googlenet.py: GoogLeNet (aux_logits=True), Inception, InceptionAux
    n = Names()
    n.basic("conv1", 3, 64, 7)
    n.basic("conv2", 64, 64, 1)
    n.basic("conv3", 64, 192, 3)
    for name, (c, c1, r3, c3, r5, c5, proj) in GOOGLENET.items():
        p = f"inception{name}"
        n.basic(f"{p}.branch1", c, c1, 1)
        n.basic(f"{p}.branch2.0", c, r3, 1)
        n.basic(f"{p}.branch2.1", r3, c3, 3)
        n.basic(f"{p}.branch3.0", c, r5, 1)
        n.basic(f"{p}.branch3.1", r5, c5, 3)  # 3×3 in torchvision (5×5 in the paper)
        n.basic(f"{p}.branch4.1", c, proj, 1)  # branch4.0 is the max pool
    for aux, c in (("aux1", 512), ("aux2", 528)):
        n.basic(f"{aux}.conv", c, 128, 1)
        n.linear(f"{aux}.fc1", 2048, 1024)
        n.linear(f"{aux}.fc2", 1024, 1000)
    n.linear("fc", 1024, 1000)
    return n


def inception_v3_names() -> Names:
    # torchvision/models/inception.py: Inception3 (aux_logits=True), InceptionA to E, InceptionAux
    n = Names()
    for name, c_in, c_out, k in [
        ("Conv2d_1a_3x3", 3, 32, 3),
        ("Conv2d_2a_3x3", 32, 32, 3),
        ("Conv2d_2b_3x3", 32, 64, 3),
        ("Conv2d_3b_1x1", 64, 80, 1),
        ("Conv2d_4a_3x3", 80, 192, 3),
    ]:
        n.basic(name, c_in, c_out, k)

    def chain(p, layers):
        for name, c_in, c_out, k in layers:
            n.basic(f"{p}.{name}", c_in, c_out, k)

    for name, c, pool in (("5b", 192, 32), ("5c", 256, 64), ("5d", 288, 64)):  # InceptionA
        chain(f"Mixed_{name}", [
            ("branch1x1", c, 64, 1),
            ("branch5x5_1", c, 48, 1), ("branch5x5_2", 48, 64, 5),
            ("branch3x3dbl_1", c, 64, 1), ("branch3x3dbl_2", 64, 96, 3),
            ("branch3x3dbl_3", 96, 96, 3),
            ("branch_pool", c, pool, 1),
        ])  # fmt: skip
    chain("Mixed_6a", [  # InceptionB
        ("branch3x3", 288, 384, 3),
        ("branch3x3dbl_1", 288, 64, 1), ("branch3x3dbl_2", 64, 96, 3),
        ("branch3x3dbl_3", 96, 96, 3),
    ])  # fmt: skip
    row, col = (1, 7), (7, 1)
    for name, c7 in (("6b", 128), ("6c", 160), ("6d", 160), ("6e", 192)):  # InceptionC
        chain(f"Mixed_{name}", [
            ("branch1x1", 768, 192, 1),
            ("branch7x7_1", 768, c7, 1), ("branch7x7_2", c7, c7, row),
            ("branch7x7_3", c7, 192, col),
            ("branch7x7dbl_1", 768, c7, 1), ("branch7x7dbl_2", c7, c7, col),
            ("branch7x7dbl_3", c7, c7, row), ("branch7x7dbl_4", c7, c7, col),
            ("branch7x7dbl_5", c7, 192, row),
            ("branch_pool", 768, 192, 1),
        ])  # fmt: skip
    chain("AuxLogits", [("conv0", 768, 128, 1), ("conv1", 128, 768, 5)])
    n.linear("AuxLogits.fc", 768, 1000)
    chain("Mixed_7a", [  # InceptionD
        ("branch3x3_1", 768, 192, 1), ("branch3x3_2", 192, 320, 3),
        ("branch7x7x3_1", 768, 192, 1), ("branch7x7x3_2", 192, 192, row),
        ("branch7x7x3_3", 192, 192, col), ("branch7x7x3_4", 192, 192, 3),
    ])  # fmt: skip
    for name, c in (("7b", 1280), ("7c", 2048)):  # InceptionE
        chain(f"Mixed_{name}", [
            ("branch1x1", c, 320, 1),
            ("branch3x3_1", c, 384, 1), ("branch3x3_2a", 384, 384, (1, 3)),
            ("branch3x3_2b", 384, 384, (3, 1)),
            ("branch3x3dbl_1", c, 448, 1), ("branch3x3dbl_2", 448, 384, 3),
            ("branch3x3dbl_3a", 384, 384, (1, 3)), ("branch3x3dbl_3b", 384, 384, (3, 1)),
            ("branch_pool", c, 192, 1),
        ])  # fmt: skip
    n.linear("fc", 2048, 1000)
    return n


def densenet_names(blocks=(6, 12, 24, 16), growth=32, c=64, bn_size=4) -> Names:
    # torchvision/models/densenet.py: DenseNet, _DenseBlock, _DenseLayer, _Transition
    n = Names()
    n.conv("features.conv0", 3, c, 7)
    n.bn("features.norm0", c)
    for i, count in enumerate(blocks):
        for j in range(count):
            p = f"features.denseblock{i + 1}.denselayer{j + 1}"
            n.bn(f"{p}.norm1", c + j * growth)
            n.conv(f"{p}.conv1", c + j * growth, bn_size * growth, 1)
            n.bn(f"{p}.norm2", bn_size * growth)
            n.conv(f"{p}.conv2", bn_size * growth, growth, 3)
        c += count * growth
        if i < len(blocks) - 1:
            n.bn(f"features.transition{i + 1}.norm", c)
            n.conv(f"features.transition{i + 1}.conv", c, c // 2, 1)
            c //= 2
    n.bn("features.norm5", c)
    n.linear("classifier", c, 1000)
    return n


#: torchvision/models/mobilenetv2.py: inverted_residual_setting (t, c, n, s)
V2 = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
      (6, 320, 1, 1)]  # fmt: skip


def mobilenet_v2_blocks():
    """(input, expanded, output, stride) of every inverted residual, from the table."""
    c = 32
    for t, out, repeats, s in V2:
        for r in range(repeats):
            yield c, c * t, out, s if r == 0 else 1
            c = out


def mobilenet_v2_names() -> Names:
    # torchvision/models/mobilenetv2.py: MobileNetV2, InvertedResidual (self.conv: [expand],
    # depthwise, a bare 1×1 projection conv and its batch norm)
    n = Names()
    n.conv("features.0.0", 3, 32, 3)
    n.bn("features.0.1", 32)
    i = 0
    for i, (c, hidden, out, _) in enumerate(mobilenet_v2_blocks(), 1):
        p, j = f"features.{i}.conv", 0
        if hidden != c:
            n.conv(f"{p}.0.0", c, hidden, 1)
            n.bn(f"{p}.0.1", hidden)
            j = 1
        n.conv(f"{p}.{j}.0", hidden, hidden, 3, groups=hidden)
        n.bn(f"{p}.{j}.1", hidden)
        n.conv(f"{p}.{j + 1}", hidden, out, 1)
        n.bn(f"{p}.{j + 2}", out)
    n.conv(f"features.{i + 1}.0", 320, 1280, 1)
    n.bn(f"features.{i + 1}.1", 1280)
    n.linear("classifier.1", 1280, 1000)
    return n


#: torchvision/models/mobilenetv3.py: _mobilenet_v3_conf("mobilenet_v3_large"),
#: bneck_conf(input, kernel, expanded, out, use_se, activation, stride, dilation=1)
V3 = [(16, 3, 16, 16, False, "RE", 1), (16, 3, 64, 24, False, "RE", 2),
      (24, 3, 72, 24, False, "RE", 1), (24, 5, 72, 40, True, "RE", 2),
      (40, 5, 120, 40, True, "RE", 1), (40, 5, 120, 40, True, "RE", 1),
      (40, 3, 240, 80, False, "HS", 2), (80, 3, 200, 80, False, "HS", 1),
      (80, 3, 184, 80, False, "HS", 1), (80, 3, 184, 80, False, "HS", 1),
      (80, 3, 480, 112, True, "HS", 1), (112, 3, 672, 112, True, "HS", 1),
      (112, 5, 672, 160, True, "HS", 2), (160, 5, 960, 160, True, "HS", 1),
      (160, 5, 960, 160, True, "HS", 1)]  # fmt: skip


def make_divisible(v: float, divisor: int = 8) -> int:
    # torchvision/models/_utils.py: _make_divisible
    new = max(divisor, int(v + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * v else new


def mobilenet_v3_names() -> Names:
    # torchvision/models/mobilenetv3.py: MobileNetV3, InvertedResidual (self.block), and
    # torchvision/ops/misc.py: Conv2dNormActivation (0 conv, 1 norm), SqueezeExcitation (fc1, fc2)
    n = Names()
    n.conv("features.0.0", 3, 16, 3)
    n.bn("features.0.1", 16)
    for i, (c, k, hidden, out, se, _, _) in enumerate(V3, 1):
        p, j = f"features.{i}.block", 0
        if hidden != c:
            n.conv(f"{p}.0.0", c, hidden, 1)
            n.bn(f"{p}.0.1", hidden)
            j = 1
        n.conv(f"{p}.{j}.0", hidden, hidden, k, groups=hidden)
        n.bn(f"{p}.{j}.1", hidden)
        if se:
            squeeze = make_divisible(hidden // 4)
            n.conv(f"{p}.{j + 1}.fc1", hidden, squeeze, 1, bias=True)
            n.conv(f"{p}.{j + 1}.fc2", squeeze, hidden, 1, bias=True)
            j += 1
        n.conv(f"{p}.{j + 1}.0", hidden, out, 1)
        n.bn(f"{p}.{j + 1}.1", out)
    n.conv(f"features.{len(V3) + 1}.0", 160, 960, 1)
    n.bn(f"features.{len(V3) + 1}.1", 960)
    n.linear("classifier.0", 960, 1280)
    n.linear("classifier.3", 1280, 1000)
    return n


# ------------------------------------------------------------------ forwards from the names


class Reads(dict):
    """A state dict that remembers which tensors a forward read."""

    def __init__(self, state):
        super().__init__(state)
        self.read: set[str] = set()

    def __getitem__(self, key):
        self.read.add(key)
        return super().__getitem__(key)

    def unread(self) -> set[str]:
        return {k for k in self if not k.endswith("num_batches_tracked")} - self.read


def conv(w, x, name, stride=1, padding=None, groups=1):
    """``padding=None``: keep the size (half the kernel on each side)."""
    weight = w[f"{name}.weight"]
    if padding is None:
        padding = (weight.shape[2] // 2, weight.shape[3] // 2)
    bias = w[f"{name}.bias"] if f"{name}.bias" in w else None
    return F.conv2d(x, weight, bias, stride, padding, groups=groups)


def bn(w, x, name, eps=1e-5):
    mean, var = w[f"{name}.running_mean"], w[f"{name}.running_var"]
    return F.batch_norm(x, mean, var, w[f"{name}.weight"], w[f"{name}.bias"], False, 0.0, eps)


def linear(w, x, name):
    return F.linear(x, w[f"{name}.weight"], w[f"{name}.bias"])


def basic(w, x, name, stride=1, padding=None):
    """torchvision's BasicConv2d: conv, batch norm (eps 0.001), ReLU."""
    return F.relu(bn(w, conv(w, x, f"{name}.conv", stride, padding), f"{name}.bn", eps=0.001))


def pooled(x):
    return F.adaptive_avg_pool2d(x, 1).flatten(1)


def vgg_forward(w, x, config):
    i = 0
    for v in config:
        if v == "M":
            x, i = F.max_pool2d(x, 2, 2), i + 1
            continue
        x, i = F.relu(conv(w, x, f"features.{i}")), i + 2
    x = F.adaptive_avg_pool2d(x, 7).flatten(1)
    x = F.relu(linear(w, F.relu(linear(w, x, "classifier.0")), "classifier.3"))
    return linear(w, x, "classifier.6")


def resnet_forward(w, x, blocks):
    x = F.max_pool2d(F.relu(bn(w, conv(w, x, "conv1", 2), "bn1")), 3, 2, 1)
    for i, count in enumerate(blocks):
        for j in range(count):
            p, stride = f"layer{i + 1}.{j}", 2 if i > 0 and j == 0 else 1
            out = F.relu(bn(w, conv(w, x, f"{p}.conv1"), f"{p}.bn1"))
            out = F.relu(bn(w, conv(w, out, f"{p}.conv2", stride), f"{p}.bn2"))
            out = bn(w, conv(w, out, f"{p}.conv3"), f"{p}.bn3")
            if f"{p}.downsample.0.weight" in w:
                x = bn(w, conv(w, x, f"{p}.downsample.0", stride), f"{p}.downsample.1")
            x = F.relu(out + x)
    return linear(w, pooled(x), "fc")


def googlenet_forward(w, x):
    x = F.max_pool2d(basic(w, x, "conv1", 2), 3, 2, ceil_mode=True)
    x = F.max_pool2d(basic(w, basic(w, x, "conv2"), "conv3"), 3, 2, ceil_mode=True)
    aux = []
    for name in GOOGLENET:
        if name in ("4a", "5a"):
            x = F.max_pool2d(x, 3 if name == "4a" else 2, 2, ceil_mode=True)
        p = f"inception{name}"
        x = torch.cat([
            basic(w, x, f"{p}.branch1"),
            basic(w, basic(w, x, f"{p}.branch2.0"), f"{p}.branch2.1"),
            basic(w, basic(w, x, f"{p}.branch3.0"), f"{p}.branch3.1"),
            basic(w, F.max_pool2d(x, 3, 1, 1, ceil_mode=True), f"{p}.branch4.1"),
        ], 1)  # fmt: skip
        if name in ("4a", "4d"):
            head = "aux1" if name == "4a" else "aux2"
            h = basic(w, F.adaptive_avg_pool2d(x, 4), f"{head}.conv").flatten(1)
            aux.append(linear(w, F.relu(linear(w, h, f"{head}.fc1")), f"{head}.fc2"))
    return (linear(w, pooled(x), "fc"), *aux)


def inception_v3_forward(w, x):
    def chain(p, x, *names, stride_last=1, padding_last=None):
        for k, name in enumerate(names):
            last = k == len(names) - 1
            stride, padding = (stride_last, padding_last) if last else (1, None)
            x = basic(w, x, f"{p}.{name}", stride, padding)
        return x

    def avg(x):
        return F.avg_pool2d(x, 3, 1, 1)

    x = basic(w, x, "Conv2d_1a_3x3", 2, 0)
    x = basic(w, basic(w, x, "Conv2d_2a_3x3", 1, 0), "Conv2d_2b_3x3")
    x = F.max_pool2d(x, 3, 2)
    x = basic(w, basic(w, x, "Conv2d_3b_1x1"), "Conv2d_4a_3x3", 1, 0)
    x = F.max_pool2d(x, 3, 2)
    for name in ("5b", "5c", "5d"):  # InceptionA
        p = f"Mixed_{name}"
        x = torch.cat([
            basic(w, x, f"{p}.branch1x1"),
            chain(p, x, "branch5x5_1", "branch5x5_2"),
            chain(p, x, "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3"),
            basic(w, avg(x), f"{p}.branch_pool"),
        ], 1)  # fmt: skip
    x = torch.cat([  # InceptionB
        basic(w, x, "Mixed_6a.branch3x3", 2, 0),
        chain("Mixed_6a", x, "branch3x3dbl_1", "branch3x3dbl_2", "branch3x3dbl_3",
              stride_last=2, padding_last=0),
        F.max_pool2d(x, 3, 2),
    ], 1)  # fmt: skip
    for name in ("6b", "6c", "6d", "6e"):  # InceptionC
        p = f"Mixed_{name}"
        x = torch.cat([
            basic(w, x, f"{p}.branch1x1"),
            chain(p, x, *(f"branch7x7_{k}" for k in (1, 2, 3))),
            chain(p, x, *(f"branch7x7dbl_{k}" for k in (1, 2, 3, 4, 5))),
            basic(w, avg(x), f"{p}.branch_pool"),
        ], 1)  # fmt: skip
    a = F.avg_pool2d(x, 5, 3)
    a = basic(w, basic(w, a, "AuxLogits.conv0"), "AuxLogits.conv1", 1, 0)
    aux = linear(w, pooled(a), "AuxLogits.fc")
    x = torch.cat([  # InceptionD
        chain("Mixed_7a", x, "branch3x3_1", "branch3x3_2", stride_last=2, padding_last=0),
        chain("Mixed_7a", x, *(f"branch7x7x3_{k}" for k in (1, 2, 3, 4)),
              stride_last=2, padding_last=0),
        F.max_pool2d(x, 3, 2),
    ], 1)  # fmt: skip
    for name in ("7b", "7c"):  # InceptionE
        p = f"Mixed_{name}"
        b3 = basic(w, x, f"{p}.branch3x3_1")
        dbl = chain(p, x, "branch3x3dbl_1", "branch3x3dbl_2")
        x = torch.cat([
            basic(w, x, f"{p}.branch1x1"),
            basic(w, b3, f"{p}.branch3x3_2a"), basic(w, b3, f"{p}.branch3x3_2b"),
            basic(w, dbl, f"{p}.branch3x3dbl_3a"), basic(w, dbl, f"{p}.branch3x3dbl_3b"),
            basic(w, avg(x), f"{p}.branch_pool"),
        ], 1)  # fmt: skip
    return linear(w, pooled(x), "fc"), aux


def densenet_forward(w, x, blocks=(6, 12, 24, 16)):
    x = F.max_pool2d(F.relu(bn(w, conv(w, x, "features.conv0", 2), "features.norm0")), 3, 2, 1)
    for i, count in enumerate(blocks):
        features = [x]
        for j in range(count):
            p = f"features.denseblock{i + 1}.denselayer{j + 1}"
            h = conv(w, F.relu(bn(w, torch.cat(features, 1), f"{p}.norm1")), f"{p}.conv1")
            features.append(conv(w, F.relu(bn(w, h, f"{p}.norm2")), f"{p}.conv2"))
        x = torch.cat(features, 1)
        if i < len(blocks) - 1:
            p = f"features.transition{i + 1}"
            x = F.avg_pool2d(conv(w, F.relu(bn(w, x, f"{p}.norm")), f"{p}.conv"), 2, 2)
    return linear(w, pooled(F.relu(bn(w, x, "features.norm5"))), "classifier")


def mobilenet_v2_forward(w, x):
    x = F.relu6(bn(w, conv(w, x, "features.0.0", 2), "features.0.1"))
    i = 0
    for i, (c, hidden, out, stride) in enumerate(mobilenet_v2_blocks(), 1):
        p, j, h = f"features.{i}.conv", 0, x
        if hidden != c:
            h, j = F.relu6(bn(w, conv(w, h, f"{p}.0.0"), f"{p}.0.1")), 1
        h = F.relu6(bn(w, conv(w, h, f"{p}.{j}.0", stride, groups=hidden), f"{p}.{j}.1"))
        h = bn(w, conv(w, h, f"{p}.{j + 1}"), f"{p}.{j + 2}")  # linear bottleneck
        x = x + h if stride == 1 and c == out else h
    x = F.relu6(bn(w, conv(w, x, f"features.{i + 1}.0"), f"features.{i + 1}.1"))
    return linear(w, pooled(x), "classifier.1")


def mobilenet_v3_forward(w, x):
    eps = 0.001
    x = F.hardswish(bn(w, conv(w, x, "features.0.0", 2), "features.0.1", eps))
    for i, (c, _, hidden, out, se, act, stride) in enumerate(V3, 1):
        f = F.hardswish if act == "HS" else F.relu
        p, j, h = f"features.{i}.block", 0, x
        if hidden != c:
            h, j = f(bn(w, conv(w, h, f"{p}.0.0"), f"{p}.0.1", eps)), 1
        h = f(bn(w, conv(w, h, f"{p}.{j}.0", stride, groups=hidden), f"{p}.{j}.1", eps))
        if se:
            s = F.relu(conv(w, F.adaptive_avg_pool2d(h, 1), f"{p}.{j + 1}.fc1"))
            h, j = h * F.hardsigmoid(conv(w, s, f"{p}.{j + 1}.fc2")), j + 1
        h = bn(w, conv(w, h, f"{p}.{j + 1}.0"), f"{p}.{j + 1}.1", eps)
        x = x + h if stride == 1 and c == out else h
    last = f"features.{len(V3) + 1}"
    x = pooled(F.hardswish(bn(w, conv(w, x, f"{last}.0"), f"{last}.1", eps)))
    return linear(w, F.hardswish(linear(w, x, "classifier.0")), "classifier.3")


# ------------------------------------------------------------------ the tests

#: arch → (our builder, torchvision's names)
FULL = {
    "vgg16": (vgg16, lambda: vgg_names(VGG16)),
    "vgg19": (vgg19, lambda: vgg_names(VGG19)),
    "resnet18": (resnet18, lambda: resnet_names((2, 2, 2, 2), bottleneck=False)),
    "resnet50": (resnet50, lambda: resnet_names((3, 4, 6, 3), bottleneck=True)),
    "resnet101": (resnet101, lambda: resnet_names((3, 4, 23, 3), bottleneck=True)),
    "googlenet": (lambda: googlenet(aux_heads=True), googlenet_names),
    "inception_v3": (inception_v3, inception_v3_names),
    "densenet121": (densenet121, densenet_names),
    "mobilenet_v2": (mobilenet_v2, mobilenet_v2_names),
    "mobilenet_v3_large": (mobilenet_v3_large, mobilenet_v3_names),
}


def test_every_arch_is_covered():
    assert sorted(FULL) == sorted(ARCHS)


def shapes_only(names: Names) -> OrderedDict:
    return OrderedDict((k, torch.empty(shape, device="meta")) for k, shape in names.items())


@pytest.mark.parametrize("arch", sorted(FULL))
def test_torchvision_names_map_onto_ours_in_order_and_load_strictly(arch):
    build, names = FULL[arch]
    with torch.device("meta"):  # shapes only
        model = build()
    theirs = shapes_only(names())
    mapped = from_torchvision(theirs, arch)
    ours = model.state_dict()
    assert list(mapped) == list(ours)  # the same names, in the same order
    wrong = {k: (tuple(v.shape), tuple(ours[k].shape)) for k, v in mapped.items()
             if v.shape != ours[k].shape}  # fmt: skip
    assert wrong == {}
    assert all(mapped[new] is theirs[old] for old, new in zip(theirs, mapped))  # values untouched
    model.load_state_dict(mapped, strict=True)


def random_state(names: Names, seed: int = 0) -> OrderedDict:
    """He-scaled weights (the signal neither dies nor saturates), positive variances."""
    g = torch.Generator().manual_seed(seed)
    state = OrderedDict()
    for key, shape in names.items():
        if key.endswith("num_batches_tracked"):
            state[key] = torch.tensor(100)
        elif key.endswith("running_var") or (key.endswith("weight") and len(shape) == 1):
            state[key] = 0.5 + torch.rand(shape, generator=g)
        elif key.endswith(("running_mean", "bias")):
            state[key] = 0.1 * torch.randn(shape, generator=g)
        else:
            state[key] = torch.randn(shape, generator=g) * math.sqrt(2 / math.prod(shape[1:]))
    return state


def thin(config, divisor=16):
    return [v if v == "M" else v // divisor for v in config]


#: arch → (our builder, torchvision's names, its forward, input side); VGG thin (same layout)
ROUND_TRIPS = {
    "vgg16": (
        lambda: VGG(width=1 / 16, hidden=32),
        lambda: vgg_names(thin(VGG16), hidden=32),
        lambda w, x: vgg_forward(w, x, thin(VGG16)),
        32,
    ),
    "vgg19": (
        lambda: VGG(CONFIGS["vgg19"], width=1 / 16, hidden=32),
        lambda: vgg_names(thin(VGG19), hidden=32),
        lambda w, x: vgg_forward(w, x, thin(VGG19)),
        32,
    ),
    "resnet50": (
        resnet50,
        FULL["resnet50"][1],
        lambda w, x: resnet_forward(w, x, (3, 4, 6, 3)),
        64,
    ),
    "googlenet": (FULL["googlenet"][0], googlenet_names, googlenet_forward, 64),
    "inception_v3": (inception_v3, inception_v3_names, inception_v3_forward, 299),
    "densenet121": (densenet121, densenet_names, densenet_forward, 64),
    "mobilenet_v2": (mobilenet_v2, mobilenet_v2_names, mobilenet_v2_forward, 64),
    "mobilenet_v3_large": (mobilenet_v3_large, mobilenet_v3_names, mobilenet_v3_forward, 64),
}


def outputs(model, x):
    """Eval-mode layers; the auxiliary heads, if any, answer too (the top module's flag)."""
    model.eval()
    model.training = True  # GoogLeNet and Inception-v3 then also return their auxiliary logits
    with torch.no_grad():
        out = model(x)
    return out if isinstance(out, tuple) else (out,)


@pytest.mark.parametrize("arch", sorted(ROUND_TRIPS))
def test_torchvision_weights_give_torchvision_outputs(arch):
    build, names, forward, side = ROUND_TRIPS[arch]
    torch.manual_seed(0)
    state = random_state(names())
    model = build()
    model.load_state_dict(from_torchvision(state, arch), strict=True)
    x = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(1))
    reads = Reads(state)
    with torch.no_grad():
        expected = forward(reads, x)
    expected = expected if isinstance(expected, tuple) else (expected,)
    assert reads.unread() == set()  # the forward used every tensor of the file
    got = outputs(model, x)
    assert len(got) == len(expected)
    for a, b in zip(got, expected):
        scale = b.abs().max()
        assert (b[0] - b[1]).abs().max() > 1e-2 * scale  # the outputs depend on the input
        torch.testing.assert_close(a / scale, b / scale, rtol=1e-4, atol=1e-4)


def test_a_swap_of_two_equal_shaped_tensors_loads_but_changes_the_outputs():
    # what the output comparison is for: load_state_dict checks names and shapes only
    build, names, forward, side = ROUND_TRIPS["resnet50"]
    state = random_state(names())
    swapped = OrderedDict(state)
    a, b = "layer1.1.conv2.weight", "layer1.2.conv2.weight"
    swapped[a], swapped[b] = state[b], state[a]
    model = build()
    model.load_state_dict(from_torchvision(swapped, "resnet50"), strict=True)  # accepted
    x = torch.randn(1, 3, side, side)
    with torch.no_grad():
        expected = forward(Reads(state), x)
        difference = (outputs(model, x)[0] - expected).abs().max()
    assert difference > 1e-2 * expected.abs().max()


def test_densenet_files_with_old_names_and_no_batch_counts_load():
    # torchvision's DenseNet files spell denselayer1.norm.1 for denselayer1.norm1 and were
    # saved before batch norm counted its batches; torchvision's loader renames the keys
    new = random_state(densenet_names(blocks=(2, 2), growth=4, c=8, bn_size=2))
    old = OrderedDict(
        (re.sub(r"(denselayer\d+\.(?:norm|conv))([12])\.", r"\1.\2.", k), v)
        for k, v in new.items()
        if not k.endswith("num_batches_tracked")
    )
    assert "features.denseblock1.denselayer1.norm.1.weight" in old
    model = DenseNet((2, 2), growth=4, stem_channels=8, bn_size=2)
    model.load_state_dict(from_torchvision(old, "densenet121"), strict=True)
    x = torch.randn(2, 3, 32, 32)
    got = outputs(model, x)[0]
    torch.testing.assert_close(got, densenet_forward(new, x, blocks=(2, 2)), rtol=1e-4, atol=1e-4)


def test_from_torchvision_bad_input():
    with pytest.raises(ValueError, match=r"arch must be one of \('vgg16'.*got 'vgg11'"):
        from_torchvision({}, "vgg11")
    with pytest.raises(TypeError, match="state_dict must be a mapping, got list"):
        from_torchvision([("fc.weight", None)], "resnet50")
    with pytest.raises(ValueError, match="'features.4.weight' is not a torchvision vgg16 name"):
        from_torchvision({"features.4.weight": None}, "vgg16")  # index 4 is a pool
    with pytest.raises(ValueError, match="'layer1.0.conv1.weight' is not a torchvision googlenet"):
        from_torchvision({"layer1.0.conv1.weight": None}, "googlenet")
    with pytest.raises(ValueError, match="'Mixed_8a.branch1x1.conv.weight' is not a torchvision"):
        from_torchvision({"Mixed_8a.branch1x1.conv.weight": None}, "inception_v3")
    with pytest.raises(ValueError, match="'fc.weight' is not a torchvision mobilenet_v2 name"):
        from_torchvision({"fc.weight": None}, "mobilenet_v2")


@pytest.mark.parametrize("arch", ["vgg16", "mobilenet_v2"])
def test_a_torchvision_file_on_disk_loads_and_gives_torchvision_outputs(arch, tmp_path):
    build, names, forward, side = ROUND_TRIPS[arch]
    state = random_state(names(), seed=3)
    path = tmp_path / f"{arch}.pth"
    torch.save(state, path)
    model = build().train()
    assert load_torchvision_file(model, path, arch) is model
    assert not model.training  # ready to classify
    x = torch.randn(2, 3, side, side, generator=torch.Generator().manual_seed(4))
    with torch.no_grad():
        torch.testing.assert_close(model(x), forward(Reads(state), x))


def test_load_torchvision_file_bad_input(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"path: no weights file at .*missing\.pth"):
        load_torchvision_file(resnet18(), tmp_path / "missing.pth", "resnet18")
    with pytest.raises(TypeError, match="model must be an nn.Module, got dict"):
        load_torchvision_file({}, tmp_path / "missing.pth", "resnet18")
    with pytest.raises(ValueError, match=r"arch must be one of .*got 'resnet34'"):
        load_torchvision_file(resnet18(), tmp_path / "missing.pth", "resnet34")
    # a file of another network: its names are not VGG-16's
    other = tmp_path / "mobilenet_v2.pth"
    torch.save(random_state(mobilenet_v2_names()), other)
    with pytest.raises(ValueError, match="is not a torchvision vgg16 name"):
        load_torchvision_file(VGG(width=1 / 16, hidden=32), other, "vgg16")
    # the right names at the wrong sizes: load_state_dict's own error
    thin_file = tmp_path / "thin.pth"
    torch.save(random_state(vgg_names(thin(VGG16), hidden=32)), thin_file)
    with pytest.raises(RuntimeError, match="size mismatch"):
        load_torchvision_file(VGG(width=1 / 8, hidden=32), thin_file, "vgg16")
