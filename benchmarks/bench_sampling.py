"""Throughput of ORACLE sampling + exact labelling on this machine.

Run:  .venv/bin/python benchmarks/bench_sampling.py [--sizes 10000 100000] [--jobs N]

Prints a table: models/s of sampling + labelling for each n (E. coli, fdp1), the time per
model of each stage (V_max back-calculation, rate derivatives, Jacobian assembly,
eigenvalues) on one core, and the peak resident memory.
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
from rekindle.kinetics import KineticSystem, max_real_eigenvalues
from rekindle.sampling import km_from_saturation, km_reference_concentrations, sample_dataset
from rekindle.scale import default_n_jobs


def stage_times(n: int = 2000) -> dict[str, float]:
    """Seconds per model of each stage, single thread, chunk of ``n``."""
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    system = KineticSystem(model)
    x_km = km_reference_concentrations(model, phys)
    sigma = np.random.default_rng(0).uniform(size=(n, x_km.size))
    km = km_from_saturation(sigma, x_km)
    x = system.steady_state_concentrations(phys)
    out = {}
    t = time.perf_counter()
    p = system.complete_parameters(km, phys)
    out["V_max back-calculation"] = time.perf_counter() - t
    t = time.perf_counter()
    e = system.rate_derivatives(x, p)
    out["rate derivatives (complex step)"] = time.perf_counter() - t
    t = time.perf_counter()
    j = system.reduced_stoichiometric_matrix @ e @ system.conservation.link_matrix
    out["reduced Jacobian assembly"] = time.perf_counter() - t
    t = time.perf_counter()
    max_real_eigenvalues(j)
    out["eigenvalues (44x44, LAPACK geev)"] = time.perf_counter() - t
    return {k: v / n for k, v in out.items()}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--jobs", type=int, default=default_n_jobs())
    args = ap.parse_args()
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    console = Console()
    table = Table(title=f"ORACLE sampling + labelling, E. coli fdp1, {args.jobs} thread(s)")
    for col in ("n models", "seconds", "models/s", "incidence"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for n in args.sizes:
            t = time.perf_counter()
            path = sample_dataset(model, phys, n, Path(tmp) / f"d{n}.h5", seed=0, n_jobs=args.jobs)
            dt = time.perf_counter() - t
            import h5py

            with h5py.File(path) as f:
                inc = float(np.mean(f["relevant"][()]))
            table.add_row(f"{n:,}", f"{dt:.1f}", f"{n / dt:,.0f}", f"{inc:.4f}")
    console.print(table)
    st = stage_times()
    t2 = Table(title="time per model and stage (one thread, chunk of 2000)")
    t2.add_column("stage")
    t2.add_column("µs/model", justify="right")
    for k, v in st.items():
        t2.add_row(k, f"{1e6 * v:.1f}")
    t2.add_row("total", f"{1e6 * sum(st.values()):.1f}")
    console.print(t2)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    console.print(f"peak resident memory: {peak:.0f} MiB")


if __name__ == "__main__":
    main()
