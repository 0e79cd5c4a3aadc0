"""torchvision's weight names for the CNN families, renamed to this chapter's modules.

A saved network is a *state dict*: an ordered mapping from dotted module
paths such as ``layer1.0.conv1.weight`` to tensors, with batch norm's buffers
(``running_mean``, ``running_var`` and, in files saved by newer versions of
PyTorch, ``num_batches_tracked``) beside the parameters. ``load_state_dict``
matches them by name and shape, so a network takes torchvision's released
ImageNet weights exactly when its modules carry the same names in the same
places.

:class:`~snippets.cnn.resnet.ResNet`, :class:`~snippets.cnn.densenet.DenseNet`
and :class:`~snippets.cnn.mobilenet.MobileNetV3` use torchvision's names.
VGG, GoogLeNet, Inception-v3 and MobileNetV2 keep names that follow the
explanation of their blocks (VGG's blocks of 3×3 convolutions, GoogLeNet's
branches named by kernel size, one inverted-residual class for both
MobileNets), and :func:`from_torchvision` renames torchvision's keys to
theirs, and :func:`load_torchvision_file` reads a file and loads it. Nothing
here downloads anything; the reader brings the file::

    model = load_torchvision_file(vgg16(), "vgg16.pth", "vgg16")
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from os import PathLike
from pathlib import Path
from typing import TypeVar

import torch
from torch import nn

from snippets.cnn.vgg import CONFIGS

T = TypeVar("T")

#: The networks :func:`from_torchvision` renames, by torchvision's function names.
ARCHS = (
    "vgg16",
    "vgg19",
    "resnet18",
    "resnet50",
    "resnet101",
    "googlenet",
    "inception_v3",
    "densenet121",
    "mobilenet_v2",
    "mobilenet_v3_large",
)

#: torchvision's DenseNet files predate a rename: ``denselayer1.norm.1.weight``
#: in the file is ``denselayer1.norm1.weight`` in the module.
DENSENET_LEGACY = re.compile(
    r"^(.*denselayer\d+\.(?:norm|relu|conv))\.((?:[12])\.(?:weight|bias|running_mean|running_var))$"
)


def _by_module(table: Mapping[str, str], arch: str) -> Callable[[str], str]:
    """Rename ``<module>.<tensor>`` keys by looking the module path up in ``table``."""

    def rename(key: str) -> str:
        module, _, tensor = key.rpartition(".")
        if module not in table:
            raise ValueError(f"state_dict key {key!r} is not a torchvision {arch} name")
        return f"{table[module]}.{tensor}"

    return rename


def _vgg(arch: str) -> Callable[[str], str]:
    """torchvision's flat ``features.<i>`` (conv, ReLU, …, pool) → our blocks' ``convs.<j>``.

    Only the plain networks: torchvision's ``vgg16_bn`` keeps a bias in every
    convolution before its batch norm, where ours (``batch_norm=True``) drops it.
    """
    table, index, block, position = {}, 0, 0, 0
    for item in CONFIGS[arch]:
        if item == "M":  # the pool: no weights, ends a block
            index, block, position = index + 1, block + 1, 0
            continue
        table[f"features.{index}"] = f"features.{block}.convs.{position}"
        index, position = index + 2, position + 2  # a convolution and its ReLU
    table.update({f"classifier.{i}": f"classifier.{i}" for i in (0, 3, 6)})
    return _by_module(table, arch)


#: GoogLeNet's stem convolutions and Inception branches, torchvision's → ours.
GOOGLENET_STEM = {"conv1": "stem.0", "conv2": "stem.2", "conv3": "stem.3"}
GOOGLENET_BRANCHES = {
    "branch1": "branch1",
    "branch2": "branch3",
    "branch3": "branch5",
    "branch4": "branch_pool",
}


def _googlenet(key: str) -> str:
    """``inception4b.branch2.0.conv.weight`` → ``stages.1.2.branch3.0.conv.weight``."""
    head, _, rest = key.partition(".")
    if head in GOOGLENET_STEM:
        return f"{GOOGLENET_STEM[head]}.{rest}"
    if head in ("aux1", "aux2", "fc"):
        return key
    match = re.fullmatch(r"inception([345])([a-e])", head)
    branch, _, rest = rest.partition(".")
    if match is None or branch not in GOOGLENET_BRANCHES:
        raise ValueError(f"state_dict key {key!r} is not a torchvision googlenet name")
    group = int(match[1]) - 3
    index = ord(match[2]) - ord("a") + (group > 0)  # groups after the first begin with a pool
    return f"stages.{group}.{index}.{GOOGLENET_BRANCHES[branch]}.{rest}"


#: Inception-v3's stem layers and modules, torchvision's (TF-slim) names → ours.
INCEPTION_V3_PARTS = {
    "Conv2d_1a_3x3": "stem.0",
    "Conv2d_2a_3x3": "stem.1",
    "Conv2d_2b_3x3": "stem.2",
    "Conv2d_3b_1x1": "stem.4",
    "Conv2d_4a_3x3": "stem.5",
    "Mixed_5b": "grid35.0",
    "Mixed_5c": "grid35.1",
    "Mixed_5d": "grid35.2",
    "Mixed_6a": "grid17.0",
    "Mixed_6b": "grid17.1",
    "Mixed_6c": "grid17.2",
    "Mixed_6d": "grid17.3",
    "Mixed_6e": "grid17.4",
    "AuxLogits": "aux",
    "Mixed_7a": "grid8.0",
    "Mixed_7b": "grid8.1",
    "Mixed_7c": "grid8.2",
    "fc": "fc",
}


def _inception_v3(key: str) -> str:
    """``Mixed_6b.branch7x7dbl_3.conv.weight`` → ``grid17.1.branch7x7dbl.2.conv.weight``.

    Our branches are chains: torchvision's ``<branch>_<k>`` is layer ``k - 1``
    of ours, its ``…_2a`` / ``…_2b`` the ``row`` / ``column`` halves of a
    split 1×3 | 3×1 layer, and its ``branch_pool`` convolution follows our
    pool (index 1).
    """
    head, _, rest = key.partition(".")
    if head not in INCEPTION_V3_PARTS:
        raise ValueError(f"state_dict key {key!r} is not a torchvision inception_v3 name")
    if head.startswith("Mixed_"):
        branch, _, rest = rest.partition(".")
        match = re.fullmatch(r"(branch\w+?)_(\d)([ab]?)", branch)
        if match:
            half = {"": "", "a": ".row", "b": ".column"}[match[3]]
            branch = f"{match[1]}.{int(match[2]) - 1}{half}"
        elif branch == "branch_pool":
            branch = "branch_pool.1"
        rest = f"{branch}.{rest}"
    return f"{INCEPTION_V3_PARTS[head]}.{rest}"


def _mobilenet_v2(keys: Iterable[str]) -> Callable[[str], str]:
    """torchvision's ``features.<i>.conv.<j>`` → our ``features.<i>.block.<j>``.

    torchvision ends each block with a bare projection convolution and its
    batch norm (the last two entries of ``conv``); ours keeps them together
    as one conv + batch norm unit (the last entry of ``block``).
    """
    last: dict[str, int] = {}
    for key in keys:
        match = re.match(r"features\.(\d+)\.conv\.(\d+)\.", key)
        if match:
            last[match[1]] = max(last.get(match[1], 0), int(match[2]))

    def rename(key: str) -> str:
        match = re.fullmatch(r"features\.(\d+)\.conv\.(\d+)\.(.+)", key)
        if match is None:
            if not re.match(r"(features\.\d+\.[01]|classifier\.1)\.", key):
                raise ValueError(f"state_dict key {key!r} is not a torchvision mobilenet_v2 name")
            return key
        block, index, rest = match[1], int(match[2]), match[3]
        end = last[block]
        if index >= end - 1:  # the projection: bare conv, then its batch norm
            return f"features.{block}.block.{end - 1}.{index - end + 1}.{rest}"
        return f"features.{block}.block.{index}.{rest}"

    return rename


def from_torchvision(state_dict: Mapping[str, T], arch: str) -> OrderedDict[str, T]:
    """Rename the keys of torchvision's state dict for ``arch`` to this chapter's module names.

    The values pass through untouched, in the same order, so
    ``model.load_state_dict(from_torchvision(state, arch))`` loads a file of
    torchvision's weights (read with ``torch.load``) into the matching
    builder: ``vgg16()``, ``googlenet(aux_heads=True)`` (torchvision's file
    holds the auxiliary heads), ``inception_v3()``, ``mobilenet_v2()``…
    For ResNet, DenseNet and MobileNetV3 the names already agree; DenseNet's
    files still spell ``norm.1`` for ``norm1`` (as in ``denselayer1.norm.1.weight``),
    which is rewritten as torchvision's own loader does. Files without
    ``num_batches_tracked`` load too: batch norm fills it in.

    Raises:
        TypeError: if ``state_dict`` is not a mapping.
        ValueError: if ``arch`` is not one of :data:`ARCHS`, or a key is not
            one of torchvision's names for ``arch`` (a file of another network).
    """
    if not isinstance(state_dict, Mapping):
        raise TypeError(f"state_dict must be a mapping, got {type(state_dict).__name__}")
    if arch not in ARCHS:
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    items = list(state_dict.items())
    if arch.startswith("densenet"):
        items = [(DENSENET_LEGACY.sub(r"\1\2", key), value) for key, value in items]
    if arch.startswith("vgg"):
        rename = _vgg(arch)
    elif arch == "googlenet":
        rename = _googlenet
    elif arch == "inception_v3":
        rename = _inception_v3
    elif arch == "mobilenet_v2":
        rename = _mobilenet_v2(key for key, _ in items)
    else:  # ResNet, DenseNet, MobileNetV3: torchvision's names already
        return OrderedDict(items)
    return OrderedDict((rename(key), value) for key, value in items)


def load_torchvision_file(model: nn.Module, path: str | PathLike, arch: str) -> nn.Module:
    """Load torchvision's weight file for ``arch`` from ``path`` into ``model``.

    Reads the file on the CPU with ``weights_only=True`` (tensors only, no
    pickled code), renames its keys with :func:`from_torchvision`, loads them
    strictly (every tensor present, none left over, every shape right) and
    returns ``model`` in evaluation mode. ``model`` is the matching builder's
    network: ``vgg16()``, ``googlenet(aux_heads=True)``, ``resnet50()``…

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``.
        FileNotFoundError: if there is no file at ``path`` (nothing is downloaded).
        ValueError: if ``arch`` is unknown or the file holds another network's names.
        RuntimeError: from ``load_state_dict``, if a tensor is missing or misshapen.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    if arch not in ARCHS:  # before reading a large file
        raise ValueError(f"arch must be one of {ARCHS}, got {arch!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(
            f"path: no weights file at {str(path)!r}; save torchvision's {arch} file there first"
        )
    state = torch.load(path, map_location="cpu", weights_only=True)
    model.load_state_dict(from_torchvision(state, arch), strict=True)
    return model.eval()
