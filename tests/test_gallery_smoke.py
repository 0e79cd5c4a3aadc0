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
import json
import multiprocessing
import os
import queue
import sys
import tempfile
import time
import traceback
from collections.abc import Iterable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tools import preloaded_kernel

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*/plot_*.py"))
TIMEOUT_S = int(
    os.environ.get("T2T_SMOKE_TIMEOUT", "120")
)  # generous: a hung example fails instead of stalling the suite
SMOKE_BATCHES = 2  # two optimizer steps: the second runs on the state the first left
REAL_FIT: Any = None  # the real fit, kept by each child before it patches in smoke_fit
#: examples run at once, one thread each (T2T_SMOKE_JOBS=1: one after another)
JOBS = max(1, int(os.environ.get("T2T_SMOKE_JOBS", os.cpu_count() or 1)))
#: scheduling priority of the examples' processes, below the tests running beside them
NICE = int(os.environ.get("T2T_SMOKE_NICE", "5"))
#: the file in an example's working folder that receives what it prints
OUTPUT = "output.txt"
#: where to write each example's smoke time in seconds, as JSON (``nox -s bench`` sets it)
TIMES_FILE = os.environ.get("T2T_SMOKE_TIMES")
#: imported once by the fork server: the site's costly imports and every snippets
#: module, as for the notebook pages' kernels (tools/preloaded_kernel.py)
PRELOAD = [
    *preloaded_kernel.SITE_IMPORTS,
    *preloaded_kernel.snippet_modules(),
    __name__,  # this module (and pytest), where each child finds run_example
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
        os.nice(NICE)  # the suite's own tests first: they are the longer chain of work
        # what the example prints goes to a file, shown when it fails: the fork
        # server may have been started while pytest was not capturing
        output = os.open(Path(workdir) / OUTPUT, os.O_WRONLY | os.O_CREAT | os.O_TRUNC)
        os.dup2(output, 1)
        os.dup2(output, 2)
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


def smoke_context() -> multiprocessing.context.BaseContext:
    """Children forked from a server that has imported :data:`PRELOAD` (else spawned)."""
    if "forkserver" not in multiprocessing.get_all_start_methods():  # pragma: no cover
        return multiprocessing.get_context("spawn")
    ctx = multiprocessing.get_context("forkserver")
    ctx.set_forkserver_preload(PRELOAD)
    return ctx


def started(context, path: Path, workdir: str, errors) -> multiprocessing.process.BaseProcess:
    """The example's process, started; tried once more if the fork server refused it.

    A refused connection means the fork server had gone away (seen once in
    some twenty runs of the suite, cause unknown); the next start launches a
    new one. The example had not started, so no failure of its own is hidden.
    """
    process = context.Process(target=run_example, args=(str(path), workdir, errors))
    try:
        process.start()
    except ConnectionRefusedError:  # a second refusal is raised
        process = context.Process(target=run_example, args=(str(path), workdir, errors))
        process.start()
    return process


def child_problem(context, path: Path, workdir: str) -> str | None:
    """Run one example in a child process; ``None`` if it passed, else what went wrong."""
    errors = context.Queue()
    process = started(context, path, workdir, errors)
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
        output = Path(workdir) / OUTPUT
        printed = (
            output.read_text(encoding="utf-8", errors="replace") if output.is_file() else "(none)"
        )
        return f"{path.name} failed in smoke mode:\n{message}\nlast output:\n{printed[-3000:]}"
    return None


class SmokeRuns:
    """The selected examples, running on :data:`JOBS` workers while the other tests run.

    ``tests/conftest.py`` starts them as soon as pytest has collected the tests
    (:func:`start`), so that on a machine of few cores the examples and the
    rest of the suite share the cores instead of taking turns; each test of an
    example waits for its own run; :func:`stop` cancels what has not started
    (after a failure with ``-x``) and writes the times asked for by
    ``T2T_SMOKE_TIMES``.
    """

    def __init__(self, paths: Iterable[Path]) -> None:
        self.folder = tempfile.TemporaryDirectory(prefix="t2t-smoke-")
        self.pool = ThreadPoolExecutor(max_workers=JOBS)
        context = smoke_context()
        self.futures: dict[Path, Future[tuple[str | None, float]]] = {
            path: self.pool.submit(self.timed, context, path) for path in paths
        }

    def timed(self, context, path: Path) -> tuple[str | None, float]:
        workdir = Path(self.folder.name) / f"{path.parent.name}-{path.stem}"
        workdir.mkdir()
        start = time.perf_counter()
        problem = child_problem(context, path, str(workdir))
        return problem, time.perf_counter() - start

    def keep(self, paths: Iterable[Path]) -> None:
        """Forget the runs of examples not in ``paths``; those not yet started never start."""
        wanted = set(paths)
        for path in [p for p in self.futures if p not in wanted]:
            self.futures.pop(path).cancel()

    def result(self, path: Path) -> str | None:
        if path not in self.futures:  # not selected at collection time
            self.futures[path] = self.pool.submit(self.timed, smoke_context(), path)
        return self.futures[path].result()[0]

    def stop(self) -> None:
        for future in self.futures.values():
            future.cancel()
        self.pool.shutdown(wait=True)
        if TIMES_FILE:
            times = {
                str(path.relative_to(ROOT / "examples")): future.result()[1]
                for path, future in self.futures.items()
                if future.done() and not future.cancelled()
            }
            Path(TIMES_FILE).write_text(json.dumps(times, indent=1), encoding="utf-8")
        self.folder.cleanup()


RUNS: SmokeRuns | None = None


def start(paths: list[Path]) -> None:
    """Start the smoke runs of ``paths`` (the examples whose tests were selected)."""
    global RUNS
    if RUNS is None and paths:
        RUNS = SmokeRuns(paths)


def keep_only(paths: list[Path]) -> None:
    """Drop the runs of examples outside ``paths``, started before their tests were selected.

    ``pytest_sessionstart`` in ``tests/conftest.py`` starts every example
    before collection when all are sure to be selected; this undoes it for
    any that were not.
    """
    if RUNS is not None:
        RUNS.keep(paths)


def stop() -> None:
    global RUNS
    if RUNS is not None:
        RUNS.stop()
        RUNS = None


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_example_runs_at_gpu_sizes(path: Path) -> None:
    start([path])  # when the suite's start did not run (e.g. without tests/conftest.py)
    assert RUNS is not None
    problem = RUNS.result(path)
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


def test_a_failing_example_reports_its_traceback_and_what_it_printed(tmp_path):
    script = tmp_path / "plot_broken.py"
    script.write_text("print('reached the first cell')\nraise ValueError('a shape is wrong')\n")
    problem = child_problem(smoke_context(), script, str(tmp_path))
    assert problem is not None and problem.startswith("plot_broken.py failed in smoke mode")
    assert "ValueError: a shape is wrong" in problem
    assert "reached the first cell" in problem.split("last output:")[1]
    fine = tmp_path / "plot_fine.py"
    fine.write_text("print('all good')\n")
    assert child_problem(smoke_context(), fine, str(tmp_path)) is None


class RefusingContext:
    """A multiprocessing context whose first ``refusals`` process starts are refused."""

    def __init__(self, context, refusals: int) -> None:
        self.context, self.refusals = context, refusals

    def Queue(self):  # noqa: N802 - the name of multiprocessing's method
        return self.context.Queue()

    def Process(self, **kwargs):  # noqa: N802
        process = self.context.Process(**kwargs)
        if self.refusals > 0:
            self.refusals -= 1

            def refuse():
                raise ConnectionRefusedError(111, "Connection refused")

            process.start = refuse
        return process


def test_a_refused_start_is_tried_once_more_and_then_reported(tmp_path):
    script = tmp_path / "plot_fine.py"
    script.write_text("print('all good')\n")
    once = RefusingContext(smoke_context(), refusals=1)
    assert child_problem(once, script, str(tmp_path)) is None
    assert once.refusals == 0
    with pytest.raises(ConnectionRefusedError):
        child_problem(RefusingContext(smoke_context(), refusals=2), script, str(tmp_path))


def test_runs_started_early_for_unselected_examples_are_dropped(tmp_path, monkeypatch):
    monkeypatch.setattr(sys.modules[__name__], "TIMES_FILE", None)  # not the bench's examples
    scripts = [tmp_path / f"plot_{name}.py" for name in ("kept", "dropped", "also_dropped")]
    for script in scripts:
        script.write_text("print('all good')\n")
    runs = SmokeRuns(scripts)
    try:
        runs.keep(scripts[:1])
        assert list(runs.futures) == scripts[:1]
        assert runs.result(scripts[0]) is None
    finally:
        runs.stop()


@pytest.mark.parametrize(
    "args, where, options, expected",
    [
        (["tests"], ROOT, {}, True),  # plain `pytest` or `nox -s tests`
        (["tests/test_gallery_smoke.py"], ROOT, {}, True),
        ([".", "cnn"], ROOT / "tests", {}, True),
        (["tests/cnn", "tests/test_splits.py"], ROOT, {}, False),
        (["tests/test_gallery_smoke.py::test_every_example_is_collected"], ROOT, {}, False),
        (["tests"], ROOT, {"keyword": "conv"}, False),
        (["tests"], ROOT, {"markexpr": "not site"}, False),
        (["tests"], ROOT, {"deselect": ["tests/cnn"]}, False),
        (["tests"], ROOT, {"lf": True}, False),
        (["tests"], ROOT, {"collectonly": True}, False),
    ],
)
def test_every_example_starts_before_collection_only_when_all_are_sure_to_run(
    args, where, options, expected
):
    from types import SimpleNamespace

    from tests.conftest import selects_every_example

    option = SimpleNamespace(keyword="", markexpr="", deselect=None, collectonly=False)
    vars(option).update(options)
    assert selects_every_example(args, where, option) is expected
