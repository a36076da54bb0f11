"""Fidelity diagnostics against analytic cases (known widths, shifts and KS distances)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.stats import norm

from rekindle.analysis.fidelity import (
    c2st,
    c2st_noise_floor,
    fidelity_report,
    iqr_ratios,
    ks_distance,
    means_kl,
    width_ratios,
)
from rekindle.gan.monitoring import kl_divergence


def _lognormal(rng, n, d, sigma=1.0, shift=0.0):
    return np.exp(shift + sigma * rng.standard_normal((n, d)))


def test_c2st_identical_distributions_is_chance():
    rng = np.random.default_rng(1)
    x, y = rng.standard_normal((1000, 8)), rng.standard_normal((1000, 8))
    # 2 000 test predictions: the standard error of a chance accuracy is 0.011
    assert abs(c2st(x, y, seed=0) - 0.5) < 0.05


def test_c2st_clearly_shifted_is_near_one():
    rng = np.random.default_rng(2)
    x = rng.standard_normal((1000, 5))
    y = rng.standard_normal((1000, 5)) + 3.0
    # Bayes accuracy Φ(3·√5 / 2) = 0.9996
    assert c2st(x, y, seed=0) > 0.98


def test_c2st_sees_a_narrowed_distribution_that_a_linear_test_cannot():
    rng = np.random.default_rng(3)
    x = rng.standard_normal((1500, 10))
    y = 0.5 * rng.standard_normal((1500, 10))  # same means, half the width
    # Bayes rule thresholds Σ x²; its accuracy with d = 10 exceeds 0.9
    assert c2st(x, y, seed=0) > 0.85


def test_noise_floor_of_one_population_is_chance():
    rng = np.random.default_rng(4)
    ref = rng.standard_normal((2000, 6))
    assert abs(c2st_noise_floor(ref, 1000, seed=0) - 0.5) < 0.05


def test_width_ratios_as_constructed():
    rng = np.random.default_rng(5)
    ref = _lognormal(rng, 20000, 7, sigma=1.3)
    gen = _lognormal(rng, 20000, 7, sigma=1.3 * 0.6, shift=0.4)
    spread, iqr = width_ratios(gen, ref)
    assert spread == pytest.approx(0.6, abs=0.02)
    assert iqr == pytest.approx(0.6, abs=0.03)
    assert np.all(np.abs(iqr_ratios(gen, ref) - 0.6) < 0.05)


def test_ks_distance_of_shifted_normals():
    rng = np.random.default_rng(6)
    a, b = rng.standard_normal(50000), rng.standard_normal(50000) + 1.0
    # sup |Φ(x) − Φ(x − 1)| at x = 1/2: 2Φ(1/2) − 1
    assert ks_distance(a, b) == pytest.approx(2 * norm.cdf(0.5) - 1, abs=0.01)
    assert ks_distance(np.r_[a, np.nan], b) == pytest.approx(ks_distance(a, b))


def test_means_kl_is_blind_to_width_and_marginal_kl_is_not():
    rng = np.random.default_rng(7)
    means = rng.uniform(-2, 2, 200)
    data = means + rng.standard_normal((4000, 200))
    collapsed = np.tile(data.mean(axis=0), (4000, 1))  # every mean right, zero spread
    assert means_kl(collapsed, data) < 0.01
    assert kl_divergence(collapsed, data) > 1.0


def test_fidelity_report_of_a_perfect_and_a_narrow_generator():
    rng = np.random.default_rng(8)
    d = 12
    train, held = _lognormal(rng, 4000, d), _lognormal(rng, 4000, d)
    faithful = _lognormal(rng, 2000, d)
    narrow = _lognormal(rng, 2000, d, sigma=0.6)
    good = fidelity_report(faithful, train, held, n_c2st=1000)
    bad = fidelity_report(narrow, train, held, n_c2st=1000)
    assert good.spread_ratio_generated == pytest.approx(1.0, abs=0.05)
    assert bad.spread_ratio_generated == pytest.approx(0.6, abs=0.03)
    assert abs(good.c2st_generated - good.c2st_noise_floor) < 0.06
    assert bad.c2st_generated > 0.85
    assert good.n_c2st == 1000
    assert np.isnan(good.ks_max_eig)
    assert set(good.to_dict()) >= {"spread_ratio_generated", "c2st_noise_floor", "kl_means"}
