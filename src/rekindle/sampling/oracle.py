"""ORACLE-style Monte Carlo sampling of kinetic parameters.

Each K_M is drawn through the saturation of its enzyme site,
``σ = (x/K_M)/(1 + x/K_M) ~ U(0, 1)`` ⇒ ``K_M = x (1 − σ)/σ`` with ``x`` the reference
concentration of its metabolite (Miskovic & Hatzimanikatis, Trends Biotechnol. 28, 391
(2010); REKINDLE Methods). V_max is then back-calculated so that the reference state is
a steady state, and each set is labelled by the exact stability analysis.

:func:`sample_chunk` is a pure function of ``(seed, chunk index)``: chunk *i* draws from
``SeedSequence(seed, spawn_key=(i,))``, so a population is the same however its chunks
are scheduled: local threads, or any :class:`concurrent.futures.Executor` given as
``executor=`` (a process pool, a Dask cluster; see :mod:`rekindle.scale`).
"""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np

from rekindle.config import Settings, check_positive_int
from rekindle.io.dataset import DatasetWriter
from rekindle.io.model_bundle import bundle_from
from rekindle.kinetics.labelling import DEFAULT_CHUNK_SIZE, Labeller, label_km_chunk
from rekindle.kinetics.model import KineticModel
from rekindle.kinetics.physiology import Physiology
from rekindle.kinetics.stability import DEFAULT_THRESHOLD
from rekindle.kinetics.system import KineticSystem
from rekindle.progress import ProgressCallback
from rekindle.scale.executors import map_ordered

# σ is drawn from [σ_min, 1 − σ_min] instead of (0, 1): a draw of exactly 0 (K_M = ∞) is
# impossible to represent, and 1e-12 changes no statistic of a population.
SATURATION_FLOOR = 1e-12


def km_reference_concentrations(model: KineticModel, physiology: Physiology) -> np.ndarray:
    """Reference concentration (µM) of the metabolite of each K_M, shape ``(n_km,)``."""
    return physiology.concentration_vector(model.km_metabolites)


def km_from_saturation(saturation: np.ndarray, concentration: np.ndarray) -> np.ndarray:
    """``K_M = x (1 − σ)/σ`` (µM) from saturations ``σ`` ∈ (0, 1)."""
    return concentration * (1.0 - saturation) / saturation


def saturation_from_km(km: np.ndarray, concentration: np.ndarray) -> np.ndarray:
    """``σ = x/(x + K_M)``, the inverse of :func:`km_from_saturation`."""
    return concentration / (concentration + km)


@dataclass(frozen=True)
class ChunkResult:
    """One sampled and labelled chunk."""

    index: int
    parameters: np.ndarray
    max_real_eigenvalue: np.ndarray
    relevant: np.ndarray


@dataclass(frozen=True)
class SamplingSettings(Settings):
    """Settings recorded with a sampled dataset (``n`` sets, ``seed``, chunks, threshold)."""

    n: int
    seed: int
    chunk_size: int = DEFAULT_CHUNK_SIZE
    threshold: float = DEFAULT_THRESHOLD

    def validate(self) -> None:
        check_positive_int(self, "n", "seed", minimum=0)
        check_positive_int(self, "chunk_size")


def sample_chunk(labeller: Labeller, n: int, seed: int, chunk_index: int) -> ChunkResult:
    """Sample and label one chunk: a pure function of ``(seed, chunk_index)``.

    Parameters
    ----------
    labeller
        Holds the compiled model, physiology and threshold.
    n
        Models in this chunk.
    seed, chunk_index
        The chunk's random stream is ``SeedSequence(seed, spawn_key=(chunk_index,))``.
    """
    system, phys = labeller.system, labeller.physiology
    rng = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(chunk_index,)))
    x = km_reference_concentrations(system.model, phys)
    sigma = rng.uniform(SATURATION_FLOOR, 1.0 - SATURATION_FLOOR, size=(n, x.size))
    params, lam = label_km_chunk(system, phys, km_from_saturation(sigma, x))
    return ChunkResult(chunk_index, params, lam, labeller.relevant(lam))


