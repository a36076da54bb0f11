"""Local stability: eigenvalues, dominant time constants and relevance labels.

A model is *relevant* (REKINDLE, Methods) when every eigenvalue of its reduced
Jacobian at the reference steady state has ``Re(λ) < threshold``; the default
``−9 h⁻¹`` makes the slowest aperiodic response (τ = −1/max Re(λ) ≈ 6.7 min) at least
three times faster than the E. coli doubling time (~21 min).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H

DEFAULT_THRESHOLD = RELEVANCE_THRESHOLD_PER_H
"""Upper bound on max Re(λ) of relevant models, h⁻¹ (REKINDLE paper, Methods)."""

MINUTES_PER_HOUR = 60.0

EIGENVALUE_BLOCK = 64
"""Matrices per LAPACK batch: 64 reduced E. coli Jacobians (44 × 44) take 1 MB, so a
block assembled just before stays in cache while ``geev`` reads it."""


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
    # LAPACK geev balances (permutes and scales) each matrix first, which keeps the
    # eigenvalues accurate although ‖J‖ ~ 4e10 through the proton row.
    if finite.all():
        for i in range(0, j.shape[0], EIGENVALUE_BLOCK):
            out[i : i + EIGENVALUE_BLOCK] = np.linalg.eigvals(j[i : i + EIGENVALUE_BLOCK]).real.max(
                axis=1
            )
    elif finite.any():
        out[finite] = max_real_eigenvalues(j[finite])
    return out


def time_constants(max_real_eigenvalue: ArrayLike, *, unit: str = "min") -> np.ndarray:
    """Dominant time constants ``τ = −1/max Re(λ)``: the one τ of rekindle.

    Parameters
    ----------
    max_real_eigenvalue
        Largest real part of the Jacobian eigenvalues, h⁻¹, any shape.
    unit
        ``"min"`` (default, as the paper reports τ) or ``"h"``.

    Returns
    -------
    numpy.ndarray
        Same shape, in ``unit``: ``+inf`` where max Re(λ) ≥ 0 (no decaying dominant
        mode), NaN where it is NaN (eigenvalues not evaluable), 0 where it is ``−inf``.

    Examples
    --------
    >>> time_constants([-9.0, -60.0, 0.5]).round(3).tolist()
    [6.667, 1.0, inf]
    """
    if unit not in ("min", "h"):
        raise ValueError(f"unit must be 'min' or 'h', got {unit!r}")
    lam = np.asarray(max_real_eigenvalue, dtype=float)
    scale = MINUTES_PER_HOUR if unit == "min" else 1.0
    tau = np.full(lam.shape, np.nan)
    decaying = lam < 0  # False for NaN
    with np.errstate(divide="ignore"):
        tau[decaying] = -scale / lam[decaying]
    tau[lam >= 0] = np.inf
    return tau


def relevance_labels(
    max_real_eigenvalue: np.ndarray,
    threshold: float = DEFAULT_THRESHOLD,
    lower: float = -np.inf,
) -> np.ndarray:
    """``True`` where ``lower < max Re(λ) < threshold`` (NaN and ±∞ are not relevant).

    Both ends are open, as in :meth:`rekindle.classes.ClassSpec.eig_member`: the labels of
    a class's interval ``(lower, threshold)`` are its eigenvalue membership, bit for bit.

    Parameters
    ----------
    max_real_eigenvalue
        Shape ``(n,)``, h⁻¹.
    threshold
        Upper end, h⁻¹ (``+inf``: none).
    lower
        Lower end, h⁻¹ (default ``-inf``: none, the labels of "below the threshold").

    Returns
    -------
    numpy.ndarray
        Bool, shape ``(n,)``.
    """
    lam = np.asarray(max_real_eigenvalue, dtype=float)
    out = np.less(lam, threshold, where=np.isfinite(lam), out=np.zeros(lam.shape, bool))
    if lower != -np.inf:
        out &= lam > lower
    return out


def eigenvalue_interval(
    eig_below: float | None = None,
    eig_above: float | None = None,
    tau_below: float | None = None,
    tau_above: float | None = None,
) -> tuple[float, float]:
    """``(low, high)``: the open interval of max Re(λ), h⁻¹, of a class's eigenvalue bounds.

    ``eig_below``/``eig_above`` bound max Re(λ) (h⁻¹); ``tau_below``/``tau_above`` bound the
    dominant time constant in minutes (``τ < T ⇔ λ < −60/T``); ``None``: no bound, and an
    unbounded end is ``±inf``. The arithmetic of
    :attr:`rekindle.classes.ClassSpec.eig_interval`, here so that the lower floors can
    read a recorded class without the class package.
    """
    low, high = -math.inf, math.inf
    if eig_above is not None:
        low = max(low, float(eig_above))
    if eig_below is not None:
        high = min(high, float(eig_below))
    if tau_above is not None:  # τ > T ⇔ λ > −60/T
        low = max(low, -MINUTES_PER_HOUR / float(tau_above))
    if tau_below is not None:  # τ < T ⇔ λ < −60/T
        high = min(high, -MINUTES_PER_HOUR / float(tau_below))
    return low, high
