"""Sequential writes of one byte range of a file around the kernel's page cache.

Writing a file through the page cache costs the writing process a copy of every byte into
the cache and the kernel the work of writing the dirty pages back; for the 3.3 GB of
10⁶ generated models this was 3.9–7.2 CPU s of system time on a 2-core virtual machine,
against 0.11–0.15 s with ``O_DIRECT`` (and 0.3–0.5 s of user time for the copy into the
aligned buffer below): ``python benchmarks/bench_write.py`` (docs/science/memgen.md,
"Around the page cache").

``O_DIRECT`` (Linux) needs the buffer's address, the file offset and the length of every
write aligned to the device's logical block; :data:`ALIGNMENT` (4 096 bytes) covers every
common device. Where the platform has no ``O_DIRECT``, the file system refuses it (tmpfs
refuses the open, some others the first write) or the range does not start on an aligned
offset, the same writes go through the page cache instead: slower, the same bytes.
"""

from __future__ import annotations

import errno
import mmap
import os
from pathlib import Path

import numpy as np

__all__ = ["ALIGNMENT", "UnbufferedRange"]

ALIGNMENT = 4096
"""Bytes: the alignment of offsets, lengths and buffer addresses of the direct writes."""

_BUFFER_BYTES = 8 << 20
"""Bytes written per direct write (a multiple of :data:`ALIGNMENT`): 2 048 pages, enough to
keep one write's system-call and device latency small beside its transfer."""


class UnbufferedRange:
    """Write the bytes ``[offset, offset + size)`` of an existing file, in order.

    Bytes given to :meth:`write` are gathered in a page-aligned buffer and written in
    whole buffers with ``O_DIRECT``; :meth:`close` writes what is left (its last partial
    block through the page cache). Nothing outside the range is written.

    Parameters
    ----------
    path
        An existing file (opened here for writing, not truncated).
    offset, size
        The byte range to fill, in bytes.
    direct
        ``False`` writes through the page cache from the start (the fallback's path).

    Attributes
    ----------
    direct : bool
        Whether the writes so far bypassed the page cache.
    """

    def __init__(self, path: str | Path, offset: int, size: int, *, direct: bool = True) -> None:
        self.path = Path(path)
        self.offset, self.size = int(offset), int(size)
        self._written = 0  # bytes of the range on disk
        self._buffer = mmap.mmap(-1, _BUFFER_BYTES)  # page-aligned
        self._view = np.frombuffer(self._buffer, dtype=np.uint8)
        self._filled = 0  # bytes waiting in the buffer
        self._fd = os.open(self.path, os.O_WRONLY)
        self._direct_fd = -1
        self.direct = False
        o_direct = getattr(os, "O_DIRECT", 0)
        if direct and o_direct and self.offset % ALIGNMENT == 0:
            try:
                self._direct_fd = os.open(self.path, os.O_WRONLY | o_direct)
                self.direct = True
            except OSError as exc:
                if exc.errno != errno.EINVAL:  # EINVAL: the file system refuses O_DIRECT
                    self._close_fds()
                    raise

    def write(self, data: np.ndarray) -> None:
        """Append the bytes of ``data`` (any C-contiguous array) to the range."""
        raw = np.ascontiguousarray(data).reshape(-1).view(np.uint8)
        left = self.size - self._written - self._filled
        if raw.size > left:
            raise ValueError(f"{raw.size} bytes past the range's end ({left} left)")
        at = 0
        while at < raw.size:
            take = min(raw.size - at, _BUFFER_BYTES - self._filled)
            self._view[self._filled : self._filled + take] = raw[at : at + take]
            self._filled += take
            at += take
            if self._filled == _BUFFER_BYTES:
                self._flush(_BUFFER_BYTES)

    def _flush(self, n: int) -> None:
        """Write the buffer's first ``n`` bytes (a multiple of :data:`ALIGNMENT` when
        direct) and keep the rest at the buffer's start."""
        position = self.offset + self._written
        if self.direct:
            try:
                _write_all(self._direct_fd, memoryview(self._buffer)[:n], position)
            except OSError as exc:
                if exc.errno != errno.EINVAL:
                    raise
                os.close(self._direct_fd)  # refused at the first write: the page cache
                self._direct_fd = -1
                self.direct = False
        if not self.direct:
            _write_all(self._fd, memoryview(self._buffer)[:n], position)
        self._written += n
        rest = self._filled - n
        if rest:
            self._view[:rest] = self._view[n : self._filled]
        self._filled = rest

    def close(self) -> None:
        """Write the bytes still buffered; the range must then be complete."""
        if self._written + self._filled != self.size:
            raise ValueError(f"{self._written + self._filled} of {self.size} bytes given")
        whole = self._filled // ALIGNMENT * ALIGNMENT if self.direct else self._filled
        if whole:
            self._flush(whole)
        if self._filled:  # the last partial block, through the page cache
            tail = memoryview(self._buffer)[: self._filled]
            _write_all(self._fd, tail, self.offset + self._written)
            del tail
            self._written += self._filled
            self._filled = 0
        self._close_fds()

    def abort(self) -> None:
        """Stop; the file keeps whatever was written."""
        self._close_fds()

    def _close_fds(self) -> None:
        for fd in (self._fd, self._direct_fd):
            if fd >= 0:
                os.close(fd)
        self._fd = self._direct_fd = -1
        if not self._buffer.closed:
            del self._view
            self._buffer.close()


def _write_all(fd: int, data: memoryview, position: int) -> None:
    """``pwrite`` until every byte is written (a write may be short)."""
    done = 0
    while done < len(data):
        done += os.pwrite(fd, data[done:], position + done)
