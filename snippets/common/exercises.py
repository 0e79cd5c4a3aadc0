"""Checkers for the coding exercises: run a reader's function against the reference.

Every coding exercise of the site is registered here by the chapter that
poses it (``snippets/<chapter>/exercises.py``): a name such as
``"causal-attention"``, the reference solution, a function that makes test
inputs (random ones and edge cases: empty batches, one token, odd sizes), and
one or more plausible *wrong* solutions that the checker must reject, so that
no checker passes everything.

A reader checks a solution in a notebook::

    from snippets.common.exercises import check
    check("causal-attention", my_attention)

or every solution in a file of their own from the command line::

    python -m snippets.common.exercises my_solutions.py

where ``my_solutions.py`` defines functions named after the exercises
(``causal_attention`` for ``"causal-attention"``).
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

#: The chapters of the site, in its order; each registers its checkers in ``<chapter>.exercises``.
CHAPTERS = (
    "fundamentals",
    "neural_networks",
    "cnn",
    "sequence_models",
    "transformers",
    "transformer_family",
    "llm",
    "vision_transformers",
    "generative",
    "deployment",
    "rl",
)


@dataclass(frozen=True)
class Case:
    """One input of a checker: positional and keyword arguments, and what it tests."""

    args: tuple
    kwargs: dict = field(default_factory=dict)
    label: str = ""

    def describe(self) -> str:
        """The input in a line: shapes and dtypes of tensors, values of the rest."""
        parts = [_show(a) for a in self.args]
        parts += [f"{k}={_show(v)}" for k, v in self.kwargs.items()]
        text = ", ".join(parts)
        return f"{self.label}: ({text})" if self.label else f"({text})"


@dataclass(frozen=True)
class Exercise:
    """A coding exercise: its reference solution, its inputs and wrong solutions it must reject."""

    name: str
    page: str
    task: str
    reference: Callable
    cases: Callable[[], Iterable[Case]]
    wrong: tuple[Callable, ...]
    atol: float = 1e-5
    rtol: float = 1e-4


@dataclass(frozen=True)
class Result:
    """The verdict of :func:`check`: passed, or the first input where the solution differs."""

    name: str
    passed: bool
    cases: int
    message: str

    def __bool__(self) -> bool:
        return self.passed


_REGISTRY: dict[str, Exercise] = {}


def exercise(
    name: str,
    *,
    page: str,
    task: str,
    cases: Callable[[], Iterable[Case]],
    wrong: Iterable[Callable],
    atol: float = 1e-5,
    rtol: float = 1e-4,
) -> Callable[[Callable], Callable]:
    """Decorator that registers a reference solution as exercise ``name``.

    Args:
        name: the exercise's name, lowercase words joined by hyphens.
        page: the page that poses it (``"transformers/attention"``).
        task: one sentence saying what to write.
        cases: makes the inputs, each a :class:`Case`; seeded, so every run
            checks the same inputs.
        wrong: plausible wrong solutions; the tests require that the checker
            rejects each of them.
        atol, rtol: tolerances of the comparison (``torch.testing.assert_close``).

    Raises:
        ValueError: if ``name`` is already registered or is not lowercase words joined by hyphens.
    """
    if name in _REGISTRY:
        raise ValueError(f"exercise {name!r} is registered twice")
    if not name or not all(part.isalnum() and part.islower() for part in name.split("-")):
        raise ValueError(f"name must be lowercase words joined by hyphens, got {name!r}")
    wrong = tuple(wrong)
    if not wrong:
        raise ValueError(f"exercise {name!r} needs at least one wrong solution to reject")

    def register(reference: Callable) -> Callable:
        _REGISTRY[name] = Exercise(name, page, task, reference, cases, wrong, atol, rtol)
        return reference

    return register


def exercises(chapter: str | None = None) -> list[Exercise]:
    """Every registered exercise (of one chapter, e.g. ``"transformers"``), in the site's order."""
    _load_chapters()
    found = list(_REGISTRY.values())
    if chapter is not None:
        prefix = chapter.replace("_", "-") + "/"
        found = [e for e in found if e.page.startswith(prefix)]
    return found


def get(name: str) -> Exercise:
    """The exercise called ``name``.

    Raises:
        KeyError: with the list of known names, if there is none of that name.
    """
    _load_chapters()
    if name not in _REGISTRY:
        known = ", ".join(sorted(_REGISTRY))
        raise KeyError(f"no exercise called {name!r}; the exercises are: {known}")
    return _REGISTRY[name]


def check(name: str, solution: Callable, verbose: bool = True) -> Result:
    """Run ``solution`` on every input of exercise ``name`` and compare it with the reference.

    Outputs are compared with ``torch.testing.assert_close`` (tensors, also
    inside tuples and lists) or ``==`` (anything else). An input on which the
    reference raises an error expects the same type of error from the solution.

    Returns:
        A :class:`Result`, true when every input passed; with ``verbose`` it
        is also printed: ``pass`` and the number of inputs, or the first input
        where the solution differs with what was expected and what came back.
    """
    if not callable(solution):
        raise TypeError(f"solution must be a function, got {type(solution).__name__}")
    ex = get(name)
    count = 0
    message = ""
    for number, case in enumerate(ex.cases(), start=1):
        count = number
        message = _compare(ex, case, solution)
        if message:
            break
    result = Result(name, not message, count, message or f"pass: {count} inputs agree")
    if verbose:
        print(f"{name}: {result.message}")
    return result


