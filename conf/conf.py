"""Sphinx configuration of Tensors to Transformers.

Build with ``sphinx-build -c conf docs build/html`` (``nox -s docs`` does it).
Paths below are relative to ``docs/``, the source directory.
"""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]

# The examples and notebook pages train small models. On one CPU thread they run
# fastest (waking more threads costs more than it saves at this size) and print
# the same numbers on every machine. Set before anything imports torch; notebook
# kernels inherit it. Override with OMP_NUM_THREADS=N.
os.environ.setdefault("OMP_NUM_THREADS", "1")
sys.path.insert(0, str(ROOT))  # make `snippets` importable for autodoc and examples
sys.path.insert(0, str(Path(__file__).resolve().parent))  # gallery_order

# Warnings that stop the build (tools/strict_warnings.py): every process the
# build starts from here on, example workers and notebook kernels, applies them.
from tools import strict_warnings  # noqa: E402

strict_warnings.pass_to_new_processes()

# -- Project -----------------------------------------------------------------
project = "Tensors to Transformers"
author = "The Tensors to Transformers authors"
copyright = "2026, " + author
release = "0.1"
version = release  # the EPUB builder needs one

# The gallery's downloads import the `snippets` package. The HTML build offers
# it as a wheel (and an sdist) under package/, and every downloaded notebook
# and script starts by saying how to install it.
PACKAGE = "tensors_to_transformers"
PACKAGE_VERSION = "0.1.0"  # as in pyproject.toml
WHEEL = f"{PACKAGE}-{PACKAGE_VERSION}-py3-none-any.whl"

extensions = [
    "myst_nb",  # MyST markdown and executed notebook pages
    "sphinx_gallery.gen_gallery",
    "sphinx_copybutton",
    "sphinx_design",
    "sphinx.ext.mathjax",
    "sphinx-mathjax-offline",  # serves MathJax from _static/, never from a CDN
    "sphinxcontrib.bibtex",
    "sphinx.ext.autodoc",
    "sphinx.ext.napoleon",
    "sphinx.ext.viewcode",
    "sphinxext.opengraph",  # OpenGraph title/description/url meta tags
    "sphinx_sitemap",
    "notfound.extension",  # a 404 page whose links work at any depth
    "titles_only_toc",  # conf/titles_only_toc.py: the sidebar built from titles only
    "gallery_pool",  # conf/gallery_pool.py: every chapter's examples on one pool of workers
    "viewcode_source_files",  # conf/viewcode_source_files.py: source pages checked without imports
]

exclude_patterns = [
    "auto_examples/**/*.ipynb",  # notebooks that sphinx-gallery writes for download
    "auto_examples/**/*.py",
    "auto_examples/**/*.zip",
    "auto_examples/**/*.json",
    "auto_examples/**/*.md5",
    "**.ipynb_checkpoints",
]
suppress_warnings = ["config.cache"]  # sphinx-gallery's config holds functions

# Every cross-reference must resolve. Types from other libraries (torch, numpy,
# matplotlib, the standard library) cannot be linked without fetching their
# inventories over the network, so only those are exempt.
nitpicky = True
nitpick_ignore_regex = [
    (r"py:(class|obj|data|exc)", r"(?!snippets\.).*"),
    (r"py:(class|obj)", r"snippets(\.\w+)+\.[A-Z]"),  # type variables: one capital letter
]

# -- MyST and myst-nb ----------------------------------------------------------
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "attrs_inline"]
myst_heading_anchors = 3
nb_execution_mode = "cache"  # re-run a notebook page only when its code changed
nb_execution_timeout = 120
nb_execution_raise_on_error = True  # a failing cell fails the build
nb_execution_show_tb = True
nb_merge_streams = True
# Each notebook page runs in a kernel of its own, forked from a server that has
# already imported torch, matplotlib and `snippets` (tools/preloaded_kernel.py):
# a page starts in a tenth of a second instead of two. The pages still name the
# plain "python3" kernel, so a downloaded page runs anywhere.
NOTEBOOK_KERNEL = "t2t-preloaded"
nb_kernel_rgx_aliases = {"python3": NOTEBOOK_KERNEL}

