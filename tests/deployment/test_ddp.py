import socket
import sys

import pytest
import torch
from hypothesis import given
from hypothesis import strategies as st
from torch import nn

from snippets.deployment import ddp
from snippets.deployment.ddp import (
    all_reduce_mean,
    demo_batches,
    free_port,
    make_model,
    run_ddp,
    shard,
    shard_gradients,
    step_time,
    train_ddp,
    train_single,
)


def test_two_processes_give_the_weights_of_one_process_on_the_combined_batch():
    batches = demo_batches(steps=8, batch_size=32)
    reference = make_model()
    train_single(reference, batches, lr=0.5)
    weights = run_ddp(batches, world_size=2, lr=0.5)  # gloo, 2 spawned processes
    assert weights.keys() == reference.state_dict().keys()
    for name, value in reference.state_dict().items():
        torch.testing.assert_close(weights[name], value, rtol=1e-5, atol=1e-6, msg=name)
    # and training did move the weights away from the initialisation
    assert not torch.allclose(weights["1.weight"], make_model().state_dict()["1.weight"])


def test_one_process_group_of_size_one_equals_plain_training():
    batches = demo_batches(steps=3, batch_size=8)
    reference = make_model()
    expected = train_single(reference, batches, lr=0.5)
    losses = train_ddp(0, 1, f"tcp://127.0.0.1:{free_port()}", batches, lr=0.5, backend="gloo")
    torch.testing.assert_close(torch.tensor(losses), torch.tensor(expected))


@given(world_size=st.integers(1, 6), per_rank=st.integers(1, 5))
def test_shards_partition_the_batch(world_size, per_rank):
    batch = torch.arange(world_size * per_rank)
    parts = [shard(batch, r, world_size) for r in range(world_size)]
    assert all(len(p) == per_rank for p in parts)
    torch.testing.assert_close(torch.cat(parts), batch)


def test_free_port_can_be_bound_on_loopback():
    port = free_port()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", port))


def test_demo_batches_are_seeded():
    a, b = demo_batches(2, 16, seed=3), demo_batches(2, 16, seed=3)
    assert a[0][0].shape == (16, 64) and a[0][1].shape == (16,)
    torch.testing.assert_close(a[1][0], b[1][0])


@pytest.mark.parametrize("dtype", [None, torch.bfloat16])
def test_step_time_runs_with_and_without_autocast(dtype):
    model = make_model()
    x, y = demo_batches(1, 16)[0]
    before = model[1].weight.clone()
    seconds = step_time(model, x, y, steps=2, autocast_dtype=dtype)
    assert 0 < seconds < 5
    assert not torch.equal(model[1].weight, before)  # it did train
    assert model[1].weight.dtype == torch.float32  # autocast leaves the weights in float32


def test_ddp_bad_input():
    with pytest.raises(ValueError, match="batch size must be divisible by world_size=2, got 5"):
        shard(torch.zeros(5), 0, 2)
    with pytest.raises(ValueError, match="rank must be in \\[0, 2\\), got 2"):
        shard(torch.zeros(4), 2, 2)
    with pytest.raises(TypeError, match="batch must be a torch.Tensor"):
        shard([1, 2], 0, 1)
    with pytest.raises(ValueError, match="world_size must be > 0, got 0"):
        run_ddp([], world_size=0)


@pytest.mark.parametrize("world_size", [1, 2, 4, 8])
def test_mean_of_shard_gradients_is_the_full_batch_gradient(world_size):
    model = make_model()
    x, y = demo_batches(1, 32)[0]
    loss_fn = nn.CrossEntropyLoss()
    grads = shard_gradients(model, loss_fn, x, y, world_size)
    assert len(grads) == world_size
    full = torch.autograd.grad(loss_fn(model(x), y), list(model.parameters()))
    for averaged, expected in zip(all_reduce_mean(grads), full, strict=True):
        torch.testing.assert_close(averaged, expected, rtol=1e-5, atol=1e-7)
    if world_size > 1:  # each shard alone gives a different gradient
        assert not torch.allclose(grads[0][0], full[0], atol=1e-4)
    assert all(p.grad is None for p in model.parameters())  # .grad left untouched


def test_batch_norm_breaks_the_equality():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(64, 16), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 10))
    x, y = demo_batches(1, 32)[0]
    loss_fn = nn.CrossEntropyLoss()
    averaged = all_reduce_mean(shard_gradients(model, loss_fn, x, y, 4))
    full = torch.autograd.grad(loss_fn(model(x), y), list(model.parameters()))
    assert (averaged[0] - full[0]).abs().max() > 1e-3


def test_all_reduce_mean_by_hand_and_bad_input():
    grads = [[torch.tensor([1.0, 2.0])], [torch.tensor([3.0, 6.0])]]
    torch.testing.assert_close(all_reduce_mean(grads)[0], torch.tensor([2.0, 4.0]))
    with pytest.raises(ValueError, match="at least one rank"):
        all_reduce_mean([])
    with pytest.raises(ValueError, match="same number of tensors on every rank"):
        all_reduce_mean([[torch.zeros(1)], []])
    with pytest.raises(TypeError, match="model must be an nn.Module"):
        shard_gradients("mlp", nn.MSELoss(), torch.zeros(2, 1), torch.zeros(2, 1), 1)
    with pytest.raises(ValueError, match="inputs and targets must hold the same number"):
        shard_gradients(nn.Linear(1, 1), nn.MSELoss(), torch.zeros(2, 1), torch.zeros(3, 1), 1)
    with pytest.raises(ValueError, match="batch size must be divisible by world_size=2"):
        shard_gradients(nn.Linear(1, 1), nn.MSELoss(), torch.zeros(3, 1), torch.zeros(3, 1), 2)


def test_each_rank_writes_its_line_in_one_call(monkeypatch):
    """torchrun's ranks share one output: a line written in two parts can merge with another's."""
    writes = []

    class Recorder:
        def write(self, text):
            writes.append(text)

        def flush(self):
            pass

    monkeypatch.setattr(ddp, "train_ddp", lambda *args, **kwargs: [2.5, 0.25])
    monkeypatch.setattr(sys, "stdout", Recorder())
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    ddp.main(["--steps", "1"])
    assert writes == ["rank 1/2: loss on its shard 2.5000 -> 0.2500\n"]
