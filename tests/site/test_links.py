"""Every internal link and anchor of the built site resolves, and nothing is loaded from outside."""

from __future__ import annotations

from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import pytest

from tests.site.conftest import HTML, site_pages

RESOURCE_TAGS = {
    ("img", "src"),
    ("script", "src"),
    ("link", "href"),
    ("source", "src"),
    ("iframe", "src"),
}


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.links: list[tuple[str, str, str]] = []  # (tag, attribute, value)
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if value is None:
                continue
            if name in ("id", "name"):
                self.ids.add(value)
            if name in ("href", "src"):
                self.links.append((tag, name, value))


@pytest.fixture(scope="module")
def parsed() -> dict[Path, _Collector]:
    pages = {}
    for path in HTML.rglob("*.html"):
        collector = _Collector()
        collector.feed(path.read_text(encoding="utf-8", errors="replace"))
        pages[path] = collector
    return pages


def _target(page: Path, url: str) -> tuple[Path, str]:
    parts = urlparse(url)
    if parts.path.startswith("/"):
        path = HTML / unquote(parts.path).lstrip("/")
    else:
        path = (page.parent / unquote(parts.path)).resolve() if parts.path else page
    if path.is_dir():
        path = path / "index.html"
    return path, unquote(parts.fragment)


def test_internal_links_and_anchors_resolve(parsed):
    broken = []
    for page, collector in parsed.items():
        for tag, attr, url in collector.links:
            scheme = urlparse(url).scheme
            if scheme or url.startswith("//") or url.startswith("#") and len(url) == 1:
                continue
            target, fragment = _target(page, url)
            if not target.exists():
                broken.append(f"{page.relative_to(HTML)}: <{tag} {attr}={url!r}> -> missing file")
            elif fragment and target.suffix == ".html":
                ids = parsed[target].ids if target in parsed else set()
                if fragment not in ids:
                    broken.append(f"{page.relative_to(HTML)}: {url!r} -> no anchor #{fragment}")
    assert not broken, f"{len(broken)} broken internal links:\n" + "\n".join(broken[:50])


def test_no_resource_is_loaded_from_outside(parsed):
    outside = []
    for page, collector in parsed.items():
        for tag, attr, url in collector.links:
            if (tag, attr) in RESOURCE_TAGS and (
                urlparse(url).scheme in ("http", "https") or url.startswith("//")
            ):
                if tag == "link" and "canonical" in url:
                    continue
                outside.append(f"{page.relative_to(HTML)}: <{tag} {attr}={url!r}>")
    assert not outside, "resources from outside addresses:\n" + "\n".join(outside[:50])


def test_index_links_every_page():
    index = _Collector()
    index.feed((HTML / "index.html").read_text(encoding="utf-8"))
    linked = {
        _target(HTML / "index.html", url)[0] for _, attr, url in index.links if attr == "href"
    }
    generated = {"404.html", "genindex.html", "py-modindex.html", "search.html"}
    pages = [p for p in site_pages() if p not in generated and not p.startswith("_modules")]
    missing = [p for p in pages if (HTML / p).resolve() not in linked and p != "index.html"]
    assert not missing, f"pages not reachable from index.html: {missing}"


def test_site_has_sitemap_404_and_descriptions():
    assert (HTML / "sitemap.xml").is_file() and "<urlset" in (HTML / "sitemap.xml").read_text()
    not_found = (HTML / "404.html").read_text(encoding="utf-8")
    assert "Page not found" in not_found
    without = []
    for page in site_pages():
        text = (HTML / page).read_text(encoding="utf-8")
        if page in ("404.html", "genindex.html", "py-modindex.html", "search.html"):
            continue
        if '<meta property="og:description"' not in text or "<title>" not in text:
            without.append(page)
    assert not without, f"pages without a title or an OpenGraph description: {without}"
