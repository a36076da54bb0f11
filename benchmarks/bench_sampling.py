"""Throughput of ORACLE sampling + exact labelling on this machine, against its bound.

Run:  .venv/bin/python benchmarks/bench_sampling.py [--sizes 20000 100000] [--jobs N]
          [--repeats 3]

Prints a table: for each n (E. coli, fdp1), models/s of sampling + labelling in memory
(``sample_parameters``) and to an HDF5 dataset (``sample_dataset``), each beside the
*eigenvalue-only bound* measured in the same run — LAPACK ``geev`` alone on
already-built reduced Jacobians of as many models, in chunks of 1 000 mapped over the
same ``--jobs`` threads — and the ratio of the two (issue 17 asks ≥ 85 %). Repeats are
interleaved (bound, memory, file) and the medians reported, as the machine may be
shared. A second table gives the time per model of each stage on one thread (V_max and
elasticities fused, Jacobian assembly, eigenvalues), CPU and wall time, and the share
of the eigenvalues in the CPU time (the single-thread ratio to the bound, the figure to
trust on shared cores), and the peak resident memory.
"""

from __future__ import annotations

import argparse
import resource
import tempfile
import time
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from rekindle.data import load_model, load_physiology
from rekindle.integrate import single_threaded_blas
from rekindle.kinetics import KineticSystem, max_real_eigenvalues
from rekindle.kinetics.stability import EIGENVALUE_BLOCK
from rekindle.sampling import (
    km_from_saturation,
    km_reference_concentrations,
    sample_dataset,
    sample_parameters,
)
from rekindle.scale import default_n_jobs, map_ordered

BOUND_CHUNK = 1000


def stage_times(n: int = 1000, repeats: int = 5) -> dict[str, tuple[float, float]]:
    """Seconds per model of each stage, one thread, a chunk of ``n`` as sampling draws
    it: ``(CPU time, wall time)``, medians of ``repeats``. The Jacobians are assembled
    and their eigenvalues computed block by block, as :func:`~rekindle.kinetics.
    labelling.eigenvalues_of_entries` does; CPU time is the figure to compare on a
    machine shared with other work."""
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    system = KineticSystem(model)
    x_km = km_reference_concentrations(model, phys)
    assembly = system.elasticities
    names = (
        "K_M draw",
        "V_max + elasticities (analytic, fused)",
        "reduced Jacobian assembly (sparse)",
        "eigenvalues (44x44, LAPACK geev)",
    )
    cpu: dict[str, list[float]] = {k: [] for k in names}
    wall: dict[str, list[float]] = {k: [] for k in names}
    clocks = (time.thread_time, time.perf_counter)

    def timed(name, f, *args):
        t = [c() for c in clocks]
        out = f(*args)
        cpu[name].append(time.thread_time() - t[0])
        wall[name].append(time.perf_counter() - t[1])
        return out

    def draw(rng):
        return km_from_saturation(rng.uniform(size=(n, x_km.size)), x_km)

    def eigenvalues(blocks):
        return [max_real_eigenvalues(j) for j in blocks]

    def assemble(entries):
        return [
            assembly.reduced_jacobian(entries[i : i + EIGENVALUE_BLOCK])
            for i in range(0, n, EIGENVALUE_BLOCK)
        ]

    with single_threaded_blas:
        for r in range(repeats + 1):
            rng = np.random.default_rng(r)
            km = timed(names[0], draw, rng)
            _, entries = timed(names[1], system.complete_parameters_and_elasticities, km, phys)
            blocks = timed(names[2], assemble, entries)
            timed(names[3], eigenvalues, blocks)
            if r == 0:  # warm-up (first touch of the buffers)
                for k in names:
                    cpu[k].clear()
                    wall[k].clear()
    return {k: (float(np.median(cpu[k])) / n, float(np.median(wall[k])) / n) for k in names}


