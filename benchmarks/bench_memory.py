"""Peak memory (RSS) of the main job, stage by stage.

Run:  .venv/bin/python benchmarks/bench_memory.py --output /tmp/memrun [--profile default]
      [--interval 0.05] [--n-sets N]

Runs :func:`rekindle.pipeline.run_pipeline` (what ``make run`` runs: ``rekindle run``) in
this process while a thread samples the resident set size (psutil) every ``--interval``
seconds, and prints per stage (the pipeline's own timed stages, and the work between them)
its wall time and the highest RSS sampled in it, then the process's peak RSS as the kernel
counts it (``ru_maxrss``, which also sees peaks shorter than the sampling interval). A
stage whose output exists in ``--output`` is skipped by the pipeline: use a fresh folder
to measure every stage. Figures are the machine's (contended or not): state which.
"""

from __future__ import annotations

import argparse
import resource
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import psutil
from rich.console import Console
from rich.table import Table

from rekindle import pipeline
from rekindle.pipeline import RunConfig, run_pipeline

GB = 1024**3


class RssSampler(threading.Thread):
    """Samples this process's RSS (bytes) every ``interval`` seconds into ``samples``."""

    def __init__(self, interval: float) -> None:
        super().__init__(daemon=True)
        self.interval = interval
        self.samples: list[tuple[float, int]] = []
        self._stop_event = threading.Event()
        self._proc = psutil.Process()

    def run(self) -> None:
        while not self._stop_event.is_set():
            self.samples.append((time.perf_counter(), self._proc.memory_info().rss))
            self._stop_event.wait(self.interval)

    def stop(self) -> None:
        self._stop_event.set()
        self.join()

    def peak(self, start: float, stop: float) -> int:
        """Highest RSS sampled in ``[start, stop]`` (0 if none)."""
        return max((r for t, r in self.samples if start <= t <= stop), default=0)


def _recording_clock(spans: list[tuple[str, float, float]]) -> type:
    """A subclass of the pipeline's stage clock that also records each stage's span."""

    class RecordingClock(pipeline._Clock):
        def __call__(self, name: str) -> Any:
            inner = super().__call__(name)

            @contextmanager
            def timed():
                t = time.perf_counter()
                with inner:
                    yield
                spans.append((name, t, time.perf_counter()))

            return timed()

    return RecordingClock


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--output", required=True, help="run folder (fresh: every stage runs)")
    ap.add_argument("--profile", default="default")
    ap.add_argument("--n-sets", type=int, default=None, help="override the profile")
    ap.add_argument("--interval", type=float, default=0.05, help="RSS sampling period, s")
    args = ap.parse_args()

    cfg = RunConfig.from_profile(args.profile, n_sets=args.n_sets)
    spans: list[tuple[str, float, float]] = []
    pipeline._Clock = _recording_clock(spans)  # the bench's own instrumentation
    sampler = RssSampler(args.interval)
    t0 = time.perf_counter()
    sampler.start()
    try:
        run_pipeline(Path(args.output), cfg, log=lambda msg: print(msg, flush=True))
    finally:
        t1 = time.perf_counter()
        sampler.stop()
    rows: list[tuple[str, float, float]] = []
    last = t0
    for name, a, b in sorted(spans, key=lambda s: s[1]):
        if a - last > 0.5:
            rows.append(("(between stages)", a - last, sampler.peak(last, a) / GB))
        rows.append((name, b - a, sampler.peak(a, b) / GB))
        last = b
    rows.append(("(after the last stage)", t1 - last, sampler.peak(last, t1) / GB))
    table = Table(title=f"rekindle run --profile {args.profile}: peak RSS per stage")
    for col in ("stage", "wall s", "peak RSS GB (sampled)"):
        table.add_column(col, justify="left" if col == "stage" else "right")
    for name, secs, peak in rows:
        table.add_row(name, f"{secs:.1f}", f"{peak:.2f}")
    table.add_row("whole run", f"{t1 - t0:.1f}", f"{sampler.peak(t0, t1) / GB:.2f}")
    console = Console()
    console.print(table)
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # kB on Linux
    console.print(f"peak RSS of the process (ru_maxrss): {maxrss / GB:.2f} GB")


if __name__ == "__main__":
    main()
