"""The linear algebra of a Rosenbrock step: LU factors of ``I/(hγ) − J`` and their solves.

The iteration matrices are small (44 × 44 for E. coli) and many (one per trajectory).
They are built column-major (each matrix stored transposed) so that LAPACK factorises
them in place, one ``dgetrf`` call each (scipy's LAPACK, OpenBLAS); the stage solves use
torch's batched ``getrs`` on the same memory, which torch reads as batched column-major
without a copy. On a full batch of 512 E. coli systems (an AMD EPYC with AVX-512, one
thread) the factorisation costs 11.4–12.1 µs per matrix this way against 18.8–21.5 µs
through torch's batched ``getrf`` on row-major matrices (``benchmarks/
bench_perturbation.py``'s step table; ``docs/science/perturbation-speed.md``); the factors
are LAPACK's in both cases (the same pivots; entries equal to rounding).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

# imported with the module, not on first use: threadpoolctl's one-thread limit
# (rekindle.integrate.threads) applies to the BLAS libraries loaded when it is entered,
# and scipy's LAPACK brings its own OpenBLAS
from scipy.linalg.lapack import dgetrf

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Factorisation:
    """LU factors of ``m`` iteration matrices ``W = I/(hγ) − J`` (``P W = L U``).

    Attributes
    ----------
    lu
        ``L`` (unit diagonal, not stored) and ``U`` in one matrix each, ``(m, r, r)``,
        a column-major view (torch's batched LAPACK layout).
    pivots
        LAPACK's row interchanges, 1-based, ``(m, r)`` int32.
    finite
        ``W`` was finite (a non-finite ``W`` is replaced by the identity), ``(m,)``.
    singular
        ``W`` was exactly singular (a zero pivot), ``(m,)``.
    """

    lu: torch.Tensor
    pivots: torch.Tensor
    finite: np.ndarray
    singular: np.ndarray

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``W⁻¹ b`` for right-hand sides ``rhs`` ``(m, r)``; returns ``(m, r)``."""
        import torch

        b = torch.from_numpy(np.ascontiguousarray(rhs))[:, :, None]
        return torch.linalg.lu_solve(self.lu, self.pivots, b)[:, :, 0].numpy()


def factorise(jacobian_t: np.ndarray, diagonal: np.ndarray) -> Factorisation:
    """Factorise ``W_k = diag(diagonal_k) − J_k`` for a batch of Jacobians.

    Parameters
    ----------
    jacobian_t
        The transposed Jacobians ``J_kᵀ``, ``(m, r, r)`` (left unchanged): each ``J_k``
        column-major, so that ``W_k`` is built column-major without a transposing copy.
    diagonal
        ``1/(hγ)`` per matrix, ``(m,)``.

    Returns
    -------
    Factorisation
    """
    import torch  # imported on first use: a refused command loads no torch

    m, r, _ = jacobian_t.shape
    w_t = np.empty((m, r, r))  # w_t[k] = W_kᵀ, i.e. W_k column-major
    np.negative(jacobian_t, out=w_t)
    w_t.reshape(m, r * r)[:, :: r + 1] += diagonal[:, None]
    finite = np.isfinite(w_t.reshape(m, r * r)).all(axis=1)
    if not finite.all():
        w_t[~finite] = np.eye(r)
    pivots = np.empty((m, r), dtype=np.int32)
    info = np.empty(m, dtype=np.int64)
    # w_t[k].T is W_k as a Fortran-ordered array: LAPACK factorises it in place
    for k, w_k in enumerate(w_t.transpose(0, 2, 1)):
        lu_k, pivots[k], info[k] = dgetrf(w_k, overwrite_a=True)
        if k == 0 and not np.may_share_memory(lu_k, w_t):
            raise RuntimeError("scipy's dgetrf copied its input: the factors would be lost")
    pivots += 1  # scipy's pivots are 0-based, LAPACK's (and torch's) 1-based
    return Factorisation(
        lu=torch.from_numpy(w_t).mT,
        pivots=torch.from_numpy(pivots),
        finite=finite,
        singular=info != 0,
    )
