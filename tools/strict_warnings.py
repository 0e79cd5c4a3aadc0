"""Warnings that fail the tests and the site build, in every process they start.

Each entry of :data:`FILTERS` is a warning filter written as for Python's
``-W`` option, ``action:message:category``, where ``message`` is the literal
start of the warning's text. Both ``tests/conftest.py`` and ``conf/conf.py``
add them to the ``PYTHONWARNINGS`` variable, which every Python process
started afterwards applies: the gallery's workers, the notebook kernels, the
smoke runs of the examples, torchrun's workers. ``tests/conftest.py`` also
gives them to pytest, for the tests themselves.
"""

from __future__ import annotations

import os
import re

FILTERS = (
    # a tensor handed to matplotlib: numpy passes torch's Tensor.__array__ a
    # copy argument, which it does not take; numpy deprecates the fallback, so
    # a later numpy could stop the build. Pages and examples pass .numpy().
    "error:__array__ implementation doesn't accept a copy keyword:DeprecationWarning",
    # the same for arithmetic on tensors inside matplotlib (bar positions, axis
    # limits): numpy calls Tensor.__array_wrap__ with arguments it does not take
    "error:__array_wrap__ must accept context and return_scalar arguments:DeprecationWarning",
)


def python_warnings(current: str | None = None) -> str:
    """The value of ``PYTHONWARNINGS`` with :data:`FILTERS` after ``current``.

    Later entries take precedence, so these win over a filter in ``current``
    that matches the same warnings; an entry already there is not repeated.
    """
    entries = [e for e in (current or "").split(",") if e]
    return ",".join(entries + [f for f in FILTERS if f not in entries])


def pass_to_new_processes() -> None:
    """Add :data:`FILTERS` to this process's ``PYTHONWARNINGS``, for every process it starts."""
    os.environ["PYTHONWARNINGS"] = python_warnings(os.environ.get("PYTHONWARNINGS"))


def pytest_filters(filters: tuple[str, ...] = FILTERS) -> list[str]:
    """``filters`` (:data:`FILTERS`) as pytest's ``filterwarnings`` setting reads them.

    pytest takes the message as a regular expression, ``-W`` and
    ``PYTHONWARNINGS`` as literal text: here it is escaped.
    """
    escaped = []
    for spec in filters:
        action, message, category = spec.split(":")
        escaped.append(f"{action}:{re.escape(message)}:{category}")
    return escaped
