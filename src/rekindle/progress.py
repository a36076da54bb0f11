"""How long-running stages report progress: one callback type, one bar-factory type.

A stage that works through a known number of items takes ``progress``, a
:data:`ProgressCallback` called with the number of items done so far. A stage that
runs several such loops takes a :class:`ProgressFactory`: called with a description and
a total, it returns a context manager yielding the callback for that loop (the CLI's
rich bars are one; :func:`no_progress` draws nothing).
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

__all__ = ["LogFunction", "ProgressCallback", "ProgressFactory", "no_log", "no_progress"]

ProgressCallback = Callable[[int], None]
"""``progress(done)``: items completed so far (monotone, ends at the total)."""


class ProgressFactory(Protocol):
    """``factory(description, total)`` → context manager yielding a :data:`ProgressCallback`."""

    def __call__(
        self, description: str, total: int | None
    ) -> AbstractContextManager[ProgressCallback]: ...


def _ignore(_done: int) -> None:
    return None


def no_progress(_description: str, _total: int | None) -> AbstractContextManager[ProgressCallback]:
    """A :class:`ProgressFactory` that draws nothing."""
    return nullcontext(_ignore)


LogFunction = Callable[[str], None]
"""``log(line)``: one line per finished step (the CLI prints it; the default drops it)."""


def no_log(_line: str) -> None:
    """A :data:`LogFunction` that drops every line."""
    return None
