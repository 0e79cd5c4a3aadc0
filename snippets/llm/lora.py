"""Low-rank adaptation (LoRA): fine-tune a frozen model through small low-rank updates.

Full fine-tuning changes every weight of a pretrained model. LoRA freezes
them and learns, beside a chosen ``nn.Linear`` with weight ``W`` ``[out, in]``,
two thin matrices ``A`` ``[r, in]`` and ``B`` ``[out, r]`` with a small rank
``r``. The layer computes ``W x + (α / r) · B A x``: the update ``ΔW = (α / r)
· B A`` has rank at most ``r`` and costs ``r · (in + out)`` parameters instead
of ``in · out``. ``B`` starts at zero, so the adapted model starts exactly as
the pretrained one. After training, :meth:`LoRALinear.merge` adds ``ΔW`` into
``W`` and the adapter costs nothing at inference.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import NamedTuple

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor


class LoRALinear(nn.Module):
    """A frozen ``nn.Linear`` plus a trainable low-rank update ``(α / r) · B A``.

    ``A`` ``[rank, in_features]`` starts with Kaiming-uniform values (as
    ``nn.Linear`` initializes its weight), ``B`` ``[out_features, rank]`` with
    zeros, so at first the layer equals ``base``. The base layer's weight and
    bias stop receiving gradients; only ``A`` and ``B`` train. ``A`` and ``B``
    take the base weight's dtype and device.

    Shapes:
        ``x`` ``[..., in_features]`` → ``[..., out_features]``.

    Raises:
        TypeError: if ``base`` is not an ``nn.Linear`` or ``rank`` not an int.
        ValueError: if ``rank`` is not between 1 and ``min(in_features,
            out_features)``, or ``alpha`` is not positive.
    """

    def __init__(self, base: nn.Linear, rank: int = 4, alpha: float = 8.0) -> None:
        super().__init__()
        if not isinstance(base, nn.Linear):
            raise TypeError(f"base must be an nn.Linear, got {type(base).__name__}")
        if isinstance(rank, bool) or not isinstance(rank, int):
            raise TypeError(f"rank must be an int, got {type(rank).__name__}")
        check_positive(rank, "rank")
        check_positive(alpha, "alpha")
        largest = min(base.in_features, base.out_features)
        if rank > largest:
            raise ValueError(
                f"rank must be at most min(in_features, out_features) = {largest}, got {rank}"
            )
        self.base = base
        for p in base.parameters():
            p.requires_grad_(False)
        self.rank, self.alpha = rank, alpha
        self.scaling = alpha / rank
        factory = {"dtype": base.weight.dtype, "device": base.weight.device}
        self.lora_a = nn.Parameter(torch.empty(rank, base.in_features, **factory))
        self.lora_b = nn.Parameter(torch.zeros(base.out_features, rank, **factory))
        nn.init.kaiming_uniform_(self.lora_a, a=math.sqrt(5))  # nn.Linear's own init
        self.merged = False

    @property
    def weight(self) -> torch.Tensor:
        """The base layer's weight, so that code reading ``layer.weight`` keeps working."""
        return self.base.weight

    @property
    def in_features(self) -> int:
        return self.base.in_features

    @property
    def out_features(self) -> int:
        return self.base.out_features

    def delta_weight(self) -> torch.Tensor:
        """The update ``(α / r) · B A``, ``[out_features, in_features]``."""
        return self.scaling * (self.lora_b @ self.lora_a)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """``W x + b + (α / r) · B (A x)``; only ``W x + b`` once merged.

        Raises:
            TypeError: if ``x`` is not a tensor of the weights' dtype.
            ValueError: if the last size of ``x`` is not ``in_features``.
        """
        check_tensor(x, "x")
        if x.ndim == 0 or x.shape[-1] != self.base.in_features:
            raise ValueError(
                f"x must be [..., in_features] with in_features = {self.base.in_features}, "
                f"got shape {tuple(x.shape)}"
            )
        if x.dtype != self.lora_a.dtype:
            raise TypeError(f"x must have the weights' dtype {self.lora_a.dtype}, got {x.dtype}")
        out = self.base(x)
        if self.merged:
            return out
        # two thin products, x → r numbers → out: never the full [out, in] update
        return out + self.scaling * ((x @ self.lora_a.T) @ self.lora_b.T)

    @torch.no_grad()
    def merge(self) -> None:
        """Add the update into the base weight: ``W ← W + (α / r) · B A``.

        Raises:
            RuntimeError: if the layer is already merged.
        """
        if self.merged:
            raise RuntimeError("the adapter is already merged")
        self.base.weight += self.delta_weight()
        self.merged = True

    @torch.no_grad()
    def unmerge(self) -> None:
        """Take the update out again: ``W ← W - (α / r) · B A`` (up to rounding).

        Raises:
            RuntimeError: if the layer is not merged.
        """
        if not self.merged:
            raise RuntimeError("the adapter is not merged")
        self.base.weight -= self.delta_weight()
        self.merged = False

    def extra_repr(self) -> str:
        return f"rank={self.rank}, alpha={self.alpha}, merged={self.merged}"


