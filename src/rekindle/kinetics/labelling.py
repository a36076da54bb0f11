"""Exact stability labelling of parameter populations, chunked and threaded.

The unit of work is :func:`label_chunk`, a pure function of a chunk of parameter sets;
:class:`Labeller` maps it over chunks with a thread pool (LAPACK and numpy release the
GIL, so threads scale on the cores of one machine) or, given an ``executor``, over the
processes or machines of a distributed engine (:mod:`rekindle.scale`).
"""

from __future__ import annotations

from concurrent.futures import Executor
from dataclasses import dataclass, field
from functools import partial

import numpy as np

from rekindle.kinetics.physiology import Physiology
from rekindle.kinetics.stability import DEFAULT_THRESHOLD, max_real_eigenvalues, relevance_labels
from rekindle.kinetics.system import KineticSystem
from rekindle.scale.executors import default_n_jobs, map_ordered

DEFAULT_CHUNK_SIZE = 1000
"""Models per chunk: large enough to amortise Python overhead, small enough for cache."""


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
        jac = system.jacobian(concentrations, parameters)
    return max_real_eigenvalues(jac)


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
        Relevance threshold on max Re(λ), h⁻¹.
    chunk_size
        Models per chunk.
    n_jobs
        Worker threads (default: available CPUs).
    executor
        Map the chunks with this :class:`concurrent.futures.Executor` instead of local
        threads (a process pool, a Dask cluster: :mod:`rekindle.scale`).
    """

    system: KineticSystem
    physiology: Physiology
    threshold: float = DEFAULT_THRESHOLD
    chunk_size: int = DEFAULT_CHUNK_SIZE
    n_jobs: int = field(default_factory=default_n_jobs)
    executor: Executor | None = field(default=None, repr=False, compare=False)

    def __post_init__(self) -> None:
        self.concentrations = self.system.steady_state_concentrations(self.physiology)

    def __getstate__(self) -> dict:
        # a labeller shipped to a worker labels there; the executor stays here
        return {**self.__dict__, "executor": None}

    def max_real_eigenvalues(self, parameters: np.ndarray) -> np.ndarray:
        """Max Re(λ), h⁻¹, of parameter sets ``(n, n_parameters)`` → ``(n,)``."""
        p = np.asarray(parameters, dtype=float)
        if p.ndim != 2:
            raise ValueError(f"parameters must be 2-D (n_models, n_parameters), got {p.shape}")
        if p.shape[0] == 0:
            return np.empty(0)
        chunks = (p[i : i + self.chunk_size] for i in range(0, p.shape[0], self.chunk_size))
        work = partial(label_chunk, self.system, self.concentrations)
        return np.concatenate(
            list(map_ordered(work, chunks, n_jobs=self.n_jobs, executor=self.executor))
        )

    def label(self, parameters: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """``(max Re(λ), relevant)`` of parameter sets."""
        lam = self.max_real_eigenvalues(parameters)
        return lam, relevance_labels(lam, self.threshold)

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
        params = self.system.complete_parameters(km, self.physiology, check=check)
        lam, rel = self.label(params)
        return params, lam, rel

    def __call__(self, km: np.ndarray) -> np.ndarray:
        """Max Re(λ) of K_M sets: the labeller callable the GAN monitor expects."""
        return self.label_km(km)[1]
