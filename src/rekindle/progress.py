"""How long-running stages report progress: one callback type, one bar-factory type.

A stage that works through a known number of items takes ``progress``, a
:data:`ProgressCallback` called with the number of items done so far. A stage that
runs several such loops takes a :class:`ProgressFactory`: called with a description and
a total, it returns a context manager yielding the callback for that loop (the CLI's
rich bars are one; :func:`no_progress` draws nothing).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from types import TracebackType
from typing import Protocol

__all__ = [
    "PROGRESS_LINE_INTERVAL_S",
    "Heartbeat",
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


class Heartbeat:
    """Guarantees a line at least every ``interval`` s while a long step runs unattended.

    Wraps a :data:`LogFunction`: lines written through :meth:`write` (progress lines,
    stage logs) reset the timer; when ``interval`` seconds pass without one -- checks,
    counting passes, a long single step -- a background thread writes
    ``description: still working, N s elapsed (last: ...)``. Use as a context manager;
    the thread stops on exit.

    Parameters
    ----------
    description : str
        What runs (the command name), first word of every heartbeat line.
    write : LogFunction
        Where lines go (stderr in the CLI).
    interval : float or None
        Seconds without a line before a heartbeat (None:
        :data:`PROGRESS_LINE_INTERVAL_S`).
    clock : callable
        Monotonic seconds; replaceable by a fake clock in tests.
    poll : float or None
        Seconds between the thread's looks at the clock (default ``interval / 10``).
    """

    def __init__(
        self,
        description: str,
        write: LogFunction,
        *,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        poll: float | None = None,
    ) -> None:
        if interval is None:
            interval = PROGRESS_LINE_INTERVAL_S
        self.description, self._write, self.interval, self.clock = (
            description,
            write,
            interval,
            clock,
        )
        self.poll = interval / 10 if poll is None else poll
        self.start = self.last = clock()
        self.last_line = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def write(self, line: str) -> None:
        """Write ``line`` and reset the timer (a :data:`LogFunction`)."""
        with self._lock:
            self.last, self.last_line = self.clock(), line
            self._write(line)

    def touch(self, line: str = "") -> None:
        """Reset the timer: ``line`` was written elsewhere (a progress bar, a log)."""
        with self._lock:
            self.last = self.clock()
            if line.strip():
                self.last_line = line.strip()

    def beat(self) -> bool:
        """Write a heartbeat line if ``interval`` s passed since the last line; whether it did."""
        with self._lock:
            now = self.clock()
            if now - self.last < self.interval:
                return False
            line = f"{self.description}: still working, {now - self.start:.0f} s elapsed"
            if self.last_line:
                line += f" (last: {self.last_line})"
            self.last = now
            self._write(line)
            return True

    def _loop(self) -> None:
        while not self._stop.wait(self.poll):
            self.beat()

    def __enter__(self) -> Heartbeat:
        self._thread = threading.Thread(target=self._loop, name="rekindle-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
