"""The three offline text sources and the windows drawn from them."""

from __future__ import annotations

import inspect

import pytest
import torch

from snippets.transformer_family.text_sources import (
    SOURCES,
    function_docstrings,
    source_texts,
    source_windows,
)


def test_sources_are_cut_into_disjoint_equal_parts():
    texts = source_texts(held_out=0.2)
    assert tuple(texts) == SOURCES
    sizes = {(len(train), len(held)) for train, held in texts.values()}
    assert len(sizes) == 1  # every source cut to the same size
    ((train_size, held_size),) = sizes
    assert abs(held_size / (train_size + held_size) - 0.2) < 0.01
    for train, _ in texts.values():
        assert "  " not in train and "\n" not in train
    assert "tensor" in texts["PyTorch docstrings"][0].lower()
    assert "np." in texts["NumPy docstrings"][0]


def test_function_docstrings_keeps_long_public_docstrings_once():
    text = function_docstrings(torch.nn.functional, torch.nn.functional, min_length=200)
    softmax_doc = inspect.cleandoc(torch.nn.functional.softmax.__doc__)
    assert len(softmax_doc) >= 200
    assert text.count(softmax_doc) == 1  # the module was given twice, the text is kept once
    assert len(function_docstrings(torch.nn.functional, min_length=10**6)) == 0


def test_source_windows_are_slices_with_their_labels():
    streams = [torch.arange(100), torch.arange(1000, 1050)]
    windows, labels = source_windows(streams, 5, 7, torch.Generator().manual_seed(0))
    assert windows.shape == (14, 5) and labels.tolist() == [0] * 7 + [1] * 7
    steps = windows[:, 1:] - windows[:, :-1]
    assert (steps == 1).all()  # consecutive tokens of one stream
    assert (windows[:7] < 100).all() and (windows[7:] >= 1000).all()


def test_bad_input():
    with pytest.raises(ValueError, match="held_out must be in"):
        source_texts(held_out=1.0)
    with pytest.raises(ValueError, match=r"streams\[0\] must be longer than length=5"):
        source_windows([torch.arange(5)], 5, 1, torch.Generator())
    with pytest.raises(TypeError, match=r"streams\[0\] must have dtype torch.int64"):
        source_windows([torch.zeros(10)], 5, 1, torch.Generator())
    with pytest.raises(ValueError, match="per_source must be > 0"):
        source_windows([torch.arange(10)], 5, 0, torch.Generator())
