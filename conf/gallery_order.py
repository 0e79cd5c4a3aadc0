"""The gallery follows the course: chapters in the order of the site, examples
in the order their ideas are taught.

Both orders are read from the pages, so they cannot drift apart:

- the chapters are the entries of the "Chapters" toctree of ``docs/index.md``;
- inside a chapter, an example comes where a lesson page (in the order of
  the chapter's toctree) first links to it; examples no lesson page links to
  come last, by file name.
"""

from __future__ import annotations

import re
from pathlib import Path

DOCS = Path(__file__).resolve().parents[1] / "docs"
EXAMPLES = Path(__file__).resolve().parents[1] / "examples"


def toctree_entries(page: Path, caption: str | None = None) -> list[str]:
    """The entries of the toctrees of ``page`` (only the one with ``caption`` if given)."""
    entries: list[str] = []
    for block in re.findall(r"```\{toctree\}\n(.*?)```", page.read_text(), re.S):
        lines = block.splitlines()
        if caption is not None and f":caption: {caption}" not in lines:
            continue
        entries += [line.strip() for line in lines if line.strip() and not line.startswith(":")]
    return entries


def chapters() -> list[str]:
    """The chapter folders, in the order of the site's table of contents."""
    return [entry.split("/")[0] for entry in toctree_entries(DOCS / "index.md", "Chapters")]


def example_order(chapter: str) -> list[str]:
    """The chapter's example file names in teaching order (see the module docstring)."""
    order: list[str] = []
    if chapter not in chapters():  # e.g. the check sphinx-gallery makes with src_dir=""
        return order
    label = re.compile(rf"sphx_glr_auto_examples_{re.escape(chapter)}_(plot_\w+?)\.py")
    for entry in toctree_entries(DOCS / chapter / "index.md"):
        page = DOCS / chapter / f"{entry}.md"
        if not page.is_file():
            continue
        for name in label.findall(page.read_text()):
            if f"{name}.py" not in order:
                order.append(f"{name}.py")
    rest = sorted(p.name for p in (EXAMPLES / chapter).glob("plot_*.py") if p.name not in order)
    return order + rest


def chapter_key(folder: str) -> tuple[int, str]:
    """``subsection_order`` key: a chapter folder's position in the course."""
    order, name = chapters(), Path(folder).name
    return (order.index(name) if name in order else len(order)), name


class TeachingOrder:
    """``within_subsection_order`` key: an example's position in its chapter."""

    def __init__(self, src_dir: str) -> None:
        self.order = example_order(Path(src_dir).name)

    def __call__(self, filename: str) -> tuple[int, str]:
        name = Path(filename).name
        position = self.order.index(name) if name in self.order else len(self.order)
        return position, name

    def __repr__(self) -> str:
        return "<TeachingOrder>"


def teaching_pages(chapter: str, example: str) -> list[str]:
    """The lesson pages (docnames, in the site's order) that link to ``example``.

    ``example`` is a file name without ``.py``, e.g. ``plot_digits_cnn``.
    """
    label = f"sphx_glr_auto_examples_{chapter}_{example}.py"
    pages = []
    for folder in chapters():
        for entry in toctree_entries(DOCS / folder / "index.md"):
            page = DOCS / folder / f"{entry}.md"
            if page.is_file() and label in page.read_text():
                pages.append(f"{folder}/{entry}")
    return pages


def backlinks(docname: str) -> str:
    """reST for an example page: the lesson pages that teach its ideas ("" if none)."""
    parts = docname.split("/")
    if len(parts) != 3 or parts[0] != "auto_examples" or not parts[2].startswith("plot_"):
        return ""
    pages = teaching_pages(parts[1], parts[2])
    if not pages:
        return ""
    items = "\n".join(f"- :doc:`/{page}`" for page in pages)
    return f"\n.. rubric:: The pages that teach it\n\n{items}\n\n"


SHOWN = re.compile(r"literalinclude\}?\s+(?:\.\./)+snippets/(\w+)/(\w+)\.py")
IMPORTS = re.compile(r"^\s*(?:from|import)\s+snippets\.(\w+)\.(\w+)", re.M)


def examples_using(modules: set[tuple[str, str]]) -> list[str]:
    """Example files (relative to ``docs/``) that import any of the ``(chapter, module)`` pairs.

    They come in the site's order: by chapter, then in each chapter's teaching order.
    """
    found = []
    for chapter in chapters():
        for name in example_order(chapter):
            path = EXAMPLES / chapter / name
            if modules & set(IMPORTS.findall(path.read_text())):
                found.append(f"../examples/{chapter}/{name}")
    return found


def _title(example: Path) -> str:
    """The title of an example: the first line of its docstring."""
    match = re.search(r'"""\s*\n?(.+)', example.read_text())
    return match.group(1).strip() if match else example.stem


def minigallery(docname: str, text: str) -> str:
    """Markdown for a lesson page: cards of the examples that import the code it shows.

    Each card has the example's thumbnail and title and links to it. The
    shared pieces of ``snippets.common`` (the training loop, the data) do
    not count: every example uses them. At most eight, in the site's order;
    inserted before the page's Summary ("" when no example uses its code).
    """
    parts = docname.split("/")
    if len(parts) != 2 or parts[0] not in chapters() or parts[1] == "index":
        return ""
    shown = {m for m in SHOWN.findall(text) if m[0] != "common"}  # not the shared pieces
    examples = examples_using(shown)[:8]
    if not examples:
        return ""
    cards = []
    for example in examples:
        chapter, name = example.removeprefix("../examples/").removesuffix(".py").split("/")
        cards.append(
            f":::{{grid-item-card}} {_title(EXAMPLES / chapter / f'{name}.py')}\n"
            f":img-top: /auto_examples/{chapter}/images/thumb/sphx_glr_{name}_thumb.png\n"
            ":img-alt:\n"
            f":link: sphx_glr_auto_examples_{chapter}_{name}.py\n"
            ":link-type: ref\n"
            ":::\n"
        )
    return (
        "## Examples that use this code\n\n"
        "The gallery examples that import the code shown on this page:\n\n"
        "::::{grid} 2 3 3 4\n:gutter: 2\n\n" + "\n".join(cards) + "::::\n\n"
    )
