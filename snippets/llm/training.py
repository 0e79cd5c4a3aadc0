"""Training a language model on a text: the setup every example of the chapter shares.

:func:`token_split` turns a text into one stream of token ids and splits it in
order (the validation text follows the training text, so no window of it was
seen in training). :func:`unigram_loss` is the baseline any model must beat:
the loss of predicting every token from its frequency alone.
:func:`train_lm` trains on random windows, one
:func:`snippets.common.train.train_step` per batch, and measures the
validation loss with :func:`snippets.transformers.gpt.evaluate_lm` along the
way, for GPT and :class:`~snippets.llm.model.ModernLM` alike.
"""

from __future__ import annotations

import time
from typing import Any, NamedTuple

import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor
from snippets.common.tokenizers import Tokenizer
from snippets.common.train import train_step
from snippets.neural_networks.schedules import warmup_cosine_scheduler
from snippets.sequence_models.char_lm import lm_loss, random_windows
from snippets.transformers.gpt import evaluate_lm, param_groups


class TokenSplit(NamedTuple):
    """A text as token ids, split in order into training and validation parts."""

    train: torch.Tensor  #: ``[L_train]`` int64
    val: torch.Tensor  #: ``[L_val]`` int64


def token_split(text: str, tokenizer: Tokenizer, train_fraction: float = 0.9) -> TokenSplit:
    """Encode ``text`` and cut it: the first ``train_fraction`` trains, the rest validates.

    Raises:
        TypeError: if ``text`` is not a string.
        ValueError: if ``train_fraction`` is not strictly between 0 and 1, or
            a part would hold fewer than 2 tokens.
    """
    if not isinstance(text, str):
        raise TypeError(f"text must be a str, got {type(text).__name__}")
    if not 0.0 < train_fraction < 1.0:
        raise ValueError(f"train_fraction must be between 0 and 1, got {train_fraction}")
    ids = torch.tensor(tokenizer.encode(text), dtype=torch.int64)
    split = int(train_fraction * len(ids))
    if split < 2 or len(ids) - split < 2:
        raise ValueError(
            f"text must give at least 2 tokens to each part, got {split} and {len(ids) - split}"
        )
    return TokenSplit(ids[:split], ids[split:])


def unigram_loss(train: torch.Tensor, val: torch.Tensor, vocab_size: int) -> float:
    """Nats per token of predicting each validation token by its training frequency.

    A token never seen in training gets probability ``1e-9`` instead of 0.

    Raises:
        TypeError: if ``train`` or ``val`` is not a 1-D int64 tensor.
        ValueError: if ``vocab_size`` is not positive.
    """
    check_tensor(train, "train", ndim=1, dtype=torch.int64)
    check_tensor(val, "val", ndim=1, dtype=torch.int64)
    check_positive(vocab_size, "vocab_size")
    counts = torch.bincount(train, minlength=vocab_size).double()
    probs = counts / counts.sum()
    return -probs[val].clamp_min(1e-9).log().mean().item()


def logits_only(model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> tuple[Any, Any]:
    """The forward of :func:`~snippets.common.train.train_step` for any language model.

    GPT returns logits; :class:`~snippets.llm.model.ModernLM` returns logits
    and its key/value cache, of which training needs only the logits.
    """
    inputs, targets = batch
    out = model(inputs)
    return (out[0] if isinstance(out, tuple) else out), targets


class Curves(NamedTuple):
    """What :func:`train_lm` recorded."""

    train: list[float]  #: the loss of every step's batch
    val_steps: list[int]  #: the steps after which the validation loss was measured
    val: list[float]  #: that validation loss, nats per token
    seconds: float  #: wall-clock time of the training


def train_lm(
    model: nn.Module,
    train: torch.Tensor,
    val: torch.Tensor,
    *,
    steps: int,
    context: int,
    batch_size: int,
    lr: float,
    generator: torch.Generator,
    weight_decay: float = 0.1,
    evals: int = 5,
    log: bool = True,
) -> Curves:
    """Train ``model`` on ``steps`` batches of random windows of ``train``.

    AdamW over the parameters that require gradients (weight decay on the
    matrices only, :func:`~snippets.transformers.gpt.param_groups`), a linear
    warm-up over the first tenth of the steps and a cosine decay
    (:func:`~snippets.neural_networks.schedules.warmup_cosine_scheduler`).
    Every ``steps // evals`` steps the mean loss over ``val`` is measured.
    Batches are moved to the model's device; ``generator`` draws the windows,
    so the same generator state gives the same run.

    Raises:
        ValueError: if ``steps`` or ``evals`` is not positive, ``evals > steps``,
            or the model has no trainable parameter.
    """
    check_positive(steps, "steps")
    check_positive(evals, "evals")
    if evals > steps:
        raise ValueError(f"evals must be at most steps = {steps}, got {evals}")
    groups = [
        {**group, "params": [p for p in group["params"] if p.requires_grad]}
        for group in param_groups(model, weight_decay)
    ]
    if not any(group["params"] for group in groups):
        raise ValueError("model has no parameter that requires a gradient")
    device = next(model.parameters()).device
    optimizer = torch.optim.AdamW(groups, lr=lr)
    schedule = warmup_cosine_scheduler(optimizer, warmup=steps // 10, total=steps)
    model.train()
    curves = Curves([], [], [], 0.0)
    start = time.perf_counter()
    for step in range(1, steps + 1):
        x, y = random_windows(train, context, batch_size, generator)
        batch = (x.to(device), y.to(device))
        curves.train.append(train_step(model, batch, lm_loss, optimizer, forward=logits_only))
        schedule.step()
        if step % (steps // evals) == 0:
            curves.val.append(evaluate_lm(model, val, context))
            curves.val_steps.append(step)
            if log:
                print(
                    f"step {step:4d}: train {curves.train[-1]:.3f}  validation {curves.val[-1]:.3f}"
                )
    return curves._replace(seconds=time.perf_counter() - start)
