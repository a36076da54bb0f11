"""The fixed (counted, not trained) bijections of the flow generator, per class.

:class:`MarginalScores` maps each feature ``y_j ∈ (−1, 1)`` to its normal score
``g_j = Φ⁻¹(F_c,j(y_j))`` with ``F_c,j`` the empirical CDF of feature ``j`` in class ``c``,
from a histogram of ``bins`` equal bins on (−1, 1) (linear inside a bin, a pseudo-count of
``alpha`` per bin so that it is strictly increasing). :class:`Whitening` holds the mean and
Cholesky factor of the covariance of ``g`` per class. Both are accumulated chunk by chunk,
so datasets of any size stream through them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import ndtr, ndtri

#: normal scores are clipped to this CDF range (|g| ≤ 5.6) so that Φ⁻¹ stays finite
CDF_EDGE = 1e-8
#: rows per block of :meth:`MarginalScores.from_scores`
_ROWS = 256


class MarginalScores:
    """Empirical marginal CDFs per class on a fixed grid of (−1, 1).

    Parameters
    ----------
    n_classes, n_features, bins : int
        Shape of the histogram ``(n_classes, n_features, bins)``.
    alpha : float
        Pseudo-count added to every bin when the CDF is formed.
    """

    def __init__(self, n_classes: int, n_features: int, bins: int, alpha: float = 0.5) -> None:
        self.counts = np.zeros((n_classes, n_features, bins), dtype=np.float64)
        self.alpha = float(alpha)
        self._cdf: np.ndarray | None = None
        self._table: np.ndarray | None = None  # index table of the CDF (from_scores)

    @property
    def cdf(self) -> np.ndarray | None:
        """CDFs at the bin edges, shape ``(n_classes, d, bins + 1)`` (None before
        :meth:`finalize`); setting it (a loaded artefact) drops the derived index table."""
        return self._cdf

    @cdf.setter
    def cdf(self, value: np.ndarray | None) -> None:
        self._cdf, self._table = value, None

    @property
    def bins(self) -> int:
        """Bins per feature."""
        return int(self.counts.shape[2])

    def _bin_of(self, y: np.ndarray) -> np.ndarray:
        k = np.floor((y + 1.0) * (self.bins / 2.0)).astype(np.int64)
        return np.clip(k, 0, self.bins - 1)

    def update(self, y: np.ndarray, labels: np.ndarray) -> None:
        """Count a chunk: ``y`` (n, d) in (−1, 1), ``labels`` (n,) class indices."""
        n_classes, d, b = self.counts.shape
        flat = (labels[:, None] * d + np.arange(d)[None, :]) * b + self._bin_of(y)
        self.counts += np.bincount(flat.ravel(), minlength=n_classes * d * b).reshape(
            self.counts.shape
        )

    def finalize(self) -> MarginalScores:
        """Form the CDFs at the bin edges, shape ``(n_classes, d, bins + 1)``."""
        mass = self.counts + self.alpha
        cdf = np.cumsum(mass, axis=2) / mass.sum(axis=2, keepdims=True)
        self.cdf = np.concatenate([np.zeros((*cdf.shape[:2], 1)), cdf], axis=2)
        self.cdf[:, :, -1] = 1.0
        return self

    def _require(self) -> np.ndarray:
        if self.cdf is None:
            raise RuntimeError("marginals not finalised")
        return self.cdf

    def to_scores(self, y: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """``y`` (n, d) → normal scores ``g`` (n, d) under each row's class CDFs."""
        cdf = self._require()
        k = self._bin_of(y)
        frac = (y + 1.0) * (self.bins / 2.0) - k
        c, j = labels[:, None], np.arange(y.shape[1])[None, :]
        lo, hi = cdf[c, j, k], cdf[c, j, k + 1]
        return ndtri(np.clip(lo + np.clip(frac, 0.0, 1.0) * (hi - lo), CDF_EDGE, 1 - CDF_EDGE))

    def _index_table(self) -> np.ndarray:
        """Per (class, feature), the bin ``k`` with ``cdf[k] ≤ i/G < cdf[k+1]`` for each cell
        ``i`` of ``G = 2·bins`` equal cells of (0, 1), shape ``(n_classes, d, G)`` (the
        guide table of inverse-CDF sampling: Devroye 1986, *Non-Uniform Random Variate
        Generation*, §III.2.4). Built once per finalised CDF."""
        cdf = self._require()
        if self._table is not None:
            return self._table
        n_classes, d, edges = cdf.shape
        cells = np.arange(2 * (edges - 1)) / (2 * (edges - 1))
        table = np.empty((n_classes, d, cells.size), dtype=np.int64)
        for c in range(n_classes):
            for j in range(d):
                table[c, j] = np.searchsorted(cdf[c, j], cells, side="right") - 1
        self._table = np.clip(table, 0, edges - 2)
        return self._table

    def from_scores(self, g: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """Normal scores ``g`` (n, d) → ``y`` (n, d), the inverse of :meth:`to_scores`.

        The bin of each ``u = Φ(g)`` starts from the index table's cell of ``u`` and steps
        up while the next edge is ``≤ u``: exactly the bin a sorted search finds, in O(1)
        steps where the bins are not far lighter than ``1/(2·bins)``. Rows go through in
        blocks of ``_ROWS`` so that the temporaries stay small and are reused (large fresh
        arrays cost more in page faults than in arithmetic)."""
        if g.shape[0] > _ROWS:
            out = np.empty(g.shape)
            for i in range(0, g.shape[0], _ROWS):
                out[i : i + _ROWS] = self.from_scores(g[i : i + _ROWS], labels[i : i + _ROWS])
            return out
        cdf = self._require()
        table = self._index_table()
        d, edges = cdf.shape[1:]
        cells = table.shape[2]
        # feature-major layout: neighbouring entries read one feature's table and CDF
        u = np.ascontiguousarray(ndtr(g).T)  # (d, n)
        block = labels[None, :] * d + np.arange(d)[:, None]  # (class, feature) of each entry
        cell = np.minimum((u * cells).astype(np.int64), cells - 1)
        pos = block * edges + table.reshape(-1)[block * cells + cell]  # flat lower-edge index
        flat_cdf = cdf.reshape(-1)
        # a lower edge p below its block's last bin: p % edges < edges − 2
        todo = np.flatnonzero((flat_cdf[pos + 1] <= u) & (pos % edges < edges - 2))
        pos_flat, u_flat = pos.reshape(-1), u.reshape(-1)
        while todo.size:  # the cell's first bin ends at or below u: step up (few entries)
            pos_flat[todo] += 1
            p = pos_flat[todo]
            todo = todo[(flat_cdf[p + 1] <= u_flat[todo]) & (p % edges < edges - 2)]
        lo, hi = flat_cdf[pos], flat_cdf[pos + 1]
        frac = np.clip((u - lo) / (hi - lo), 0.0, 1.0)
        k = pos - block * edges
        return np.ascontiguousarray(((k + frac) * (2.0 / self.bins) - 1.0).T)


class Whitening:
    """Per-class mean and Cholesky factor of the covariance of the normal scores.

    Parameters
    ----------
    n_classes, n_features : int
        Shapes of the accumulated moments.
    """

    def __init__(self, n_classes: int, n_features: int) -> None:
        self.n = np.zeros(n_classes)
        self.sum = np.zeros((n_classes, n_features))
        self.outer = np.zeros((n_classes, n_features, n_features))
        self.mean: np.ndarray | None = None
        self.cholesky: np.ndarray | None = None

    def update(self, g: np.ndarray, labels: np.ndarray) -> None:
        """Accumulate a chunk of normal scores ``g`` (n, d) with class indices (n,)."""
        for c in range(self.n.size):
            rows = g[labels == c]
            self.n[c] += rows.shape[0]
            self.sum[c] += rows.sum(axis=0)
            self.outer[c] += rows.T @ rows

    def moments(self) -> tuple[np.ndarray, np.ndarray]:
        """Mean ``(n_classes, d)`` and unbiased covariance ``(n_classes, d, d)`` of the rows
        accumulated so far."""
        if np.any(self.n < 2):
            raise ValueError(f"each class needs at least 2 rows, got {self.n.astype(int)}")
        mean = self.sum / self.n[:, None]
        cov = self.outer / self.n[:, None, None] - mean[:, :, None] * mean[:, None, :]
        return mean, cov * (self.n / (self.n - 1))[:, None, None]

    def finalize(self, ridge: float = 1e-6) -> Whitening:
        """Mean ``(n_classes, d)`` and lower Cholesky factors ``(n_classes, d, d)``."""
        mean, cov = self.moments()
        eye = np.eye(cov.shape[1])
        self.mean = mean
        self.cholesky = np.linalg.cholesky(cov + ridge * eye)
        return self

    def whiten(self, g: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """``w = L_c⁻¹ (g − μ_c)`` row by row, shape (n, d)."""
        assert self.mean is not None and self.cholesky is not None
        mean, chol = self.mean, self.cholesky
        return _by_class(g, labels, lambda c, x: np.linalg.solve(chol[c], (x - mean[c]).T).T)

    def colour(self, w: np.ndarray, labels: np.ndarray) -> np.ndarray:
        """``g = μ_c + L_c w``, the inverse of :meth:`whiten`."""
        assert self.mean is not None and self.cholesky is not None
        mean, chol = self.mean, self.cholesky
        return _by_class(w, labels, lambda c, x: mean[c] + x @ chol[c].T)


def _by_class(
    x: np.ndarray, labels: np.ndarray, apply: Callable[[int, np.ndarray], np.ndarray]
) -> np.ndarray:
    """``apply(c, rows of x in class c)`` for each class present, back in row order, shape
    of ``x``; one class (generating a class) passes ``x`` whole, without row selection."""
    classes = np.unique(labels)
    if classes.size == 1:
        return apply(int(classes[0]), x)
    out = np.empty_like(x)
    for c in classes:
        rows = labels == c
        out[rows] = apply(int(c), x[rows])
    return out
