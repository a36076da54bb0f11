"""Drawing complete models from a generator: the whole ``rekindle generate`` process, and
where its time goes.

Run:  .venv/bin/python benchmarks/bench_generate.py --generator runs/default/generator.pt
      [--n 1000000] [--repeats 1] [--output /tmp/G.h5] [--no-breakdown]

(1) Times ``rekindle generate --generator G --n N --class relevant --output OUT`` as a child
process (imports, loading, drawing, completion, writing, fsync and rename all included):
wall seconds, CPU seconds (user + system, from ``wait4``), complete models per second and the
child's peak RSS. (2) Unless ``--no-breakdown``, times each step of the guided flow's draw
in this process on blocks of the sampler's size and scales it to 10⁶ kept models at the
measured acceptance: CPU seconds per step (the machine's cores may be shared: CPU seconds are
the steadier figure, wall seconds the one a user waits). Also counts the guide's decisions
that differ from the float64 network's on the draws timed (0 expected).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table


def _whole_process(generator: str, n: int, output: Path) -> dict[str, float]:
    output.unlink(missing_ok=True)
    exe = Path(sys.executable).with_name("rekindle")
    cmd = [str(exe), "generate", "--generator", generator, "--n", str(n), "--class", "relevant"]
    cmd += ["--output", str(output), "--quiet"]
    t0 = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if status != 0:
        raise SystemExit(f"{' '.join(cmd)} failed ({status})")
    return {
        "wall": wall,
        "cpu": usage.ru_utime + usage.ru_stime,
        "rss_gb": usage.ru_maxrss / 1024**2,
        "size_gb": output.stat().st_size / 1024**3,
    }


def _cpu(work, repeats: int = 5) -> tuple[float, object]:
    work()
    c = time.process_time()
    for _ in range(repeats):
        out = work()
    return (time.process_time() - c) / repeats, out


def _breakdown(generator: str) -> tuple[list[tuple[str, float]], float, int, int]:
    """CPU seconds per step for 10⁶ kept models; acceptance; decisions checked; mismatches."""
    import numpy as np

    from rekindle.flow.sampler import BLOCK_ROWS, PAD, _bfloat16_rows, _gather_rows
    from rekindle.generation import COMPLETION_ROWS, labeller_for, load_generator
    from rekindle.io.dataset import DirectDatasetWriter

    flow = load_generator(generator)
    sampler = flow.sampler()
    screen = sampler.guide
    labeller = labeller_for(flow)
    gen = torch.Generator().manual_seed(0)
    b = BLOCK_ROWS
    t_randn, eps = _cpu(lambda: sampler.noise(b, gen))
    t_colour, g = _cpu(lambda: sampler.colour(eps.copy()))
    block = np.empty((sampler.d, b + PAD), np.float32)  # padded, as the sampler's
    t_table, _ = _cpu(lambda: sampler.table(g, shift=sampler.mean, out=block))
    y = torch.from_numpy(block)[:, :b].T
    u = torch.rand(b, generator=gen)
    thr = screen.thresholds(u, 1.0)
    t_rows, first = _cpu(lambda: sampler.first_pass_rows(block, b))
    unpadded = np.ascontiguousarray(block[:, :b])  # rows 64 KiB apart: one cache set
    t_unpadded, _ = _cpu(lambda: _bfloat16_rows(unpadded, b, np.empty((b, sampler.d), np.uint16)))
    # each logit alone, on draw-major input of its own precision
    bits = np.empty((b, sampler.d), np.uint16)
    _bfloat16_rows(block, b, bits)
    y16, y32 = torch.from_numpy(bits).view(torch.bfloat16), y.contiguous()
    with torch.inference_mode():
        t_bf16, _ = _cpu(lambda: screen._logit16(y16))
        t_fp32, _ = _cpu(lambda: screen._logit32(y32))
        t_keep, keep = _cpu(lambda: screen.keep(y, thr, 1.0, first=first))
        reference = screen.net64(y.double())[0] > thr
    mismatches = int((keep != reference).sum())
    acceptance = float(keep.float().mean())
    columns = np.flatnonzero(keep.numpy())
    rows = max(columns.size, 1)
    kept = np.empty((columns.size, sampler.d), np.float32)  # handed over in float32, as there
    t_select, _ = _cpu(lambda: _gather_rows(block, columns, kept))
    km_block = kept[:COMPLETION_ROWS]
    t_km, km = _cpu(lambda: flow.scaler.inverse_transform(km_block))
    t_complete, params = _cpu(
        lambda: labeller.system.complete_parameters(km, labeller.physiology)
    )
    # the writer of `generate` (rows written around the page cache), into a fresh file
    names = labeller.system.model.parameter_names
    blocks = 8  # _cpu writes 6 blocks
    path = Path("/tmp") / f"bench_generate_{os.getpid()}.h5"
    writer = DirectDatasetWriter(path, names, {"source": "benchmark"}, blocks * params.shape[0])
    lam, rel = np.full(params.shape[0], np.nan), np.ones(params.shape[0], dtype=bool)
    t_write, _ = _cpu(lambda: writer.append(params, lam, rel))
    writer.abort()
    per_draw = 1e6 / acceptance / b  # blocks of draws per 10⁶ kept
    per_kept = 1e6 / km.shape[0]  # completion blocks per 10⁶ kept
    steps = [
        ("normal draws (float32)", t_randn * per_draw),
        ("colouring L w (float32, BLAS strmm; the copy of w included)", t_colour * per_draw),
        ("marginals (score table, + μ)", t_table * per_draw),
        (f"draw-major {screen.first_pass} rows of the block (transpose)", t_rows * per_draw),
        ("  the bfloat16 transpose of an unpadded block (not summed)", t_unpadded * per_draw),
        ("guide: bfloat16 logit alone", t_bf16 * per_draw),
        ("guide: float32 logit alone", t_fp32 * per_draw),
        (f"guide: decisions ({screen.first_pass} first + rechecks)", t_keep * per_draw),
        ("kept rows (gathered, float32)", t_select * 1e6 / rows),
        ("K_M = ref (1 − y)/(1 + y) (float64)", t_km * per_kept),
        ("V_max back-calculation (completion)", t_complete * per_kept),
        ("HDF5 write (DirectDatasetWriter.append, float64)", t_write * per_kept),
    ]
    return steps, acceptance, b, mismatches


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--generator", required=True)
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--output", default="/tmp/bench_generate.h5")
    ap.add_argument("--no-breakdown", action="store_true")
    args = ap.parse_args()
    console = Console()
    out = Path(args.output)
    runs = [_whole_process(args.generator, args.n, out) for _ in range(args.repeats)]
    out.unlink(missing_ok=True)
    table = Table(title=f"rekindle generate --n {args.n} --class relevant (whole process)")
    for col in ("run", "wall s", "CPU s", "models/s (wall)", "peak RSS GB", "file GB"):
        table.add_column(col, justify="right")
    for i, r in enumerate(runs):
        table.add_row(
            str(i + 1),
            f"{r['wall']:.1f}",
            f"{r['cpu']:.1f}",
            f"{args.n / r['wall']:,.0f}",
            f"{r['rss_gb']:.2f}",
            f"{r['size_gb']:.2f}",
        )
    console.print(table)
    if args.no_breakdown:
        return
    steps, acceptance, b, mismatches = _breakdown(args.generator)
    table = Table(title=f"CPU seconds per 10⁶ kept models (acceptance {acceptance:.3f})")
    table.add_column("step")
    table.add_column("CPU s", justify="right")
    for name, secs in steps:
        table.add_row(name, f"{secs:.2f}")
    total = sum(s for n, s in steps if not n.endswith(("logit alone", "(not summed)")))
    table.add_row("sum (decisions counted once)", f"{total:.2f}")
    console.print(table)
    console.print(f"guide decisions ≠ float64 network's: {mismatches} of {b}")
    console.print(f"torch threads: {torch.get_num_threads()}, cores: {os.cpu_count()}")


if __name__ == "__main__":
    main()
