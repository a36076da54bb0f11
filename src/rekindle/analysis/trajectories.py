"""Principal component analysis of perturbation trajectories (paper Fig. 2e, left).

The perturbation analysis integrates each kinetic model from a perturbed state
back towards (or away from) its reference steady state.  Trajectories are
expressed relative to the reference, ``Y = X / X_ref - 1`` (dimensionless), so
every state is on a comparable scale and the reference steady state is the
origin.  A single PCA is fitted on all time points of all trajectories stacked
together and each trajectory is then projected on the leading components.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


@dataclass(frozen=True)
class TrajectoryPCA:
    """Result of :func:`pca_trajectories`.

    Attributes
    ----------
    scores : numpy.ndarray, shape (n_traj, n_times, n_components)
        Projected coordinates of every time point (NaN where the input time
        point was not finite).
    explained_variance_ratio : numpy.ndarray, shape (n_components,)
        Fraction of the total variance of the stacked data carried by each
        component (sums to <= 1).
    components : numpy.ndarray, shape (n_components, n_states)
        Orthonormal principal axes (rows), sign-fixed so that the loading of
        largest magnitude is positive.
    mean : numpy.ndarray, shape (n_states,)
        Mean that was subtracted before the SVD (zeros when ``center=False``).
    reference_scores : numpy.ndarray, shape (n_components,)
        Projection of the reference steady state, i.e. of ``Y = 0``.
    singular_values : numpy.ndarray, shape (n_components,)
        Singular values of the centred data matrix for the kept components.
    n_points : int
        Number of finite time points used in the fit.
    """

    scores: np.ndarray
    explained_variance_ratio: np.ndarray
    components: np.ndarray
    mean: np.ndarray
    reference_scores: np.ndarray
    singular_values: np.ndarray
    n_points: int

    def transform(self, states: ArrayLike) -> np.ndarray:
        """Project states onto the fitted components.

        Parameters
        ----------
        states : array_like, shape (..., n_states)
            Relative states ``X / X_ref - 1``.

        Returns
        -------
        numpy.ndarray, shape (..., n_components)
        """
        arr = np.asarray(states, dtype=float)
        return (arr - self.mean) @ self.components.T


def pca_trajectories(
    trajectories: ArrayLike,
    n_components: int = 2,
    *,
    center: bool = True,
) -> TrajectoryPCA:
    """Fit a PCA (via SVD) on stacked trajectories and project them.

    Parameters
    ----------
    trajectories : array_like, shape (n_traj, n_times, n_states)
        Concentrations relative to the reference steady state,
        ``X / X_ref - 1`` (dimensionless; the reference is the origin).
    n_components : int, optional
        Number of components to keep (default 2, as in Fig. 2e).
    center : bool, optional
        Subtract the mean over all stacked time points before the SVD
        (standard PCA; default).  With ``center=False`` the decomposition is
        about the reference state itself.

    Returns
    -------
    TrajectoryPCA
        Scores ``(n_traj, n_times, n_components)``, explained-variance ratios
        ``(n_components,)`` and the fitted axes.

    Raises
    ------
    ValueError
        If the array is not 3-D, ``n_components`` is out of range, or fewer
        than two finite time points remain.

    Notes
    -----
    Time points containing any non-finite state (for example after a failed
    integration) are excluded from the fit and get NaN scores.  The explained
    variance ratio of component ``i`` is ``s_i^2 / sum_j s_j^2`` over all
    singular values of the (centred) ``(n_points, n_states)`` data matrix.
    Component signs are fixed deterministically (largest-magnitude loading
    positive), so results do not depend on the LAPACK sign convention.
    """
    y = np.asarray(trajectories, dtype=float)
    if y.ndim != 3:
        raise ValueError(f"trajectories must have shape (n_traj, n_times, n_states), got {y.shape}")
    n_traj, n_times, n_states = y.shape
    if not 1 <= n_components <= n_states:
        raise ValueError(f"n_components must lie in [1, {n_states}], got {n_components}")
    flat = y.reshape(n_traj * n_times, n_states)
    ok = np.all(np.isfinite(flat), axis=1)
    data = flat[ok]
    if data.shape[0] < 2:
        raise ValueError("need at least two finite time points to fit a PCA")
    mean = data.mean(axis=0) if center else np.zeros(n_states)
    centred = data - mean
    _, s, vt = np.linalg.svd(centred, full_matrices=False)
    total = float(np.sum(s**2))
    k = min(n_components, vt.shape[0])
    comps = vt[:k].copy()
    # Deterministic sign: largest-|loading| entry of each axis is positive.
    pivot = np.argmax(np.abs(comps), axis=1)
    signs = np.sign(comps[np.arange(k), pivot])
    signs[signs == 0] = 1.0
    comps *= signs[:, None]
    sv = s[:k]
    ratio = sv**2 / total if total > 0 else np.zeros(k)
    if k < n_components:  # fewer points than components: pad with zero-variance axes
        pad = n_components - k
        comps = np.vstack([comps, np.zeros((pad, n_states))])
        sv = np.concatenate([sv, np.zeros(pad)])
        ratio = np.concatenate([ratio, np.zeros(pad)])
    scores = np.full((n_traj * n_times, n_components), np.nan)
    scores[ok] = centred @ comps.T
    return TrajectoryPCA(
        scores=scores.reshape(n_traj, n_times, n_components),
        explained_variance_ratio=ratio,
        components=comps,
        mean=mean,
        reference_scores=(-mean) @ comps.T,
        singular_values=sv,
        n_points=int(data.shape[0]),
    )
