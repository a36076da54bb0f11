"""Tutorial: scaling out with Dask — the same file, bit for bit, on a cluster.

Every batch stage (ORACLE sampling, labelling, perturbation analysis, generation) maps
pure functions over chunks with :func:`rekindle.scale.map_ordered`, on local threads or
any ``concurrent.futures.Executor``. This script starts a Dask ``LocalCluster``, samples
on it and checks that the dataset equals the one sampled on threads.

    python docs/tutorials/scale_with_dask.py

Needs ``pip install "rekindle[distributed]"``. ``REKINDLE_TUTORIAL_N``: ORACLE sets
(default 2000). On a real cluster (``dask scheduler`` + ``dask worker tcp://HEAD:8786``):
``rekindle sample --n 1000000 --output oracle.h5 --scheduler tcp://HEAD:8786``.
"""

import os
import tempfile
from pathlib import Path

import numpy as np
from distributed import LocalCluster

from rekindle.data import load_model, load_physiology
from rekindle.io.dataset import read_dataset
from rekindle.sampling import sample_dataset
from rekindle.scale import dask_executor

N = int(os.environ.get("REKINDLE_TUTORIAL_N", "2000"))
OUT = Path(os.environ.get("REKINDLE_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="rekindle-"))

if __name__ == "__main__":  # the workers are processes: guard the script's body
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")

    # 1. On local threads (the default).
    local = sample_dataset(model, phys, N, OUT / "threads.h5", seed=0, chunk_size=500)

    # 2. On a Dask cluster: here two local worker processes; give dask_executor the
    #    scheduler address of any running cluster instead.
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, dashboard_address=None) as cluster,
        dask_executor(cluster.scheduler_address) as executor,
    ):
        remote = sample_dataset(
            model, phys, N, OUT / "dask.h5", seed=0, chunk_size=500, executor=executor
        )

    a, b = read_dataset(local), read_dataset(remote)
    same = np.array_equal(a.parameters, b.parameters) and np.array_equal(
        a.max_real_eigenvalue, b.max_real_eigenvalue
    )
    print(f"{N} sets on threads and on Dask; identical: {same}; incidence {b.incidence:.3f}")
