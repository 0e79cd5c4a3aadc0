"""Shared test settings: CPU only, one thread, deterministic, and a non-GUI plotting backend.

The models under test are small: on one CPU thread they run fastest and give
the same numbers on every machine, whatever its core count.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("T2T_DEVICE", "cpu")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # read when torch starts, also by subprocesses

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import settings  # noqa: E402

from tools import strict_warnings  # noqa: E402

# warnings that fail a test (tools/strict_warnings.py), also in every process a
# test starts: the examples' smoke runs, torchrun's workers, subprocesses
strict_warnings.pass_to_new_processes()

torch.set_num_threads(int(os.environ["OMP_NUM_THREADS"]))

# Checks of the built site run only in `nox -s browser`, after `nox -s docs`.
collect_ignore = [] if os.environ.get("T2T_SITE_TESTS") else ["site"]

# derandomize: the same examples on every run, so a red test is never luck;
# HYPOTHESIS_PROFILE=explore draws new examples each time, to hunt for bugs.
settings.register_profile("site", deadline=None, max_examples=50, derandomize=True)
settings.register_profile("explore", deadline=None, max_examples=200)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "site"))


@pytest.fixture(autouse=True)
def _seed_and_close_figures():
    # the CPU generator, which is all the tests use: torch.manual_seed also
    # queues the seed for CUDA, XPU and MTIA, recording a stack trace for each
    # where no such device has started (milliseconds a test at pytest's stack
    # depth: the suite's own tests took 57 s with it, 48 s without)
    torch.random.default_generator.manual_seed(0)
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


def pytest_configure(config: pytest.Config) -> None:
    for spec in strict_warnings.pytest_filters():
        config.addinivalue_line("filterwarnings", spec)


SMOKE_MODULE = pytest.StashKey[object]()
SMOKE_FILE = Path(__file__).with_name("test_gallery_smoke.py")
#: options that may leave some tests unselected (the option names of pytest's parser)
NARROWING = ("keyword", "markexpr", "deselect", "ignore", "ignore_glob", "lf", "stepwise", "pyargs")


def _is_smoke(item: pytest.Item) -> bool:
    return getattr(item, "originalname", None) == "test_example_runs_at_gpu_sizes"


def selects_every_example(args: list[str], invocation_dir: Path, option: Any) -> bool:
    """Whether every example's smoke test is sure to be selected, judged before collection.

    True when one of ``args`` is the smoke module or a folder that holds it,
    and no option narrows the selection; ``False`` whenever in doubt.
    """
    if getattr(option, "collectonly", False) or any(getattr(option, n, None) for n in NARROWING):
        return False
    for arg in args:
        if "::" in arg:  # a test or a class, not the whole file
            continue
        path = (invocation_dir / arg).resolve()
        if path == SMOKE_FILE or path in SMOKE_FILE.parents:
            return True
    return False


def pytest_sessionstart(session: pytest.Session) -> None:
    """Start every example's smoke run before collection when all are sure to run.

    pytest starts and collects on one core for about 7 s; the examples then
    use the other. :func:`pytest_collection_finish` drops the runs of any
    example whose test was not selected after all.
    """
    config = session.config
    if __package__ and selects_every_example(
        config.args, config.invocation_params.dir, config.option
    ):
        # the module object pytest collects later (tests/ is a package)
        module = importlib.import_module(f"{__package__}.test_gallery_smoke")
        session.stash[SMOKE_MODULE] = module
        module.start(module.EXAMPLES)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The examples' smoke tests last: each waits for its example, which runs beside the rest.

    Placed among the other tests, they would make the suite wait for the
    examples while its remaining tests could run.
    """
    items.sort(key=_is_smoke)  # stable: both groups keep their order


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the selected examples' smoke runs now (if not yet), to run beside the other tests.

    On two cores the suite's own tests take one and the examples (at their GPU
    sizes, ``tests/test_gallery_smoke.py``) share both; waiting for the
    examples until pytest reaches their module would leave a core idle. Runs
    started early for examples that were not selected are dropped.
    """
    if session.config.option.collectonly:
        return
    smoke = [item for item in session.items if _is_smoke(item)]
    early = session.stash.get(SMOKE_MODULE, None)
    module = smoke[0].module if smoke else early
    if early is not None and early is not module:  # imported under another name: not reused
        early.stop()
    if module is not None:
        session.stash[SMOKE_MODULE] = module
        paths = [item.callspec.params["path"] for item in smoke]
        module.keep_only(paths)
        module.start(paths)


def pytest_sessionfinish(session: pytest.Session) -> None:
    module = session.stash.get(SMOKE_MODULE, None)
    if module is not None:
        module.stop()
