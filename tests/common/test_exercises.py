"""The exercise checkers: they pass right solutions, reject wrong ones and say where."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

import snippets.common.exercises as ex


def test_every_chapter_module_registers_exercises_with_a_page():
    found = ex.exercises()
    names = [e.name for e in found]
    assert len(names) == len(set(names)) >= 9
    for chapter in ex.CHAPTERS:
        count = len(ex.exercises(chapter))
        assert count >= 3, f"{chapter} has {count} coding exercises, fewer than three"
    for e in found:
        assert e.wrong and e.task.endswith(".")


def test_check_reports_the_first_failing_input_with_expected_and_got(capsys):
    result = ex.check("mlp-parameter-count", lambda sizes: 0)
    assert not result
    assert "fails on sizes [4, 32, 2]" in result.message
    assert "expected: 226" in result.message and "got:      0" in result.message
    assert "mlp-parameter-count: fails" in capsys.readouterr().out


def test_check_reports_shape_dtype_and_exceptions():
    shape = ex.check("causal-attention", lambda q, k, v: q[:, :1], verbose=False)
    assert "shape (1, 1, 4), expected (1, 3, 4)" in shape.message
    dtype = ex.check("causal-attention", lambda q, k, v: q.double(), verbose=False)
    assert "dtype torch.float64, expected torch.float32" in dtype.message
    crash = ex.check("causal-attention", lambda q, k, v: q @ v, verbose=False)
    assert "raised RuntimeError" in crash.message


def test_bad_input_must_raise_the_reference_error():
    def no_check(images):
        mean = images.mean(dim=(0, 2, 3), keepdim=True)
        return (images - mean) / images.std(dim=(0, 2, 3), unbiased=False, keepdim=True)

    result = ex.check("normalize-images", no_check, verbose=False)
    assert not result and "expected a ValueError" in result.message


def test_a_solution_that_writes_into_its_inputs_cannot_change_the_reference():
    def in_place(x, upstream):
        upstream.zero_()  # would also zero the reference's input if it were shared
        return torch.zeros_like(x)

    assert not ex.check("softmax-backward", in_place, verbose=False)


def test_unknown_names_and_bad_registrations_are_refused():
    with pytest.raises(KeyError, match="no exercise called 'nope'; the exercises are: "):
        ex.check("nope", print)
    with pytest.raises(TypeError, match="solution must be a function, got int"):
        ex.check("focal-loss", 3)
    with pytest.raises(ValueError, match="registered twice"):
        ex.exercise("focal-loss", page="x", task="x.", cases=list, wrong=[print])
    with pytest.raises(ValueError, match="lowercase words joined by hyphens"):
        ex.exercise("Focal_Loss", page="x", task="x.", cases=list, wrong=[print])
    with pytest.raises(ValueError, match="at least one wrong solution"):
        ex.exercise("no-wrong", page="x", task="x.", cases=list, wrong=[])


def test_command_line_checks_a_file_of_solutions(tmp_path, capsys):
    good = tmp_path / "good.py"
    good.write_text(
        "def mlp_parameter_count(sizes):\n"
        "    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))\n"
        "def helper():\n    pass\n"
    )
    assert ex.main([str(good)]) == 0
    assert "1 of 1 exercises pass" in capsys.readouterr().out
    bad = tmp_path / "bad.py"
    bad.write_text("def mlp_parameter_count(sizes):\n    return 1\n")
    assert ex.main([str(bad)]) == 1
    with pytest.raises(ValueError, match="defines none of the exercise functions"):
        ex.main([str(_empty(tmp_path))])
    with pytest.raises(FileNotFoundError):
        ex.check_file(tmp_path / "missing.py")
    assert ex.main(["--list"]) == 0
    assert "causal_attention" in capsys.readouterr().out


def _empty(tmp_path):
    path = tmp_path / "empty.py"
    path.write_text("x = 1\n")
    return path


def test_python_dash_m_sees_the_chapters_exercises(tmp_path):
    """Run with ``python -m`` the module is ``__main__``; it must still see every checker.

    One run (an interpreter that imports torch and every chapter takes
    seconds): wrong answers to the first and the last chapter's exercises
    must both be found and checked.
    """
    import subprocess
    import sys

    solution = tmp_path / "mine.py"
    solution.write_text(
        "def line_gradient(x, y, w, b):\n    return 0.0, 0.0\n\n\n"
        "def causal_attention(q, k, v):\n    return v\n"
    )
    checked = subprocess.run(
        [sys.executable, "-m", "snippets.common.exercises", str(solution)],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 1, checked.stderr
    assert "line-gradient: fails on" in checked.stdout
    assert "causal-attention: fails on" in checked.stdout
    assert "0 of 2 exercises pass" in checked.stdout


def _lesson_pages() -> list[Path]:
    docs = Path(__file__).resolve().parents[2] / "docs"
    pages = []
    for chapter in ex.CHAPTERS:
        index = docs / chapter.replace("_", "-") / "index.md"
        block = re.search(r"```\{toctree\}\n(.*?)```", index.read_text(), re.S).group(1)
        entries = [e.strip() for e in block.splitlines() if e.strip() and not e.startswith(":")]
        pages += [index.parent / f"{entry}.md" for entry in entries]
    return pages


def test_every_lesson_page_has_exercises_and_every_exercise_is_posed_on_its_page():
    pages = _lesson_pages()
    assert len(pages) >= 60
    missing = [p.name for p in pages if "\n## Exercises" not in p.read_text()]
    assert not missing, f"lesson pages without an Exercises section: {missing}"
    docs = pages[0].parents[1]
    for e in ex.exercises():
        text = (docs / f"{e.page}.md").read_text()
        assert e.name in text, f"{e.name} is not posed on {e.page}.md"
