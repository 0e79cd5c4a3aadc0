"""The benchmark reads pytest's own time from its summary line (tools/bench.py)."""

from __future__ import annotations

import pytest

from tools.bench import pytest_seconds


@pytest.mark.parametrize(
    "output, seconds",
    [
        ("....\n==== 1622 passed, 25 warnings in 61.43s (0:01:01) ====\n", 61.43),
        ("1622 passed, 25 warnings in 61.43s (0:01:01)", 61.43),
        ("5 passed in 0.34s", 0.34),
        ("== 1 failed, 3 passed, 2 skipped in 12.50s ==", 12.5),
        ("4 passed in 1.00s\nrerun\n2 passed in 3.25s\n", 3.25),  # the last run counts
    ],
)
def test_pytest_time_is_read_from_the_summary(output, seconds):
    assert pytest_seconds(output) == seconds


@pytest.mark.parametrize("output", ["", "collected 5 items\n", "tests/test_in_5s.py .... [100%]"])
def test_no_summary_no_time(output):
    assert pytest_seconds(output) is None
