"""How long-running stages report progress: one callback type, one bar-factory type.

A stage that works through a known number of items takes ``progress``, a
:data:`ProgressCallback` called with the number of items done so far. A stage that
runs several such loops takes a :class:`ProgressFactory`: called with a description and
a total, it returns a context manager yielding the callback for that loop (the CLI's
rich bars are one; :func:`no_progress` draws nothing).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from typing import Protocol

__all__ = [
    "PROGRESS_LINE_INTERVAL_S",
    "LineProgress",
    "LogFunction",
    "ProgressCallback",
    "ProgressFactory",
    "no_log",
    "no_progress",
]

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


PROGRESS_LINE_INTERVAL_S = 30.0
"""Seconds between progress lines when stderr is not a terminal (CI, nohup, batch jobs)."""


class LineProgress:
    """A :data:`ProgressCallback` that prints a plain line at most every ``interval`` s.

    For non-interactive runs, where a progress bar is invisible until the end: prints
    ``description: done/total (p %), elapsed, ETA`` when called at least ``interval``
    seconds after the previous line, and once at the end (``done == total``).
    """

    def __init__(
        self,
        description: str,
        total: int | None,
        write: LogFunction,
        *,
        interval: float = PROGRESS_LINE_INTERVAL_S,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.description, self.total, self.write = description, total, write
        self.interval, self.clock = interval, clock
        self.start = self.last = clock()
        self.finished = False

    def __call__(self, done: int) -> None:
        now = self.clock()
        finished = self.total is not None and done >= self.total
        if self.finished or (now - self.last < self.interval and not finished):
            return
        self.last, self.finished = now, finished
        elapsed = now - self.start
        line = f"{self.description}: {done:,}"
        if self.total:
            line += f"/{self.total:,} ({100 * done / self.total:.0f} %)"
        line += f", {elapsed:.0f} s elapsed"
        if self.total and 0 < done < self.total:
            line += f", ~{elapsed * (self.total - done) / done:.0f} s left"
        self.write(line)
