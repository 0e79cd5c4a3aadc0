"""The site-wide navigation of every page, built from tables of contents cut to their titles.

Furo's sidebar lists every page of the site by title. For each page it writes,
Sphinx resolves that list by copying the complete table of contents of every
page (each section heading and, on the API page, each documented function and
class) and then dropping all but the titles. With some 150 pages, 8,000 entries
(4,600 of them the API page's) and some 260 pages written (the source pages of
the modules included), that copying took more than half of the time spent
writing pages.

This extension cuts each page's table of contents to its titles once, exactly
as Sphinx's ``titles_only`` option does, and lets Sphinx resolve the sidebar
from those: the HTML is the same (``tests/site/test_titles_only_toc.py``
compares the two for every page of a test project). A page whose table of
contents holds an ``only`` directive or sets ``tocdepth`` keeps its full one,
since Sphinx applies those before it cuts.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from docutils import nodes
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.environment import BuildEnvironment

# each page's table of contents, and the cut copy made from it
_CUT: dict[str, tuple[nodes.Node, nodes.Node]] = {}


def cut_to_titles(toc: nodes.bullet_list) -> nodes.bullet_list:
    """A copy of a page's table of contents with only its titles and sub-toctrees.

    The same cut as Sphinx's ``titles_only`` (``_entries_from_toctree``): each
    top-level item keeps its title and, of everything below it, only the
    toctrees. Cutting twice gives the same list.
    """
    cut = toc.deepcopy()
    for top_level in cut.children:
        if len(top_level) > 1:
            if subtrees := list(top_level.findall(addnodes.toctree)):
                top_level[1][:] = subtrees
            else:
                top_level.pop(1)
    return cut


def _can_cut(env: BuildEnvironment, docname: str, toc: nodes.Node) -> bool:
    """Whether Sphinx's copy before the cut would keep everything the cut keeps."""
    if "tocdepth" in env.metadata.get(docname, {}):
        return False
    return not any(toc.findall(addnodes.only))


def titles_only_tocs(env: BuildEnvironment) -> dict[str, nodes.Node]:
    """``env.tocs`` with every table of contents that can be cut cut to its titles.

    A cut is made once per table of contents and kept while Sphinx keeps that
    table (a page read again gets a new one, and a new cut).
    """
    tocs = {}
    for docname, toc in env.tocs.items():
        kept = _CUT.get(docname)
        if kept is None or kept[0] is not toc:
            cut = cut_to_titles(toc) if _can_cut(env, docname, toc) else toc
            kept = _CUT[docname] = (toc, cut)
        tocs[docname] = kept[1]
    return tocs


def with_titles_only_tocs(env: BuildEnvironment, toctree: Callable[..., str]) -> Callable[..., str]:
    """Wrap a page's ``toctree`` template function.

    Calls with ``titles_only=True`` and ``collapse=False`` (Furo's navigation
    tree) resolve from the cut tables; every other call is passed on unchanged.
    """

    def fast_toctree(**kwargs: Any) -> str:
        if not (kwargs.get("titles_only") and kwargs.get("collapse") is False):
            return toctree(**kwargs)
        full = env.tocs
        env.tocs = titles_only_tocs(env)
        try:
            return toctree(**kwargs)
        finally:
            env.tocs = full

    return fast_toctree


def _wrap_toctree(
    app: Sphinx, pagename: str, templatename: str, context: dict[str, Any], doctree: Any
) -> None:
    if callable(context.get("toctree")):
        context["toctree"] = with_titles_only_tocs(app.env, context["toctree"])


def setup(app: Sphinx) -> dict[str, Any]:
    # before Furo's handler (priority 500), which asks for the navigation tree
    app.connect("html-page-context", _wrap_toctree, priority=400)
    return {"parallel_read_safe": True, "parallel_write_safe": True}
