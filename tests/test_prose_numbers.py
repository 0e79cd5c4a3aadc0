"""Prose must not type in numbers that the code computes.

A measured result written into a sentence ("a unigram model would score 3.25",
"the pixel variance is about 0.19") goes stale the day the code changes. Such
numbers belong in the run's printed output, or in a notebook page's computed
output. This check finds the common phrasings in the pages and in the
examples' docstrings and comments. Bars ("at least 0.95", "below 0.02") are
stated targets, not results, and are allowed; so are exact constants worked
out in the text (``ln 8 ≈ 2.08``).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# A hedge or a verb of measurement directly before a decimal number.
MEASURED = re.compile(
    r"\b(?:about|around|roughly|approximately|nearly|scores?|scored|reach(?:es|ed)?|gives?)"
    r"\s+(?:only\s+)?\d+\.\d+\b(?!\s*%? ?(?:bar|or (?:more|less)))",
    re.IGNORECASE,
)
# "the 3.2 nats of a model that ...": a loss quoted as a fact.
QUOTED_LOSS = re.compile(r"\bthe \d+\.\d+ (?:nats|bits)\b")


def _prose_of_page(text: str) -> list[tuple[int, str]]:
    """Lines of a MyST page outside front matter and fenced blocks."""
    lines, out, fence = text.splitlines(), [], None
    start = 0
    if lines and lines[0] == "---":
        start = lines.index("---", 1) + 1
    for number, line in enumerate(lines[start:], start + 1):
        stripped = line.strip()
        marker = re.match(r"^(`{3,}|~{3,}|:{3,})", stripped)
        if fence is None and marker and stripped.startswith(("```", "~~~")):
            fence = marker.group(1)
            continue
        if fence is not None:
            if stripped.startswith(fence) and stripped.strip("`~") == "":
                fence = None
            continue
        out.append((number, line))
    return out


def _prose_of_example(text: str) -> list[tuple[int, str]]:
    """The module docstring and the ``#`` comment lines of a gallery script."""
    out, in_doc = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if number == 1 and line.startswith('"""'):
            in_doc = True
            continue
        if in_doc:
            if line.startswith('"""'):
                in_doc = False
                continue
            out.append((number, line))
        elif line.lstrip().startswith("#"):
            out.append((number, line))
    return out


def _paragraphs(lines: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Join consecutive prose lines, so a phrase broken across lines is still found."""
    out: list[tuple[int, str]] = []
    previous = None
    for number, line in lines:
        text = line.strip().lstrip("#").strip()
        if text and previous is not None and number == previous + 1 and out:
            out[-1] = (out[-1][0], out[-1][1] + " " + text)
        elif text:
            out.append((number, text))
        previous = number if text else None
    return out


def _findings(path: Path, lines: list[tuple[int, str]]) -> list[str]:
    found = []
    for number, paragraph in _paragraphs(lines):
        for pattern in (MEASURED, QUOTED_LOSS):
            for match in pattern.finditer(paragraph):
                found.append(f"{path.relative_to(ROOT)}:{number}: {match.group(0)!r}")
    return found


PAGES = sorted(p for p in (ROOT / "docs").rglob("*.md") if "auto_examples" not in p.parts)
EXAMPLES = sorted((ROOT / "examples").rglob("plot_*.py"))


def test_the_check_finds_typed_in_results():
    page = "Intro\n\nA unigram model would score\n3.25 nats.\n\n```python\nx = 3.25\n```\n"
    assert len(_findings(ROOT / "docs/x.md", _prose_of_page(page))) == 1
    script = '"""\nTitle\n\nThe pixel variance is about 0.19.\n"""\nx = 0.19\n# reaches 0.5\n'
    assert len(_findings(ROOT / "examples/x.py", _prose_of_example(script))) == 2
    bars = "The bar: at least 0.95, below 0.02 and ln 8 ≈ 2.08."
    assert _findings(ROOT / "docs/x.md", _prose_of_page(bars)) == []


@pytest.mark.parametrize("path", PAGES + EXAMPLES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_typed_in_results(path):
    text = path.read_text()
    lines = _prose_of_page(text) if path.suffix == ".md" else _prose_of_example(text)
    assert _findings(path, lines) == [], "print these from the run instead"
