"""KL divergence estimator, Spearman correlation, metric CSVs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from rekindle.gan import (
    gaussian_kl,
    kl_divergence,
    kl_divergence_per_feature,
    read_metrics_csv,
    spearman,
    write_metrics_csv,
)


def test_kl_matches_analytic_gaussians() -> None:
    """With 100k samples and 100 bins the estimate is within 5 % of the closed form."""
    rng = np.random.default_rng(0)
    mu1 = np.array([0.0, 0.0, 0.5, 0.0])
    s1 = np.array([1.0, 1.0, 0.5, 1.0])
    mu2 = np.array([1.0, 0.0, 0.0, 0.0])
    s2 = np.array([1.5, 2.0, 1.0, 1.0])
    n = 100_000
    p = rng.normal(mu1, s1, (n, 4))
    q = rng.normal(mu2, s2, (n, 4))
    est = kl_divergence_per_feature(p, q, n_bins=100)
    exact = np.array([gaussian_kl(*args) for args in zip(mu1, s1, mu2, s2, strict=True)])
    np.testing.assert_allclose(est[:3], exact[:3], rtol=0.05)
    assert est[3] < 0.005  # identical distributions
    assert kl_divergence(p, q, n_bins=100) == pytest.approx(float(np.mean(est)))


def test_kl_converges_with_sample_size() -> None:
    rng = np.random.default_rng(1)
    exact = gaussian_kl(0.0, 1.0, 1.0, 1.5)
    errors = []
    for n in (1_000, 200_000):
        p, q = rng.normal(0, 1, n), rng.normal(1, 1.5, n)
        errors.append(abs(kl_divergence(p, q, n_bins=60) - exact))
    assert errors[1] < errors[0] and errors[1] < 0.01


def test_kl_properties() -> None:
    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 3))
    assert np.all(kl_divergence_per_feature(x, x) == 0.0)
    const = np.ones((10, 2))
    assert np.all(kl_divergence_per_feature(const, const) == 0.0)
    y = rng.normal(3, 1, size=(400, 3))
    assert np.all(kl_divergence_per_feature(x, y) > 1.0)
    assert math.isfinite(kl_divergence(x, y))
    # fixed bounds: values outside fall into the edge bins
    assert kl_divergence(x, y, bounds=(-1.0, 1.0)) >= 0.0
    with pytest.raises(ValueError, match="feature mismatch"):
        kl_divergence(x, y[:, :2])
    with pytest.raises(ValueError, match="non-finite"):
        kl_divergence(np.array([np.nan, 1.0]), y[:, 0])


def test_spearman() -> None:
    x = np.arange(20.0)
    rho, p = spearman(x, -(x**3))
    assert rho == pytest.approx(-1.0) and p < 1e-6
    rho, _ = spearman([1, 2, np.nan, 4], [1, 2, 3, 4])
    assert rho == pytest.approx(1.0)
    assert math.isnan(spearman([1, 2], [3, 4])[0])


def test_metrics_csv_round_trip(tmp_path: Path) -> None:
    recs = [
        {"epoch": 10, "d_loss": 0.5, "incidence": 0.25},
        {"epoch": 20, "d_loss": 0.125, "incidence": math.nan, "kl_test": 0.1},
    ]
    path = write_metrics_csv(recs, tmp_path / "m.csv")
    back = read_metrics_csv(path)
    assert back[0]["epoch"] == 10 and isinstance(back[0]["epoch"], int)
    assert back[1]["d_loss"] == 0.125
    assert math.isnan(back[1]["incidence"]) and math.isnan(back[0]["kl_test"])


def test_spread_ratio_of_a_known_narrowing() -> None:
    from rekindle.gan import spread_ratio

    rng = np.random.default_rng(3)
    sd = np.array([0.5, 1.0, 2.0, 3.0, 0.7])
    # generated ln K_M with every spread scaled by 0.6: the ratio is 0.6 (std error ~0.5 %)
    km = np.exp(rng.normal(1.0, 0.6 * sd, size=(20_000, sd.size)))
    assert spread_ratio(km, sd) == pytest.approx(0.6, abs=0.02)
    assert spread_ratio(np.exp(rng.normal(0.0, sd, size=(20_000, 5))), sd) == pytest.approx(
        1.0, abs=0.03
    )
    # features without reference spread are ignored; no reference / one model: NaN
    assert spread_ratio(km, np.r_[sd[:4], 0.0]) == pytest.approx(0.6, abs=0.02)
    assert np.isnan(spread_ratio(km, None)) and np.isnan(spread_ratio(km[:1], sd))
