"""The linear algebra of a Rosenbrock step: LU factors of ``I/(hγ) − J`` and their solves.

The iteration matrices are small (44 × 44 for E. coli) and many (one per trajectory).
They are built column-major (each matrix stored transposed) so that LAPACK factorises
them in place: one compiled loop over the batch (:func:`_factorise_all`, numba) builds
each ``W`` and calls LAPACK's ``dgetrf`` on it through numba's own binding of scipy's
LAPACK (OpenBLAS), with no Python call per matrix. The stage solves are ``dgetrs``'s
operations — the row interchanges, then the unit lower and the upper triangular solves,
column by column — in a second compiled loop (:func:`_solve_all`).

At these sizes a library call costs about as much as the work. On a full batch of 512
E. coli systems (AMD EPYC with AVX-512, one thread; ``benchmarks/bench_perturbation.py``'s
step table, ``docs/science/perturbation-speed.md``): the factorisation 10.2–12.0 µs per
matrix against 29.0–31.9 µs through torch's batched ``getrf`` on row-major matrices; six
solves 6.6–8.6 µs against 6.9–9.7 µs by torch's batched ``getrs``, and 11.5–17.0 µs against
127–162 µs for a single trajectory. The factors are LAPACK's throughout (the same pivots
and entries as scipy's ``lu_factor``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba
import numpy as np

# imported with the module, not on first use: threadpoolctl's one-thread limit
# (rekindle.integrate.threads) applies to the BLAS libraries loaded when it is entered,
# and scipy's LAPACK (which numba's LAPACK calls are) brings its own OpenBLAS
import scipy.linalg.lapack  # noqa: F401
from numba import njit
from numba.np.linalg import _LAPACK, F_INT_nptype

# numba's own binding of LAPACK's ?getrf (scipy's cython_lapack), as numba's np.linalg
# uses it: callable from compiled code without a Python call per matrix, and cacheable.
# numba's internal API, checked by tests/integrate/test_linear.py (same factors and
# pivots as scipy's lu_factor)
_getrf = _LAPACK().numba_xxgetrf(numba.types.float64)
_KIND_DOUBLE = ord("d")
_PIVOT_DTYPE = F_INT_nptype


@njit(cache=True, error_model="numpy")
def _factorise_all(
    jacobian_t: np.ndarray,
    diagonal: np.ndarray,
    w_t: np.ndarray,
    pivots: np.ndarray,
    info: np.ndarray,
    finite: np.ndarray,
) -> None:
    """``w_t[k] = diag(diagonal[k]) − jacobian_t[k]`` (``W_k`` column-major), then LAPACK's
    ``dgetrf`` on it in place; a non-finite ``W_k`` is replaced by the identity and
    flagged in ``finite``; ``info[k]`` is LAPACK's (> 0: exactly singular)."""
    m, r = jacobian_t.shape[0], jacobian_t.shape[1]
    for k in range(m):
        a = w_t[k]
        jac = jacobian_t[k]
        ok = True
        for p in range(r):
            for q in range(r):
                a[p, q] = -jac[p, q]
            a[p, p] += diagonal[k]
            for q in range(r):
                if not np.isfinite(a[p, q]):
                    ok = False
        finite[k] = ok
        if not ok:
            for p in range(r):
                for q in range(r):
                    a[p, q] = 1.0 if p == q else 0.0
        info[k] = _getrf(_KIND_DOUBLE, r, r, a.ctypes, r, pivots[k].ctypes)


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
    pivots = np.empty((m, r), dtype=_PIVOT_DTYPE)
    info = np.empty(m, dtype=np.int64)
    finite = np.empty(m, dtype=np.bool_)
    _factorise_all(
        np.ascontiguousarray(jacobian_t, dtype=np.float64),
        np.ascontiguousarray(diagonal, dtype=np.float64),
        w_t,
        pivots,
        info,
        finite,
    )
    return Factorisation(lu_t=w_t, pivots=pivots, finite=finite, singular=info != 0)
