"""Data-parallel training with ``torch.nn.parallel.DistributedDataParallel``.

Every process holds a full copy of the model and trains on its own slice of
each batch; during ``backward`` DDP averages the gradients of all processes
(an *all-reduce*), so every copy takes the same optimizer step. On the CPU
the processes talk through the ``gloo`` backend; on NVIDIA GPUs through
``nccl``.

Run it under torchrun (one process per GPU or per CPU slot)::

    torchrun --nproc-per-node=2 -m snippets.deployment.ddp --steps 20 --out weights.pt
"""

from __future__ import annotations

import argparse
import os
import socket
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from snippets.common.checks import check_positive, check_tensor
from snippets.common.train import train_step
from snippets.fundamentals.nn_basics import make_mlp

Batches = list[tuple[torch.Tensor, torch.Tensor]]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def shard(batch: torch.Tensor, rank: int, world_size: int) -> torch.Tensor:
    """Rank ``rank``'s contiguous slice of a batch split evenly over ``world_size`` processes.

    Shapes:
        ``[B, ...]`` → ``[B / world_size, ...]``.

    Raises:
        ValueError: if ``B`` is not divisible by ``world_size`` or ``rank`` is
            outside ``[0, world_size)``.
    """
    check_tensor(batch, "batch")
    check_positive(world_size, "world_size")
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in [0, {world_size}), got {rank}")
    if len(batch) % world_size:
        raise ValueError(
            f"batch size must be divisible by world_size={world_size}, got {len(batch)}"
        )
    size = len(batch) // world_size
    return batch[rank * size : (rank + 1) * size]


