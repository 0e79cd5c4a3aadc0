"""Fixtures for checks of the built site: a local web server and a browser.

The site in ``build/html`` is served on 127.0.0.1 only. The browser is
Debian's Chromium driven by Playwright; no browser is ever downloaded.
"""

from __future__ import annotations

import functools
import http.server
import os
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HTML = Path(os.environ.get("T2T_SITE_DIR", ROOT / "build" / "html"))
SCREENSHOTS = ROOT / "build" / "screenshots"
CHROMIUM = os.environ.get("T2T_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
]


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


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format, *args):  # noqa: A002 - keep the test output readable
        pass


def serve(directory: Path) -> tuple[http.server.ThreadingHTTPServer, str]:
    """Serve ``directory`` on 127.0.0.1 on a free port; return the server and its URL."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


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