# -- Gallery -------------------------------------------------------------------
# T2T_EXAMPLE=plot_digits_mlp builds only the examples whose file name matches.
_only = os.environ.get("T2T_EXAMPLE", "")
# Examples run in parallel, one process per core (each on one thread, see
# above), all chapters on one pool (conf/gallery_pool.py); T2T_GALLERY_JOBS=1
# runs them one after another. Every example seeds itself, so the output does
# not depend on the order.
_jobs = int(os.environ.get("T2T_GALLERY_JOBS", os.cpu_count() or 1))
sphinx_gallery_conf = {
    "examples_dirs": ["../examples"],
    "gallery_dirs": ["auto_examples"],
    "filename_pattern": rf"/{_only}" if _only else r"/plot_",
    "ignore_pattern": r"__init__\.py|/_",
    # chapters in the site's order, examples in the order the pages teach them
    "subsection_order": "gallery_order.chapter_key",
    "within_subsection_order": "gallery_order.TeachingOrder",
    "download_all_examples": False,
    "remove_config_comments": True,
    "abort_on_example_error": False,
    "only_warn_on_example_error": False,
    "write_computation_times": False,  # its page loads scripts from CDNs
    "junit": "../sphinx-gallery/junit-results.xml",
    "matplotlib_animations": False,
    "image_scrapers": ("matplotlib",),
    "reset_modules": ("matplotlib", "seaborn"),
    "show_memory": False,
    "min_reported_time": 1,
    "plot_gallery": "True",
    "parallel": _jobs if _jobs > 1 else False,
    "first_notebook_cell": None,  # set below, once the site's address is known
    # mini-galleries on the lesson pages are given example paths, not object names
    "backreferences_dir": "../build/sphinx-gallery/backreferences",
}

# -- HTML ----------------------------------------------------------------------
# Where the site is served from. The default is the local preview
# (`python -m http.server -d build/html`); set T2T_BASE_URL when publishing.
html_baseurl = os.environ.get("T2T_BASE_URL", "http://127.0.0.1:8000/")
INSTALL_HINT = (
    "# This example imports the `snippets` package of Tensors to Transformers.\n"
    "# Install it once (it brings PyTorch and the other packages it needs):\n"
    f"#   pip install {html_baseurl}package/{WHEEL}\n"
    "# or, in a clone of the repository: pip install -e .\n"
)
sphinx_gallery_conf["first_notebook_cell"] = INSTALL_HINT + "%matplotlib inline"
html_theme = "furo"
html_title = "Tensors to Transformers"
html_static_path = [str(ROOT / "docs" / "_static")]
html_css_files = ["custom.css"]
html_js_files = ["site.js"]  # folded blocks open in print; wide inline formulas scroll
html_theme_options = {
    "navigation_with_keys": True,
}
html_show_sourcelink = True
html_copy_source = True

# OpenGraph: per-page descriptions come from each page's `og:description` front
# matter; no social-card images (they would be generated on every build).
ogp_site_url = html_baseurl
ogp_site_name = project
ogp_social_cards = {"enable": False}
ogp_enable_meta_description = True

sitemap_url_scheme = "{link}"
sitemap_excludes = ["search.html", "genindex.html", "py-modindex.html", "404.html"]

notfound_urls_prefix = urlparse(html_baseurl).path or "/"
notfound_context = {
    "title": "Page not found",
    "body": (
        "<h1>Page not found</h1>\n<p>There is no page at this address. Try the search box, "
        'or start again from the <a href="' + (urlparse(html_baseurl).path or "/") + '">'
        "home page</a>.</p>"
    ),
}

# MathJax is copied into _static/mathjax by sphinx-mathjax-offline. Turn off the
# accessibility extensions that would otherwise fetch the speech-rule engine.
mathjax3_config = {
    "options": {
        "menuOptions": {
            "settings": {"assistiveMml": False, "explorer": False, "collapsible": False}
        }
    },
    "loader": {"load": []},
}

# -- The book (EPUB; the PDF is printed from the single-page build) -----------
epub_basename = "tensors-to-transformers"
epub_title = project
epub_author = author
epub_publisher = author
epub_copyright = copyright
epub_show_urls = "no"
epub_exclude_files = ["sitemap.xml", "404.xhtml", "search.xhtml", ".buildinfo.bak"]

# -- References and API ------------------------------------------------------
bibtex_bibfiles = [str(ROOT / "docs" / "references.bib")]
bibtex_default_style = "unsrt"
bibtex_reference_style = "author_year"

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_typehints_format = "short"
napoleon_google_docstring = True
napoleon_numpy_docstring = False

copybutton_prompt_text = r">>> |\.\.\. |\$ "
copybutton_prompt_is_regexp = True


def _drop_canonical_link(app, pagename, templatename, context, doctree):
    """Without a published address, leave out <link rel="canonical">."""
    context.pop("pageurl", None)


def _show_examples_on_their_pages(app, docname, source):
    """Lesson pages end with thumbnails of the examples that import the code they show."""
    from gallery_order import EXAMPLES, minigallery

    text = source[0]
    gallery = minigallery(docname, text)
    if gallery:
        for example in EXAMPLES.glob("*/plot_*.py"):  # a new import there rebuilds the page
            app.env.note_dependency(str(example))
        at = text.find("\n## Summary")
        source[0] = text[: at + 1] + gallery + text[at + 1 :] if at >= 0 else text + gallery


