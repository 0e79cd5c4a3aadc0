"""Measure the build and the tests; print a Markdown table and write build/bench.md.

Usage (``nox -s bench`` runs it): ``python tools/bench.py sphinx-build ARGS...``.
It times the creation of a fresh environment like the one ``nox -s docs``
makes (a virtual environment in a temporary folder and the same install
commands, with uv where nox uses it, given by ``nox -s bench``), runs the given
Sphinx command twice (cold, then warm with no change), reads each example's
execution time from sphinx-gallery's JUnit XML, times ``pytest`` and, within
it, the smoke run of every example at its GPU sizes
(``tests/test_gallery_smoke.py``), and times greedy generation of the
language-model chapter's model with and without its key/value cache
(``python tools/bench.py --kv-cache`` runs only that part).
"""

from __future__ import annotations

import json
import os
import platform
import re
import subprocess
import sys
import tempfile
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


INSTALLER = "uv" if os.environ.get("T2T_BENCH_UV") else "venv and pip"


#: pytest's last line, e.g. "1622 passed, 25 warnings in 61.43s (0:01:01)".
PYTEST_SUMMARY = re.compile(r"\bpassed\b.* in ([\d.]+)s\b")


def pytest_seconds(output: str) -> float | None:
    """pytest's own time for the whole run, read from its summary line (None if absent)."""
    found = [float(m.group(1)) for m in map(PYTEST_SUMMARY.search, output.splitlines()) if m]
    return found[-1] if found else None


def timed_pytest() -> tuple[float, float | None]:
    """The wall time of the test suite and pytest's own time (which leaves out start and exit)."""
    start = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in process.stdout:  # shown as it comes, and kept
        sys.stdout.write(line)
        lines.append(line)
    if process.wait():
        raise subprocess.CalledProcessError(process.returncode, process.args)
    return time.perf_counter() - start, pytest_seconds("".join(lines))


def fresh_environment() -> float | None:
    """Seconds to create a virtual environment and run the docs session's install commands.

    ``T2T_BENCH_INSTALL`` holds the commands (a JSON list of argument lists)
    and ``T2T_BENCH_UV`` the uv that nox uses, empty when nox uses venv and pip.
    """
    install = os.environ.get("T2T_BENCH_INSTALL")
    if not install:
        return None
    uv = os.environ.get("T2T_BENCH_UV", "")
    with tempfile.TemporaryDirectory() as folder:
        python = str(Path(folder) / "bin" / "python")
        start = time.perf_counter()
        if uv:
            subprocess.run([uv, "venv", "--quiet", folder], check=True)
            pip = [uv, "pip", "install", "--quiet", "--python", python]
        else:
            subprocess.run([sys.executable, "-m", "venv", folder], check=True)
            pip = [python, "-m", "pip", "install", "--quiet"]
        for command in json.loads(install):
            subprocess.run([*pip, *command], cwd=ROOT, check=True)
        return time.perf_counter() - start


def smoke_times() -> tuple[float, list[tuple[str, float]]]:
    """Wall time of the smoke run and the time of each example in it.

    The examples run on a pool of worker processes, so each example's time is
    taken around its own child process (``T2T_SMOKE_TIMES`` asks the test
    module to write them), not from pytest's per-test durations.
    """
    with tempfile.TemporaryDirectory() as folder:
        times_file = Path(folder) / "smoke-times.json"
        start = time.perf_counter()
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "tests/test_gallery_smoke.py",
            ],
            cwd=ROOT,
            check=True,
            env={**os.environ, "T2T_SMOKE_TIMES": str(times_file)},
        )
        total = time.perf_counter() - start
        times = json.loads(times_file.read_text(encoding="utf-8"))
    return total, sorted(times.items())


def example_times() -> list[tuple[str, str, float]]:
    """Each example's file stem, title and seconds in the cold build (from the JUnit XML)."""
    tree = ET.parse(JUNIT)
    return [
        (case.get("classname", "?"), case.get("name", "?"), float(case.get("time", "nan")))
        for case in tree.getroot().iter("testcase")
    ]


def device_name() -> str:
    if torch.cuda.is_available():
        return f"cuda ({torch.cuda.get_device_name(0)})"
    threads = os.environ.get("OMP_NUM_THREADS", "1")  # conf.py and the tests default to 1
    cpu = platform.processor() or platform.machine()
    return f"cpu ({cpu}, {os.cpu_count()} cores, {threads} torch thread)"


