"""Every chapter's examples on one pool (``conf/gallery_pool.py``): same pages, no wait per chapter.

A small gallery of two chapters is built with sphinx-gallery on two workers,
with and without the extension. The first chapter's first example sleeps; each
example logs when it ran. With the pool the second chapter starts while the
first is still sleeping, and every generated page is the same as without it.
An example that asks to run alone turns the pool off. A worker that loky
replaces because its memory grew runs no example twice and skips none, and
the build says nothing of it.
"""

from __future__ import annotations

import json
import re
import sys
import warnings
from io import StringIO
from pathlib import Path

import pytest
from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "conf"))
import gallery_pool  # noqa: E402

SLEEP = 2.0

EXAMPLE = '''"""
{title}
{underline}

An example that logs when it ran.
"""

import json
import time
from pathlib import Path

start = time.time()
time.sleep({sleep})
{extra}
print("{title} ran")
# the examples run in their own folder: examples/<chapter>/
with open(Path.cwd().parents[1] / "ran.jsonl", "a") as log:
    log.write(json.dumps(["{name}", start, time.time()]) + "\\n")
'''

CONF = """
import sys
import warnings
sys.path.insert(0, {conf_dir!r})
project = "Pool"
extensions = ["sphinx_gallery.gen_gallery"] + {extra!r}
sphinx_gallery_conf = {{
    "examples_dirs": ["examples"],
    "gallery_dirs": ["auto_examples"],
    "parallel": 2,
    "image_scrapers": (),
    "reset_modules": (),
    "within_subsection_order": "FileNameSortKey",
    "write_computation_times": False,
}}
"""


def make_project(root: Path, *, pool: bool, alone: bool = False) -> Path:
    examples = {
        "one/plot_a_slow.py": dict(sleep=SLEEP, extra=""),
        "one/plot_b_quick.py": dict(sleep=0, extra=""),
        "two/plot_c_quick.py": dict(sleep=0, extra=""),
        "two/plot_d_quick.py": dict(
            sleep=0, extra="# sphinx_gallery_parallel = False" if alone else ""
        ),
    }
    (root / "conf.py").write_text(
        CONF.format(conf_dir=str(ROOT / "conf"), extra=["gallery_pool"] if pool else []),
        encoding="utf-8",
    )
    (root / "index.rst").write_text(
        "Home\n====\n\n.. toctree::\n\n   auto_examples/index\n", encoding="utf-8"
    )
    for folder, title in (("", "Gallery"), ("one", "One"), ("two", "Two")):
        (root / "examples" / folder).mkdir(parents=True, exist_ok=True)
        (root / "examples" / folder / "GALLERY_HEADER.rst").write_text(
            f"{title}\n{'=' * len(title)}\n", encoding="utf-8"
        )
    for name, values in examples.items():
        title = Path(name).stem.replace("_", " ")
        (root / "examples" / name).write_text(
            EXAMPLE.format(title=title, underline="=" * len(title), name=name, **values),
            encoding="utf-8",
        )
    return root


def sphinx_app(root: Path) -> Sphinx:
    return Sphinx(
        str(root),
        str(root),
        str(root / "_build" / "html"),
        str(root / "_build" / "doctrees"),
        "html",
        status=StringIO(),
        warning=StringIO(),
        freshenv=True,
    )


def build(root: Path) -> dict[str, tuple[float, float]]:
    """Build the project; when each example started and ended."""
    app = sphinx_app(root)
    app.build()
    assert app.statuscode == 0
    lines = (root / "ran.jsonl").read_text(encoding="utf-8").splitlines()
    return {name: (start, end) for name, start, end in map(json.loads, lines)}


