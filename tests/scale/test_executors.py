"""Batch stages on executors: same results on threads, processes and a Dask cluster."""

from __future__ import annotations

import multiprocessing
import threading
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

import numpy as np
import pytest
from typer.testing import CliRunner

from rekindle.analysis.perturbation import PerturbationSettings, perturbation_analysis
from rekindle.cli import app
from rekindle.io.dataset import read_dataset
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.labelling import Labeller
from rekindle.sampling import sample_dataset, sample_parameters
from rekindle.scale import map_ordered

runner = CliRunner()


class _CountingExecutor(ThreadPoolExecutor):
    """A real thread pool that records how many submitted tasks were not yet collected."""

    def __init__(self, n: int) -> None:
        super().__init__(n)
        self.outstanding = 0
        self.peak = 0
        self._count_lock = threading.Lock()

    def submit(self, fn, /, *args, **kwargs):
        with self._count_lock:
            self.outstanding += 1
            self.peak = max(self.peak, self.outstanding)
        return super().submit(fn, *args, **kwargs)

    def collected(self) -> None:
        with self._count_lock:
            self.outstanding -= 1


def _slow_square(x: int) -> int:
    time.sleep(0.002 * (10 - x % 10))  # later items finish first
    return x * x


def test_map_ordered_keeps_order_and_bounds_pending_work() -> None:
    with _CountingExecutor(4) as ex:
        out = []
        for y in map_ordered(_slow_square, range(40), executor=ex, max_in_flight=5):
            ex.collected()
            out.append(y)
        with pytest.raises(ValueError, match="max_in_flight"):
            list(map_ordered(_slow_square, range(3), executor=ex, max_in_flight=0))
    assert out == [x * x for x in range(40)]
    assert ex.peak == 5
    # local threads and the calling thread give the same
    assert list(map_ordered(_slow_square, range(12), n_jobs=3)) == [x * x for x in range(12)]
    assert list(map_ordered(_slow_square, range(12), n_jobs=1)) == [x * x for x in range(12)]


def _fails_on_three(x: int) -> int:
    if x == 3:
        raise RuntimeError("chunk 3 failed")
    return x


def test_map_ordered_propagates_a_chunk_error() -> None:
    with ThreadPoolExecutor(2) as ex, pytest.raises(RuntimeError, match="chunk 3"):
        list(map_ordered(_fails_on_three, range(10), executor=ex))


@pytest.fixture(scope="module")
def processes():
    # spawn: a clean interpreter per worker, as on a remote machine (pickling is exercised)
    with ProcessPoolExecutor(2, mp_context=multiprocessing.get_context("spawn")) as ex:
        yield ex


def test_sampling_on_processes_equals_local_threads(toy, toy_ref, processes, tmp_path) -> None:
    local = sample_parameters(toy, toy_ref, 330, seed=9, chunk_size=50, n_jobs=2)
    remote = sample_parameters(toy, toy_ref, 330, seed=9, chunk_size=50, executor=processes)
    for a, b in zip(local, remote, strict=True):
        np.testing.assert_array_equal(a, b)
    f1 = sample_dataset(toy, toy_ref, 330, tmp_path / "a.h5", 9, chunk_size=50, n_jobs=1)
    f2 = sample_dataset(toy, toy_ref, 330, tmp_path / "b.h5", 9, chunk_size=50, executor=processes)
    a, b = read_dataset(f1), read_dataset(f2)
    np.testing.assert_array_equal(a.parameters, b.parameters)
    np.testing.assert_array_equal(a.max_real_eigenvalue, b.max_real_eigenvalue)
    np.testing.assert_array_equal(a.relevant, b.relevant)


def test_labelling_and_perturbation_on_processes(ecoli, fdp1, toy, toy_ref, processes) -> None:
    p, lam, _ = sample_parameters(ecoli, fdp1, 120, seed=3, chunk_size=40)
    labeller = Labeller(KineticSystem(ecoli), fdp1, chunk_size=25, executor=processes)
    np.testing.assert_array_equal(labeller.max_real_eigenvalues(p), lam)

    system = KineticSystem(toy)
    q, _, rel = sample_parameters(toy, toy_ref, 30, seed=1)
    st = PerturbationSettings(n_perturbations=3, protocol="fold", seed=5, store_models=2)
    seen: list[int] = []
    a = perturbation_analysis(system, toy_ref, q[rel][:7], st, n_jobs=2)
    b = perturbation_analysis(
        system, toy_ref, q[rel][:7], st, chunk_size=3, executor=processes, progress=seen.append
    )
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.returned, b.returned)
    np.testing.assert_allclose(a.relative_deviation, b.relative_deviation, rtol=1e-12)
    np.testing.assert_allclose(a.trajectories, b.trajectories, rtol=1e-10, atol=1e-14)
    assert seen[0] == 0 and seen[-1] == 7 and seen == sorted(seen)


@pytest.fixture(scope="module")
def dask_cluster():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        yield cluster.scheduler_address


def test_cli_sample_and_label_on_a_dask_cluster(tmp_path, dask_cluster) -> None:
    common = ["--model", "toy", "--physiology", "ref", "--n", "500", "--seed", "4", "-q"]
    common += ["--chunk-size", "60"]
    res = runner.invoke(app, ["sample", *common, "-o", str(tmp_path / "local.h5")])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app, ["sample", *common, "-o", str(tmp_path / "dask.h5"), "--scheduler", dask_cluster]
    )
    assert res.exit_code == 0, res.output
    a, b = read_dataset(tmp_path / "local.h5"), read_dataset(tmp_path / "dask.h5")
    np.testing.assert_array_equal(a.parameters, b.parameters)
    np.testing.assert_array_equal(a.max_real_eigenvalue, b.max_real_eigenvalue)

    res = runner.invoke(app, ["export", str(tmp_path / "dask.h5"), "-o", str(tmp_path / "p.h5")])
    assert res.exit_code == 0, res.output
    lab = ["label", "--model", "toy", "--physiology", "ref", "--parameters", str(tmp_path / "p.h5")]
    res = runner.invoke(
        app, [*lab, "-o", str(tmp_path / "l.csv"), "--scheduler", dask_cluster, "-q"]
    )
    assert res.exit_code == 0, res.output
    rows = np.genfromtxt(tmp_path / "l.csv", delimiter=",", names=True)
    np.testing.assert_array_equal(rows["max_real_eigenvalue"], a.max_real_eigenvalue)


def test_cli_unreachable_scheduler_is_a_clear_error(tmp_path, monkeypatch) -> None:
    pytest.importorskip("distributed")
    import rekindle.cli._common

    monkeypatch.setattr(rekindle.cli._common, "SCHEDULER_CONNECT_TIMEOUT_S", 1.0)
    out = tmp_path / "d.h5"
    args = ["sample", "--model", "toy", "--physiology", "ref", "--n", "10", "-o", str(out)]
    res = runner.invoke(app, [*args, "-q", "--scheduler", "tcp://127.0.0.1:1"])
    assert res.exit_code == 2
    assert "tcp://127.0.0.1:1" in res.output
    assert not out.exists() and not list(tmp_path.iterdir())
