"""Distributions of max Re(lambda) and of the dominant time constant (Fig. 2d)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from rekindle.analysis.dynamics import (
    RELEVANCE_THRESHOLD_PER_H,
    TAU_LIMIT_MIN,
    time_constants,
)
from rekindle.plots import _style

FIGSIZE: tuple[float, float] = (10.0, 4.0)
"""Figure size in inches (PNG: 1500 x 600 px at 150 dpi)."""


def plot_dynamics(
    populations: Mapping[str, ArrayLike],
    path: str | Path,
    *,
    threshold: float = RELEVANCE_THRESHOLD_PER_H,
    tau_line_min: float | None = TAU_LIMIT_MIN,
    bins: int = 60,
    eig_range: tuple[float, float] | None = None,
    title: str | None = None,
) -> Path:
    """Overlaid distributions of max Re(lambda) and of tau for named populations.

    Left panel: normalised histograms of max Re(lambda) (1/h, density per 1/h)
    with the relevance threshold drawn as a vertical line.  Right panel:
    histograms of the dominant time constant ``tau = -1 / max Re(lambda)`` in
    minutes on a logarithmic axis (density per decade; stable models only),
    with the ``tau_line_min`` bound (7 min in the paper) and the tau equivalent
    of ``threshold`` (60/9 = 6.67 min) marked.  Densities are normalised by all
    finite samples of a population, including those outside the axis range.

    Parameters
    ----------
    populations : mapping of str to array_like, each shape (n_models,)
        Population label (e.g. ``"ORACLE"``, ``"REKINDLE"``) -> max Re(lambda)
        in 1/h.  At least one population; typically two or more.
    path : str or pathlib.Path
        Output PNG path.
    threshold : float, optional
        Relevance threshold in 1/h (default -9).
    tau_line_min : float or None, optional
        Time-constant bound to mark in minutes (default 7); None hides it.
    bins : int, optional
        Number of common histogram bins per panel.
    eig_range : tuple of float, optional
        Explicit (min, max) of the eigenvalue axis in 1/h; by default
        :func:`eigenvalue_axis_range` (the bulk of the data, not the unstable tail).
        Models outside the axis are counted in the legend and in a note.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        The written PNG (1500 x 600 px).

    Notes
    -----
    Non-finite eigenvalues are dropped; unstable models (max Re(lambda) >= 0)
    have no finite tau and are counted in the right-panel legend as "unstable".
    """
    if not populations:
        raise ValueError("need at least one population")
    names = [str(k) for k in populations]
    colors = _style.colors_for(names)
    eigs = {str(k): _style.finite(v) for k, v in populations.items()}
    eig_bins = np.linspace(*(eig_range or eigenvalue_axis_range(eigs, threshold)), bins + 1)
    taus = {k: time_constants(v[v < 0]) for k, v in eigs.items()}
    tau_bins = _tau_bins(taus, threshold, tau_line_min, bins)

    with _style.style():
        fig = _style.new_figure(FIGSIZE)
        ax_eig, ax_tau = fig.subplots(1, 2)
        _draw_eigenvalue_panel(ax_eig, eigs, colors, eig_bins, threshold)
        for name in names:
            n_unstable = int(np.count_nonzero(eigs[name] >= 0))
            _style.density_step(ax_tau, taus[name], tau_bins, colors[name], name,
                                log_bins=True,
                                note=f"{n_unstable:,} unstable excluded" if n_unstable else "")
        ax_tau.set_xscale("log")
        if threshold < 0:
            ax_tau.axvline(-60.0 / threshold, color=_style.THRESHOLD_COLOR, linestyle="--",
                           linewidth=1.2, label=f"threshold: {-60.0 / threshold:.2f} min")
        if tau_line_min is not None:
            ax_tau.axvline(tau_line_min, color="black", linestyle=":", linewidth=1.4,
                           label=f"{tau_line_min:g} min bound")
        ax_tau.set_xlabel(r"dominant time constant $\tau$ (min, log scale)")
        ax_tau.set_ylabel("probability density (per decade)")
        ax_tau.set_title(r"Dominant time constant $\tau = -1/\max\,\mathrm{Re}(\lambda)$")
        ax_tau.set_xlim(tau_bins[0], tau_bins[-1])
        _style.headroom(ax_tau)
        _style.log_ticks_plain(ax_tau)
        ax_tau.legend(loc="upper left")
        if title:
            fig.suptitle(title)
        return _style.save_figure(fig, path)


def eigenvalue_axis_range(
    eigs: Mapping[str, np.ndarray], threshold: float = RELEVANCE_THRESHOLD_PER_H
) -> tuple[float, float]:
    """Range of the max Re(λ) axis, 1/h, that shows the bulk of every population.

    ORACLE populations carry a long unstable tail (a quarter of the fdp1 models above
    0, up to ~3·10⁴ 1/h) that would squeeze the stable bulk into one bin. The axis
    therefore runs from the 0.5th percentile ``p`` of the pooled values to
    ``m + 2 (m − p)`` (``m`` their median), capped at the 99.5th percentile and
    widened to include ``threshold``; the models beyond it are counted in the figure.
    """
    pooled = np.concatenate([*eigs.values(), np.array([threshold])])
    lo, med, hi = np.percentile(pooled, [0.5, 50.0, 99.5])
    hi = min(hi, med + 2.0 * (med - lo))
    lo, hi = min(lo, threshold), max(hi, threshold)
    pad = 0.03 * (hi - lo) if hi > lo else 1.0
    return float(lo - pad), float(hi + pad)


def _tau_bins(
    taus: Mapping[str, np.ndarray], threshold: float, tau_line_min: float | None, bins: int
) -> np.ndarray:
    """Log-spaced τ bin edges, min, covering the 0.5–99.5 percentiles and the marks."""
    pooled = np.concatenate([t for t in taus.values() if t.size] or [np.array([1.0])])
    pooled = pooled[(pooled > 0) & np.isfinite(pooled)]
    if pooled.size == 0:
        pooled = np.array([1.0])
    t_lo, t_hi = np.percentile(pooled, [0.5, 99.5])
    marks = [-60.0 / threshold] if threshold < 0 else []
    if tau_line_min is not None:
        marks.append(tau_line_min)
    if marks:
        t_lo, t_hi = min(t_lo, *marks), max(t_hi, *marks)
    return np.geomspace(t_lo / 1.3, t_hi * 1.3, bins + 1)


def _draw_eigenvalue_panel(
    ax: Axes,
    eigs: Mapping[str, np.ndarray],
    colors: Mapping[str, str],
    bins: np.ndarray,
    threshold: float,
) -> None:
    """Histograms of max Re(λ) on ``bins``; the models outside are counted, with the
    largest value, in a note at the right edge."""
    outside = []
    for name, values in eigs.items():
        _style.density_step(ax, values, bins, colors[name], name)
        above = int(np.count_nonzero(values > bins[-1]))
        below = int(np.count_nonzero(values < bins[0]))
        if above or below:
            outside.append(f"{name}: {above:,} ({100 * above / values.size:.1f} %) right, "
                           f"up to {values.max():,.0f}; {below:,} left")
    ax.axvline(threshold, color=_style.THRESHOLD_COLOR, linestyle="--", linewidth=1.2,
               label=f"relevance threshold ({threshold:g} /h)")
    if outside:
        ax.text(0.98, 0.70, "models outside the axis (1/h):\n" + "\n".join(outside),
                transform=ax.transAxes, ha="right", va="top", fontsize=7,
                bbox={"facecolor": "white", "alpha": 0.8, "edgecolor": "none"})
    ax.set_xlabel(r"max Re($\lambda$) (1/h)")
    ax.set_ylabel("probability density (h)")
    ax.set_title("Largest real eigenvalue of the Jacobian")
    ax.set_xlim(bins[0], bins[-1])
    _style.headroom(ax)
    ax.legend(loc="upper left", fontsize=7)