def jacobian_chunks(n: int, seed: int = 0) -> list[np.ndarray]:
    """Reduced Jacobians of ``n`` ORACLE models in chunks of :data:`BOUND_CHUNK`."""
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    system = KineticSystem(model)
    x_km = km_reference_concentrations(model, phys)
    rng = np.random.default_rng(seed)
    out = []
    for i in range(0, n, BOUND_CHUNK):
        sigma = rng.uniform(size=(min(BOUND_CHUNK, n - i), x_km.size))
        _, entries = system.complete_parameters_and_elasticities(
            km_from_saturation(sigma, x_km), phys
        )
        out.append(system.elasticities.reduced_jacobian(entries))
    return out


def _eig_only(jac: np.ndarray) -> np.ndarray:
    # max_real_eigenvalues computes geev in blocks of EIGENVALUE_BLOCK, as labelling does
    with single_threaded_blas:
        return max_real_eigenvalues(jac)


def bound_rate(chunks: list[np.ndarray], jobs: int) -> float:
    """Models/s of ``geev`` alone over ``chunks`` on ``jobs`` threads."""
    n = sum(c.shape[0] for c in chunks)
    t = time.perf_counter()
    for _ in map_ordered(_eig_only, chunks, n_jobs=jobs):
        pass
    return n / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[20_000, 100_000])
    ap.add_argument("--jobs", type=int, default=default_n_jobs())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument(
        "--bound-models", type=int, default=8000, help="models in the eigenvalue-only timing"
    )
    args = ap.parse_args()
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    console = Console(width=160)
    chunks = jacobian_chunks(args.bound_models, seed=12345)
    table = Table(
        title=(
            f"ORACLE sampling + labelling, E. coli fdp1, {args.jobs} thread(s), "
            f"median of {args.repeats} (bound: geev alone, same run)"
        )
    )
    for col in (
        "n models",
        "bound models/s",
        "in memory models/s",
        "ratio",
        "µs/model",
        "to HDF5 models/s",
        "ratio",
        "incidence",
    ):
        table.add_column(col, justify="right")
    import h5py

    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            bound, mem, disk = [], [], []
            for r in range(args.repeats):
                bound.append(bound_rate(chunks, args.jobs))
                t = time.perf_counter()
                _, _, rel = sample_parameters(model, phys, n, seed=r, n_jobs=args.jobs)
                mem.append(n / (time.perf_counter() - t))
                del rel
                path = Path(tmp) / f"d{n}_{r}.h5"
                t = time.perf_counter()
                sample_dataset(model, phys, n, path, seed=r, n_jobs=args.jobs)
                disk.append(n / (time.perf_counter() - t))
                with h5py.File(path) as f:
                    inc = float(np.mean(f["relevant"][()]))
                path.unlink()
            b, m, d = (float(np.median(v)) for v in (bound, mem, disk))
            table.add_row(
                f"{n:,}",
                f"{b:,.0f}",
                f"{m:,.0f}",
                f"{m / b:.0%}",
                f"{1e6 / m:.0f}",
                f"{d:,.0f}",
                f"{d / b:.0%}",
                f"{inc:.4f}",
            )
    console.print(table)
    st = stage_times()
    t2 = Table(title="time per model and stage (one thread, chunks of 1000, median of 5)")
    t2.add_column("stage")
    t2.add_column("CPU µs/model", justify="right")
    t2.add_column("wall µs/model", justify="right")
    for k, (c, w) in st.items():
        t2.add_row(k, f"{1e6 * c:.1f}", f"{1e6 * w:.1f}")
    tc, tw = (sum(v[i] for v in st.values()) for i in (0, 1))
    t2.add_row("total", f"{1e6 * tc:.1f}", f"{1e6 * tw:.1f}")
    eig = st["eigenvalues (44x44, LAPACK geev)"][0]
    t2.add_row("eigenvalues / total (CPU)", f"{eig / tc:.0%}", "")
    console.print(t2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"peak resident memory: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
