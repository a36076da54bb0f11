"""Scaler, split and label encoding."""

from __future__ import annotations

import numpy as np
import pytest

from rekindle.gan import (
    CLASS_NAMES,
    GlobalLogMinMaxScaler,
    LogMinMaxScaler,
    class_index,
    encode_labels,
    scaler_from_dict,
    train_test_split_indices,
)


def _km(n: int = 500, d: int = 6, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return 10.0 ** rng.uniform(-6, 2, (n, d))


def test_scaler_round_trip_and_range() -> None:
    km = _km()
    sc = LogMinMaxScaler().fit(km)
    z = sc.transform(km)
    assert z.min() == pytest.approx(-1.0) and z.max() == pytest.approx(1.0)
    np.testing.assert_allclose(z.min(axis=0), -1.0)
    np.testing.assert_allclose(z.max(axis=0), 1.0)
    np.testing.assert_allclose(sc.inverse_transform(z), km, rtol=1e-12)


def test_scaler_serialisation() -> None:
    km = _km()
    sc = LogMinMaxScaler().fit(km)
    d = sc.to_dict()
    assert d["kind"] == "log10-minmax" and isinstance(d["log_min"][0], float)
    sc2 = LogMinMaxScaler.from_dict(d)
    np.testing.assert_array_equal(sc2.transform(km), sc.transform(km))
    with pytest.raises(ValueError):
        LogMinMaxScaler.from_dict({"kind": "other"})
    with pytest.raises(ValueError):
        LogMinMaxScaler.from_dict({**d, "log_max": d["log_max"][:-1]})


def test_scaler_constant_feature_and_clip() -> None:
    km = _km(d=3)
    km[:, 1] = 0.25
    sc = LogMinMaxScaler().fit(km)
    z = sc.transform(km)
    assert np.all(z[:, 1] == 0.0)
    np.testing.assert_allclose(sc.inverse_transform(z)[:, 1], 0.25)
    big = sc.inverse_transform(np.full((1, 3), 5.0), clip=True)
    np.testing.assert_allclose(big, sc.inverse_transform(np.ones((1, 3))))


def test_scaler_rejects_bad_input() -> None:
    sc = LogMinMaxScaler()
    with pytest.raises(RuntimeError):
        sc.transform(_km())
    with pytest.raises(ValueError, match="positive"):
        sc.fit(np.array([[1.0, 0.0]]))
    with pytest.raises(ValueError, match="non-finite"):
        sc.fit(np.array([[1.0, np.nan]]))
    sc.fit(_km(d=4))
    with pytest.raises(ValueError, match="expected 4 features"):
        sc.transform(_km(d=5))


def test_split() -> None:
    tr, te = train_test_split_indices(1000, 0.1, seed=3)
    assert len(tr) == 900 and len(te) == 100
    assert np.intersect1d(tr, te).size == 0
    np.testing.assert_array_equal(np.sort(np.concatenate([tr, te])), np.arange(1000))
    _, te2 = train_test_split_indices(1000, 0.1, seed=3)
    np.testing.assert_array_equal(te, te2)
    assert not np.array_equal(te, train_test_split_indices(1000, 0.1, seed=4)[1])
    assert len(train_test_split_indices(10, 0.0)[1]) == 0


def test_labels() -> None:
    assert CLASS_NAMES == ("relevant", "not_relevant")
    np.testing.assert_array_equal(encode_labels(np.array([True, False, True])), [0, 1, 0])
    with pytest.raises(TypeError):
        encode_labels(np.array([1, 0]))
    assert class_index("relevant") == 0 and class_index("not relevant") == 1
    assert class_index(1) == 1
    with pytest.raises(ValueError):
        class_index("maybe")
    with pytest.raises(ValueError):
        class_index(2)


def test_global_ln_minmax_scaler_is_the_reference_scaling() -> None:
    """Natural log, ONE min and max over the whole matrix (not per feature)."""
    rng = np.random.default_rng(3)
    km = np.exp(rng.normal([0.0, 3.0, -2.0], [0.5, 1.0, 0.2], (500, 3)))
    scaler = GlobalLogMinMaxScaler().fit(km)
    logk = np.log(km)
    lo, hi = logk.min(), logk.max()
    assert (scaler.ln_min, scaler.ln_max) == (lo, hi)
    y = scaler.transform(km)
    np.testing.assert_allclose(y, 2 * (logk - lo) / (hi - lo) - 1, rtol=1e-12, atol=1e-12)
    assert y.min() == pytest.approx(-1) and y.max() == pytest.approx(1)
    # every feature keeps its own position and width: only feature 1 or 2 reaches ±1
    assert y[:, 0].min() > -1 + 0.1 and y[:, 0].max() < 1 - 0.1
    np.testing.assert_allclose(np.std(y, axis=0) / np.std(logk, axis=0), 2 / (hi - lo))
    np.testing.assert_allclose(scaler.inverse_transform(y), km, rtol=1e-12)
    again = scaler_from_dict(scaler.to_dict())
    assert isinstance(again, GlobalLogMinMaxScaler)
    np.testing.assert_array_equal(again.transform(km), y)
    with pytest.raises(ValueError, match="features"):
        scaler.transform(km[:, :2])
