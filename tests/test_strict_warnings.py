"""Warnings that fail the tests and the build, in-process and in the processes they start."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest

from tools import strict_warnings

# Code that makes numpy warn as it does for a tensor handed to matplotlib: each
# class lacks an argument that numpy passes, as torch.Tensor does.
LEGACY = {
    "__array__": (
        "import numpy as np\n"
        "class Legacy:\n"
        "    def __array__(self, dtype=None):\n"
        "        return np.zeros(2)\n"
        "np.array(Legacy(), copy=True)\n"
    ),
    "__array_wrap__": (
        "import numpy as np\n"
        "class Legacy(np.ndarray):\n"
        "    def __array_wrap__(self, array):\n"
        "        return array\n"
        "np.add(np.zeros(2).view(Legacy), 1)\n"
    ),
}


def run(code: str, variable: str | None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    if variable is not None:
        env["PYTHONWARNINGS"] = variable
    return subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=60
    )


def test_python_warnings_appends_once_and_keeps_what_was_there():
    joined = strict_warnings.python_warnings("ignore::UserWarning")
    assert joined.split(",") == ["ignore::UserWarning", *strict_warnings.FILTERS]
    assert strict_warnings.python_warnings(joined) == joined
    assert strict_warnings.python_warnings(None).split(",") == list(strict_warnings.FILTERS)


@pytest.mark.parametrize("name", LEGACY)
def test_a_process_started_with_the_variable_fails_on_the_warning(name):
    """The filters are valid ``PYTHONWARNINGS`` entries: a process started with them stops."""
    failed = run(LEGACY[name], strict_warnings.python_warnings())
    assert failed.returncode != 0
    assert f"DeprecationWarning: {name}" in failed.stderr
    assert run(LEGACY[name], None).returncode == 0  # without them the same code only warns


def test_the_suite_passes_them_to_the_processes_it_starts():
    entries = os.environ["PYTHONWARNINGS"].split(",")
    assert set(strict_warnings.FILTERS) <= set(entries)


@pytest.mark.parametrize("name", LEGACY)
def test_the_tests_themselves_fail_on_the_warning(name):
    with pytest.raises(DeprecationWarning, match=name):
        exec(LEGACY[name], {})


def test_pytest_reads_each_message_as_literal_text():
    [spec] = strict_warnings.pytest_filters(("error:a.b (c):UserWarning",))
    action, message, category = spec.split(":")
    assert (action, category) == ("error", "UserWarning")
    assert re.match(message, "a.b (c) and more")
    assert not re.match(message, "axb (c)")
    assert len(strict_warnings.pytest_filters()) == len(strict_warnings.FILTERS)
