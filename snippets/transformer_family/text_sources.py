"""Offline text from three sources, and a task built from it: which source is a passage from?

* the Python reference manual (:func:`snippets.common.data.text_corpus`);
* the docstrings of PyTorch's functions (``torch`` and ``torch.nn.functional``);
* the docstrings of NumPy's functions (``numpy`` and ``numpy.linalg``).

All three ship with packages this site installs, so nothing is downloaded.
:func:`source_texts` cleans them (runs of whitespace become one space) and
cuts each into a first part for training and a last part held out;
:func:`source_windows` draws fixed-length windows of token ids from the
tokenized parts, labelled by source. Passages from the two parts never overlap, so held-out accuracy
measures reading, not remembering.
"""

from __future__ import annotations

import inspect
import re
from types import ModuleType

import numpy
import torch
import torch.nn.functional

from snippets.common.checks import check_positive, check_tensor
from snippets.common.data import text_corpus

SOURCES = ("Python manual", "PyTorch docstrings", "NumPy docstrings")


def _clean(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip()


def function_docstrings(*modules: ModuleType, min_length: int = 200) -> str:
    """The docstrings of the public functions of ``modules``, in name order, each once.

    Docstrings shorter than ``min_length`` characters (one-line stubs) are left out.
    """
    seen: set[str] = set()
    out = []
    for module in modules:
        for name in sorted(dir(module)):
            obj = getattr(module, name, None)
            doc = getattr(obj, "__doc__", None)
            if name.startswith("_") or not inspect.isroutine(obj) or not isinstance(doc, str):
                continue
            doc = inspect.cleandoc(doc)
            if len(doc) >= min_length and doc not in seen:
                seen.add(doc)
                out.append(doc)
    return "\n\n".join(out)


def source_texts(held_out: float = 0.2) -> dict[str, tuple[str, str]]:
    """Each source's cleaned text, cut into ``(train part, held-out part)``.

    The held-out part is the last ``held_out`` of the text; every source is
    cut to the length of the shortest, so no source dominates.

    Raises:
        ValueError: if ``held_out`` is not in ``(0, 1)``.
    """
    check_positive(held_out, "held_out")
    if held_out >= 1:
        raise ValueError(f"held_out must be in (0, 1), got {held_out}")
    texts = [
        _clean(text_corpus()),
        _clean(function_docstrings(torch, torch.nn.functional)),
        _clean(function_docstrings(numpy, numpy.linalg)),
    ]
    size = min(len(t) for t in texts)
    cut = int(size * (1 - held_out))
    return {name: (t[:cut], t[cut:size]) for name, t in zip(SOURCES, texts)}


def source_windows(
    streams: list[torch.Tensor], length: int, per_source: int, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor]:
    """``per_source`` random windows of ``length`` tokens from each token stream.

    ``streams`` holds one 1-D int64 tensor of token ids per source. Returns
    the windows ``[len(streams) · per_source, length]``, source by source,
    and their labels ``[len(streams) · per_source]`` (int64, the index of
    the source).

    Raises:
        TypeError: if a stream is not an int64 tensor.
        ValueError: if ``length`` or ``per_source`` is not positive, a stream
            is not 1-D or not longer than ``length``.
    """
    check_positive(length, "length")
    check_positive(per_source, "per_source")
    windows, labels = [], []
    for label, stream in enumerate(streams):
        check_tensor(stream, f"streams[{label}]", ndim=1, dtype=torch.int64)
        if len(stream) <= length:
            raise ValueError(
                f"streams[{label}] must be longer than length={length}, got {len(stream)} tokens"
            )
        starts = torch.randint(len(stream) - length + 1, (per_source,), generator=generator)
        windows.append(stream[starts[:, None] + torch.arange(length)])
        labels.append(torch.full((per_source,), label, dtype=torch.int64))
    return torch.cat(windows), torch.cat(labels)
