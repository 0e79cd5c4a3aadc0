"""pip's package sources, handed to uv, which reads no pip configuration.

``noxfile.py`` makes its environments with uv when nox finds it. A machine
may keep wheels (torch's CPU build among them) in a folder that only pip's
configuration names, in a file or a ``PIP_*`` variable; given the same
sources, uv installs the same files pip would.
"""

from __future__ import annotations

import subprocess
import sys

#: pip's settings that say where packages come from, and uv's flag for each.
UV_FLAGS = {
    "index-url": "--index-url",
    "extra-index-url": "--extra-index-url",
    "find-links": "--find-links",
    "constraint": "--constraint",
}


def uv_flags(listing: str) -> list[str]:
    """uv's flags for the package sources in the output of ``pip config list``.

    Each line reads ``scope.name='value'`` (``global.find-links='/opt/wheels'``,
    or ``:env:.find-links=...`` for a ``PIP_FIND_LINKS`` variable); a value
    may list several items separated by spaces. An item given in several
    scopes is passed once; other settings (certificates, timeouts) are left out.
    """
    flags: list[str] = []
    seen: set[tuple[str, str]] = set()
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        flag = UV_FLAGS.get(key.rsplit(".", 1)[-1].strip())
        if flag is None:
            continue
        for item in value.strip().strip("'\"").split():
            if (flag, item) not in seen:
                seen.add((flag, item))
                flags += [flag, item]
    return flags


def pip_sources(python: str = sys.executable) -> list[str]:
    """uv's flags for the package sources pip would use under ``python`` (none without pip)."""
    try:
        listing = subprocess.run(
            [python, "-m", "pip", "config", "list"], capture_output=True, text=True, check=True
        ).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return uv_flags(listing)