def kv_cache_table(lengths: tuple[int, ...] = (32, 128, 448), prompt: int = 8) -> str:
    """Time greedy generation with and without the key/value cache; a Markdown table.

    An untrained :class:`snippets.llm.model.ModernLM` (4 layers of width 256,
    8 query heads sharing 2 key/value heads, context 512) writes ``length``
    tokens after a prompt of ``prompt`` tokens, on the device the examples
    use. Each time is the best of three runs. Not asserted anywhere: the
    ratio depends on the machine.
    """
    from snippets.common.device import pick_device
    from snippets.llm.model import ModernLM, generate

    device = pick_device()
    torch.manual_seed(0)
    model = ModernLM(256, 256, 4, heads=8, kv_heads=2, context=512).to(device).eval()
    ids = torch.randint(0, 256, (1, prompt), device=device)

    def best_of_three(length: int, use_cache: bool) -> float:
        times = []
        for _ in range(3):
            if device.type == "cuda":
                torch.cuda.synchronize()
            start = time.perf_counter()
            generate(model, ids, length, use_cache=use_cache)
            if device.type == "cuda":
                torch.cuda.synchronize()
            times.append(time.perf_counter() - start)
        return min(times)

    best_of_three(4, True)  # warm-up: the first call pays for one-time setup
    rows = []
    for length in lengths:
        without, with_cache = best_of_three(length, False), best_of_three(length, True)
        rows.append(
            f"| {length} | {without * 1000:.0f} ms | {with_cache * 1000:.0f} ms "
            f"| {without / with_cache:.1f}× |"
        )
    return (
        f"Greedy generation after a prompt of {prompt} tokens, on {device_name()}.\n\n"
        "| generated tokens | without cache | with cache | speed-up |\n"
        "| --- | --- | --- | --- |\n" + "\n".join(rows)
    )


def main(sphinx: list[str]) -> None:
    environment = fresh_environment()
    cold = timed(sphinx)
    examples = example_times()
    warm = timed(sphinx)
    tests, tests_own = timed_pytest()
    smoke, smoke_examples = smoke_times()
    rows = [("device", device_name()), ("torch", torch.__version__)]
    if environment is not None:
        rows += [
            (f"fresh environment ({INSTALLER})", f"{environment:.1f} s"),
            ("cold docs build, environment included", f"{environment + cold:.1f} s"),
        ]
    rows += [
        ("cold docs build, environment excluded", f"{cold:.1f} s"),
        ("warm docs rebuild (no change)", f"{warm:.1f} s"),
        (
            "test suite, pytest's own time (smoke run included)",
            "(no summary line)" if tests_own is None else f"{tests_own:.1f} s",
        ),
        ("test suite, wall (with interpreter start and exit)", f"{tests:.1f} s"),
        ("smoke run alone (every example at its GPU sizes)", f"{smoke:.1f} s"),
        ("examples, total", f"{sum(t for _, _, t in examples):.1f} s"),
        ("examples in the smoke run, total", f"{sum(t for _, t in smoke_examples):.1f} s"),
    ]
    smoke_by_stem = {Path(name).stem: t for name, t in smoke_examples}
    rows += [
        (f"example `{title}`", f"{t:.1f} s (smoke {smoke_by_stem[stem]:.1f} s)")
        if stem in smoke_by_stem
        else (f"example `{title}`", f"{t:.1f} s")
        for stem, title, t in sorted(examples, key=lambda row: row[1])
    ]
    table = "| measure | value |\n| --- | --- |\n" + "\n".join(f"| {k} | {v} |" for k, v in rows)
    kv_cache = kv_cache_table()
    print("\n" + table + "\n\n" + kv_cache)
    out = ROOT / "build" / "bench.md"
    out.write_text(
        f"# Benchmark\n\n{table}\n\n## Key/value cache\n\n{kv_cache}\n", encoding="utf-8"
    )
    print(f"\nwritten to {out}")


if __name__ == "__main__":
    if sys.argv[1:] == ["--kv-cache"]:
        print(kv_cache_table())
    else:
        main(sys.argv[1:])
