"""Shared test settings: CPU only, one thread, deterministic, and a non-GUI plotting backend.

The models under test are small: on one CPU thread they run fastest and give
the same numbers on every machine, whatever its core count.
"""

from __future__ import annotations

import os

import matplotlib

matplotlib.use("Agg")
os.environ.setdefault("T2T_DEVICE", "cpu")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # read when torch starts, also by subprocesses

import pytest  # noqa: E402
import torch  # noqa: E402
from hypothesis import settings  # noqa: E402

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


SMOKE_MODULE = pytest.StashKey[object]()


def _is_smoke(item: pytest.Item) -> bool:
    return getattr(item, "originalname", None) == "test_example_runs_at_gpu_sizes"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The examples' smoke tests last: each waits for its example, which runs beside the rest.

    Placed among the other tests, they would make the suite wait for the
    examples while its remaining tests could run.
    """
    items.sort(key=_is_smoke)  # stable: both groups keep their order


def pytest_collection_finish(session: pytest.Session) -> None:
    """Start the selected examples' smoke runs now, to run beside the other tests.

    On two cores the suite's own tests take one and the examples (at their GPU
    sizes, ``tests/test_gallery_smoke.py``) share both; waiting for the
    examples until pytest reaches their module would leave a core idle.
    """
    smoke = [item for item in session.items if _is_smoke(item)]
    if smoke and not session.config.option.collectonly:
        module = smoke[0].module
        session.stash[SMOKE_MODULE] = module
        module.start([item.callspec.params["path"] for item in smoke])


def pytest_sessionfinish(session: pytest.Session) -> None:
    module = session.stash.get(SMOKE_MODULE, None)
    if module is not None:
        module.stop()
