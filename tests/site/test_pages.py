"""Lesson pages teach with something computed, every figure has alt text, and
the gallery follows the course.

Reads the HTML in ``build/html``; no browser needed.
"""

from __future__ import annotations

import re
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from tests.site.conftest import HTML, ROOT

sys.path.insert(0, str(ROOT / "conf"))
from gallery_order import (  # noqa: E402
    chapters,
    example_order,
    examples_using,
    minigallery,
    teaching_pages,
    toctree_entries,
)

DOCS = ROOT / "docs"


def lesson_pages() -> list[str]:
    """Every page of a chapter's table of contents (the chapter index pages aside)."""
    return [
        f"{chapter}/{entry}"
        for chapter in chapters()
        for entry in toctree_entries(DOCS / chapter / "index.md")
    ]


class _Article(HTMLParser):
    """What the main article of a page holds: images, executed outputs, headings."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0  # >0 inside <article>
        self.images: list[dict[str, str]] = []
        self.outputs = 0  # executed notebook outputs and gallery images
        self.headings: list[str] = []
        self._heading: list[str] | None = None

    def handle_starttag(self, tag, attrs):
        attributes = {k: v or "" for k, v in attrs}
        if tag == "article":
            self.depth += 1
        if not self.depth:
            return
        classes = attributes.get("class", "").split()
        if tag == "img":
            self.images.append(attributes)
            if "sphx-glr-single-img" in classes or "sphx-glr-multi-img" in classes:
                self.outputs += 1
        if tag == "div" and "cell_output" in classes:
            self.outputs += 1
        if tag in ("h2", "h3"):
            self._heading = []

    def handle_endtag(self, tag):
        if tag == "article":
            self.depth -= 1
        if tag in ("h2", "h3") and self._heading is not None:
            self.headings.append("".join(self._heading).strip().rstrip("#¶").strip())
            self._heading = None

    def handle_data(self, data):
        if self._heading is not None:
            self._heading.append(data)


def read(html: str) -> _Article:
    article = _Article()
    article.feed(html)
    return article


def test_the_checks_can_fail():
    """A page of prose and code listings only, and an image without alt text, are caught."""
    prose = read("<article><h2>The idea</h2><p>text</p><pre>code</pre></article>")
    assert prose.outputs == 0 and "Summary" not in prose.headings
    executed = read(
        '<article><div class="cell_output docutils container"><pre>4</pre></div>'
        '<h2>Summary<a class="headerlink">#</a></h2></article>'
    )
    assert executed.outputs == 1 and "Summary" in executed.headings
    assert read('<article><img src="a.png"></article>').images == [{"src": "a.png"}]


@pytest.mark.parametrize("page", lesson_pages())
def test_lesson_page_shows_something_computed_and_ends_with_a_summary(page):
    article = read((HTML / f"{page}.html").read_text(encoding="utf-8"))
    assert article.outputs > 0, (
        f"{page}: no executed output and no gallery figure; every lesson page shows "
        "something computed at build time (a figure, a worked example, a table)"
    )
    assert "Summary" in article.headings, f"{page}: no 'Summary' section"


def _all_pages() -> list[Path]:
    skip = ("_static", "_sources", "_downloads", "_images", "_modules")
    return sorted(p for p in HTML.rglob("*.html") if p.relative_to(HTML).parts[0] not in skip)


def test_every_figure_has_alt_text():
    """Gallery thumbnails are the exception: they are decorative (``alt=""``), the
    example's title follows each one as a link, and a screen reader would read
    the same words twice."""
    missing = []
    for path in _all_pages():
        for image in read(path.read_text(encoding="utf-8")).images:
            if image.get("src", "").endswith("_thumb.png"):
                continue
            if not image.get("alt", "").strip():
                missing.append(f"{path.relative_to(HTML)}: {image.get('src')}")
    assert not missing, "images without alt text:\n" + "\n".join(missing)


def test_gallery_follows_the_chapters_and_the_teaching_order():
    html = (HTML / "auto_examples" / "index.html").read_text(encoding="utf-8")
    # every thumbnail links to auto_examples/<chapter>/<example>.html
    links = re.findall(r'href="([\w-]+)/(plot_\w+)\.html', html)
    seen: list[tuple[str, str]] = []
    for chapter, example in links:
        if (chapter, example) not in seen:
            seen.append((chapter, example))
    expected = [
        (chapter, name.removesuffix(".py"))
        for chapter in chapters()
        for name in example_order(chapter)
    ]
    assert seen == expected


EXAMPLES = sorted(str(p.relative_to(ROOT / "examples")) for p in ROOT.glob("examples/*/plot_*.py"))


@pytest.mark.parametrize("example", EXAMPLES)
def test_every_example_links_back_to_the_pages_that_teach_it(example):
    chapter, name = example.removesuffix(".py").split("/")
    html = (HTML / "auto_examples" / chapter / f"{name}.html").read_text(encoding="utf-8")
    assert "The pages that teach it" in html, f"{example}: no links to the pages that teach it"
    expected = teaching_pages(chapter, name)
    assert expected, f"{example}: no lesson page links to this example"
    for page in expected:
        assert f"{page.split('/')[-1]}.html" in html, f"{example}: no link to {page}"


@pytest.mark.parametrize("page", lesson_pages())
def test_lesson_page_shows_the_examples_that_use_its_code(page):
    """The thumbnails after a page list exactly the examples that import the code it shows."""
    cards = minigallery(page, (DOCS / f"{page}.md").read_text())
    expected = re.findall(r"sphx_glr_auto_examples_[\w-]+?_(plot_\w+)\.py", cards)
    html = (HTML / f"{page}.html").read_text(encoding="utf-8")
    section = html.split('id="examples-that-use-this-code"', 1)
    if not expected:
        assert len(section) == 1, f"{page}: a mini-gallery although no example uses its code"
        return
    assert len(section) == 2, f"{page}: no mini-gallery of the examples that use its code"
    shown = re.findall(
        r'href="[^"]*auto_examples/[\w-]+/(plot_\w+)\.html', section[1].split("</section>", 1)[0]
    )
    assert list(dict.fromkeys(shown)) == expected


def test_examples_using_finds_importers_only():
    found = examples_using({("transformers", "gpt")})
    assert "../examples/transformers/plot_gpt.py" in found
    assert not any("plot_digits_mlp" in f for f in found)
    assert examples_using(set()) == []
