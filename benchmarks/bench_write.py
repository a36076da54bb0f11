"""Writing the rows of a generated file: through the page cache against around it.

Run:  .venv/bin/python benchmarks/bench_write.py [--rows 1000000] [--columns 411]
      [--block 16384] [--repeats 2] [--folder /tmp]

Writes ``rows × columns`` float64 (3.3 GB at the defaults), ``--block`` rows per call, with
:class:`rekindle.io._unbuffered.UnbufferedRange` into a fresh file in ``--folder``, then
fsyncs it: once with ``O_DIRECT`` (where the file system allows it) and once through the
page cache (``direct=False``), alternated ``--repeats`` times. Prints wall seconds and this
process's user and system CPU seconds for each run (``getrusage``). The kernel's writeback
threads are not counted in the system time; they compete for the same cores.
"""

from __future__ import annotations

import argparse
import os
import resource
import tempfile
import time

import numpy as np
from rich.console import Console
from rich.table import Table

from rekindle.io._unbuffered import UnbufferedRange


def _write(folder: str, rows: int, columns: int, block: int, direct: bool) -> dict[str, float]:
    data = np.random.default_rng(0).random((block, columns))
    fd, path = tempfile.mkstemp(dir=folder, suffix=".bench_write")
    os.close(fd)
    try:
        before = resource.getrusage(resource.RUSAGE_SELF)
        t0 = time.perf_counter()
        sink = UnbufferedRange(path, 0, rows * columns * 8, direct=direct)
        for a in range(0, rows, block):
            sink.write(data[: min(block, rows - a)])
        sink.close()
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)
        wall = time.perf_counter() - t0
        after = resource.getrusage(resource.RUSAGE_SELF)
        return {
            "direct": sink.direct,
            "wall": wall,
            "user": after.ru_utime - before.ru_utime,
            "sys": after.ru_stime - before.ru_stime,
        }
    finally:
        os.unlink(path)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--columns", type=int, default=411)
    ap.add_argument("--block", type=int, default=16_384)
    ap.add_argument("--repeats", type=int, default=2)
    ap.add_argument("--folder", default=tempfile.gettempdir())
    args = ap.parse_args()
    gb = args.rows * args.columns * 8 / 1e9
    table = Table(title=f"{args.rows} rows × {args.columns} float64 ({gb:.2f} GB), fsynced")
    for col in ("run", "asked", "written", "wall s", "user CPU s", "system CPU s"):
        table.add_column(col, justify="right")
    for i in range(args.repeats):
        for direct in (True, False):
            r = _write(args.folder, args.rows, args.columns, args.block, direct)
            table.add_row(
                str(i + 1),
                "O_DIRECT" if direct else "page cache",
                "O_DIRECT" if r["direct"] else "page cache",
                f"{r['wall']:.2f}",
                f"{r['user']:.2f}",
                f"{r['sys']:.2f}",
            )
    Console().print(table)


if __name__ == "__main__":
    main()