def _compare(ex: Exercise, case: Case, solution: Callable) -> str:
    expected_error: type[BaseException] | None = None
    expected: Any = None
    try:
        expected = ex.reference(*_copy(case.args), **_copy(case.kwargs))
    except (ValueError, TypeError) as error:
        expected_error = type(error)
    try:
        got = solution(*_copy(case.args), **_copy(case.kwargs))
    except Exception as error:  # a reader's bug can raise anything: report it, don't crash
        if expected_error is not None and isinstance(error, expected_error):
            return ""
        wanted = f"expected a {expected_error.__name__}, " if expected_error else ""
        return f"fails on {case.describe()}\n  {wanted}raised {type(error).__name__}: {error}"
    if expected_error is not None:
        return (
            f"fails on {case.describe()}\n  expected a {expected_error.__name__} "
            f"for this bad input, got a result instead"
        )
    problem = _difference(expected, got, ex.atol, ex.rtol)
    if problem:
        return (
            f"fails on {case.describe()}\n  {problem}\n"
            f"  expected: {_show(expected, full=True)}\n  got:      {_show(got, full=True)}"
        )
    return ""


def _difference(expected: Any, got: Any, atol: float, rtol: float) -> str:
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"expected a sequence of {len(expected)} results, got {_show(got)}"
        for i, (e, g) in enumerate(zip(expected, got)):
            problem = _difference(e, g, atol, rtol)
            if problem:
                return f"result {i}: {problem}"
        return ""
    if isinstance(expected, torch.Tensor):
        if expected.ndim == 0 and isinstance(got, (int, float)) and not isinstance(got, bool):
            got = torch.tensor(got, dtype=expected.dtype)  # a plain number is fine for a scalar
        if not isinstance(got, torch.Tensor):
            return f"expected a tensor, got {type(got).__name__}"
        if got.shape != expected.shape:
            return f"shape {tuple(got.shape)}, expected {tuple(expected.shape)}"
        if got.dtype != expected.dtype:
            return f"dtype {got.dtype}, expected {expected.dtype}"
        try:
            torch.testing.assert_close(got, expected, atol=atol, rtol=rtol, equal_nan=True)
        except AssertionError as error:
            lines = [line.strip() for line in str(error).splitlines() if line.strip()]
            return "values differ: " + "; ".join(lines[1:3])
        return ""
    return "" if got == expected else "values differ"


def _copy(value: Any) -> Any:
    """A fresh copy of the inputs, so that a solution that writes into them cannot cheat."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, tuple):
        return tuple(_copy(v) for v in value)
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


def _show(value: Any, full: bool = False) -> str:
    if isinstance(value, torch.Tensor):
        dtype = str(value.dtype).replace("torch.", "")
        if value.ndim == 0:
            return f"{value.item():.6g} ({dtype})"
        shape = f"tensor{list(value.shape)} {dtype}"
        if full and 0 < value.numel() <= 6:
            numbers = ", ".join(f"{v:.6g}" for v in value.detach().flatten().tolist())
            return f"{shape} [{numbers}]"
        return shape
    if isinstance(value, (tuple, list)):
        inner = ", ".join(_show(v, full) for v in value)
        if isinstance(value, list):
            return f"[{inner}]"
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def _load_chapters() -> None:
    for chapter in CHAPTERS:
        if importlib.util.find_spec(f"snippets.{chapter}.exercises") is not None:
            importlib.import_module(f"snippets.{chapter}.exercises")


def check_file(path: str | Path) -> list[Result]:
    """Check every function in the file at ``path`` named after an exercise.

    ``causal_attention`` is checked as exercise ``"causal-attention"``;
    other functions are ignored.

    Raises:
        FileNotFoundError: if there is no such file.
        ValueError: if the file defines no function named after an exercise.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no file {path}")
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    found = [
        (ex.name, getattr(module, ex.name.replace("-", "_")))
        for ex in exercises()
        if callable(getattr(module, ex.name.replace("-", "_"), None))
    ]
    if not found:
        names = ", ".join(e.name.replace("-", "_") for e in exercises())
        raise ValueError(f"{path} defines none of the exercise functions: {names}")
    return [check(name, fn) for name, fn in found]


def main(argv: list[str] | None = None) -> int:
    """``python -m snippets.common.exercises FILE...`` or ``--list``; status 1 if a check fails."""
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__)
        return 0
    if argv[0] == "--list":
        for ex in exercises():
            print(f"{ex.name.replace('-', '_'):<28} {ex.page:<34} {ex.task}")
        return 0
    results = [r for path in argv for r in check_file(path)]
    failed = [r.name for r in results if not r]
    print(f"{len(results) - len(failed)} of {len(results)} exercises pass")
    return 1 if failed else 0


if __name__ == "__main__":
    # Run as a script this file is ``__main__``; the chapters register their
    # exercises in the imported module, so ask that one.
    from snippets.common import exercises as _registered

    sys.exit(_registered.main())