def sample_parameters(
    model: KineticModel,
    physiology: Physiology,
    n: int,
    seed: int = 0,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    n_jobs: int | None = None,
    executor: Executor | None = None,
    lower: float = -np.inf,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Sample and label ``n`` models in memory (relevant: ``lower < max Re(λ) < threshold``,
    h⁻¹; ``lower`` is a class's lower end, :class:`~rekindle.kinetics.labelling.Labeller`).

    The population depends on ``seed`` and ``chunk_size`` only, not on ``n_jobs`` or the
    ``executor`` (a :class:`concurrent.futures.Executor` that maps the chunks instead of
    local threads).

    Returns
    -------
    parameters, max_real_eigenvalue, relevant
        Shapes ``(n, n_parameters)``, ``(n,)``, ``(n,)``.
    """
    results = list(
        _iter_chunks(model, physiology, n, seed, threshold, chunk_size, n_jobs, 0, executor, lower)
    )
    if not results:
        p = model.n_parameters
        return np.empty((0, p)), np.empty(0), np.empty(0, bool)
    return (
        np.concatenate([r.parameters for r in results]),
        np.concatenate([r.max_real_eigenvalue for r in results]),
        np.concatenate([r.relevant for r in results]),
    )


def _sample_indexed(
    labeller: Labeller, n: int, chunk_size: int, seed: int, chunk_index: int
) -> ChunkResult:
    size = min(chunk_size, n - chunk_index * chunk_size)
    return sample_chunk(labeller, size, seed, chunk_index)


def _iter_chunks(
    model: KineticModel,
    physiology: Physiology,
    n: int,
    seed: int,
    threshold: float,
    chunk_size: int,
    n_jobs: int | None,
    start: int,
    executor: Executor | None = None,
    lower: float = -np.inf,
) -> Iterator[ChunkResult]:
    if n < 0:
        raise ValueError(f"n must be ≥ 0, got {n}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be ≥ 1, got {chunk_size}")
    # each chunk runs single-threaded; parallelism is across chunks
    labeller = Labeller(
        KineticSystem(model), physiology, threshold, chunk_size, n_jobs=1, lower=lower
    )
    n_chunks = -(-n // chunk_size)
    work = partial(_sample_indexed, labeller, n, chunk_size, seed)
    return map_ordered(work, range(start, n_chunks), n_jobs=n_jobs, executor=executor)


def sample_dataset(
    model: KineticModel,
    physiology: Physiology,
    n: int,
    output: str | Path,
    seed: int = 0,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    n_jobs: int | None = None,
    resume: bool = False,
    force: bool = False,
    progress: ProgressCallback | None = None,
    executor: Executor | None = None,
) -> Path:
    """Sample, label and stream ``n`` models to a dataset file with bounded memory.

    Parameters
    ----------
    output
        Dataset path (``.h5``); chunks are committed to the journal ``<output>.partial/``
        and assembled into ``output`` when all are done (:class:`DatasetWriter`).
    resume
        Continue an interrupted run of the same settings from its journal (verified);
        the file is then identical to that of an uninterrupted run.
    force
        Discard the journal of an interrupted run (refused without ``resume``/``force``).
    progress
        Called with the number of models completed after each chunk.
    executor
        Map the chunks with this :class:`concurrent.futures.Executor` (a process pool,
        a Dask cluster: :func:`rekindle.scale.dask_executor`) instead of ``n_jobs``
        local threads. The file is the same either way; chunks are written in order.

    Returns
    -------
    pathlib.Path
        The dataset path.
    """
    settings = SamplingSettings(n, seed, chunk_size, threshold)
    meta = {
        **bundle_from(model, physiology).metadata(),
        "threshold": threshold,
        "seed": seed,
        "source": "oracle",
        "settings": settings.to_dict(),
    }
    writer = DatasetWriter(output, model.parameter_names, meta, resume=resume, force=force)
    try:
        done = writer.n_models
        if progress:
            progress(done)
        for res in _iter_chunks(
            model, physiology, n, seed, threshold, chunk_size, n_jobs, writer.chunks_done, executor
        ):
            writer.append(res.parameters, res.max_real_eigenvalue, res.relevant)
            done += res.parameters.shape[0]
            if progress:
                progress(done)
    except BaseException:
        writer.abort()
        raise
    return writer.close()