def _link_examples_to_their_pages(app, docname, source):
    """Every gallery example lists the lesson pages that link to it."""
    from gallery_order import DOCS, backlinks

    links = backlinks(docname)
    if links:
        for page in DOCS.glob("*/*.md"):  # a page that starts linking to it rebuilds it
            app.env.note_dependency(str(page))
        marker = ".. _sphx_glr_download_"
        text = source[0]
        at = text.find(marker)
        source[0] = text[:at] + links + text[at:] if at >= 0 else text + links


_SCRIPTS_BEFORE: dict[Path, tuple[str, int]] = {}


def _remember_scripts(app):
    """The downloadable scripts as the last build left them: text and modification time."""
    for script in (Path(app.srcdir) / "auto_examples").rglob("plot_*.py"):
        _SCRIPTS_BEFORE[script] = (script.read_text(encoding="utf-8"), script.stat().st_mtime_ns)


def _install_hint_in_scripts(app):
    """Downloaded scripts start with the install hint (the notebooks get it as their first cell).

    sphinx-gallery copies each example over its downloadable script whenever
    the two differ, which the hint makes them do on every build. A script that
    ends up as the last build left it gets its old modification time back, so
    that Sphinx does not read its example page again (a warm rebuild with no
    change would otherwise re-read and re-write every example page).
    """
    for script in (Path(app.srcdir) / "auto_examples").rglob("plot_*.py"):
        text = script.read_text(encoding="utf-8")
        if not text.startswith(INSTALL_HINT):
            text = INSTALL_HINT + text
            script.write_text(text, encoding="utf-8")
        before = _SCRIPTS_BEFORE.get(script)
        if before is not None and before[0] == text:
            os.utime(script, ns=(script.stat().st_atime_ns, before[1]))


def _offer_the_package(app, exception):
    """Build the wheel and the sdist of `snippets` into the site's package/ folder."""
    if exception is not None or app.builder.name != "html":
        return
    import subprocess

    out = Path(app.outdir) / "package"
    out.mkdir(exist_ok=True)
    for hook in ("build_wheel", "build_sdist"):  # PEP 517 hooks, offline, no isolation
        subprocess.run(
            [
                sys.executable,
                "-c",
                f"from setuptools import build_meta; build_meta.{hook}({str(out)!r})",
            ],
            cwd=ROOT,
            check=True,
            capture_output=True,
        )


def _mystnb_css_into_the_epub(app):
    """myst-nb copies its style sheet after the EPUB is zipped; copy it before."""
    if app.builder.name != "epub":
        return
    from myst_nb.sphinx_ext import add_global_html_resources

    (Path(app.outdir) / "_static").mkdir(parents=True, exist_ok=True)
    add_global_html_resources(app, None)


def _junit_only_for_the_site(app):
    """The book's builders share the site's junit path: only the HTML build writes it.

    sphinx-gallery writes ``junit`` relative to each builder's output folder, so
    ``nox -s book`` (build/epub, build/singlehtml) would replace the HTML build's
    per-example times with those of a run that executed nothing.
    """
    if app.builder.name != "html":
        app.config.sphinx_gallery_conf["junit"] = ""


def _start_the_kernel_server(app):
    """Write the preloaded kernel's spec and start its server (stopped when the build ends).

    Without a server (not Linux, or ``T2T_PRELOAD=0``) the same kernelspec
    starts ordinary kernels.
    """
    import atexit
    import tempfile

    from tools import preloaded_kernel

    folder = Path(tempfile.mkdtemp(prefix="t2t-kernel-"))
    preloaded_kernel.write_kernelspec(folder, NOTEBOOK_KERNEL)
    server = None
    if sys.platform == "linux" and os.environ.get("T2T_PRELOAD", "1") != "0":
        server = preloaded_kernel.start_server(str(folder / "server.sock"))

    def stop(*_):
        if server is not None and server.poll() is None:
            server.terminate()
            server.wait()
        shutil.rmtree(folder, ignore_errors=True)

    atexit.register(stop)
    app.connect("build-finished", stop)


def setup(app):
    app.connect("builder-inited", _start_the_kernel_server, priority=100)  # before the gallery
    app.connect("builder-inited", _junit_only_for_the_site, priority=100)  # before the gallery
    app.connect("builder-inited", _mystnb_css_into_the_epub)
    app.connect("builder-inited", _remember_scripts, priority=100)  # before the gallery
    app.connect("builder-inited", _install_hint_in_scripts, priority=900)  # after the gallery
    app.connect("build-finished", _offer_the_package)
    app.connect("source-read", _link_examples_to_their_pages)
    app.connect("source-read", _show_examples_on_their_pages)
    # sphinx-mathjax-offline only copies MathJax into the output when the build
    # finishes; it does not say so, and Sphinx would read (and execute the
    # notebook pages) one page at a time because of it.
    offline = app.extensions.get("sphinx-mathjax-offline")
    if offline is not None:
        offline.parallel_read_safe = True
    if "T2T_BASE_URL" not in os.environ:
        app.connect("html-page-context", _drop_canonical_link)
