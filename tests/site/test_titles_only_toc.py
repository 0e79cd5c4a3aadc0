"""The sidebar built from titles only (``conf/titles_only_toc.py``) is Sphinx's own, byte for byte.

A small project with what the site's sidebar meets (nested and hidden
toctrees, a toctree inside a section, an API page full of objects, a URL
entry, ``genindex``) and what the extension must leave alone (an ``only``
directive around headings, ``tocdepth``) is built with Furo twice, with and
without the extension; every page must come out the same.
"""

from __future__ import annotations

import sys
from io import StringIO
from pathlib import Path

import pytest
from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "conf"))
import titles_only_toc  # noqa: E402

PAGES = {
    "index.rst": """Home
====

.. toctree::
   :maxdepth: 2

   intro
   api
   chapter/index
   https://example.org/
   genindex

.. toctree::
   :hidden:

   extra
""",
    "intro.rst": """Introduction
============

Why
---

Some text.

How
~~~

More text.

What
----
""",
    "api.rst": "API\n===\n\n"
    + "\n".join(f".. py:function:: f{i}(x)\n\n   Function {i}.\n" for i in range(30))
    + "\n.. py:class:: Model\n\n   .. py:method:: forward(x)\n\n      The forward pass.\n",
    "chapter/index.rst": """Chapter
=======

Lessons
-------

.. toctree::

   a
   b

Summary
-------
""",
    "chapter/a.rst": """Lesson A
========

.. only:: html

   Only in HTML
   ------------

   Text.

Always
------
""",
    "chapter/b.rst": """:tocdepth: 1

Lesson B
========

Part one
--------

Deeper
~~~~~~
""",
    "extra.rst": "Extra\n=====\n\nSection\n-------\n",
}


def build(source: Path, out: Path, *, extension: bool) -> Sphinx:
    overrides = {"html_theme": "furo", "extensions": ["titles_only_toc"] if extension else []}
    app = Sphinx(
        str(source),
        None,
        str(out / "html"),
        str(out / "doctrees"),
        "html",
        confoverrides=overrides,
        status=StringIO(),
        warning=StringIO(),
        freshenv=True,
    )
    app.build()
    return app


@pytest.fixture(scope="module")
def builds(tmp_path_factory) -> tuple[Path, Path, Sphinx]:
    source = tmp_path_factory.mktemp("source")
    (source / "conf.py").write_text("project = 'Test'\n", encoding="utf-8")
    for name, text in PAGES.items():
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        (source / name).write_text(text, encoding="utf-8")
    plain = tmp_path_factory.mktemp("plain")
    cut = tmp_path_factory.mktemp("cut")
    build(source, plain, extension=False)
    app = build(source, cut, extension=True)
    return plain / "html", cut / "html", app


def test_every_page_is_the_same_with_and_without_the_cut_tables(builds):
    plain, cut, _ = builds
    pages = sorted(p.relative_to(plain) for p in plain.rglob("*.html"))
    assert len(pages) >= len(PAGES)
    assert pages == sorted(p.relative_to(cut) for p in cut.rglob("*.html"))
    for page in pages:
        assert (cut / page).read_text(encoding="utf-8") == (plain / page).read_text(
            encoding="utf-8"
        ), page
    # the sidebar holds every page, hidden ones included, and no section heading
    sidebar = (plain / "intro.html").read_text(encoding="utf-8")
    assert "Lesson B" in sidebar and "Extra" in sidebar


def count(node: nodes.Node) -> int:
    return sum(1 for _ in node.findall())


def test_the_tables_are_cut_to_titles_except_where_sphinx_cuts_later(builds):
    *_, app = builds
    tocs = titles_only_toc.titles_only_tocs(app.env)
    # the API page's objects and the sections are gone; sub-toctrees stay
    assert count(tocs["api"]) < count(app.env.tocs["api"]) / 10
    assert "f0" not in tocs["api"].astext() and "f0" in app.env.tocs["api"].astext()
    assert "Why" not in tocs["intro"].astext()
    assert "Lessons" not in tocs["chapter/index"].astext()
    assert len(list(tocs["chapter/index"].findall(addnodes.toctree))) == 1
    # an `only` directive or `tocdepth` keeps the page's full table
    assert tocs["chapter/a"] is app.env.tocs["chapter/a"]
    assert tocs["chapter/b"] is app.env.tocs["chapter/b"]
    # one cut per table, kept while the table is
    assert titles_only_toc.titles_only_tocs(app.env)["api"] is tocs["api"]


def test_cutting_twice_changes_nothing(builds):
    *_, app = builds
    for docname, toc in app.env.tocs.items():
        once = titles_only_toc.cut_to_titles(toc)
        assert titles_only_toc.cut_to_titles(once).pformat() == once.pformat(), docname
