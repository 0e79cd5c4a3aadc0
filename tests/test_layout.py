"""The layout promise: a docs chapter, its code and its tests are found by the same path.

``docs/<chapter>/`` → ``snippets/<chapter>/<concept>.py`` → ``tests/<chapter>/test_<concept>.py``
(hyphens in folder names become underscores in the Python packages), plus
``examples/<chapter>/`` for the gallery. These tests fail when a module lands
without its test, a chapter without its package, or the API page forgets a module.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SNIPPETS = ROOT / "snippets"
TESTS = ROOT / "tests"
DOCS = ROOT / "docs"

CHAPTERS = sorted(p.parent.name for p in DOCS.glob("*/index.md"))
MODULES = sorted(
    p.relative_to(SNIPPETS).with_suffix("")
    for p in SNIPPETS.glob("*/*.py")
    if p.name != "__init__.py"
)


def _package(chapter: str) -> str:
    return chapter.replace("-", "_")


def test_the_tree_has_chapters_and_modules():
    assert len(CHAPTERS) >= 9 and len(MODULES) >= 50


def test_snippets_has_no_flat_modules():
    flat = sorted(p.name for p in SNIPPETS.glob("*.py") if p.name != "__init__.py")
    assert flat == [], f"modules belong in a chapter subpackage or snippets/common: {flat}"


@pytest.mark.parametrize("chapter", CHAPTERS)
def test_every_docs_chapter_has_a_package_tests_and_examples(chapter):
    package = SNIPPETS / _package(chapter)
    assert (package / "__init__.py").is_file(), f"no package {package.relative_to(ROOT)}"
    assert (TESTS / _package(chapter) / "__init__.py").is_file()
    assert list((ROOT / "examples" / chapter).glob("plot_*.py")), f"no examples for {chapter}"


def test_every_package_is_a_docs_chapter_or_common():
    packages = {p.parent.name for p in SNIPPETS.glob("*/__init__.py")}
    assert packages == {_package(c) for c in CHAPTERS} | {"common"}


@pytest.mark.parametrize("module", MODULES, ids=str)
def test_every_module_has_a_test_module_that_imports_it(module):
    chapter, name = module.parts
    test_file = TESTS / chapter / f"test_{name}.py"
    assert test_file.is_file(), f"snippets/{module}.py has no {test_file.relative_to(ROOT)}"
    dotted = f"snippets.{chapter}.{name}"
    assert re.search(rf"\b{re.escape(dotted)}\b", test_file.read_text()), (
        f"{test_file.relative_to(ROOT)} does not import {dotted}"
    )


def test_every_test_module_mirrors_a_snippets_module():
    orphans = [
        str(t.relative_to(ROOT))
        for t in TESTS.glob("*/test_*.py")
        if t.parent.name != "site"
        and not (SNIPPETS / t.parent.name / f"{t.stem.removeprefix('test_')}.py").is_file()
    ]
    assert orphans == []


def test_api_page_documents_every_module():
    api = (DOCS / "api.md").read_text()
    documented = set(re.findall(r"automodule:: (snippets\.[\w.]+)", api))
    expected = {"snippets." + ".".join(m.parts) for m in MODULES}
    assert documented == expected


def test_literalincludes_point_into_the_tree():
    broken = []
    for page in DOCS.rglob("*.md"):
        for target in re.findall(r"```\{literalinclude\} (\S+)", page.read_text()):
            if "<" not in target and not (page.parent / target).resolve().is_file():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert broken == []


def _test_names() -> set[str]:
    names: set[str] = set()
    for path in TESTS.rglob("test_*.py"):
        names |= set(re.findall(r"^(?:async )?def (test_\w+)", path.read_text(), re.M))
    return names


def test_pages_cite_tests_that_exist():
    """'What the tests prove' must name real files and real tests."""
    names, problems = _test_names(), []
    for page in DOCS.rglob("*.md"):
        if "auto_examples" in page.parts:
            continue
        text = page.read_text()
        for cited in re.findall(r"tests/[\w/]+\.py", text):
            if not (ROOT / cited).is_file():
                problems.append(f"{page.relative_to(ROOT)}: no file {cited}")
        for name in re.findall(r"`(test_\w+)`", text):
            if name not in names:
                problems.append(f"{page.relative_to(ROOT)}: no test named {name}")
    assert problems == []


#: packages that take about a second to import, which a module imports inside the
#: function that needs them, so that importing the module (as the API page, a
#: notebook page or a training process does) stays cheap
LAZY_IMPORTS = ("sklearn", "onnx", "onnxruntime", "gymnasium")


def test_slow_packages_are_imported_where_they_are_used():
    at_top = []
    for path in sorted(SNIPPETS.rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0:
                names = [node.module or ""]
            else:
                continue
            at_top += [
                f"{path.relative_to(ROOT)}: {name}"
                for name in names
                if name.split(".")[0] in LAZY_IMPORTS
            ]
    assert at_top == [], f"imported at module level: {at_top}"
