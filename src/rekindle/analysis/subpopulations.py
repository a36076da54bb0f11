"""Quantile sub-populations of one kinetic parameter (paper Fig. 3b).

A population of models is split into ``q`` equally sized sub-populations
(deciles by default) according to the value of one parameter, for example
``K_M,atp`` of ACS, and the distribution of max Re(lambda) is summarised per
sub-population.  The monotonic trend is quantified by the Spearman rank
correlation between the bin index and the mean eigenvalue of each bin.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike
from scipy.stats import spearmanr


@dataclass(frozen=True)
class QuantileBinStats:
    """Per-bin statistics of max Re(lambda), see :func:`quantile_bin_stats`.

    Attributes
    ----------
    edges : numpy.ndarray, shape (q + 1,)
        Parameter bin edges (in the units of the input parameter):
        ``edges[0]`` is the minimum, ``edges[q]`` the maximum and ``edges[i]``
        the smallest value assigned to bin ``i``.
    bin_index : numpy.ndarray of int, shape (n,)
        Bin of every input model in ``0 .. q-1``; ``-1`` for dropped models
        (non-finite parameter or eigenvalue).
    n : numpy.ndarray of int, shape (q,)
        Number of models per bin.
    mean, std, median, q25, q75 : numpy.ndarray, shape (q,)
        Mean, standard deviation, median and quartiles of max Re(lambda) per
        bin (1/h).
    param_median : numpy.ndarray, shape (q,)
        Median parameter value per bin.
    spearman_rho : float
        Spearman rank correlation between bin index and bin mean eigenvalue
        (``-1`` for a strictly decreasing trend); NaN if undefined.
    spearman_pvalue : float
        Two-sided p-value of ``spearman_rho`` (NaN if undefined).
    n_dropped : int
        Models excluded because of a non-finite parameter or eigenvalue.
    """

    edges: np.ndarray
    bin_index: np.ndarray
    n: np.ndarray
    mean: np.ndarray
    std: np.ndarray
    median: np.ndarray
    q25: np.ndarray
    q75: np.ndarray
    param_median: np.ndarray
    spearman_rho: float
    spearman_pvalue: float
    n_dropped: int

    @property
    def q(self) -> int:
        """Number of bins."""
        return int(self.n.size)

    def as_rows(self) -> list[dict[str, float]]:
        """Per-bin records (for CSV/JSON output).

        Returns
        -------
        list of dict
            One dict per bin with keys ``bin``, ``param_low``, ``param_high``,
            ``param_median``, ``n``, ``mean``, ``std``, ``q25``, ``median``,
            ``q75``.
        """
        return [
            {
                "bin": i,
                "param_low": float(self.edges[i]),
                "param_high": float(self.edges[i + 1]),
                "param_median": float(self.param_median[i]),
                "n": int(self.n[i]),
                "mean": float(self.mean[i]),
                "std": float(self.std[i]),
                "q25": float(self.q25[i]),
                "median": float(self.median[i]),
                "q75": float(self.q75[i]),
            }
            for i in range(self.q)
        ]


def quantile_bins(values: ArrayLike, q: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Assign values to ``q`` equally populated, ordered bins.

    Parameters
    ----------
    values : array_like, shape (n,)
        Finite values (for example one kinetic parameter across models).
    q : int, optional
        Number of bins (default 10: deciles).

    Returns
    -------
    bin_index : numpy.ndarray of int, shape (n,)
        Bin of each value in ``0 .. q-1``; bin sizes differ by at most one.
    edges : numpy.ndarray, shape (q + 1,)
        ``edges[0] = min``, ``edges[q] = max``, ``edges[i]`` = smallest value
        in bin ``i``.

    Notes
    -----
    Bins are defined by rank (stable sort), so tied values may straddle a
    boundary but every bin gets ``floor(n/q)`` or ``ceil(n/q)`` members.
    """
    x = np.asarray(values, dtype=float).ravel()
    n = x.size
    if q < 1:
        raise ValueError("q must be >= 1")
    if n < q:
        raise ValueError(f"need at least q={q} values, got {n}")
    if not np.all(np.isfinite(x)):
        raise ValueError("values must be finite")
    order = np.argsort(x, kind="stable")
    bins = np.empty(n, dtype=int)
    bins[order] = (np.arange(n) * q) // n
    starts = np.searchsorted(bins[order], np.arange(q), side="left")
    sorted_x = x[order]
    edges = np.concatenate([sorted_x[starts], [sorted_x[-1]]])
    return bins, edges


def quantile_bin_stats(
    parameter: ArrayLike,
    max_eig: ArrayLike,
    q: int = 10,
) -> QuantileBinStats:
    """Statistics of max Re(lambda) within quantile bins of one parameter.

    Parameters
    ----------
    parameter : array_like, shape (n,)
        Value of the splitting parameter per model (any monotone scale, e.g.
        K_M in mM or log10 K_M: the bins are identical).
    max_eig : array_like, shape (n,)
        Largest real Jacobian eigenvalue per model (1/h).
    q : int, optional
        Number of quantile bins (default 10, deciles, as in Fig. 3b).

    Returns
    -------
    QuantileBinStats
        Bin edges and per-bin n, mean, std, median, quartiles; Spearman rho
        between bin index ``0..q-1`` and the bin means.

    Raises
    ------
    ValueError
        If shapes differ or fewer than ``q`` finite pairs remain.
    """
    x = np.asarray(parameter, dtype=float).ravel()
    y = np.asarray(max_eig, dtype=float).ravel()
    if x.shape != y.shape:
        raise ValueError(f"parameter and max_eig differ in length: {x.size} vs {y.size}")
    ok = np.isfinite(x) & np.isfinite(y)
    bins_ok, edges = quantile_bins(x[ok], q)
    bin_index = np.full(x.size, -1, dtype=int)
    bin_index[ok] = bins_ok
    yo, xo = y[ok], x[ok]
    n = np.bincount(bins_ok, minlength=q)
    mean = np.empty(q)
    std = np.empty(q)
    med = np.empty(q)
    q25 = np.empty(q)
    q75 = np.empty(q)
    pmed = np.empty(q)
    for i in range(q):
        sel = yo[bins_ok == i]
        mean[i] = sel.mean()
        std[i] = sel.std(ddof=1) if sel.size > 1 else 0.0
        q25[i], med[i], q75[i] = np.percentile(sel, [25.0, 50.0, 75.0])
        pmed[i] = np.median(xo[bins_ok == i])
    rho, pval = math.nan, math.nan
    if q >= 2 and np.ptp(mean) > 0:
        res = spearmanr(np.arange(q), mean)
        rho, pval = float(res.statistic), float(res.pvalue)
    return QuantileBinStats(
        edges=edges,
        bin_index=bin_index,
        n=n,
        mean=mean,
        std=std,
        median=med,
        q25=q25,
        q75=q75,
        param_median=pmed,
        spearman_rho=rho,
        spearman_pvalue=pval,
        n_dropped=int(np.count_nonzero(~ok)),
    )
