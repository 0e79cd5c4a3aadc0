"""Run the code cells of notebook pages without building the site.

    python tools/run_page.py [--show] [--figures DIR] docs/transformers/attention.md [more pages...]

Each page's ``{code-cell}`` blocks run in order in one namespace, on one
thread, with matplotlib's non-interactive backend, the way the site build
runs them. Prints the time of every page and exits non-zero on the first
error, so a page can be checked in seconds while it is written.
"""

from __future__ import annotations

import contextlib
import io
import os
import re
import sys
import time
from pathlib import Path

CELL = re.compile(r"^```\{code-cell\}[^\n]*\n(.*?)^```\s*$", re.S | re.M)
SHOW = "--show" in sys.argv  # print what the cells print
# --figures DIR: save every figure a cell leaves open as DIR/<page>-cell<i>-<n>.png
FIGURES = Path(sys.argv[sys.argv.index("--figures") + 1]) if "--figures" in sys.argv else None


def cells(page: Path) -> list[str]:
    """The source of every ``{code-cell}`` of ``page``, options stripped."""
    sources = []
    for block in CELL.findall(page.read_text()):
        lines = block.splitlines()
        if lines and lines[0].strip() == "---":  # a YAML option block
            end = lines[1:].index("---") + 1
            lines = lines[end + 1 :]
        while lines and re.match(r"^:[a-z_-]+:", lines[0]):
            lines = lines[1:]
        sources.append("\n".join(lines))
    return sources


def run(page: Path) -> float:
    """Execute ``page``'s cells; return the seconds they took."""
    import matplotlib

    matplotlib.use("Agg")
    namespace: dict = {"__name__": "__main__"}
    start = time.perf_counter()
    for i, source in enumerate(cells(page)):
        try:
            with contextlib.redirect_stdout(sys.stdout if SHOW else io.StringIO()):
                exec(compile(source, f"{page}:cell{i + 1}", "exec"), namespace)
        except Exception:
            print(f"{page}: cell {i + 1} failed:\n{source}", file=sys.stderr)
            raise
        # like the notebook's inline backend: a cell shows its open figures, then closes them
        import matplotlib.pyplot as plt

        for n, number in enumerate(plt.get_fignums()):
            if FIGURES is not None:
                FIGURES.mkdir(parents=True, exist_ok=True)
                out = FIGURES / f"{page.stem}-cell{i + 1}-{n + 1}.png"
                plt.figure(number).savefig(out, dpi=100, bbox_inches="tight")
        plt.close("all")
    return time.perf_counter() - start


def main(paths: list[str]) -> int:
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    import torch

    torch.set_num_threads(1)
    root = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(root))
    total = 0.0
    for path in paths:
        page = (
            (root / path)
            if not Path(path).is_absolute() and not Path(path).exists()
            else Path(path)
        )
        page = page.resolve()
        os.chdir(page.resolve().parent)  # cells run from their page's folder, as in the build
        seconds = run(page)
        os.chdir(root)
        total += seconds
        print(f"{seconds:6.2f} s  {path} ({len(cells(page))} cells)")
    print(f"{total:6.2f} s  in all")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    if "--figures" in args:
        del args[args.index("--figures") : args.index("--figures") + 2]
    raise SystemExit(main([a for a in args if a != "--show"]))
