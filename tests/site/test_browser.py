"""The built site in a real browser: every page loads cleanly and offline.

For every page: HTTP 200, no console errors, no request to any address but
127.0.0.1, every image loaded, all math rendered by MathJax, a copy button on
every code block. Then search, the dark-mode toggle, the gallery and its
downloads. Screenshots of key pages go to build/screenshots/.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from urllib.parse import urljoin, urlparse

import pytest

from tests.site.conftest import SCREENSHOTS, serve, site_pages

LOCAL_HOSTS = {"127.0.0.1"}
MATH = "Array.from(document.querySelectorAll('.math'))"
RENDERED = "m => m.querySelector('mjx-container')"
WITHOUT_CODE = """() => {
    const article = document.querySelector('article');
    if (!article) return false;
    const copy = article.cloneNode(true);
    copy.querySelectorAll('pre, code').forEach(e => e.remove());
    return copy.innerText.includes('$$');
}"""


@dataclass
class Visit:
    """What one page did while it loaded."""

    status: int | None = None
    console_errors: list[str] = field(default_factory=list)
    outside_requests: list[str] = field(default_factory=list)
    broken_images: list[str] = field(default_factory=list)
    unrendered_math: int = 0
    raw_dollars: bool = False
    code_blocks: int = 0
    copy_buttons: int = 0


def visit(browser, url: str, screenshot: str | None = None) -> Visit:
    """Load ``url`` in a fresh context, blocking (and recording) every outside request."""
    result = Visit()
    context = browser.new_context(viewport={"width": 1280, "height": 900})

    def route(route, request):
        parts = urlparse(request.url)
        if parts.scheme in ("http", "https", "ws", "wss") and parts.hostname not in LOCAL_HOSTS:
            result.outside_requests.append(request.url)
            return route.abort()
        return route.continue_()

    context.route("**/*", route)
    page = context.new_page()
    page.on("console", lambda m: m.type == "error" and result.console_errors.append(m.text))
    page.on("pageerror", lambda e: result.console_errors.append(str(e)))
    response = page.goto(url, wait_until="load")
    result.status = response.status if response else None
    page.evaluate(
        "document.querySelectorAll('img[loading=lazy]').forEach(i => i.loading = 'eager')"
    )
    page.wait_for_function("Array.from(document.images).every(i => i.complete)", timeout=15_000)
    result.broken_images = page.evaluate(
        "Array.from(document.images).filter(i => i.naturalWidth === 0).map(i => i.src)"
    )
    if page.locator(".math").count():
        page.wait_for_function(f"{MATH}.every({RENDERED})", timeout=20_000)
    result.unrendered_math = page.evaluate(f"{MATH}.filter(m => !({RENDERED})(m)).length")
    result.raw_dollars = page.evaluate(WITHOUT_CODE)
    result.code_blocks = page.locator("div.highlight").count()
    result.copy_buttons = page.locator("div.highlight button.copybtn").count()
    if screenshot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / screenshot), full_page=True)
    context.close()
    return result


KEY_PAGES = {
    "index.html": "index.png",
    "fundamentals/tensors.html": "tensors.png",
    "fundamentals/autograd.html": "autograd.png",
    "auto_examples/index.html": "gallery.png",
    "auto_examples/fundamentals/plot_digits_mlp.html": "digits_mlp.png",
}


@pytest.mark.parametrize("page", site_pages())
def test_page_loads_cleanly_and_offline(browser, site_url, page):
    v = visit(browser, urljoin(site_url, page), screenshot=KEY_PAGES.get(page))
    assert v.status == 200, f"HTTP {v.status}"
    assert not v.outside_requests, f"requests leaving 127.0.0.1: {v.outside_requests}"
    assert not v.console_errors, f"console errors: {v.console_errors}"
    assert not v.broken_images, f"images that did not load: {v.broken_images}"
    assert v.unrendered_math == 0, f"{v.unrendered_math} math elements not rendered"
    assert not v.raw_dollars, "raw $$ left in the text"
    assert v.copy_buttons == v.code_blocks, (
        f"{v.code_blocks} code blocks, {v.copy_buttons} copy buttons"
    )


def test_checker_catches_an_outside_request(browser, tmp_path):
    """The offline check itself works: a page that asks for an outside script is caught."""
    (tmp_path / "index.html").write_text(
        '<html><body><p>x</p><script src="http://cdn.example.invalid/lib.js"></script></body></html>'
    )
    server, url = serve(tmp_path)
    try:
        v = visit(browser, url)
    finally:
        server.shutdown()
    assert v.outside_requests == ["http://cdn.example.invalid/lib.js"]


def test_search_finds_attention(browser, site_url):
    context = browser.new_context()
    page = context.new_page()
    page.goto(urljoin(site_url, "search.html?q=attention"))
    page.wait_for_selector("ul.search li a", timeout=20_000)
    links = page.eval_on_selector_all("ul.search li a", "els => els.map(e => e.href)")
    assert links, "no search results for 'attention'"
    for link in links[:5]:
        assert urlparse(link).hostname == "127.0.0.1"
        assert page.request.get(link).status == 200
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "search.png"))
    context.close()


def test_dark_mode_toggle_changes_theme(browser, site_url):
    context = browser.new_context(color_scheme="light")
    page = context.new_page()
    page.goto(urljoin(site_url, "fundamentals/tensors.html"))
    background = "getComputedStyle(document.body).backgroundColor"
    light = page.evaluate(background)
    toggle = page.locator(".content-icon-container .theme-toggle")
    themes = []
    for _ in range(3):
        toggle.click()
        themes.append(page.evaluate("document.body.dataset.theme"))
        if themes[-1] == "dark":
            break
    assert "dark" in themes, f"the toggle never reached dark mode: {themes}"
    assert page.evaluate(background) != light
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / "tensors-dark.png"))
    context.close()


def test_gallery_thumbnails_and_downloads(browser, site_url):
    examples = [
        p
        for p in site_pages()
        if p.startswith("auto_examples/") and p.rsplit("/", 1)[-1].startswith("plot_")
    ]
    assert examples, "the gallery has no examples"
    context = browser.new_context()
    page = context.new_page()
    page.goto(urljoin(site_url, "auto_examples/index.html"))
    thumbs = page.eval_on_selector_all(".sphx-glr-thumbcontainer a", "els => els.map(e => e.href)")
    linked = {urlparse(t).path.lstrip("/") for t in thumbs}
    assert set(examples) <= linked, f"examples without a thumbnail: {set(examples) - linked}"
    for example in examples:
        page.goto(urljoin(site_url, example))
        py = page.get_attribute(".sphx-glr-download-python a", "href")
        nb = page.get_attribute(".sphx-glr-download-jupyter a", "href")
        assert py and nb, f"{example}: missing download links"
        script = page.request.get(urljoin(page.url, py))
        notebook = page.request.get(urljoin(page.url, nb))
        assert script.status == 200 and "assert" in script.text(), f"{example}: bad .py download"
        assert notebook.status == 200 and json.loads(notebook.text())["cells"], (
            f"{example}: bad .ipynb"
        )
    context.close()


# -- Phones and print ----------------------------------------------------------

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PHONE_SCREENSHOTS = {
    "index.html": "phone-index.png",
    "transformers/attention.html": "phone-attention.png",
    "cnn/alexnet.html": "phone-alexnet.png",
    "auto_examples/transformers/plot_gpt.html": "phone-gpt.png",
}
# Elements of the article whose right edge passes the screen's, unless a box
# around them that fits on the screen scrolls sideways (overflow-x auto/scroll).
TOO_WIDE = """() => {
  const width = document.documentElement.clientWidth;
  const found = [];
  if (document.documentElement.scrollWidth > width + 1) {
    found.push(`the page scrolls sideways: ${document.documentElement.scrollWidth} px`);
  }
  const scrolls = (e) => ['auto', 'scroll'].includes(getComputedStyle(e).overflowX);
  const reported = new Set();
  for (const el of document.querySelectorAll('article *')) {
    const r = el.getBoundingClientRect();
    if (r.width === 0 || r.height === 0 || r.right <= width + 1) continue;
    let p = el.parentElement, inside = false, under = false;
    for (; p && p.tagName !== 'ARTICLE'; p = p.parentElement) {
      if (reported.has(p)) under = true;
      if (scrolls(p) && p.getBoundingClientRect().right <= width + 1) { inside = true; break; }
    }
    if (inside) continue;
    reported.add(el);
    if (!under) {
      const name = el.tagName.toLowerCase() + [...el.classList].map(c => '.' + c).join('');
      const text = el.textContent.trim().slice(0, 60);
      found.push(`${name} ends at ${Math.round(r.right)} px: "${text}"`);
    }
  }
  return found;
}"""


def too_wide_on_a_phone(browser, url: str, screenshot: str | None = None) -> list[str]:
    """What sticks out of a 390-pixel phone screen without a way to scroll to it."""
    context = browser.new_context(**PHONE)
    context.route(
        "**/*",
        lambda route, request: (
            route.abort()
            if urlparse(request.url).hostname not in (None, *LOCAL_HOSTS)
            else route.continue_()
        ),
    )
    page = context.new_page()
    page.goto(url, wait_until="load")
    if page.locator(".math").count():
        page.wait_for_function(f"{MATH}.every({RENDERED})", timeout=20_000)
        page.wait_for_function("document.documentElement.dataset.mathFitted", timeout=20_000)
    found = page.evaluate(TOO_WIDE)
    if screenshot:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(SCREENSHOTS / screenshot))
    context.close()
    return found


@pytest.mark.parametrize("page", site_pages())
def test_page_fits_a_phone_screen(browser, site_url, page):
    found = too_wide_on_a_phone(browser, urljoin(site_url, page), PHONE_SCREENSHOTS.get(page))
    assert not found, "wider than a phone screen, with no way to scroll:\n" + "\n".join(found)


def test_phone_check_catches_a_wide_element(browser, tmp_path):
    """The phone check works: a wide block is caught, the same block in a scroll box is not."""
    meta = '<meta name="viewport" content="width=device-width, initial-scale=1">'
    wide = '<div style="width: 800px">x</div>'
    (tmp_path / "bad.html").write_text(
        f"<html><head>{meta}</head><body style='overflow-x:hidden'>"
        f"<article>{wide}</article></body></html>"
    )
    (tmp_path / "good.html").write_text(
        f"<html><head>{meta}</head><body><article><div style='overflow-x:auto'>{wide}</div>"
        "</article></body></html>"
    )
    server, url = serve(tmp_path)
    try:
        bad = too_wide_on_a_phone(browser, url + "bad.html")
        good = too_wide_on_a_phone(browser, url + "good.html")
    finally:
        server.shutdown()
    assert any("div ends at 808 px" in line for line in bad), bad
    assert good == []


@pytest.mark.parametrize("page", ["transformers/attention.html", "llm/rope.html"])
def test_printed_page_has_content_only(browser, site_url, page):
    """Printed: no navigation, folded blocks open, code wrapped rather than cut, figures whole."""
    context = browser.new_context(viewport={"width": 794, "height": 1123})
    tab = context.new_page()
    tab.goto(urljoin(site_url, page), wait_until="load")
    closed = tab.locator("article details:not([open])").count()
    tab.evaluate("window.dispatchEvent(new Event('beforeprint'))")
    tab.emulate_media(media="print")
    hidden = tab.evaluate(
        "['.sidebar-drawer', '.toc-drawer', '.mobile-header', '.copybtn']"
        ".filter(s => document.querySelector(s))"
        ".every(s => Array.from(document.querySelectorAll(s)).every(e => e.offsetParent === null))"
    )
    still_closed = tab.locator("article details:not([open])").count()
    cut_code = tab.evaluate(
        "Array.from(document.querySelectorAll('article pre'))"
        ".filter(p => p.offsetParent && p.scrollWidth > p.clientWidth + 1).length"
    )
    wide_images = tab.evaluate(
        "Array.from(document.querySelectorAll('article img'))"
        ".filter(i => i.getBoundingClientRect().right > document.documentElement.clientWidth + 1)"
        ".length"
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    tab.screenshot(path=str(SCREENSHOTS / ("print-" + page.replace("/", "-") + ".png")))
    context.close()
    assert hidden, "navigation is printed"
    assert closed == 0 or still_closed == 0, f"{still_closed} folded blocks stay closed in print"
    assert cut_code == 0, f"{cut_code} code blocks are cut at the right edge in print"
    assert wide_images == 0, f"{wide_images} images are wider than the printed page"
