"""Tests for rekindle.analysis.subpopulations (quantile bins, Fig. 3b statistics)."""

from __future__ import annotations

import numpy as np
import pytest

from rekindle.analysis.subpopulations import quantile_bin_stats, quantile_bins


def test_monotone_relation_deciles() -> None:
    rng = np.random.default_rng(3)
    x = rng.permutation(np.arange(1000, dtype=float))  # 0..999 shuffled
    y = -2.0 * x - 10.0  # strictly decreasing in x
    st = quantile_bin_stats(x, y)
    assert st.q == 10
    np.testing.assert_array_equal(st.n, np.full(10, 100))
    # bin i holds x = 100 i .. 100 i + 99
    np.testing.assert_allclose(st.edges, [*np.arange(0, 1000, 100), 999])
    centres = np.arange(10) * 100 + 49.5
    np.testing.assert_allclose(st.mean, -2 * centres - 10)
    np.testing.assert_allclose(st.median, -2 * centres - 10)
    # quartiles of 100 consecutive integers (linear interpolation): +-24.75 around centre
    np.testing.assert_allclose(st.q25, -2 * (centres + 24.75) - 10)
    np.testing.assert_allclose(st.q75, -2 * (centres - 24.75) - 10)
    np.testing.assert_allclose(st.param_median, centres)
    assert st.spearman_rho == pytest.approx(-1.0)
    assert st.spearman_pvalue < 1e-6
    assert st.n_dropped == 0
    assert np.all(st.bin_index == (x // 100).astype(int))


def test_increasing_relation_and_quintiles() -> None:
    x = np.linspace(-3, 2, 503)
    st = quantile_bin_stats(10**x, x**3, q=5)  # monotone increasing in x
    assert st.spearman_rho == pytest.approx(1.0)
    assert st.n.sum() == 503 and st.n.max() - st.n.min() <= 1


def test_non_finite_pairs_dropped_and_rows() -> None:
    x = np.arange(50, dtype=float)
    y = -x.copy()
    x[3] = np.nan
    y[7] = np.inf
    st = quantile_bin_stats(x, y, q=4)
    assert st.n_dropped == 2 and st.n.sum() == 48
    assert st.bin_index[3] == -1 and st.bin_index[7] == -1
    rows = st.as_rows()
    assert len(rows) == 4 and rows[0]["bin"] == 0
    assert rows[0]["param_low"] == 0.0 and rows[-1]["param_high"] == 49.0


def test_flat_relation_has_undefined_rho() -> None:
    st = quantile_bin_stats(np.arange(20.0), np.zeros(20), q=4)
    assert np.isnan(st.spearman_rho)


def test_quantile_bins_ties_and_errors() -> None:
    bins, edges = quantile_bins(np.zeros(10), q=5)
    np.testing.assert_array_equal(np.bincount(bins), [2, 2, 2, 2, 2])
    np.testing.assert_allclose(edges, 0.0)
    with pytest.raises(ValueError):
        quantile_bins(np.arange(3.0), q=4)
    with pytest.raises(ValueError):
        quantile_bins([1.0, np.nan], q=1)
    with pytest.raises(ValueError):
        quantile_bin_stats([1.0, 2.0], [1.0], q=1)
