"""Tests for rekindle.analysis.dynamics (time constants, Wilson interval, summaries)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest

from rekindle.analysis.dynamics import (
    RELEVANCE_THRESHOLD_PER_H,
    SUMMARY_FIELDS,
    summarize_dynamics,
    time_constants,
    wilson_interval,
    write_dynamics_csv,
)


def test_time_constants_minutes_and_hours() -> None:
    lam = np.array([-9.0, -60.0, -1.0, -120.0])
    np.testing.assert_allclose(time_constants(lam), [60.0 / 9.0, 1.0, 60.0, 0.5])
    np.testing.assert_allclose(time_constants(lam, unit="h"), [1 / 9.0, 1 / 60.0, 1.0, 1 / 120])


def test_time_constants_threshold_is_below_seven_minutes() -> None:
    tau = float(time_constants(RELEVANCE_THRESHOLD_PER_H))
    assert tau == pytest.approx(6.6667, abs=1e-4)
    assert tau < 7.0


def test_time_constants_non_decaying_and_missing() -> None:
    tau = time_constants([0.0, 2.5, np.nan, -np.inf, np.inf])
    assert np.isposinf(tau[0]) and np.isposinf(tau[1])
    assert np.isnan(tau[2])
    assert tau[3] == 0.0
    assert np.isposinf(tau[4])


def test_time_constants_shape_and_unit_check() -> None:
    assert time_constants(np.full((2, 3), -30.0)).shape == (2, 3)
    with pytest.raises(ValueError):
        time_constants([-1.0], unit="s")


def test_wilson_interval_hand_computed() -> None:
    # k=8, n=10, z=1.959964: centre = (0.8 + z^2/20) / (1 + z^2/10) = 0.716741,
    # half = z/(1 + z^2/10) * sqrt(0.016 + z^2/400) = 0.226578.
    lo, hi = wilson_interval(8, 10)
    assert float(lo) == pytest.approx(0.490162, abs=2e-6)
    assert float(hi) == pytest.approx(0.943318, abs=2e-6)


def test_wilson_interval_edges_and_symmetry() -> None:
    lo, hi = wilson_interval(0, 20)
    assert float(lo) == 0.0
    # k = 0: upper bound z^2 / (n + z^2)
    z2 = 1.959963984540054**2
    assert float(hi) == pytest.approx(z2 / (20 + z2), rel=1e-9)
    lo_n, hi_n = wilson_interval(20, 20)
    assert float(hi_n) == 1.0 and float(lo_n) == pytest.approx(1 - z2 / (20 + z2))
    k = np.arange(0, 31)
    lo1, hi1 = wilson_interval(k, 30)
    lo2, hi2 = wilson_interval(30 - k, 30)
    np.testing.assert_allclose(lo1, 1 - hi2, atol=1e-12)
    np.testing.assert_allclose(hi1, 1 - lo2, atol=1e-12)
    assert np.all(lo1 <= k / 30) and np.all(k / 30 <= hi1)


def test_wilson_interval_empty_and_invalid() -> None:
    lo, hi = wilson_interval(0, 0)
    assert (float(lo), float(hi)) == (0.0, 1.0)
    with pytest.raises(ValueError):
        wilson_interval(5, 4)
    with pytest.raises(ValueError):
        wilson_interval(1, 4, confidence=1.0)


def test_wilson_interval_narrows_with_confidence() -> None:
    lo90, hi90 = wilson_interval(663, 1000, 0.90)
    lo99, hi99 = wilson_interval(663, 1000, 0.99)
    assert lo99 < lo90 < 0.663 < hi90 < hi99


def test_summarize_dynamics_constructed() -> None:
    a = np.array([-60.0, -30.0, -12.0, -6.0, 1.0, np.nan, -20.0, -10.0])
    b = np.full(4, -120.0)
    out = summarize_dynamics({"ORACLE": a, "REKINDLE": b})
    assert list(out) == ["ORACLE", "REKINDLE"]
    ra = out["ORACLE"]
    assert set(ra) == set(SUMMARY_FIELDS)
    assert ra["n"] == 8 and ra["n_finite"] == 7
    assert ra["n_relevant"] == 5  # -60, -30, -12, -20, -10
    assert ra["fraction_relevant"] == pytest.approx(5 / 8)
    assert ra["n_stable"] == 6 and ra["fraction_stable"] == pytest.approx(6 / 8)
    assert ra["max_eig_median_per_h"] == pytest.approx(-12.0)
    # tau over the 6 stable models: 1, 2, 5, 10, 3, 6 min -> median 4
    assert ra["tau_median_min"] == pytest.approx(4.0)
    assert ra["fraction_relevant_ci_low"] < 5 / 8 < ra["fraction_relevant_ci_high"]
    rb = out["REKINDLE"]
    assert rb["fraction_relevant"] == 1.0 and rb["tau_median_min"] == pytest.approx(0.5)


def test_summarize_dynamics_threshold_and_empty() -> None:
    out = summarize_dynamics({"x": [-10.0, -8.0], "empty": []}, threshold=-5.0)
    assert out["x"]["fraction_relevant"] == 1.0
    assert math.isnan(out["empty"]["fraction_relevant"])
    assert math.isnan(out["empty"]["tau_median_min"])


def test_write_dynamics_csv_roundtrip(tmp_path) -> None:
    summary = summarize_dynamics({"ORACLE": [-20.0, -5.0], "REKINDLE": [-30.0, -40.0]})
    path = write_dynamics_csv(summary, tmp_path / "sub" / "dynamics.csv")
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert [r["population"] for r in rows] == ["ORACLE", "REKINDLE"]
    assert list(rows[0]) == ["population", *SUMMARY_FIELDS]
    assert float(rows[0]["fraction_relevant"]) == pytest.approx(0.5)
    assert float(rows[1]["tau_median_min"]) == pytest.approx((60 / 30 + 60 / 40) / 2)
