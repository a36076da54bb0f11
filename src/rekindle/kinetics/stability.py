"""Local stability: eigenvalues, dominant time constants and relevance labels.

A model is *relevant* (REKINDLE, Methods) when every eigenvalue of its reduced
Jacobian at the reference steady state has ``Re(λ) < threshold``; the default
``−9 h⁻¹`` makes the slowest aperiodic response (τ = −1/max Re(λ) ≈ 6.7 min) at least
three times faster than the E. coli doubling time (~21 min).
"""

from __future__ import annotations

import numpy as np

from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H

DEFAULT_THRESHOLD = RELEVANCE_THRESHOLD_PER_H
"""Upper bound on max Re(λ) of relevant models, h⁻¹ (REKINDLE paper, Methods)."""


def max_real_eigenvalues(jacobians: np.ndarray) -> np.ndarray:
    """Largest real part of the eigenvalues of each matrix.

    Parameters
    ----------
    jacobians
        Shape ``(n, m, m)`` (h⁻¹).

    Returns
    -------
    numpy.ndarray
        Shape ``(n,)``, h⁻¹. Matrices with non-finite entries give NaN.
    """
    j = np.asarray(jacobians, dtype=float)
    if j.ndim != 3 or j.shape[1] != j.shape[2]:
        raise ValueError(f"jacobians must have shape (n, m, m), got {j.shape}")
    out = np.full(j.shape[0], np.nan)
    finite = np.isfinite(j).all(axis=(1, 2))
    if finite.any():
        # LAPACK geev balances (permutes and scales) each matrix first, which keeps the
        # eigenvalues accurate although ‖J‖ ~ 4e10 through the proton row.
        out[finite] = np.linalg.eigvals(j[finite]).real.max(axis=1)
    return out


def dominant_time_constants(max_real_eigenvalue: np.ndarray) -> np.ndarray:
    """Dominant time constant ``τ = −1/max Re(λ)`` in hours; ``inf`` if not stable."""
    lam = np.asarray(max_real_eigenvalue, dtype=float)
    with np.errstate(divide="ignore"):
        return np.where(lam < 0, -1.0 / lam, np.inf)


def relevance_labels(
    max_real_eigenvalue: np.ndarray, threshold: float = DEFAULT_THRESHOLD
) -> np.ndarray:
    """``True`` where ``max Re(λ) < threshold`` (NaN is not relevant)."""
    lam = np.asarray(max_real_eigenvalue, dtype=float)
    return np.less(lam, threshold, where=np.isfinite(lam), out=np.zeros(lam.shape, bool))
