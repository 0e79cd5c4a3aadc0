"""Smoke mode: every gallery example at its GPU sizes, for a handful of steps, on the CPU.

The site build runs the examples at their CPU sizes only, so a shape, preset or
configuration bug that shows only at the GPU sizes would wait for someone with
a GPU. Here ``T2T_SMOKE=1`` makes :func:`snippets.common.device.preset` return
the GPU sizes, and the loop lengths their ``smoke`` value, so that each example
runs through every line in seconds. The quality bars need the full training,
so the source is compiled with ``optimize=1``, which drops the ``assert``
statements, like ``python -O``; anything else that fails still fails the test.
Examples that train through :func:`snippets.common.train.fit` get a version
that passes over at most :data:`SMOKE_BATCHES` batches per epoch, so that
epochs over a GPU-sized data set stay short.

Each example runs in a process of its own, forked from a server that has
imported torch, matplotlib and the snippets once (``multiprocessing``'s
forkserver), so an example costs its own work and not an interpreter start;
as many run at once as there are cores (``T2T_SMOKE_JOBS`` overrides it).
"""

from __future__ import annotations

import inspect
import itertools
import multiprocessing
import os
import pkgutil
import queue
import sys
import traceback
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*/plot_*.py"))
TIMEOUT_S = int(
    os.environ.get("T2T_SMOKE_TIMEOUT", "120")
)  # generous: a hung example fails instead of stalling the suite
SMOKE_BATCHES = 3
REAL_FIT: Any = None  # the real fit, kept by each child before it patches in smoke_fit
#: examples run at once, one thread each (T2T_SMOKE_JOBS=1: one after another)
JOBS = max(1, int(os.environ.get("T2T_SMOKE_JOBS", os.cpu_count() or 1)))
#: imported once by the fork server: torch, its compiler front end (which the
#: optimizers import on first use), matplotlib and every snippets module
PRELOAD = [
    "torch",
    "torch._dynamo",
    "matplotlib.pyplot",
    *sorted(m.name for m in pkgutil.walk_packages([str(ROOT / "snippets")], "snippets.")),
]


def cut_batches(batches: Iterable[Any] | None) -> list[Any] | None:
    """The first :data:`SMOKE_BATCHES` batches, as a list that can be iterated every epoch."""
    return None if batches is None else list(itertools.islice(batches, SMOKE_BATCHES))


def smoke_fit(*args: Any, **kwargs: Any) -> Any:
    """:func:`snippets.common.train.fit` over at most :data:`SMOKE_BATCHES` batches an epoch."""
    bound = inspect.signature(REAL_FIT).bind(*args, **kwargs)
    for name in ("train_batches", "val_batches"):
        if name in bound.arguments:
            bound.arguments[name] = cut_batches(bound.arguments[name])
    return REAL_FIT(*bound.args, **bound.kwargs)


def run_example(path: str, workdir: str, errors: multiprocessing.Queue) -> None:
    """Run one example as ``__main__`` in smoke mode, without its asserts (a child process)."""
    try:
        os.environ["T2T_SMOKE"] = "1"
        os.environ["T2T_DEVICE"] = "cpu"
        os.environ["MPLBACKEND"] = "Agg"
        os.chdir(workdir)
        import torch

        from snippets.common import train

        global REAL_FIT
        torch.set_num_threads(1)
        REAL_FIT, train.fit = train.fit, smoke_fit
        source = Path(path).read_text(encoding="utf-8")
        code = compile(source, path, "exec", optimize=1)  # optimize=1: no asserts
        exec(code, {"__name__": "__main__", "__file__": path})
    except BaseException:  # noqa: BLE001 - everything goes back to the test
        errors.put(traceback.format_exc())
        raise SystemExit(1) from None


@pytest.fixture(scope="module")
def context() -> multiprocessing.context.BaseContext:
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def test_smoke_mode_drops_asserts_only():
    """The compile step this module relies on removes asserts and keeps everything else."""
    namespace: dict[str, object] = {}
    exec(compile("assert False\nreached = 1\n", "<smoke>", "exec", optimize=1), namespace)
    assert namespace["reached"] == 1
    with pytest.raises(AssertionError):
        exec(compile("assert False\n", "<plain>", "exec"), {})


def test_every_example_is_collected():
    chapters = {path.parent.name for path in EXAMPLES}
    folders = {p.name for p in (ROOT / "examples").iterdir() if p.is_dir()}
    assert chapters == folders, f"chapters without examples: {sorted(folders - chapters)}"


def run_in_child(context, path: Path, workdir: str) -> str | None:
    """Run one example in a forked child; ``None`` if it passed, else what went wrong."""
    errors = context.Queue()
    process = context.Process(target=run_example, args=(str(path), workdir, errors))
    process.start()
    process.join(TIMEOUT_S)
    if process.is_alive():
        process.kill()
        process.join()
        return f"{path.name} ran longer than {TIMEOUT_S} s in smoke mode"
    if process.exitcode != 0:
        try:
            message = errors.get(timeout=5)
        except queue.Empty:  # killed by a signal: no traceback was sent
            message = f"exit code {process.exitcode}"
        return f"{path.name} failed in smoke mode:\n{message}"
    return None


@pytest.fixture(scope="module")
def runs(context, tmp_path_factory) -> Iterator[dict[Path, Future]]:
    """Every example, started at once on :data:`JOBS` workers; each test waits for its own."""
    with ThreadPoolExecutor(max_workers=JOBS) as pool:
        futures = {
            path: pool.submit(run_in_child, context, path, str(tmp_path_factory.mktemp(path.stem)))
            for path in EXAMPLES
        }
        yield futures
        for future in futures.values():
            future.cancel()  # after a failure with -x: do not start the rest


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_runs_at_gpu_sizes(path: Path, runs) -> None:
    problem = runs[path].result()
    if problem is not None:
        pytest.fail(problem)


def test_smoke_fit_trains_on_a_few_batches_an_epoch(monkeypatch):
    """The cut must reach the real ``fit``, whether the batches come by position or name."""
    import torch

    from snippets.common import train

    monkeypatch.setattr(sys.modules[__name__], "REAL_FIT", train.fit)
    monkeypatch.setattr(train, "fit", smoke_fit)  # as in a smoke run's process
    batches = [(torch.randn(4, 2), torch.randn(4, 1)) for _ in range(10)]
    model, loss = torch.nn.Linear(2, 1), torch.nn.MSELoss()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    by_position = smoke_fit(model, batches, loss, optimizer, 2)
    by_name = smoke_fit(model, loss_fn=loss, optimizer=optimizer, epochs=1, train_batches=batches)
    assert len(by_position.learning_rate) == 2 * SMOKE_BATCHES
    assert len(by_name.learning_rate) == SMOKE_BATCHES
