"""Tests for rekindle.analysis.trajectories (PCA of perturbation trajectories)."""

from __future__ import annotations

import numpy as np
import pytest

from rekindle.analysis.trajectories import pca_trajectories


def _plane_case(n_states: int = 8, n_traj: int = 6, n_times: int = 40, offset: bool = False):
    """Points on an ellipse in a known 2-D plane of R^n_states.

    theta is equally spaced over full turns, so the coefficients a = 3 cos,
    b = sin are exactly zero-mean and uncorrelated: the principal axes are u
    and v with variance ratios 9/10 and 1/10.
    """
    rng = np.random.default_rng(7)
    q, _ = np.linalg.qr(rng.normal(size=(n_states, n_states)))
    u, v = q[:, 0], q[:, 1]
    theta = 2 * np.pi * np.arange(n_traj * n_times) / (n_traj * n_times)
    a, b = 3.0 * np.cos(theta), np.sin(theta)
    pts = a[:, None] * u + b[:, None] * v
    if offset:
        pts = pts + 0.25 * q[:, 2]
    return pts.reshape(n_traj, n_times, n_states), u, v, a, b


def test_plane_fully_explained_and_axes_recovered() -> None:
    y, u, v, a, b = _plane_case()
    res = pca_trajectories(y)
    assert res.scores.shape == (6, 40, 2)
    np.testing.assert_allclose(res.explained_variance_ratio, [0.9, 0.1], atol=1e-12)
    assert res.explained_variance_ratio.sum() == pytest.approx(1.0, abs=1e-12)
    # Components equal u and v up to sign.
    assert abs(res.components[0] @ u) == pytest.approx(1.0, abs=1e-12)
    assert abs(res.components[1] @ v) == pytest.approx(1.0, abs=1e-12)
    s0 = np.sign(res.components[0] @ u)
    s1 = np.sign(res.components[1] @ v)
    np.testing.assert_allclose(res.scores[..., 0].ravel(), s0 * a, atol=1e-12)
    np.testing.assert_allclose(res.scores[..., 1].ravel(), s1 * b, atol=1e-12)
    np.testing.assert_allclose(res.mean, 0.0, atol=1e-12)
    np.testing.assert_allclose(res.reference_scores, 0.0, atol=1e-12)
    assert res.n_points == 240


def test_offset_plane_centering_and_reference_projection() -> None:
    y, u, v, _, _ = _plane_case(offset=True)
    res = pca_trajectories(y)
    np.testing.assert_allclose(res.explained_variance_ratio.sum(), 1.0, atol=1e-12)
    basis = np.vstack([u, v])  # the fitted axes lie in span{u, v}
    np.testing.assert_allclose(np.linalg.norm(res.components @ basis.T, axis=1), 1.0, atol=1e-12)
    # The reference state Y=0 lies off the data plane: its projection is -mean.
    np.testing.assert_allclose(res.reference_scores, res.transform(np.zeros(8)), atol=1e-12)
    np.testing.assert_allclose(res.transform(y), res.scores, atol=1e-12)
    # Without centring, the first axis is pulled toward the offset.
    raw = pca_trajectories(y, center=False)
    np.testing.assert_allclose(raw.mean, 0.0)
    assert raw.explained_variance_ratio.sum() < 1.0 - 1e-6


def test_sign_convention_is_deterministic() -> None:
    y, *_ = _plane_case()
    r1 = pca_trajectories(y)
    r2 = pca_trajectories(-y)
    for comp in r1.components:
        assert comp[np.argmax(np.abs(comp))] > 0
    np.testing.assert_allclose(r1.components, r2.components, atol=1e-12)
    np.testing.assert_allclose(r1.scores, -r2.scores, atol=1e-12)


def test_non_finite_points_excluded() -> None:
    y, *_ = _plane_case()
    y = y.copy()
    y[2, 10:, 3] = np.nan
    res = pca_trajectories(y)
    assert res.n_points == 240 - 30
    assert np.isnan(res.scores[2, 10:]).all()
    assert np.isfinite(res.scores[2, :10]).all()


def test_more_components_and_errors() -> None:
    y, *_ = _plane_case()
    res = pca_trajectories(y, n_components=3)
    assert res.scores.shape[-1] == 3
    assert res.explained_variance_ratio[2] == pytest.approx(0.0, abs=1e-12)
    with pytest.raises(ValueError):
        pca_trajectories(y[0])
    with pytest.raises(ValueError):
        pca_trajectories(y, n_components=9)
    with pytest.raises(ValueError):
        pca_trajectories(np.full((1, 1, 3), np.nan))
