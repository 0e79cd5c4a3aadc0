"""Fixtures for checks of the built site: a local web server and a browser.

The site in ``build/html`` is served on 127.0.0.1 only. The browser is
Debian's Chromium driven by Playwright; no browser is ever downloaded.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tools.site_server import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: F401 (used by the tests)

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("T2T_SITE_DIR", ROOT / "build" / "html"))
SCREENSHOTS = ROOT / "build" / "screenshots"


def site_pages() -> list[str]:
    """Every HTML page of the built site, as paths relative to its root."""
    if not (HTML / "index.html").is_file():
        raise FileNotFoundError(f"no built site at {HTML}: run `nox -s docs` first")
    skip = ("_static/", "_sources/", "_downloads/", "_images/", "_modules/")
    return sorted(
        str(p.relative_to(HTML))
        for p in HTML.rglob("*.html")
        if not str(p.relative_to(HTML)).startswith(skip)
    )


@pytest.fixture(scope="session")
def site_url() -> Iterator[str]:
    site_pages()  # fail early, with a clear message, if the site is not built
    server, url = serve(HTML)
    yield url
    server.shutdown()


@pytest.fixture(scope="session")
def browser():
    from playwright.sync_api import sync_playwright

    if not Path(CHROMIUM).is_file():
        raise FileNotFoundError(f"Chromium not found at {CHROMIUM}: apt-get install chromium")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()