def lora_parameter_count(in_features: int, out_features: int, rank: int) -> int:
    """Trainable numbers of one adapter: ``rank · (in_features + out_features)``.

    Raises:
        ValueError: if a size is not positive.
    """
    for value, name in ((in_features, "in_features"), (out_features, "out_features")):
        check_positive(value, name)
    check_positive(rank, "rank")
    return rank * (in_features + out_features)


def count_parameters(model: nn.Module, trainable_only: bool = False) -> int:
    """Numbers in ``model``'s parameters (a shared, tied parameter counted once)."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)


class LoRAReport(NamedTuple):
    """What :func:`add_lora` did."""

    wrapped: list[str]  #: qualified names of the wrapped linear layers
    trainable: int  #: parameters that still train (the adapters)
    total: int  #: all parameters, frozen and trainable

    @property
    def fraction(self) -> float:
        """Share of the parameters that train."""
        return self.trainable / self.total


def add_lora(
    model: nn.Module, targets: Sequence[str], rank: int = 4, alpha: float = 8.0
) -> LoRAReport:
    """Freeze ``model`` and wrap the chosen ``nn.Linear`` layers in :class:`LoRALinear`.

    A linear layer is chosen when its qualified name (``blocks.0.attn.q``)
    equals a target or ends with ``"." + target``: ``("q", "v")`` picks the
    query and value projections of every attention layer. Every parameter of
    the model is frozen first, so afterwards only the adapters train. The
    model is changed in place.

    Raises:
        TypeError: if ``targets`` is a string instead of a sequence of names.
        ValueError: if ``targets`` is empty or picks no linear layer.
    """
    if isinstance(targets, str) or not isinstance(targets, Sequence):
        raise TypeError(f"targets must be a sequence of names, got {type(targets).__name__}")
    if not targets:
        raise ValueError("targets must name at least one layer, got an empty sequence")
    chosen = [
        name
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear)
        and any(name == t or name.endswith("." + t) for t in targets)
    ]
    if not chosen:
        raise ValueError(f"targets {list(targets)} match no nn.Linear layer of the model")
    for p in model.parameters():
        p.requires_grad_(False)
    for name in chosen:
        parent_name, _, child = name.rpartition(".")
        parent = model.get_submodule(parent_name)
        setattr(parent, child, LoRALinear(getattr(parent, child), rank, alpha))
    return LoRAReport(chosen, count_parameters(model, trainable_only=True), count_parameters(model))


def merge_lora(model: nn.Module) -> int:
    """Merge every unmerged :class:`LoRALinear` of ``model``; return how many were merged."""
    layers = [m for m in model.modules() if isinstance(m, LoRALinear) and not m.merged]
    for layer in layers:
        layer.merge()
    return len(layers)
