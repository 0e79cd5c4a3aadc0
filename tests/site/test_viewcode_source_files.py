"""Source pages found without imports (``conf/viewcode_source_files.py``).

A small package documented with autodoc and viewcode is built, its modules
are forgotten, and the project is built again with nothing changed: with the
extension the module is not imported again, without it viewcode imports it.
The source pages are the same either way, and a changed module still gets a
new page.
"""

from __future__ import annotations

import os
import sys
from io import StringIO
from pathlib import Path

import pytest
from sphinx.application import Sphinx
from sphinx.pycode import ModuleAnalyzer

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "conf"))
from viewcode_source_files import module_file  # noqa: E402

PACKAGE = "t2t_viewcode_demo"
MODULE = f"{PACKAGE}.shapes"
SOURCE = '''"""Areas."""


def area(width: float, height: float) -> float:
    """The area of a rectangle."""
    return width * height
'''


def forget_package() -> None:
    """Forget the package's modules, as a new ``sphinx-build`` process starts without them."""
    for name in [n for n in sys.modules if n == PACKAGE or n.startswith(PACKAGE + ".")]:
        del sys.modules[name]
    ModuleAnalyzer.cache.clear()  # Sphinx's analyses of module sources, kept per process


@pytest.fixture
def project(tmp_path, monkeypatch) -> Path:
    """A package with one module and a Sphinx project documenting it; returns the source folder."""
    code = tmp_path / "code" / PACKAGE
    code.mkdir(parents=True)
    (code / "__init__.py").write_text("", encoding="utf-8")
    (code / "shapes.py").write_text(SOURCE, encoding="utf-8")
    monkeypatch.syspath_prepend(str(tmp_path / "code"))
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "conf.py").write_text(
        f"project = 'Test'\nviewcode_source_packages = [{PACKAGE!r}]\n", encoding="utf-8"
    )
    (docs / "index.rst").write_text(
        f"Shapes\n======\n\n.. automodule:: {MODULE}\n   :members:\n", encoding="utf-8"
    )
    yield docs
    forget_package()


def build(source: Path, out: Path, *, extension: bool, fresh: bool) -> Path:
    """Build ``source`` into ``out``; returns the module's source page."""
    extensions = ["sphinx.ext.autodoc", "sphinx.ext.viewcode"]
    if extension:
        extensions.append("viewcode_source_files")
    warnings = StringIO()
    app = Sphinx(
        str(source),
        str(source),  # conf.py sets viewcode_source_packages
        str(out / "html"),
        str(out / "doctrees"),
        "html",
        confoverrides={"extensions": extensions},
        status=StringIO(),
        warning=warnings,
        freshenv=fresh,
    )
    app.build()
    # a second application in one process re-registers docutils' nodes, and says so
    problems = [w for w in warnings.getvalue().splitlines() if "already registered" not in w]
    assert problems == []
    return out / "html" / "_modules" / PACKAGE / "shapes.html"


@pytest.mark.parametrize("extension", [True, False])
def test_a_rebuild_imports_the_module_only_without_the_extension(project, tmp_path, extension):
    page = build(project, tmp_path / "out", extension=extension, fresh=True)
    first = page.read_text(encoding="utf-8")
    assert 'class="nf">area<' in first
    written = page.stat().st_mtime_ns
    forget_package()
    build(project, tmp_path / "out", extension=extension, fresh=False)
    assert (MODULE in sys.modules) is not extension
    assert page.stat().st_mtime_ns == written  # up to date, so not written again
    assert page.read_text(encoding="utf-8") == first


def test_the_source_page_is_the_same_with_and_without_the_extension(project, tmp_path):
    with_it = build(project, tmp_path / "with", extension=True, fresh=True)
    forget_package()
    without = build(project, tmp_path / "without", extension=False, fresh=True)
    assert with_it.read_text(encoding="utf-8") == without.read_text(encoding="utf-8")


@pytest.mark.parametrize("extension", [True, False])
def test_a_changed_module_gets_a_new_source_page(project, tmp_path, extension):
    page = build(project, tmp_path / "out", extension=extension, fresh=True)
    module = project.parent / "code" / PACKAGE / "shapes.py"
    module.write_text(
        SOURCE + "\n\ndef perimeter(width, height):\n    return 2 * (width + height)\n"
    )
    later = page.stat().st_mtime + 2
    os.utime(module, (later, later))  # newer than the page on any file system's clock
    forget_package()
    build(project, tmp_path / "out", extension=extension, fresh=False)
    assert "perimeter" in page.read_text(encoding="utf-8")


def test_module_file_finds_only_the_listed_packages_modules(project):
    expected = (project.parent / "code" / PACKAGE / "shapes.py").resolve()
    assert module_file(MODULE, [PACKAGE]) == expected
    assert MODULE not in sys.modules  # found, not imported
    assert module_file(MODULE, ["snippets"]) is None  # not a listed package
    assert module_file(f"{PACKAGE}.missing", [PACKAGE]) is None
    assert module_file("missing_top_level_package.x", ["missing_top_level_package"]) is None
