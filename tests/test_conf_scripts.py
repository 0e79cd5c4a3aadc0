"""The install hint of the downloadable scripts, and the warm rebuild it must not slow down.

sphinx-gallery copies each example over its downloadable script on every
build (the hint makes the two differ); ``conf.py`` puts the hint back and,
when the script ends up as the last build left it, its old modification time,
so that Sphinx does not read every example page again.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import SimpleNamespace

import pytest

ROOT = Path(__file__).resolve().parents[1]
OLD_NS = 1_000_000_000_000_000_000  # a modification time no copy made now can have


@pytest.fixture
def conf():
    spec = importlib.util.spec_from_file_location("t2t_conf", ROOT / "conf" / "conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build(conf, app, example: str) -> None:
    """What one build does to a script: remember, sphinx-gallery's copy, then the hint."""
    conf._remember_scripts(app)
    script = Path(app.srcdir) / "auto_examples" / "chapter" / "plot_x.py"
    if not script.is_file() or script.read_text(encoding="utf-8") != example:
        script.write_text(example, encoding="utf-8")  # sphinx-gallery: copy when different
    conf._install_hint_in_scripts(app)


def test_an_unchanged_script_keeps_its_hint_and_its_modification_time(conf, tmp_path):
    (tmp_path / "auto_examples" / "chapter").mkdir(parents=True)
    app = SimpleNamespace(srcdir=str(tmp_path))
    script = tmp_path / "auto_examples" / "chapter" / "plot_x.py"
    build(conf, app, "print(1)\n")
    assert script.read_text(encoding="utf-8") == conf.INSTALL_HINT + "print(1)\n"
    os.utime(script, ns=(OLD_NS, OLD_NS))

    build(conf, app, "print(1)\n")
    assert script.read_text(encoding="utf-8") == conf.INSTALL_HINT + "print(1)\n"
    assert script.stat().st_mtime_ns == OLD_NS


def test_a_changed_example_gives_a_new_script_with_a_new_modification_time(conf, tmp_path):
    (tmp_path / "auto_examples" / "chapter").mkdir(parents=True)
    app = SimpleNamespace(srcdir=str(tmp_path))
    script = tmp_path / "auto_examples" / "chapter" / "plot_x.py"
    build(conf, app, "print(1)\n")
    os.utime(script, ns=(OLD_NS, OLD_NS))

    build(conf, app, "print(2)\n")
    assert script.read_text(encoding="utf-8") == conf.INSTALL_HINT + "print(2)\n"
    assert script.stat().st_mtime_ns != OLD_NS
