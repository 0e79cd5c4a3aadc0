"""Export PyTorch models to ONNX and run them with onnxruntime.

ONNX stores a model as a graph of standard operators plus its weights, in
one file that any ONNX runtime can execute without PyTorch. ``export_onnx``
traces a model with ``torch.onnx.export`` (the ``torch.export``-based
exporter), marks the axes that may change size, and checks the result.
"""

from __future__ import annotations

import logging
import statistics
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import torch
from torch import nn

from snippets.common.checks import check_positive, check_tensor

#: The ONNX operator-set version the site exports to.
OPSET = 20

_QUIET_LOGGERS = (
    "torch.onnx._internal.exporter._registration",
    "onnxscript.optimizer._constant_folding",
)


def export_onnx(
    model: nn.Module,
    example: torch.Tensor,
    dynamic: dict[int, str] | None = None,
    path: str | Path | None = None,
    opset: int = OPSET,
):
    """Export ``model`` to ONNX, check the graph, and return the ``onnx.ModelProto``.

    Args:
        model: the module; it is put in eval mode (dropout off, batch-norm
            running statistics) before tracing.
        example: an input of the right shape, used to trace the graph.
        dynamic: axes that may change size, ``{axis: name}``, e.g.
            ``{0: "batch", 1: "sequence"}``. Other axes are fixed to the
            example's sizes.
        path: where to write the ``.onnx`` file (optional).
        opset: the ONNX operator-set version to target.

    Shapes:
        the model's input is named ``"input"``, its output ``"output"``.

    Raises:
        TypeError: if ``example`` is not a tensor.
        ValueError: if an axis in ``dynamic`` does not exist in ``example``.
    """
    import onnx

    check_tensor(example, "example")
    dynamic = dynamic or {}
    for axis in dynamic:
        if not 0 <= axis < example.ndim:
            raise ValueError(
                f"dynamic axis must be in [0, {example.ndim}) for example of shape "
                f"{tuple(example.shape)}, got {axis}"
            )
    model.eval()
    dims = {axis: torch.export.Dim(name, min=1, max=4096) for axis, name in dynamic.items()}
    with _quiet_exporter():
        program = torch.onnx.export(
            model,
            (example,),
            dynamo=True,  # the torch.export-based exporter
            input_names=["input"],
            output_names=["output"],
            dynamic_shapes=(dims,) if dims else None,
            opset_version=opset,
            verbose=False,
        )
    proto = program.model_proto
    onnx.checker.check_model(proto, full_check=True)  # structure, types and shapes
    if path is not None:
        onnx.save(proto, str(path))
    return proto


@contextmanager
def _quiet_exporter() -> Iterator[None]:
    """Silence exporter chatter that does not concern these models.

    The exporter logs that torchvision's detection ops are missing and which
    constants it did not fold, and PyTorch raises an internal FutureWarning.
    """
    loggers = [logging.getLogger(name) for name in _QUIET_LOGGERS]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def input_shape(proto) -> list[int | str]:
    """The first input's shape in an ONNX model: ints for fixed axes, names for dynamic ones."""
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    return [d.dim_param if d.dim_param else d.dim_value for d in dims]


def ort_session(model, threads: int = 1):
    """An onnxruntime CPU session for an ``onnx.ModelProto`` or a path to a ``.onnx`` file."""
    import onnxruntime as ort

    check_positive(threads, "threads")
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    source = str(model) if isinstance(model, (str, Path)) else model.SerializeToString()
    return ort.InferenceSession(source, options, providers=["CPUExecutionProvider"])


def run_ort(session, x: torch.Tensor) -> torch.Tensor:
    """Run an onnxruntime session on one input tensor and return the output as a tensor.

    Shapes:
        whatever the exported model maps: e.g. ``[N, 64]`` → ``[N, 10]``.
    """
    check_tensor(x, "x", dtype=torch.float32)
    (output,) = session.run(["output"], {"input": x.detach().cpu().numpy()})
    return torch.from_numpy(np.asarray(output))


@torch.no_grad()
def max_abs_difference(model: nn.Module, session, x: torch.Tensor) -> float:
    """Largest ``|PyTorch − onnxruntime|`` over all output elements for input ``x``."""
    model.eval()
    return (model(x) - run_ort(session, x)).abs().max().item()


def median_latency(fn: Callable[[], object], repeats: int = 50, warmup: int = 5) -> float:
    """Median wall-clock seconds of ``fn()`` over ``repeats`` calls, after ``warmup`` calls.

    The median ignores the occasional slow call caused by other programs.

    Raises:
        ValueError: if ``repeats`` is not positive or ``warmup`` negative.
    """
    check_positive(repeats, "repeats")
    check_positive(warmup, "warmup", allow_zero=True)
    for _ in range(warmup):
        fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times)
