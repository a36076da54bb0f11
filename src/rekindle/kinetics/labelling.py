"""Exact stability labelling of parameter populations, chunked and threaded.

The unit of work is :func:`label_chunk` (parameter sets) or :func:`label_km_chunk` (K_M
sets, V_max back-calculated in the same pass), pure functions of a chunk; :class:`Labeller`
maps them over chunks with a thread pool (LAPACK and numpy release the GIL, so threads
scale on the cores of one machine) or, given an ``executor``, over the processes or
machines of a distributed engine (:mod:`rekindle.scale`).

Within a chunk the analytic elasticities of all models are computed at once, then the
reduced Jacobians are assembled and their eigenvalues computed block by block
(:data:`~rekindle.kinetics.stability.EIGENVALUE_BLOCK` models), so that each block's
Jacobians are still in cache when LAPACK reads them.
"""

from __future__ import annotations

import math
from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import numpy as np

from rekindle.kinetics.physiology import Physiology
from rekindle.kinetics.stability import (
    DEFAULT_THRESHOLD,
    EIGENVALUE_BLOCK,
    max_real_eigenvalues,
    relevance_labels,
)
from rekindle.kinetics.system import KineticSystem
from rekindle.scale.executors import default_n_jobs, map_ordered

DEFAULT_CHUNK_SIZE = 1000
"""Models per chunk: large enough to amortise Python overhead, small enough for cache."""
MIN_SPLIT_CHUNK = 100
"""Smallest chunk a batch of fewer than ``n_jobs × chunk_size`` models is split into so
that every local thread labels a share (the class sampler labels ~10³ proposals at a
time: in one chunk, one of the cores did all the work)."""


def label_chunk(
    system: KineticSystem, concentrations: np.ndarray, parameters: np.ndarray
) -> np.ndarray:
    """Max Re(λ) of the reduced Jacobian of each parameter set at ``concentrations``.

    Parameters
    ----------
    system
        Compiled model.
    concentrations
        Reference state concentrations in µM, shape ``(n_states,)``.
    parameters
        Shape ``(n, n_parameters)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, h⁻¹; NaN where the Jacobian is not finite.
    """
    with np.errstate(all="ignore"):
        entries = system.elasticity_entries(concentrations, parameters)
    return eigenvalues_of_entries(system, entries)


