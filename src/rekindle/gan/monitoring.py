"""Statistics used to monitor GAN training and compare parameter populations.

KL divergence estimator
-----------------------
The paper monitors the Kullback-Leibler divergence between generated and
ORACLE parameter sets (its Supplementary Note 4, with the exact estimator, is
not available). This module uses a *per-feature histogram* estimator:

1. For feature ``j`` take the samples ``p[:, j]`` (``n_p`` values) and
   ``q[:, j]`` (``n_q`` values). Build ``K`` (default 30) equal-width bins on
   the shared interval ``[lo_j, hi_j]``: by default the minimum and maximum of
   both samples together, or given ``bounds`` (values outside are counted in
   the edge bins).
2. Smooth the counts with a pseudo-count ``alpha`` (default 0.5, the
   Krichevsky-Trofimov/Jeffreys prior) per bin:
   ``P_k = (c^p_k + alpha) / (n_p + K * alpha)``, likewise ``Q_k``. Every bin
   has non-zero mass, so the divergence is always finite, and the smoothing
   vanishes as the sample size grows.
3. ``KL_j = sum_k P_k * ln(P_k / Q_k)`` in nats (natural logarithm).
4. The population divergence is the mean of ``KL_j`` over features.

It is the discrete formula of the paper's Methods applied to binned marginals.
Being per-feature, it ignores correlations between parameters; it is intended
for the scaled log10 space (all features in about [-1, 1]) but works in any
units. For two large Gaussian samples and fine bins it converges to the
closed-form KL (:func:`gaussian_kl`), which the tests verify. Note that it is
asymmetric: ``kl_divergence(p, q)`` is KL(P || Q) with ``p`` the population of
interest (e.g. generated) and ``q`` the reference (e.g. training data).
With the default 30 bins and a few hundred samples the estimate has a positive
small-sample bias (both histograms are noisy), so compare values computed with
the same sample sizes and bins only. Where P has mass in a region that Q's
sample leaves empty (Q much narrower than P), the log-ratio there is capped by
the pseudo-count and the estimate is biased low.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from rekindle.io.metrics_csv import read_metrics_csv, write_metrics_csv

__all__ = [
    "WidthReference",
    "gaussian_kl",
    "kl_divergence",
    "kl_divergence_per_feature",
    "means_kl",
    "read_metrics_csv",
    "spearman",
    "spread_ratio",
    "spread_ratios",
    "width_ratios",
    "write_metrics_csv",
]


def _as_2d(x: np.ndarray, name: str) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[:, None]
    if arr.ndim != 2:
        raise ValueError(f"{name} must be 1-D or 2-D (n_samples, n_features), got {arr.shape}")
    if arr.shape[0] == 0:
        raise ValueError(f"{name} has no samples")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def _histograms(x: np.ndarray, lo: np.ndarray, width: np.ndarray, n_bins: int) -> np.ndarray:
    """Per-feature bin counts, shape (d, n_bins), without loops over features."""
    d = x.shape[1]
    idx = np.floor((x - lo) / width).astype(np.int64)
    np.clip(idx, 0, n_bins - 1, out=idx)
    idx += np.arange(d, dtype=np.int64) * n_bins
    return np.bincount(idx.ravel(), minlength=d * n_bins).reshape(d, n_bins).astype(np.float64)


def kl_divergence_per_feature(
    p: np.ndarray,
    q: np.ndarray,
    *,
    n_bins: int = 30,
    pseudocount: float = 0.5,
    bounds: tuple[float, float] | tuple[np.ndarray, np.ndarray] | None = None,
) -> np.ndarray:
    """Histogram estimate of KL(P || Q) for every feature (see module docstring).

    Parameters
    ----------
    p : numpy.ndarray, shape (n_p, d) or (n_p,)
        Samples of the population of interest (e.g. generated models), one row
        per model; typically scaled log10 K_M (dimensionless).
    q : numpy.ndarray, shape (n_q, d) or (n_q,)
        Samples of the reference population, same features and units.
    n_bins : int
        Number of equal-width bins ``K`` per feature.
    pseudocount : float
        Count ``alpha > 0`` added to every bin before normalising.
    bounds : (lo, hi), optional
        Bin range, scalars or arrays of shape (d,). Default: per feature, the
        min and max over both samples.

    Returns
    -------
    numpy.ndarray of float64, shape (d,)
        Non-negative divergence per feature, in nats.
    """
    p2, q2 = _as_2d(p, "p"), _as_2d(q, "q")
    if p2.shape[1] != q2.shape[1]:
        raise ValueError(f"feature mismatch: p has {p2.shape[1]}, q has {q2.shape[1]} features")
    if int(n_bins) < 1:
        raise ValueError("n_bins must be >= 1")
    if not pseudocount > 0:
        raise ValueError("pseudocount must be > 0")
    n_bins = int(n_bins)
    d = p2.shape[1]
    if bounds is None:
        lo = np.minimum(p2.min(axis=0), q2.min(axis=0))
        hi = np.maximum(p2.max(axis=0), q2.max(axis=0))
    else:
        lo = np.broadcast_to(np.asarray(bounds[0], dtype=np.float64), (d,))
        hi = np.broadcast_to(np.asarray(bounds[1], dtype=np.float64), (d,))
        if np.any(hi < lo):
            raise ValueError("bounds must satisfy lo <= hi")
    span = hi - lo
    width = np.where(span > 0, span / n_bins, 1.0)
    cp = _histograms(p2, lo, width, n_bins)
    cq = _histograms(q2, lo, width, n_bins)
    pk = (cp + pseudocount) / (p2.shape[0] + n_bins * pseudocount)
    qk = (cq + pseudocount) / (q2.shape[0] + n_bins * pseudocount)
    kl = np.sum(pk * np.log(pk / qk), axis=1)
    # Zero-width features hold one point mass in both samples: identical.
    kl = np.where(span > 0, kl, 0.0)
    return np.maximum(kl, 0.0)


def kl_divergence(
    p: np.ndarray,
    q: np.ndarray,
    *,
    n_bins: int = 30,
    pseudocount: float = 0.5,
    bounds: tuple[float, float] | tuple[np.ndarray, np.ndarray] | None = None,
) -> float:
    """Mean over features of :func:`kl_divergence_per_feature` (nats).

    Parameters
    ----------
    p, q : numpy.ndarray, shape (n_p, d) and (n_q, d)
        Population of interest and reference population.
    n_bins, pseudocount, bounds
        As in :func:`kl_divergence_per_feature`.

    Returns
    -------
    float
        KL(P || Q) averaged over the ``d`` features.
    """
    return float(
        np.mean(
            kl_divergence_per_feature(p, q, n_bins=n_bins, pseudocount=pseudocount, bounds=bounds)
        )
    )


def means_kl(p: np.ndarray, q: np.ndarray, *, n_bins: int = 30) -> float:
    """The paper's KL: between histograms of the per-feature means of two populations.

    Parameters
    ----------
    p, q : numpy.ndarray, shapes (n_p, d) and (n_q, d)
        Populations in one feature space (e.g. scaled or ln K_M).
    n_bins : int
        Bins of the histogram of the ``d`` means (shared range).

    Returns
    -------
    float
        KL(P̄ ‖ Q̄) in nats where P̄, Q̄ are the distributions of the ``d`` column means.
        Blind to width: it depends on the means only.
    """
    mp = np.mean(np.asarray(p, dtype=np.float64), axis=0)
    mq = np.mean(np.asarray(q, dtype=np.float64), axis=0)
    return kl_divergence(mp, mq, n_bins=n_bins)


def gaussian_kl(mu1: float, sigma1: float, mu2: float, sigma2: float) -> float:
    """Closed-form KL(N(mu1, sigma1^2) || N(mu2, sigma2^2)) in nats.

    ``ln(sigma2 / sigma1) + (sigma1^2 + (mu1 - mu2)^2) / (2 sigma2^2) - 1/2``.
    """
    if sigma1 <= 0 or sigma2 <= 0:
        raise ValueError("standard deviations must be > 0")
    return float(
        math.log(sigma2 / sigma1) + (sigma1**2 + (mu1 - mu2) ** 2) / (2.0 * sigma2**2) - 0.5
    )


def spearman(
    x: Sequence[float] | np.ndarray, y: Sequence[float] | np.ndarray
) -> tuple[float, float]:
    """Spearman rank correlation (scipy), ignoring pairs with a NaN.

    Parameters
    ----------
    x, y : array_like, shape (n,)
        Paired observations (e.g. incidence and KL divergence per epoch).

    Returns
    -------
    rho, p_value : float
        Correlation coefficient in [-1, 1] and two-sided p-value; NaN when
        fewer than 3 complete pairs remain or one variable is constant.
    """
    xa = np.asarray(x, dtype=np.float64).ravel()
    ya = np.asarray(y, dtype=np.float64).ravel()
    if xa.shape != ya.shape:
        raise ValueError(f"x and y differ in length: {xa.size} vs {ya.size}")
    ok = np.isfinite(xa) & np.isfinite(ya)
    xa, ya = xa[ok], ya[ok]
    if xa.size < 3 or np.all(xa == xa[0]) or np.all(ya == ya[0]):
        return math.nan, math.nan
    from scipy import stats  # here: importing scipy.stats costs `generate` 0.3 s

    res = stats.spearmanr(xa, ya)
    return float(res.statistic), float(res.pvalue)


def spread_ratios(km: np.ndarray, reference_log_std: np.ndarray) -> np.ndarray:
    """Per-feature ``std(ln K_M generated) / reference_log_std``.

    Parameters
    ----------
    km : numpy.ndarray, shape (n, d)
        Generated K_M (positive).
    reference_log_std : numpy.ndarray, shape (d,)
        ``std(ln K_M)`` per feature of the reference (relevant training) rows.

    Returns
    -------
    numpy.ndarray, shape (d,)
        1 where the generator is as wide as the data, → 0 where it collapsed; NaN
        where the reference has no spread.
    """
    ref = np.asarray(reference_log_std, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        gen = np.std(np.log(km), axis=0)
        return np.where(ref > 0, gen / np.where(ref > 0, ref, 1.0), np.nan)


def spread_ratio(km: np.ndarray, reference_log_std: np.ndarray | None) -> float:
    """How much of the training spread generated K_M keep (a collapse monitor).

    Parameters
    ----------
    km : numpy.ndarray, shape (n, d)
        Generated K_M (positive).
    reference_log_std : numpy.ndarray, shape (d,) or None
        ``std(ln K_M)`` per feature of the relevant training rows.

    Returns
    -------
    float
        Median of :func:`spread_ratios` over the features with a non-zero reference
        spread; 1 for a generator as wide as the data, → 0 for a collapsed one; NaN
        without a reference or with n < 2.
    """
    if reference_log_std is None or km.shape[0] < 2:
        return math.nan
    ratios = spread_ratios(km, reference_log_std)
    ratios = ratios[np.isfinite(ratios)]
    return float(np.median(ratios)) if ratios.size else math.nan


@dataclass(frozen=True)
class WidthReference:
    """Per-feature width of ln K_M of a reference population (the relevant training rows).

    Attributes
    ----------
    log_std, log_iqr : numpy.ndarray, shape (d,)
        Standard deviation and interquartile range of ln K_M per feature.
    """

    log_std: np.ndarray
    log_iqr: np.ndarray

    @classmethod
    def of(cls, km: np.ndarray) -> WidthReference | None:
        """The width of ``km`` (n, d), positive; None with fewer than 2 rows."""
        if km.shape[0] < 2:
            return None
        logk = np.log(km)
        q75, q25 = np.percentile(logk, [75, 25], axis=0)
        return cls(np.std(logk, axis=0), q75 - q25)


def width_ratios(km: np.ndarray, reference: WidthReference | None) -> tuple[float, float]:
    """Spread and IQR ratio of generated K_M against a reference (the width of a generator).

    Parameters
    ----------
    km : numpy.ndarray, shape (n, d)
        Generated K_M (positive).
    reference : WidthReference or None
        Width of the relevant training rows.

    Returns
    -------
    spread_ratio, iqr_ratio : float
        Medians over the features (with a non-zero reference width) of
        std(ln K_M generated) / std(ln K_M reference) and of the same ratio of
        interquartile ranges: 1 = as wide as the data, → 0 = collapsed. NaN
        without a reference or with n < 2.
    """
    if reference is None or km.shape[0] < 2:
        return math.nan, math.nan
    spread = spread_ratio(km, reference.log_std)
    ref = reference.log_iqr
    q75, q25 = np.percentile(np.log(km), [75, 25], axis=0)
    ok = ref > 0
    iqr = float(np.median((q75 - q25)[ok] / ref[ok])) if np.any(ok) else math.nan
    return spread, iqr