def shard_gradients(
    model: nn.Module,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    inputs: torch.Tensor,
    targets: torch.Tensor,
    world_size: int,
) -> list[list[torch.Tensor]]:
    """The gradient each of ``world_size`` DDP processes computes, on one process.

    Rank ``k`` takes its :func:`shard` of the batch and differentiates its
    own mean loss; nothing is averaged yet (that is :func:`all_reduce_mean`).
    The model's ``.grad`` fields are left untouched.

    Shapes:
        ``inputs`` ``[B, ...]``, ``targets`` ``[B, ...]`` → ``world_size``
        lists, each with one tensor per trainable parameter, in the order of
        ``model.parameters()``.

    Raises:
        TypeError: if ``model`` is not an ``nn.Module``.
        ValueError: if ``inputs`` and ``targets`` differ in length, or the
            batch does not split evenly (as :func:`shard`).
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be an nn.Module, got {type(model).__name__}")
    check_tensor(inputs, "inputs")
    check_tensor(targets, "targets")
    if len(inputs) != len(targets):
        raise ValueError(
            f"inputs and targets must hold the same number of samples, "
            f"got {len(inputs)} and {len(targets)}"
        )
    params = [p for p in model.parameters() if p.requires_grad]
    grads = []
    for rank in range(world_size):
        x, y = shard(inputs, rank, world_size), shard(targets, rank, world_size)
        grads.append(list(torch.autograd.grad(loss_fn(model(x), y), params)))
    return grads


def all_reduce_mean(grads: Sequence[Sequence[torch.Tensor]]) -> list[torch.Tensor]:
    """What DDP's all-reduce leaves on every rank: the mean of the ranks' gradients.

    Shapes:
        ``K`` lists of ``P`` tensors (one list per rank, as
        :func:`shard_gradients` returns) → ``P`` tensors.

    Raises:
        ValueError: if ``grads`` is empty or the ranks hold different numbers
            of tensors.
    """
    if len(grads) == 0:
        raise ValueError("grads must hold the gradients of at least one rank, got none")
    if len({len(g) for g in grads}) != 1:
        counts = [len(g) for g in grads]
        raise ValueError(f"grads must hold the same number of tensors on every rank, got {counts}")
    return [torch.stack(per_rank).mean(dim=0) for per_rank in zip(*grads)]


def demo_batches(steps: int, batch_size: int = 64, seed: int = 0) -> Batches:
    """``steps`` batches of flattened digits ``([batch_size, 64], [batch_size])`` for the demos."""
    from snippets.common.data import digits

    check_positive(steps, "steps")
    check_positive(batch_size, "batch_size")
    data = digits(flat=True, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    batches = []
    for _ in range(steps):
        idx = torch.randint(len(data.x_train), (batch_size,), generator=generator)
        batches.append((data.x_train[idx], data.y_train[idx]))
    return batches


def make_model(sizes: Sequence[int] = (64, 32, 10), seed: int = 0) -> nn.Sequential:
    """The same freshly initialised MLP in every process (seeded), ``[N, 64]`` → ``[N, 10]``."""
    torch.manual_seed(seed)
    return make_mlp(list(sizes))


def train_single(model: nn.Module, batches: Batches, lr: float = 0.1) -> list[float]:
    """The reference: one process, plain SGD on the full batches; returns the losses."""
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    return [train_step(model, batch, nn.CrossEntropyLoss(), optimizer) for batch in batches]


def train_ddp(
    rank: int,
    world_size: int,
    init_method: str,
    batches: Batches,
    out: str | None = None,
    lr: float = 0.1,
    sizes: Sequence[int] = (64, 32, 10),
    backend: str | None = None,
    local_rank: int | None = None,
) -> list[float]:
    """Body of one DDP process: join the group, train on this rank's shards, leave.

    Every process builds the same model, wraps it in
    :class:`~torch.nn.parallel.DistributedDataParallel` and runs
    :func:`snippets.common.train.train_step` on its slice of each batch; the loss it
    sees is the mean over its own slice, and DDP averages the gradients, which
    equals the gradient of the mean loss over the whole batch. Rank 0 saves
    the final weights to ``out``.

    Args:
        init_method: where the processes meet, ``"tcp://127.0.0.1:PORT"`` or
            ``"env://"`` (read ``MASTER_ADDR``/``MASTER_PORT``, as torchrun sets).
        backend: ``"gloo"`` (CPU) or ``"nccl"`` (one GPU per process);
            default: nccl when every rank has a GPU, else gloo.
        local_rank: this process's GPU on its machine (torchrun's
            ``LOCAL_RANK``); defaults to ``rank`` (one machine).

    Returns:
        this rank's loss on its shard after every step.
    """
    local_rank = rank if local_rank is None else local_rank
    use_cuda = torch.cuda.is_available() and torch.cuda.device_count() > local_rank
    backend = backend or ("nccl" if use_cuda else "gloo")
    device = torch.device(f"cuda:{local_rank}" if backend == "nccl" else "cpu")
    dist.init_process_group(backend, init_method=init_method, rank=rank, world_size=world_size)
    try:
        model = make_model(sizes).to(device)
        ddp_model = DistributedDataParallel(
            model, device_ids=[local_rank] if device.type == "cuda" else None
        )
        optimizer = torch.optim.SGD(ddp_model.parameters(), lr=lr)
        losses = []
        for x, y in batches:
            local = (shard(x, rank, world_size).to(device), shard(y, rank, world_size).to(device))
            losses.append(train_step(ddp_model, local, nn.CrossEntropyLoss(), optimizer))
        if rank == 0 and out is not None:
            torch.save({k: v.cpu() for k, v in model.state_dict().items()}, out)
        dist.barrier()
    finally:
        dist.destroy_process_group()
    return losses


def _spawned(rank: int, world_size: int, port: int, batches: Batches, out: str, lr: float) -> None:
    train_ddp(rank, world_size, f"tcp://127.0.0.1:{port}", batches, out, lr, backend="gloo")
    # The work is done and the group destroyed. Leave without the C++ library's
    # exit-time destructors: now and then (about one run in twenty) a thread of
    # the gloo backend is still joinable there, and the process aborts with
    # "terminate called without an active exception" after it has succeeded.
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def run_ddp(batches: Batches, world_size: int = 2, lr: float = 0.1) -> dict[str, torch.Tensor]:
    """Train with ``world_size`` CPU processes started by ``torch.multiprocessing.spawn``.

    The processes meet on a free port of 127.0.0.1 and use gloo. Call this
    from code guarded by ``if __name__ == "__main__":`` (spawned children
    re-import the main script).

    Returns:
        the trained weights (rank 0's state dict).
    """
    check_positive(world_size, "world_size")
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "weights.pt")
        args = (world_size, free_port(), batches, out, lr)
        mp.spawn(_spawned, args=args, nprocs=world_size, join=True)
        return torch.load(out)


def step_time(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    steps: int = 20,
    autocast_dtype: torch.dtype | None = None,
    compile_model: bool = False,
) -> float:
    """Median seconds per training step, optionally with autocast and ``torch.compile``.

    ``autocast_dtype`` (``torch.bfloat16`` or ``torch.float16``) runs matrix
    multiplies in low precision while the weights stay ``float32``.
    ``torch.compile`` fuses operations into generated kernels; its first call
    compiles (slow), so three warm-up steps run before timing.

    Shapes:
        ``x`` ``[N, features]`` on the model's device, ``y`` ``[N]`` class indices.
    """
    check_positive(steps, "steps")
    device = x.device
    runner = torch.compile(model) if compile_model else model
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01)
    scaler = torch.amp.GradScaler(device.type, enabled=autocast_dtype == torch.float16)
    loss_fn = nn.CrossEntropyLoss()
    times = []
    for i in range(steps + 3):
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=autocast_dtype, enabled=autocast_dtype is not None):
            loss = loss_fn(runner(x), y)
        optimizer.zero_grad()
        scaler.scale(loss).backward()  # scaling keeps small float16 gradients from underflowing
        scaler.step(optimizer)
        scaler.update()
        if device.type == "cuda":
            torch.cuda.synchronize()
        if i >= 3:
            times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point for ``torchrun ... -m snippets.deployment.ddp``.

    Rank and world size come from the environment variables torchrun sets.
    """
    parser = argparse.ArgumentParser(description="DDP training on digits")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--lr", type=float, default=0.1)
    parser.add_argument("--out", default=None, help="where rank 0 saves the weights")
    args = parser.parse_args(argv)
    rank, world_size = int(os.environ["RANK"]), int(os.environ["WORLD_SIZE"])
    local_rank = int(os.environ.get("LOCAL_RANK", rank))
    batches = demo_batches(args.steps)
    losses = train_ddp(
        rank, world_size, "env://", batches, args.out, args.lr, local_rank=local_rank
    )
    # one write per line: the ranks share the launcher's output, and print() would
    # write the text and its newline separately, so two ranks' lines could merge
    line = f"rank {rank}/{world_size}: loss on its shard {losses[0]:.4f} -> {losses[-1]:.4f}\n"
    sys.stdout.write(line)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