def label_km_chunk(
    system: KineticSystem, physiology: Physiology, km: np.ndarray, check: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Complete K_M sets and give the max Re(λ) of each, in one pass over the rate laws.

    Parameters
    ----------
    km
        Shape ``(n, n_km)``, µM.
    check
        Raise on a non-finite or negative back-calculated V_max.

    Returns
    -------
    parameters, max_real_eigenvalue
        Shapes ``(n, n_parameters)`` and ``(n,)`` (h⁻¹).
    """
    params, entries = system.complete_parameters_and_elasticities(km, physiology, check=check)
    return params, eigenvalues_of_entries(system, entries)


def eigenvalues_of_entries(system: KineticSystem, entries: np.ndarray) -> np.ndarray:
    """Max Re(λ) from elasticity entries ``(n, n_entries)``, block by block → ``(n,)``."""
    n = entries.shape[0]
    out = np.empty(n)
    assembly = system.elasticities
    for i in range(0, n, EIGENVALUE_BLOCK):
        with np.errstate(all="ignore"):
            jac = assembly.reduced_jacobian(entries[i : i + EIGENVALUE_BLOCK])
        out[i : i + EIGENVALUE_BLOCK] = max_real_eigenvalues(jac)
    return out


@dataclass
class Labeller:
    """Label parameter sets of one model at one physiology.

    Parameters
    ----------
    system
        Compiled model.
    physiology
        Reference steady state at which Jacobians are evaluated.
    threshold
        Relevance threshold on max Re(λ), h⁻¹: the upper end of the relevant interval
        (``+inf``: none).
    chunk_size
        Models per chunk.
    n_jobs
        Worker threads (default: available CPUs).
    executor
        Map the chunks with this :class:`concurrent.futures.Executor` instead of local
        threads (a process pool, a Dask cluster: :mod:`rekindle.scale`).
    lower
        Lower end of the relevant interval, h⁻¹: relevant is
        ``lower < max Re(λ) < threshold`` (default ``-inf``: below the threshold; a
        class band or lower bound, :mod:`rekindle.classes`, sets it).

    Raises
    ------
    ValueError
        ``lower`` is not below ``threshold`` (an empty interval).
    """

    system: KineticSystem
    physiology: Physiology
    threshold: float = DEFAULT_THRESHOLD
    chunk_size: int = DEFAULT_CHUNK_SIZE
    n_jobs: int = field(default_factory=default_n_jobs)
    executor: Executor | None = field(default=None, repr=False, compare=False)
    lower: float = -math.inf

    @classmethod
    def of_interval(
        cls,
        system: KineticSystem,
        physiology: Physiology,
        interval: tuple[float, float],
        **kwargs: Any,
    ) -> Labeller:
        """A labeller of the relevant interval ``(lower, upper)``, h⁻¹ (a class's
        ``eig_interval``, or the ``relevance_interval`` a dataset or generator records);
        ``kwargs`` are the other fields (``n_jobs``, ``executor`` …)."""
        lower, upper = interval
        return cls(system, physiology, upper, lower=lower, **kwargs)

    def __post_init__(self) -> None:
        if self.lower >= self.threshold:
            raise ValueError(
                f"Labeller: lower {self.lower:g} must be below the threshold "
                f"{self.threshold:g} 1/h (an empty relevant interval)"
            )
        self.concentrations = self.system.steady_state_concentrations(self.physiology)

    def __getstate__(self) -> dict:
        # a labeller shipped to a worker labels there; the executor stays here
        return {**self.__dict__, "executor": None}

    def chunk_rows(self, n: int) -> int:
        """Models per chunk for a batch of ``n``: ``chunk_size``, or on local threads a
        smaller share (at least :data:`MIN_SPLIT_CHUNK`) so that a batch of fewer than
        ``n_jobs × chunk_size`` still occupies every thread. Labels do not depend on it."""
        if self.executor is not None or self.n_jobs <= 1:
            return self.chunk_size
        return min(self.chunk_size, max(MIN_SPLIT_CHUNK, -(-n // self.n_jobs)))

    def max_real_eigenvalues(self, parameters: np.ndarray) -> np.ndarray:
        """Max Re(λ), h⁻¹, of parameter sets ``(n, n_parameters)`` → ``(n,)``."""
        p = np.asarray(parameters, dtype=float)
        if p.ndim != 2:
            raise ValueError(f"parameters must be 2-D (n_models, n_parameters), got {p.shape}")
        if p.shape[0] == 0:
            return np.empty(0)
        size = self.chunk_rows(p.shape[0])
        chunks = (p[i : i + size] for i in range(0, p.shape[0], size))
        work = partial(label_chunk, self.system, self.concentrations)
        return np.concatenate(
            list(map_ordered(work, chunks, n_jobs=self.n_jobs, executor=self.executor))
        )

    def label(self, parameters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(max Re(λ), relevant)`` of parameter sets."""
        lam = self.max_real_eigenvalues(parameters)
        return lam, self.relevant(lam)

    def relevant(self, max_real_eigenvalue: np.ndarray) -> np.ndarray:
        """Labels of max Re(λ) ``(n,)`` h⁻¹: ``lower < λ < threshold``, bool ``(n,)``."""
        return relevance_labels(max_real_eigenvalue, self.threshold, self.lower)

    def label_km(
        self, km: np.ndarray, *, check: bool = True
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Complete K_M sets (V_max back-calculated) and label them.

        Parameters
        ----------
        km
            Shape ``(n, n_km)``, µM, model K_M order.
        check
            Raise on a non-finite or negative back-calculated V_max (otherwise such a
            model gets a NaN or meaningless eigenvalue and is labelled not relevant).

        Returns
        -------
        parameters, max_real_eigenvalue, relevant
            Shapes ``(n, n_parameters)``, ``(n,)``, ``(n,)``.
        """
        km = self.system.check_km(km)
        if km.shape[0] == 0:
            # validation and empty shapes as complete_parameters gives them
            params = self.system.complete_parameters(km, self.physiology, check=check)
            return params, np.empty(0), np.empty(0, bool)
        size = self.chunk_rows(km.shape[0])
        chunks = (km[i : i + size] for i in range(0, km.shape[0], size))
        work = partial(label_km_chunk, self.system, self.physiology, check=False)
        done = list(map_ordered(work, chunks, n_jobs=self.n_jobs, executor=self.executor))
        params = np.concatenate([d[0] for d in done])
        if check:
            self.system.check_vmax(params)
        lam = np.concatenate([d[1] for d in done])
        return params, lam, self.relevant(lam)

    def __call__(self, km: np.ndarray) -> np.ndarray:
        """Max Re(λ) of K_M sets: the labeller callable the GAN monitor expects."""
        return self.label_km(km)[1]
