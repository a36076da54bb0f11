"""The linear algebra of a Rosenbrock step: LU factors of ``I/(hγ) − J`` and their solves.

The iteration matrices are small (44 × 44 for E. coli) and many (one per trajectory).
They are built column-major (each matrix stored transposed) so that LAPACK factorises
them in place, one ``dgetrf`` call each (scipy's LAPACK, OpenBLAS). On a full batch of
512 E. coli systems (an AMD EPYC with AVX-512, one thread) the factorisation costs
11.4–12.1 µs per matrix this way against 18.8–21.5 µs through torch's batched ``getrf``
on row-major matrices (``benchmarks/bench_perturbation.py``'s step table;
``docs/science/perturbation-speed.md``); the factors are LAPACK's in both cases (the same
pivots; entries equal to rounding).

The stage solves are ``dgetrs``'s operations — the row interchanges, then the unit lower
and the upper triangular solves, column by column — in one loop over the batch compiled
by numba (:func:`_solve_all`). A library call per 44 × 44 solve costs about as much as
the solve itself: torch's batched ``getrs``, used before, took 1.2–4.6 µs per solve
against ~1 µs for the loop (same machine), and 17 µs per call for one trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numba import njit

# imported with the module, not on first use: threadpoolctl's one-thread limit
# (rekindle.integrate.threads) applies to the BLAS libraries loaded when it is entered,
# and scipy's LAPACK brings its own OpenBLAS
from scipy.linalg.lapack import dgetrf


@njit(cache=True, error_model="numpy")
def _solve_all(lu_t: np.ndarray, pivots: np.ndarray, b: np.ndarray) -> None:
    """Overwrite ``b[k]`` with ``W_k⁻¹ b[k]`` for every ``k``, given LAPACK's factors.

    ``lu_t[k]`` is ``W_k``'s LU stored column-major (``lu_t[k, j, i]`` is row ``i``,
    column ``j``), ``pivots[k]`` LAPACK's 1-based row interchanges; ``b`` ``(m, r)``.
    """
    m, r = b.shape
    for k in range(m):
        x = b[k]
        a = lu_t[k]
        piv = pivots[k]
        for i in range(r):
            p = piv[i] - 1
            if p != i:
                t = x[i]
                x[i] = x[p]
                x[p] = t
        for j in range(r):  # L y = P b, L unit lower: column j below the diagonal
            col = a[j]
            xj = x[j]
            for i in range(j + 1, r):
                x[i] -= col[i] * xj
        for j in range(r - 1, -1, -1):  # U x = y: column j above the diagonal
            col = a[j]
            x[j] /= col[j]
            xj = x[j]
            for i in range(j):
                x[i] -= col[i] * xj


@dataclass(frozen=True)
class Factorisation:
    """LU factors of ``m`` iteration matrices ``W = I/(hγ) − J`` (``P W = L U``).

    Attributes
    ----------
    lu_t
        ``L`` (unit diagonal, not stored) and ``U`` in one matrix each, stored
        column-major: ``lu_t[k].T`` is LAPACK's factor matrix of ``W_k``, ``(m, r, r)``.
    pivots
        LAPACK's row interchanges, 1-based, ``(m, r)`` int32.
    finite
        ``W`` was finite (a non-finite ``W`` is replaced by the identity), ``(m,)``.
    singular
        ``W`` was exactly singular (a zero pivot), ``(m,)``.
    """

    lu_t: np.ndarray
    pivots: np.ndarray
    finite: np.ndarray
    singular: np.ndarray

    @property
    def lu(self) -> np.ndarray:
        """LAPACK's factor matrices ``(m, r, r)`` (a view of :attr:`lu_t`)."""
        return self.lu_t.transpose(0, 2, 1)

    def solve(self, rhs: np.ndarray) -> np.ndarray:
        """``W⁻¹ b`` for right-hand sides ``rhs`` ``(m, r)``; returns a new ``(m, r)``."""
        x = np.array(rhs, dtype=np.float64, order="C")
        _solve_all(self.lu_t, self.pivots, x)
        return x


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
    return Factorisation(lu_t=w_t, pivots=pivots, finite=finite, singular=info != 0)
