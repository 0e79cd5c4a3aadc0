"""Coding exercises of the deployment chapter: reference solutions and their checkers.

Check your own version with ``snippets.common.exercises.check("<name>", your_function)``.
"""

from __future__ import annotations

import math

import torch

from snippets.common.exercises import Case, exercise


def _gemm_cases():
    g = torch.Generator().manual_seed(21)
    # (M, K, N, alpha, beta, trans_a, trans_b, shape of C)
    settings = [
        (2, 4, 3, 1.0, 1.0, 0, 1, (3,)),
        (5, 3, 2, 0.5, 2.0, 1, 0, (5, 2)),
        (3, 3, 3, 1.0, 0.0, 1, 1, (1,)),
        (4, 6, 5, 2.0, 1.0, 0, 0, (4, 1)),
        (1, 1, 1, 1.0, 1.0, 0, 1, ()),
        (0, 4, 3, 1.0, 1.0, 0, 1, (3,)),
    ]
    for m, k, n, alpha, beta, ta, tb, c_shape in settings:
        a = torch.randn((k, m) if ta else (m, k), generator=g, dtype=torch.float64)
        b = torch.randn((n, k) if tb else (k, n), generator=g, dtype=torch.float64)
        c = torch.randn(c_shape, generator=g, dtype=torch.float64)
        kwargs = {"alpha": alpha, "beta": beta, "trans_a": ta, "trans_b": tb}
        yield Case((a, b, c), kwargs, label=f"M={m}, K={k}, N={n}, transA={ta}, transB={tb}")


def _wrong_ignores_trans_b(a, b, c, alpha=1.0, beta=1.0, trans_a=0, trans_b=0):
    a = a.T if trans_a else a
    return alpha * (a @ b.T) + beta * c  # always transposes B, as nn.Linear's weight needs


def _wrong_beta_on_product(a, b, c, alpha=1.0, beta=1.0, trans_a=0, trans_b=0):
    a = a.T if trans_a else a
    b = b.T if trans_b else b
    return alpha * beta * (a @ b) + c  # beta scales the product instead of C


@exercise(
    "onnx-gemm",
    page="deployment/onnx",
    task="ONNX's Gemm operator: Y = alpha · A' @ B' + beta · C, where A' is A transposed if "
    "trans_a is 1 (else A), B' likewise with trans_b, and C broadcasts to [M, N].",
    cases=_gemm_cases,
    wrong=[_wrong_ignores_trans_b, _wrong_beta_on_product],
)
def onnx_gemm(
    a: torch.Tensor,
    b: torch.Tensor,
    c: torch.Tensor,
    alpha: float = 1.0,
    beta: float = 1.0,
    trans_a: int = 0,
    trans_b: int = 0,
) -> torch.Tensor:
    """A general matrix product with flags: the node that an exported ``nn.Linear`` becomes.

    ``nn.Linear`` stores its weight as ``[out, in]``, so the exporter emits
    ``Gemm(x, W, b, transB=1)``: ``x @ Wᵀ + b``, with ``C = b`` broadcast over the batch.
    """
    a = a.T if trans_a else a  # [M, K]
    b = b.T if trans_b else b  # [K, N]
    return alpha * (a @ b) + beta * c


def _shard_cases():
    g = torch.Generator().manual_seed(22)
    for sizes, shape in [([4, 4], (3,)), ([5, 3, 1], (2, 3)), ([7], (4,)), ([6, 0, 2], (5,))]:
        grads = [torch.randn(shape, generator=g, dtype=torch.float64) for _ in sizes]
        grads = [grad if n else torch.zeros_like(grad) for grad, n in zip(grads, sizes)]
        yield Case((grads, sizes), label=f"shard sizes {sizes}")
    yield Case(([torch.zeros(2), torch.zeros(2)], [0, 0]), label="no samples at all")


def _wrong_plain_mean(grads, sizes):
    if sum(sizes) == 0:
        raise ValueError("no samples")
    return torch.stack(grads).mean(dim=0)  # what the averaging all-reduce computes


def _wrong_sum(grads, sizes):
    if sum(sizes) == 0:
        raise ValueError("no samples")
    return torch.stack(grads).sum(dim=0)  # dist.all_reduce's default op is a sum


@exercise(
    "uneven-shard-gradient",
    page="deployment/distributed",
    task="The full-batch gradient of a mean loss from the mean-loss gradients of shards of "
    "different sizes (grads: one tensor per rank, sizes: samples per rank); ValueError if there "
    "are no samples at all.",
    cases=_shard_cases,
    wrong=[_wrong_plain_mean, _wrong_sum],
)
def uneven_shard_gradient(grads: list[torch.Tensor], sizes: list[int]) -> torch.Tensor:
    """Weight each shard's mean gradient by its share of the samples.

    Shard ``r``'s mean gradient times ``n_r`` is the sum of its per-sample
    gradients; adding those and dividing by ``Σ n_r`` gives the mean over
    the whole batch. The plain mean of the shards is right only when all
    ``n_r`` are equal.
    """
    total = sum(sizes)
    if total == 0:
        raise ValueError(f"the shards hold no samples at all, sizes {sizes}")
    return sum(n * grad for n, grad in zip(sizes, grads)) / total


def _sampler_cases():
    for n, world_size in [(10, 3), (12, 4), (2, 4), (7, 1), (1, 2), (0, 2), (9, 5)]:
        for rank in sorted({0, world_size - 1}):
            yield Case((n, rank, world_size), label=f"{n} samples, rank {rank} of {world_size}")
    yield Case((8, 2, 2), label="rank outside the world")


def _wrong_contiguous(n, rank, world_size):
    if not 0 <= rank < world_size:
        raise ValueError("rank out of range")
    per = math.ceil(n / world_size)
    padded = [i % n for i in range(per * world_size)] if n else []
    return padded[rank * per : (rank + 1) * per]  # a contiguous block, as shard() takes


def _wrong_unpadded(n, rank, world_size):
    if not 0 <= rank < world_size:
        raise ValueError("rank out of range")
    return list(range(rank, n, world_size))  # ranks get different numbers of samples


@exercise(
    "distributed-sampler-indices",
    page="deployment/distributed",
    task="The dataset indices that DistributedSampler(dataset of n samples, num_replicas="
    "world_size, rank=rank, shuffle=False) gives rank `rank`, as a list; ValueError if rank is "
    "not in [0, world_size).",
    cases=_sampler_cases,
    wrong=[_wrong_contiguous, _wrong_unpadded],
)
def distributed_sampler_indices(n: int, rank: int, world_size: int) -> list[int]:
    """Pad the indices to a multiple of ``world_size`` by repeating the first ones, then deal them.

    Every rank must run the same number of steps (otherwise one waits forever
    in an all-reduce the others never join), so each gets ``⌈n / world_size⌉``
    indices: rank ``r`` takes every ``world_size``-th index starting at ``r``.
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    per_rank = math.ceil(n / world_size)
    indices = list(range(n))
    padding = per_rank * world_size - n
    while len(indices) < n + padding:  # repeat from the start, as often as needed
        indices += indices[: n + padding - len(indices)]
    return indices[rank::world_size]
