"""Dynamic-response statistics of kinetic-model populations (paper Fig. 2d).

A kinetic model is characterised by the largest real part of the eigenvalues of
its Jacobian at the reference steady state, ``max Re(lambda)`` (unit 1/h).  The
model is *biologically relevant* when ``max Re(lambda) < -9 /h`` (paper,
Methods: the dominant time constant must be below ~7 min, a third of the
E. coli doubling time of ~21 min).  The dominant time constant is
``tau = -1 / max Re(lambda)`` (h), reported here in minutes.

Conventions for non-decaying models
-----------------------------------
* ``max Re(lambda) >= 0`` (unstable or marginally stable): the slowest mode does
  not decay, so ``tau = +inf``.  Such models are counted as *not stable* and
  *not relevant*.
* ``max Re(lambda)`` NaN (eigenvalue computation failed): ``tau = NaN``; the
  model counts in ``n`` but is neither stable nor relevant.
* ``max Re(lambda) = -inf``: ``tau = 0``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import norm

from rekindle.io.atomic import write_csv
from rekindle.kinetics.stability import time_constants
from rekindle.reference_values import (
    DOUBLING_TIME_MIN,
    RELEVANCE_THRESHOLD_PER_H,
    TAU_LIMIT_MIN,
)

__all__ = [
    "DOUBLING_TIME_MIN",
    "RELEVANCE_THRESHOLD_PER_H",
    "SUMMARY_FIELDS",
    "TAU_LIMIT_MIN",
    "summarize_dynamics",
    "time_constants",
    "wilson_interval",
    "write_dynamics_csv",
]

SUMMARY_FIELDS: tuple[str, ...] = (
    "n",
    "n_finite",
    "threshold_per_h",
    "n_relevant",
    "fraction_relevant",
    "fraction_relevant_ci_low",
    "fraction_relevant_ci_high",
    "n_stable",
    "fraction_stable",
    "max_eig_q25_per_h",
    "max_eig_median_per_h",
    "max_eig_q75_per_h",
    "max_eig_mean_per_h",
    "tau_q25_min",
    "tau_median_min",
    "tau_q75_min",
)
"""Keys of each per-population record returned by :func:`summarize_dynamics`."""


def wilson_interval(
    successes: ArrayLike, trials: ArrayLike, confidence: float = 0.95
) -> tuple[np.ndarray, np.ndarray]:
    """Wilson score confidence interval for a binomial proportion.

    For ``k`` successes in ``n`` trials, ``p = k / n`` and ``z`` the two-sided
    normal quantile,

    ``centre = (p + z^2 / (2 n)) / (1 + z^2 / n)``,
    ``half = z / (1 + z^2 / n) * sqrt(p (1 - p) / n + z^2 / (4 n^2))``.

    Parameters
    ----------
    successes : array_like of int
        Number of successes ``k`` (broadcast against ``trials``).
    trials : array_like of int
        Number of trials ``n >= k``.
    confidence : float, optional
        Two-sided confidence level in (0, 1); default 0.95.

    Returns
    -------
    low, high : numpy.ndarray
        Interval bounds (fractions in [0, 1]); scalars come back as 0-d arrays.
        For ``n = 0`` the uninformative interval ``(0, 1)`` is returned.

    Examples
    --------
    >>> lo, hi = wilson_interval(8, 10)
    >>> round(float(lo), 4), round(float(hi), 4)
    (0.4902, 0.9433)
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError("confidence must lie in (0, 1)")
    k = np.asarray(successes, dtype=float)
    n = np.asarray(trials, dtype=float)
    if np.any(k < 0) or np.any(k > n):
        raise ValueError("need 0 <= successes <= trials")
    z = float(norm.ppf(0.5 + confidence / 2.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        p = k / n
        denom = 1.0 + z * z / n
        centre = (p + z * z / (2.0 * n)) / denom
        half = z / denom * np.sqrt(p * (1.0 - p) / n + z * z / (4.0 * n * n))
        low = np.clip(centre - half, 0.0, 1.0)
        high = np.clip(centre + half, 0.0, 1.0)
    # Exact bounds at the boundaries (avoid rounding just below 1 / above 0).
    low = np.where(k == 0, 0.0, low)
    high = np.where(k == n, 1.0, high)
    empty = n == 0
    low = np.where(empty, 0.0, low)
    high = np.where(empty, 1.0, high)
    return low, high


def _quantiles(values: np.ndarray) -> tuple[float, float, float]:
    if values.size == 0:
        return (math.nan, math.nan, math.nan)
    q25, q50, q75 = np.percentile(values, [25.0, 50.0, 75.0])
    return float(q25), float(q50), float(q75)


def summarize_dynamics(
    populations: Mapping[str, ArrayLike],
    threshold: float = RELEVANCE_THRESHOLD_PER_H,
    confidence: float = 0.95,
) -> dict[str, dict[str, float]]:
    """Per-population summary of max Re(lambda) and dominant time constants.

    Parameters
    ----------
    populations : mapping of str to array_like, each shape (n_models,)
        Population name (e.g. ``"ORACLE"``, ``"REKINDLE"``) -> max Re(lambda)
        of each model, in 1/h.
    threshold : float, optional
        Relevance threshold in 1/h (default -9); relevant iff
        ``max_eig < threshold``.
    confidence : float, optional
        Level of the Wilson interval on the relevant fraction.

    Returns
    -------
    dict
        ``{name: record}`` in input order; each record has the keys of
        :data:`SUMMARY_FIELDS`:

        - ``n``: number of models (NaN entries included); ``n_finite``: finite.
        - ``n_relevant``, ``fraction_relevant`` (over ``n``) and its Wilson
          interval ``fraction_relevant_ci_low/high``.
        - ``n_stable``, ``fraction_stable``: models with ``max_eig < 0``.
        - ``max_eig_q25/median/q75/mean_per_h``: over finite eigenvalues (1/h).
        - ``tau_q25/median/q75_min``: over *stable* models only (finite tau),
          in minutes.

        Fractions are NaN for an empty population.
    """
    out: dict[str, dict[str, float]] = {}
    for name, values in populations.items():
        lam = np.asarray(values, dtype=float).ravel()
        n = int(lam.size)
        fin = lam[np.isfinite(lam)]
        n_rel = int(np.count_nonzero(lam < threshold))
        n_stable = int(np.count_nonzero(lam < 0))
        tau = time_constants(lam[lam < 0])
        tau = tau[np.isfinite(tau)]
        lo, hi = wilson_interval(n_rel, n, confidence)
        e25, e50, e75 = _quantiles(fin)
        t25, t50, t75 = _quantiles(tau)
        out[str(name)] = {
            "n": n,
            "n_finite": int(fin.size),
            "threshold_per_h": float(threshold),
            "n_relevant": n_rel,
            "fraction_relevant": n_rel / n if n else math.nan,
            "fraction_relevant_ci_low": float(lo) if n else math.nan,
            "fraction_relevant_ci_high": float(hi) if n else math.nan,
            "n_stable": n_stable,
            "fraction_stable": n_stable / n if n else math.nan,
            "max_eig_q25_per_h": e25,
            "max_eig_median_per_h": e50,
            "max_eig_q75_per_h": e75,
            "max_eig_mean_per_h": float(fin.mean()) if fin.size else math.nan,
            "tau_q25_min": t25,
            "tau_median_min": t50,
            "tau_q75_min": t75,
        }
    return out


def write_dynamics_csv(
    summary: Mapping[str, Mapping[str, float]],
    path: str | Path,
    fields: Sequence[str] = SUMMARY_FIELDS,
) -> Path:
    """Write the output of :func:`summarize_dynamics` as a CSV table.

    Parameters
    ----------
    summary : mapping of str to mapping
        ``{population: record}`` as returned by :func:`summarize_dynamics`.
    path : str or pathlib.Path
        Destination CSV file (parent directories are created; written atomically).
    fields : sequence of str, optional
        Columns to write after the leading ``population`` column.

    Returns
    -------
    pathlib.Path
        The written file.  One row per population; floats are written with
        ``repr`` precision, NaN as ``nan`` and infinities as ``inf``.
    """
    rows = ([name, *(record.get(f, math.nan) for f in fields)] for name, record in summary.items())
    return write_csv(path, rows, header=["population", *fields])
