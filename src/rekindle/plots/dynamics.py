"""Distributions of max Re(lambda) and of the dominant time constant (Fig. 2d)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
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
        Explicit (min, max) of the eigenvalue axis in 1/h; by default the 0.5 to
        99.5 percentiles of the pooled data, widened to include the threshold.
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
    pooled = np.concatenate([*eigs.values(), np.array([threshold])])
    if eig_range is None:
        lo, hi = np.percentile(pooled, [0.5, 99.5])
        lo, hi = min(lo, threshold), max(hi, threshold)
        pad = 0.03 * (hi - lo) if hi > lo else 1.0
        eig_range = (float(lo - pad), float(hi + pad))
    eig_bins = np.linspace(eig_range[0], eig_range[1], bins + 1)

    taus = {k: time_constants(v[v < 0]) for k, v in eigs.items()}
    pooled_tau = np.concatenate([t for t in taus.values() if t.size] or [np.array([1.0])])
    pooled_tau = pooled_tau[(pooled_tau > 0) & np.isfinite(pooled_tau)]
    if pooled_tau.size == 0:
        pooled_tau = np.array([1.0])
    t_lo, t_hi = np.percentile(pooled_tau, [0.5, 99.5])
    marks = [-60.0 / threshold] if threshold < 0 else []
    if tau_line_min is not None:
        marks.append(tau_line_min)
    t_lo = min(t_lo, *marks) if marks else t_lo
    t_hi = max(t_hi, *marks) if marks else t_hi
    t_lo, t_hi = t_lo / 1.3, t_hi * 1.3
    tau_bins = np.geomspace(t_lo, t_hi, bins + 1)

    with _style.style():
        fig = _style.new_figure(FIGSIZE)
        ax_eig, ax_tau = fig.subplots(1, 2)
        for name in names:
            _style.density_step(ax_eig, eigs[name], eig_bins, colors[name], name)
            n_unstable = int(np.count_nonzero(eigs[name] >= 0))
            _style.density_step(ax_tau, taus[name], tau_bins, colors[name], name,
                                log_bins=True,
                                note=f"{n_unstable:,} unstable excluded" if n_unstable else "")
        ax_eig.axvline(threshold, color=_style.THRESHOLD_COLOR, linestyle="--", linewidth=1.2,
                       label=f"relevance threshold ({threshold:g} /h)")
        ax_eig.set_xlabel(r"max Re($\lambda$) (1/h)")
        ax_eig.set_ylabel("probability density (h)")
        ax_eig.set_title("Largest real eigenvalue of the Jacobian")
        ax_eig.set_xlim(eig_bins[0], eig_bins[-1])
        _style.headroom(ax_eig)
        ax_eig.legend(loc="upper left")

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
        ax_tau.set_xlim(t_lo, t_hi)
        _style.headroom(ax_tau)
        _style.log_ticks_plain(ax_tau)
        ax_tau.legend(loc="upper left")
        if title:
            fig.suptitle(title)
        return _style.save_figure(fig, path)
