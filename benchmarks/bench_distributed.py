"""ORACLE sampling + labelling on local threads, a process pool and a Dask cluster.

Run:  .venv/bin/python benchmarks/bench_distributed.py [--sizes 10000 100000] [--workers 2]
      [--scheduler tcp://host:8786]

Without ``--scheduler`` a Dask ``LocalCluster`` of ``--workers`` single-threaded worker
processes stands in for a cluster, so the table shows what the distributed path costs
against threads on one machine; with ``--scheduler`` the Dask rows run on that cluster.
Every engine must write the same dataset (checked: identical parameters and eigenvalues).
"""

from __future__ import annotations

import argparse
import multiprocessing
import tempfile
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
from rich.console import Console
from rich.table import Table

from rekindle.data import load_model, load_physiology
from rekindle.io.dataset import read_dataset
from rekindle.sampling import sample_dataset
from rekindle.scale import dask_executor


@contextmanager
def _threads(_workers: int) -> Iterator[None]:
    yield None


@contextmanager
def _processes(workers: int) -> Iterator[Executor]:
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=ctx) as ex:
        ex.submit(int).result()  # start the workers before timing
        yield ex


def _dask(address: str | None) -> Callable[[int], object]:
    @contextmanager
    def engine(workers: int) -> Iterator[Executor]:
        if address is not None:
            with dask_executor(address) as ex:
                yield ex
            return
        from distributed import LocalCluster

        with (
            LocalCluster(
                n_workers=workers, threads_per_worker=1, processes=True, dashboard_address=None
            ) as cluster,
            dask_executor(cluster.scheduler_address) as ex,
        ):
            yield ex

    return engine


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    ap.add_argument("--workers", type=int, default=2, help="threads / processes / Dask workers")
    ap.add_argument("--scheduler", default=None, help="Dask scheduler address (default: local)")
    ap.add_argument("--chunk-size", type=int, default=1000)
    args = ap.parse_args()
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    dask_name = f"Dask {args.scheduler}" if args.scheduler else "Dask LocalCluster"
    engines = {
        "threads": _threads,
        "process pool (spawn)": _processes,
        dask_name: _dask(args.scheduler),
    }
    table = Table(
        title=f"ORACLE sampling + labelling, E. coli fdp1, {args.workers} workers, "
        f"chunks of {args.chunk_size}"
    )
    for col in ("engine", "n models", "seconds", "models/s", "same file as threads"):
        table.add_column(col, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        for name, engine in engines.items():
            with engine(args.workers) as ex:
                for n in args.sizes:
                    path = Path(tmp) / f"{name.split()[0]}_{n}.h5"
                    t = time.perf_counter()
                    sample_dataset(
                        model,
                        phys,
                        n,
                        path,
                        seed=0,
                        chunk_size=args.chunk_size,
                        n_jobs=args.workers,
                        executor=ex,
                    )
                    dt = time.perf_counter() - t
                    ref = read_dataset(Path(tmp) / f"threads_{n}.h5")
                    got = read_dataset(path)
                    same = np.array_equal(ref.parameters, got.parameters) and np.array_equal(
                        ref.max_real_eigenvalue, got.max_real_eigenvalue, equal_nan=True
                    )
                    table.add_row(name, f"{n:,}", f"{dt:.1f}", f"{n / dt:,.0f}", str(same))
    Console().print(table)


if __name__ == "__main__":
    main()
