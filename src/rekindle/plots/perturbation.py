"""Perturbation-analysis figures (paper Fig. 2e).

* :func:`plot_pca_trajectories` (Fig. 2e, left): perturbed trajectories in the
  PC1-PC2 plane.
* :func:`plot_returned_fraction` (Fig. 2e, right): fraction of perturbed models
  that return to the reference steady state, with Wilson error bars.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from rekindle.analysis.dynamics import wilson_interval
from rekindle.analysis.trajectories import TrajectoryPCA
from rekindle.plots import _style
from rekindle.reference_values import RETURNED_FRACTION_FDP1

PAPER_RETURNED_FRACTION: dict[str, float] = RETURNED_FRACTION_FDP1
"""Fractions returned to the steady state reported for physiology 1 (Fig. 2e)."""

TRAJECTORY_FIGSIZE: tuple[float, float] = (6.0, 5.0)
"""Size of the trajectory figure in inches (900 x 750 px at 150 dpi)."""

FRACTION_FIGSIZE: tuple[float, float] = (4.5, 4.5)
"""Size of the returned-fraction figure in inches (675 x 675 px at 150 dpi)."""

ESCAPED_COLOR = "#8c8c8c"


def _arrow_indices(path_xy: np.ndarray, fractions: tuple[float, ...]) -> list[int]:
    """Indices at given fractions of the arc length of a 2-D polyline."""
    seg = np.hypot(*np.diff(path_xy, axis=0).T)
    if seg.size == 0 or not np.isfinite(seg).all() or seg.sum() == 0:
        return []
    cum = np.concatenate([[0.0], np.cumsum(seg)])
    idx = [int(np.searchsorted(cum, f * cum[-1])) for f in fractions]
    return sorted({min(max(i, 1), len(path_xy) - 1) for i in idx})


def _draw_arrows(ax: Axes, xy: np.ndarray, color: str) -> None:
    for i in _arrow_indices(xy, (0.2, 0.5)):
        ax.annotate(
            "",
            xy=tuple(xy[i]),
            xytext=tuple(xy[i - 1]),
            arrowprops={
                "arrowstyle": "-|>",
                "color": color,
                "lw": 1.2,
                "mutation_scale": 14,
                "shrinkA": 0,
                "shrinkB": 0,
            },
            zorder=4,
        )


def plot_pca_trajectories(
    scores: ArrayLike | TrajectoryPCA,
    returned: ArrayLike,
    path: str | Path,
    *,
    explained_variance_ratio: ArrayLike | None = None,
    reference: ArrayLike | None = None,
    max_trajectories: int | None = None,
    returned_view: TrajectoryPCA | None = None,
    title: str | None = None,
) -> Path:
    """Trajectories of perturbed models in the PC1-PC2 plane (Fig. 2e, left).

    Each trajectory starts at a black circle (the perturbed state) and carries
    arrows giving its direction in time (the first :data:`MAX_ARROWS` of each kind);
    trajectories that returned to the reference steady state are drawn in colour,
    those that escaped in grey dashed lines. The reference steady state is a black
    triangle. The plane is framed by the returned trajectories
    (:func:`trajectory_frame`): an escaped path, often orders of magnitude larger,
    leaves the frame (clipped) instead of setting the scale, and the legend says how
    many do. ``returned_view`` adds a second panel with the returned trajectories
    alone, in the PCA of those trajectories.

    Parameters
    ----------
    scores : array_like, shape (n_traj, n_times, >=2), or TrajectoryPCA
        PCA coordinates, e.g. ``pca_trajectories(...).scores``.  When a
        :class:`~rekindle.analysis.trajectories.TrajectoryPCA` is passed, its
        explained-variance ratios and reference projection are used by default.
    returned : array_like of bool, shape (n_traj,)
        True where the trajectory returned to the reference steady state.
    path : str or pathlib.Path
        Output PNG path.
    explained_variance_ratio : array_like, shape (>=2,), optional
        Shown in the axis labels as percentages.
    reference : array_like, shape (2,), optional
        PC coordinates of the reference steady state (``Y = 0``).  Defaults to
        ``TrajectoryPCA.reference_scores`` or, for a plain array, to the median
        end point of the returned trajectories.
    max_trajectories : int, optional
        Plot only the first ``max_trajectories`` trajectories.
    returned_view : TrajectoryPCA, optional
        PCA fitted on the returned trajectories only (``pca_trajectories(traj[returned])``);
        drawn as a second panel.
    title : str, optional
        Axes title.

    Returns
    -------
    pathlib.Path
        The written PNG (900 x 750 px; 1800 x 750 px with ``returned_view``).
    """
    if isinstance(scores, TrajectoryPCA):
        if explained_variance_ratio is None:
            explained_variance_ratio = scores.explained_variance_ratio
        if reference is None:
            reference = scores.reference_scores
        scores = scores.scores
    xy_all = np.asarray(scores, dtype=float)
    if xy_all.ndim != 3 or xy_all.shape[2] < 2:
        raise ValueError(f"scores must have shape (n_traj, n_times, >=2), got {xy_all.shape}")
    ret = np.asarray(returned, dtype=bool).ravel()
    if ret.shape[0] != xy_all.shape[0]:
        raise ValueError("returned must have one entry per trajectory")
    if max_trajectories is not None:
        xy_all, ret = xy_all[:max_trajectories], ret[:max_trajectories]
    xy_all = xy_all[:, :, :2]
    if reference is None:
        reference = _median_end(xy_all[ret])
    width, height = TRAJECTORY_FIGSIZE
    n_panels = 1 if returned_view is None else 2
    with _style.style():
        fig = _style.new_figure((n_panels * width, height))
        axes = fig.subplots(1, n_panels, squeeze=False)[0]
        draw_pca_trajectories(axes[0], xy_all, ret, reference, explained_variance_ratio)
        axes[0].set_title(
            title or r"Perturbed trajectories in PCA space of $X/X_\mathrm{ref} - 1$"
        )
        if returned_view is not None:
            view = returned_view.scores[:, :, :2]
            draw_pca_trajectories(
                axes[1],
                view,
                np.ones(view.shape[0], dtype=bool),
                returned_view.reference_scores,
                returned_view.explained_variance_ratio,
            )
            axes[1].set_title("Returned trajectories only (their own PCA)")
        return _style.save_figure(fig, path)


MAX_ARROWS = 8
"""Trajectories of each kind (returned, escaped) that carry direction arrows."""


def _median_end(xy: np.ndarray) -> np.ndarray | None:
    """Median of the last finite point of each trajectory (None if there is none)."""
    ends = []
    for traj in xy:
        fin = traj[np.all(np.isfinite(traj), axis=1)]
        if fin.size:
            ends.append(fin[-1])
    return np.median(np.asarray(ends), axis=0) if ends else None


FRAME_MARGIN = 0.08
"""Margin around the returned trajectories, as a fraction of their extent per axis."""

FALLBACK_PERCENTILES: tuple[float, float] = (2.5, 97.5)
"""Percentile range of all points that frames a plane without returned trajectories."""


@dataclass(frozen=True)
class TrajectoryFrame:
    """Axis limits of a trajectory plane and what falls outside them.

    Attributes
    ----------
    xlim, ylim : tuple of float
        (low, high) limits of PC1 and PC2.
    n_outside : int
        Trajectories with at least one finite point outside the limits (drawn clipped).
    """

    xlim: tuple[float, float]
    ylim: tuple[float, float]
    n_outside: int


def trajectory_frame(
    xy_all: ArrayLike,
    returned: ArrayLike,
    reference: ArrayLike | None = None,
    *,
    margin: float = FRAME_MARGIN,
) -> TrajectoryFrame:
    """Limits that show the returned trajectories; escaped paths may leave them.

    The frame is the full extent of the finite points of the returned trajectories
    (and of ``reference``), padded by ``margin`` of that extent on each side. Without
    a returned trajectory it is the :data:`FALLBACK_PERCENTILES` range of all finite
    points. One escaped path thousands of times larger therefore no longer sets the
    scale; it is clipped by the axes and counted in ``n_outside``.

    Parameters
    ----------
    xy_all : array_like, shape (n_traj, n_times, 2)
        Trajectories in the PC1-PC2 plane (NaN rows are ignored).
    returned : array_like of bool, shape (n_traj,)
        True where the trajectory returned to the reference steady state.
    reference : array_like, shape (2,), optional
        Reference steady state, kept inside the frame when finite.
    margin : float, optional
        Padding on each side, as a fraction of the extent (per axis).

    Returns
    -------
    TrajectoryFrame
    """
    xy = np.asarray(xy_all, dtype=float)[:, :, :2]
    ret = np.asarray(returned, dtype=bool).ravel()
    finite = np.all(np.isfinite(xy), axis=2)  # (n_traj, n_times)
    inner = xy[finite & ret[:, None]]
    if reference is not None and inner.size:
        ref = np.asarray(reference, dtype=float).ravel()[:2]
        inner = np.vstack([inner, ref[None, :]]) if np.isfinite(ref).all() else inner
    if inner.size:
        lo, hi = inner.min(axis=0), inner.max(axis=0)
    elif finite.any():
        lo, hi = np.percentile(xy[finite], FALLBACK_PERCENTILES, axis=0)
    else:
        lo, hi = np.full(2, -1.0), np.full(2, 1.0)
    span = hi - lo
    # a degenerate axis (one point, a straight line) borrows the other's extent
    fallback = float(span.max()) if span.max() > 0 else max(float(np.abs(lo).max()), 1.0)
    pad = margin * np.where(span > 0, span, fallback)
    lo, hi = lo - pad, hi + pad
    with np.errstate(invalid="ignore"):
        outside = finite & np.any((xy < lo) | (xy > hi), axis=2)
    return TrajectoryFrame(
        xlim=(float(lo[0]), float(hi[0])),
        ylim=(float(lo[1]), float(hi[1])),
        n_outside=int(outside.any(axis=1).sum()),
    )


def draw_pca_trajectories(
    ax: Axes,
    xy_all: ArrayLike,
    returned: ArrayLike,
    reference: ArrayLike | None = None,
    explained_variance_ratio: ArrayLike | None = None,
) -> TrajectoryFrame:
    """Draw trajectories on ``ax``: returned in colour, escaped grey dashed.

    The axes are framed by :func:`trajectory_frame` (the returned trajectories);
    the legend says how many trajectories leave the frame.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Target axes.
    xy_all : array_like, shape (n_traj, n_times, 2)
        Trajectories in the PC1-PC2 plane.
    returned : array_like of bool, shape (n_traj,)
        True where the trajectory returned to the reference steady state.
    reference : array_like, shape (2,), optional
        Reference steady state (black triangle).
    explained_variance_ratio : array_like, shape (>=2,), optional
        Shown in the axis labels as percentages.

    Returns
    -------
    TrajectoryFrame
        The limits set on ``ax`` and the number of trajectories outside them.
    """
    xy_all = np.asarray(xy_all, dtype=float)[:, :, :2]
    ret = np.asarray(returned, dtype=bool).ravel()
    many = xy_all.shape[0] > 12
    arrows = {True: 0, False: 0}
    color_idx = 0
    for traj, ok in zip(xy_all, ret, strict=True):
        xy = traj[np.all(np.isfinite(traj), axis=1)]
        if xy.shape[0] == 0:
            continue
        if ok:
            color = _style.PALETTE[color_idx % len(_style.PALETTE)]
            color_idx += 1
            ax.plot(xy[:, 0], xy[:, 1], color=color, linewidth=1.0 if many else 1.6,
                    alpha=0.8 if many else 1.0, zorder=2)
        else:
            color = ESCAPED_COLOR
            ax.plot(xy[:, 0], xy[:, 1], color=color, linestyle="--", linewidth=1.2, zorder=1)
        if arrows[bool(ok)] < MAX_ARROWS:
            arrows[bool(ok)] += 1
            _draw_arrows(ax, xy, color)
        ax.plot(xy[0, 0], xy[0, 1], marker="o", markersize=4 if many else 7,
                markerfacecolor="none", markeredgecolor="black", markeredgewidth=1.0,
                linestyle="none", zorder=5)
    if reference is not None:
        ref = np.asarray(reference, dtype=float).ravel()[:2]
        ax.plot(ref[0], ref[1], marker="^", markersize=10, color="black", linestyle="none",
                zorder=6)
    frame = trajectory_frame(xy_all, ret, reference)
    ax.set_xlim(frame.xlim)
    ax.set_ylim(frame.ylim)
    ax.legend(handles=_legend_handles(ret, reference is not None, frame.n_outside),
              loc="best", fontsize=8)
    evr = None if explained_variance_ratio is None else np.asarray(explained_variance_ratio)
    for axis, i in ((ax.set_xlabel, 0), (ax.set_ylabel, 1)):
        suffix = f" ({100 * evr[i]:.2f} % variance)" if evr is not None and evr.size > i else ""
        axis(f"PC{i + 1}{suffix}")
    return frame


def _legend_handles(ret: np.ndarray, has_reference: bool, n_outside: int) -> list[Line2D]:
    """Legend entries of a trajectory plane; the escaped entry counts those off the frame."""
    n_ret, n_esc = int(ret.sum()), int((~ret).sum())
    handles = [Line2D([], [], color=_style.PALETTE[0], label=f"returned (n={n_ret})")]
    if n_esc:
        verb = "leaves" if n_outside == 1 else "leave"
        off = f", {n_outside} {verb} the frame" if n_outside else ""
        handles.append(
            Line2D([], [], color=ESCAPED_COLOR, linestyle="--", label=f"escaped (n={n_esc}{off})")
        )
    handles.append(Line2D([], [], marker="o", markerfacecolor="none", markeredgecolor="black",
                          linestyle="none", label="perturbed initial state"))
    if has_reference:
        handles.append(Line2D([], [], marker="^", color="black", linestyle="none",
                              label="reference steady state"))
    return handles


def plot_returned_fraction(
    counts: Mapping[str, tuple[int, int] | ArrayLike],
    path: str | Path,
    *,
    reference: Mapping[str, float] | None = None,
    confidence: float = 0.95,
    title: str | None = None,
    figsize: tuple[float, float] = FRACTION_FIGSIZE,
) -> Path:
    """Bar chart of the fraction of perturbations that returned (Fig. 2e, right).

    Parameters
    ----------
    counts : mapping of str to (int, int) or array_like of bool
        Population label (e.g. ``"ORACLE"``, ``"REKINDLE"``) -> either
        ``(n_returned, n_total)`` or a boolean array with one entry per
        perturbation (True = returned).
    path : str or pathlib.Path
        Output PNG path.
    reference : mapping of str to float, optional
        Reference fractions in [0, 1] drawn as black diamonds (for example
        :data:`PAPER_RETURNED_FRACTION`); labels without an entry get none.
    confidence : float, optional
        Level of the Wilson score interval used for the error bars.
    title : str, optional
        Axes title.
    figsize : tuple of float, optional
        Figure size in inches (default 4.5 x 4.5, i.e. 675 x 675 px).

    Returns
    -------
    pathlib.Path
        The written PNG.
    """
    if not counts:
        raise ValueError("need at least one population")
    with _style.style():
        fig = _style.new_figure(figsize)
        ax = fig.subplots()
        draw_fraction_bars(ax, counts, reference=reference, confidence=confidence)
        ax.set_title(title or "Return to the reference steady state")
        return _style.save_figure(fig, path)


def draw_fraction_bars(
    ax: Axes,
    counts: Mapping[str, tuple[int, int] | ArrayLike],
    *,
    reference: Mapping[str, float] | None = None,
    confidence: float = 0.95,
    ylabel: str = "fraction returned to reference state",
) -> None:
    """Draw returned-fraction bars with Wilson error bars on existing axes.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Target axes.
    counts : mapping of str to (int, int) or array_like of bool
        See :func:`plot_returned_fraction`.
    reference : mapping of str to float, optional
        Reference fractions drawn as markers.
    confidence : float, optional
        Wilson interval level.
    ylabel : str, optional
        Y-axis label.
    """
    names = [str(k) for k in counts]
    colors = _style.colors_for(names)
    kn = np.array([_style.as_counts(v) for v in counts.values()], dtype=float)
    k, n = kn[:, 0], kn[:, 1]
    with np.errstate(divide="ignore", invalid="ignore"):
        frac = np.where(n > 0, k / np.maximum(n, 1), np.nan)
    lo, hi = wilson_interval(k, n, confidence)
    x = np.arange(len(names))
    yerr = np.clip(np.nan_to_num(np.vstack([frac - lo, hi - frac])), 0.0, None)
    ax.bar(x, np.nan_to_num(frac), width=0.6, color=[colors[m] for m in names], alpha=0.85,
           edgecolor="black", linewidth=0.8)
    ax.errorbar(x, np.nan_to_num(frac), yerr=yerr, fmt="none", ecolor="black", capsize=5,
                linewidth=1.2, label=f"Wilson {100 * confidence:g} % interval")
    for xi, f, ni in zip(x, frac, n, strict=True):
        txt = "n/a" if not np.isfinite(f) else f"{100 * f:.2f} %"
        ax.text(xi, 0.03, f"{txt}\nn={int(ni):,}", ha="center", va="bottom", fontsize=8,
                color="white" if np.isfinite(f) and f > 0.15 else "black")
    if reference:
        ref_x = [xi for xi, m in zip(x, names, strict=True) if m in reference]
        ref_y = [float(reference[m]) for m in names if m in reference]
        if ref_x:
            ax.plot(ref_x, ref_y, linestyle="none", marker="D", markersize=8,
                    markerfacecolor="white", markeredgecolor=_style.PAPER_MARKER_COLOR,
                    markeredgewidth=1.5, label="paper", zorder=5)
    ax.set_xticks(x, names)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylim(0.0, 1.15)
    ax.set_yticks(np.linspace(0.0, 1.0, 6))
    _style.percent_formatter(ax, "y")
    ax.set_ylabel(ylabel)
    ax.legend(loc="upper center", ncols=2, fontsize=8)