def pages(root: Path) -> dict[str, str]:
    """The reST pages sphinx-gallery wrote, without the lines that hold run times."""
    timing = re.compile(r"run(ning)? time|\(\s*\d+ minutes\s+[\d.]+ seconds\)|Total running")
    return {
        str(p.relative_to(root)): "\n".join(
            line for line in p.read_text(encoding="utf-8").splitlines() if not timing.search(line)
        )
        for p in sorted((root / "auto_examples").rglob("*.rst"))
    }


@pytest.fixture(scope="module")
def plain_and_pooled(tmp_path_factory):
    plain = make_project(tmp_path_factory.mktemp("plain"), pool=False)
    pooled = make_project(tmp_path_factory.mktemp("pooled"), pool=True)
    return (plain, build(plain)), (pooled, build(pooled))


def test_without_the_pool_the_second_chapter_waits_for_the_first(plain_and_pooled):
    (_, ran), _ = plain_and_pooled
    slow_end = ran["one/plot_a_slow.py"][1]
    assert all(ran[name][0] >= slow_end for name in ran if name.startswith("two/"))


def test_with_the_pool_the_second_chapter_starts_while_the_first_runs(plain_and_pooled):
    _, (_, ran) = plain_and_pooled
    slow_end = ran["one/plot_a_slow.py"][1]
    assert sorted(ran) == sorted(plain_and_pooled[0][1])
    assert all(ran[name][0] < slow_end for name in ran if name.startswith("two/"))


def test_the_pool_writes_the_same_pages(plain_and_pooled):
    (plain, _), (pooled, _) = plain_and_pooled
    written = pages(plain)
    assert len(written) == 7  # three indexes, four examples
    assert "plot c quick ran" in written["auto_examples/two/plot_c_quick.rst"]
    assert pages(pooled) == written


def test_an_example_that_runs_alone_turns_the_pool_off(tmp_path):
    ran = build(make_project(tmp_path, pool=True, alone=True))
    slow_end = ran["one/plot_a_slow.py"][1]
    assert all(ran[name][0] >= slow_end for name in ran if name.startswith("two/"))


def test_the_chapters_come_in_sphinx_gallerys_order(tmp_path):
    root = make_project(tmp_path, pool=True)
    app = sphinx_app(root)
    chapters = gallery_pool.chapter_examples(
        root, root / "examples", root / "auto_examples", app.config.sphinx_gallery_conf
    )
    assert [(src.name, target.name, files) for src, target, files in chapters] == [
        ("examples", "auto_examples", []),
        ("one", "one", ["plot_a_slow.py", "plot_b_quick.py"]),
        ("two", "two", ["plot_c_quick.py", "plot_d_quick.py"]),
    ]


HOARD = """
import os
import sys
import warnings

# kept after the example ends: the worker's memory grows by 400 MB with each one
sys.modules["os"].__dict__.setdefault("_hoard", []).append(bytearray(400_000_000))
with open(Path.cwd().parents[1] / "pids.txt", "a") as pids:
    pids.write(f"{os.getpid()}\\n")
"""


def test_a_worker_replaced_for_its_memory_goes_unreported(tmp_path):
    """loky replaces a worker that grew by 300 MB; the queued examples still run, silently."""
    root = make_project(tmp_path, pool=True)
    for old in (root / "examples" / "one").glob("plot_*.py"):
        old.unlink()
    for letter in "abcdef":  # six on two workers: a worker is replaced with examples queued
        name = f"one/plot_{letter}_hoard.py"
        title = f"plot {letter} hoard"
        (root / "examples" / name).write_text(
            EXAMPLE.format(
                title=title, underline="=" * len(title), name=name, sleep=1.1, extra=HOARD
            ),
            encoding="utf-8",
        )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        ran = build(root)
    assert len(ran) == 8  # every example ran
    workers = set((root / "pids.txt").read_text(encoding="utf-8").split())
    assert len(workers) > 2, "no worker was replaced: the case under test did not happen"
    said = [str(w.message) for w in caught]
    assert not [m for m in said if m.startswith(gallery_pool.WORKER_REPLACED)], said
