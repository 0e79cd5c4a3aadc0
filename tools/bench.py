"""Measure the build and the tests; print a Markdown table and write build/bench.md.

Usage (``nox -s bench`` runs it): ``python tools/bench.py sphinx-build ARGS...``.
It runs the given Sphinx command twice (cold, then warm with no change), reads
each example's execution time from sphinx-gallery's JUnit XML, and times
``pytest``.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
JUNIT = ROOT / "build" / "sphinx-gallery" / "junit-results.xml"


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, cwd=ROOT, check=True)
    return time.perf_counter() - start


def example_times() -> list[tuple[str, float]]:
    tree = ET.parse(JUNIT)
    return [
        (case.get("name", "?"), float(case.get("time", "nan")))
        for case in tree.getroot().iter("testcase")
    ]


def device_name() -> str:
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    threads = os.environ.get("OMP_NUM_THREADS", "1")  # conf.py and the tests default to 1
    cpu = platform.processor() or platform.machine()
    return f"cpu ({cpu}, {os.cpu_count()} cores, {threads} torch thread)"


def main(sphinx: list[str]) -> None:
    cold = timed(sphinx)
    examples = example_times()
    warm = timed(sphinx)
    tests = timed([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"])
    rows = [
        ("device", device_name()),
        ("torch", torch.__version__),
        ("cold docs build", f"{cold:.1f} s"),
        ("warm docs rebuild (no change)", f"{warm:.1f} s"),
        ("test suite", f"{tests:.1f} s"),
        ("examples, total", f"{sum(t for _, t in examples):.1f} s"),
    ]
    rows += [(f"example `{name}`", f"{t:.1f} s") for name, t in sorted(examples)]
    table = "| measure | value |\n| --- | --- |\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    print("\n" + table)
    out = ROOT / "build" / "bench.md"
    out.write_text(f"# Benchmark\n\n{table}\n", encoding="utf-8")
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    main(sys.argv[1:])
