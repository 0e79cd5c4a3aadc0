"""uv is given pip's package sources (tools/pip_sources.py, used by noxfile.py)."""

from __future__ import annotations

import subprocess

from tools import pip_sources
from tools.pip_sources import uv_flags

LISTING = """\
:env:.cert='/etc/ssl/certs/ca-certificates.crt'
:env:.default-timeout='180'
:env:.find-links='/opt/wheels'
global.constraint='/etc/xdg/pip/constraints.txt'
global.extra-index-url='file:///opt/pypi/simple file:///opt/pypi-more/simple'
global.find-links='/opt/wheels'
install.index-url="https://example.org/simple"
"""


def test_sources_become_uv_flags_once_each_and_the_rest_is_left_out():
    assert uv_flags(LISTING) == [
        "--find-links",
        "/opt/wheels",
        "--constraint",
        "/etc/xdg/pip/constraints.txt",
        "--extra-index-url",
        "file:///opt/pypi/simple",
        "--extra-index-url",
        "file:///opt/pypi-more/simple",
        "--index-url",
        "https://example.org/simple",
    ]


def test_no_sources_no_flags():
    assert uv_flags("") == []
    assert uv_flags(":env:.cert='/etc/ssl/cert.pem'\nglobal.timeout='60'\n") == []


def test_the_listing_comes_from_pip_of_the_given_python(monkeypatch):
    calls = []

    def run(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, stdout=":env:.find-links='/w'\n")

    monkeypatch.setattr(pip_sources.subprocess, "run", run)
    assert pip_sources.pip_sources("/some/python") == ["--find-links", "/w"]
    assert calls == [["/some/python", "-m", "pip", "config", "list"]]


def test_a_python_without_pip_gives_no_flags(tmp_path):
    assert pip_sources.pip_sources(str(tmp_path / "no-python")) == []
