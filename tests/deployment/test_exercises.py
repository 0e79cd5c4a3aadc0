"""The coding exercises of this chapter: each checker passes its reference, rejects wrong ones."""

from __future__ import annotations

import pytest

from snippets.common.exercises import check, exercises

CHAPTER = "deployment"
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
    import onnx
    import onnxruntime as ort
    import torch
    from onnx import TensorProto, helper
    from torch import nn
    from torch.utils.data import DistributedSampler

    from snippets.deployment.exercises import (
        distributed_sampler_indices,
        onnx_gemm,
        uneven_shard_gradient,
    )

    g = torch.Generator().manual_seed(0)
    for trans_a, trans_b, c_shape in [(0, 1, [3]), (1, 0, [4, 3]), (1, 1, [1])]:
        a = torch.randn((5, 4) if trans_a else (4, 5), generator=g)
        b = torch.randn((3, 5) if trans_b else (5, 3), generator=g)
        c = torch.randn(c_shape, generator=g)
        node = helper.make_node(
            "Gemm", ["A", "B", "C"], ["Y"], alpha=0.5, beta=2.0, transA=trans_a, transB=trans_b
        )
        inputs = [
            helper.make_tensor_value_info(name, TensorProto.FLOAT, list(t.shape))
            for name, t in zip("ABC", (a, b, c))
        ]
        output = helper.make_tensor_value_info("Y", TensorProto.FLOAT, [4, 3])
        graph = helper.make_graph([node], "gemm", inputs, [output])
        model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 20)])
        model.ir_version = 9
        onnx.checker.check_model(model)
        session = ort.InferenceSession(
            model.SerializeToString(), providers=["CPUExecutionProvider"]
        )
        (y,) = session.run(None, {"A": a.numpy(), "B": b.numpy(), "C": c.numpy()})
        mine = onnx_gemm(a, b, c, alpha=0.5, beta=2.0, trans_a=trans_a, trans_b=trans_b)
        torch.testing.assert_close(mine, torch.from_numpy(y))

    model, loss_fn = nn.Linear(3, 2).double(), nn.MSELoss()
    inputs, targets = torch.randn(9, 3, dtype=torch.float64), torch.randn(9, 2, dtype=torch.float64)
    full = torch.autograd.grad(loss_fn(model(inputs), targets), model.weight)[0]
    sizes = [5, 3, 1]
    grads = [
        torch.autograd.grad(loss_fn(model(x), y), model.weight)[0]
        for x, y in zip(inputs.split(sizes), targets.split(sizes))
    ]
    torch.testing.assert_close(uneven_shard_gradient(grads, sizes), full)
    assert not torch.allclose(torch.stack(grads).mean(0), full)  # the plain mean is wrong here

    for n, world_size in [(10, 3), (2, 4), (0, 2), (9, 5), (16, 4)]:
        for rank in range(world_size):
            sampler = DistributedSampler(range(n), world_size, rank, shuffle=False)
            assert distributed_sampler_indices(n, rank, world_size) == list(sampler)
