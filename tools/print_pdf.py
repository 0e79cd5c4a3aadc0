"""Print the single-page build of the site to a PDF with Chromium.

Usage: ``python tools/print_pdf.py build/singlehtml build/html/book/tensors-to-transformers.pdf``

The page is served on 127.0.0.1, every request that would leave the machine is
refused, MathJax renders every formula, every image loads and every folded
block is opened; then Chromium prints it on A4 with page numbers. The print
style sheet (``docs/_static/custom.css``) leaves the navigation out.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tools.site_server import CHROMIUM, CHROMIUM_ARGS, serve  # noqa: E402

FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#666">'
    '<span class="pageNumber"></span> / <span class="totalPages"></span></div>'
)


def print_pdf(site: Path, out: Path) -> int:
    """Print ``site/index.html`` to ``out``; return the number of bytes written."""
    from playwright.sync_api import sync_playwright

    server, url = serve(site)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
            context = browser.new_context()
            context.route(
                "**/*",
                lambda route, request: (
                    route.abort()
                    if urlparse(request.url).hostname not in (None, "127.0.0.1")
                    and urlparse(request.url).scheme in ("http", "https")
                    else route.continue_()
                ),
            )
            page = context.new_page()
            page.goto(url + "index.html", wait_until="load", timeout=120_000)
            page.evaluate(
                "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
            )
            page.wait_for_function(
                "Array.from(document.images).every(i => i.complete)", timeout=120_000
            )
            page.wait_for_function(
                "Array.from(document.querySelectorAll('.math'))"
                ".every(m => m.querySelector('mjx-container'))",
                timeout=300_000,
            )
            page.evaluate("document.querySelectorAll('details').forEach(d => d.open = true)")
            page.emulate_media(media="print")
            out.parent.mkdir(parents=True, exist_ok=True)
            page.pdf(
                path=str(out),
                format="A4",
                margin={"top": "16mm", "bottom": "16mm", "left": "14mm", "right": "14mm"},
                print_background=True,
                display_header_footer=True,
                header_template="<span></span>",
                footer_template=FOOTER,
                outline=True,
                tagged=True,
            )
            browser.close()
    finally:
        server.shutdown()
    return out.stat().st_size


def main() -> None:
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    start = time.perf_counter()
    size = print_pdf(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"wrote {sys.argv[2]}: {size / 1e6:.1f} MB in {time.perf_counter() - start:.0f} s")


if __name__ == "__main__":
    main()
