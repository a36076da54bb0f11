"""Interpretability figures (paper Fig. 3).

* :func:`plot_top_parameters` (Fig. 3a): distributions of the top-KL kinetic
  parameters for relevant vs not relevant models, plus the KL magnitudes.
* :func:`plot_decile_eigenvalues` (Fig. 3b): a parameter split into decile
  sub-populations and the max Re(lambda) distribution of each.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib import colormaps
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from rekindle.analysis.dynamics import RELEVANCE_THRESHOLD_PER_H
from rekindle.analysis.subpopulations import quantile_bin_stats
from rekindle.plots import _style

DECILE_FIGSIZE: tuple[float, float] = (12.0, 4.5)
"""Size of the decile figure in inches (1800 x 675 px at 150 dpi)."""

MAX_VIOLIN_SAMPLES = 20_000
"""Per-bin subsample size for the violin kernel density (statistics use all)."""


def top_parameters_figsize(top_k: int, ncols: int = 5) -> tuple[float, float]:
    """Figure size in inches used by :func:`plot_top_parameters`.

    Parameters
    ----------
    top_k : int
        Number of parameter panels.
    ncols : int, optional
        Histogram panels per row.

    Returns
    -------
    tuple of float
        ``(width, height)``; the PNG has ``150 *`` these many pixels.
    """
    ncols = max(1, min(ncols, top_k))
    nrows = math.ceil(top_k / ncols)
    return (2.6 * ncols + 4.2, 2.3 * nrows + 0.9)


def _log10_positive(values: np.ndarray) -> np.ndarray:
    out = np.full(values.shape, np.nan)
    pos = values > 0
    out[pos] = np.log10(values[pos])
    return out


def _class_histograms(
    ax: Axes,
    a: np.ndarray,
    b: np.ndarray,
    bins: int,
    colors: tuple[str, str],
    labels: tuple[str, str],
) -> None:
    """Density steps of two populations on common bins (one panel of Fig. 3a)."""
    pooled = np.concatenate([a, b])
    if pooled.size == 0:
        ax.text(0.5, 0.5, "no finite data", ha="center", va="center", transform=ax.transAxes)
        return
    lo, hi = float(pooled.min()), float(pooled.max())
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    edges = np.linspace(lo, hi, bins + 1)
    _style.density_step(ax, a, edges, colors[0], labels[0])
    _style.density_step(ax, b, edges, colors[1], labels[1])


def _kl_bars(ax: Axes, kl: np.ndarray, names: list[str]) -> None:
    """Horizontal KL bars, largest on top (right panel of Fig. 3a)."""
    y = np.arange(kl.size)
    ax.barh(y, kl, color="#7f7f7f", edgecolor="black", linewidth=0.6)
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("KL divergence (nats)")
    ax.set_title(f"Top {kl.size} parameters by KL divergence")


def plot_top_parameters(
    relevant: ArrayLike,
    not_relevant: ArrayLike,
    parameter_names: Sequence[str],
    kl_values: ArrayLike,
    path: str | Path,
    *,
    top_k: int = 10,
    values_are_log10: bool = False,
    bins: int = 40,
    ncols: int = 5,
    labels: tuple[str, str] = ("relevant", "not relevant"),
    title: str | None = None,
) -> Path:
    """Top-KL parameter distributions and KL bar chart (Fig. 3a).

    Parameters
    ----------
    relevant : array_like, shape (n_rel, n_params)
        Kinetic parameters (e.g. the 259 K_M, in mM) of relevant models.
    not_relevant : array_like, shape (n_irr, n_params)
        Same parameters of not relevant models.
    parameter_names : sequence of str, length n_params
        Display names of the parameter columns.
    kl_values : array_like, shape (n_params,)
        KL divergence (nats) between the two populations for each parameter;
        the ``top_k`` largest are shown, in decreasing order.
    path : str or pathlib.Path
        Output PNG path.
    top_k : int, optional
        Number of parameters to show (default 10, as in the paper).
    values_are_log10 : bool, optional
        Set True if the inputs are already log10-transformed; otherwise
        log10 is taken (non-positive values are dropped).
    bins : int, optional
        Histogram bins per panel (common to both populations).
    ncols : int, optional
        Histogram panels per row.
    labels : tuple of str, optional
        Legend labels of the two populations.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        The written PNG, of size ``top_parameters_figsize(k, ncols) * 150`` px
        with ``k = min(top_k, n_params)``.
    """
    rel = np.asarray(relevant, dtype=float)
    irr = np.asarray(not_relevant, dtype=float)
    kl = np.asarray(kl_values, dtype=float).ravel()
    names = [str(s) for s in parameter_names]
    if rel.ndim != 2 or irr.ndim != 2 or rel.shape[1] != irr.shape[1]:
        raise ValueError("relevant and not_relevant must be 2-D with the same number of columns")
    if not (rel.shape[1] == kl.size == len(names)):
        raise ValueError("parameter_names, kl_values and the data columns must agree in length")
    k = max(1, min(top_k, kl.size))
    order = np.argsort(np.where(np.isfinite(kl), -kl, np.inf), kind="stable")[:k]
    ncols = max(1, min(ncols, k))
    nrows = math.ceil(k / ncols)
    colors = _style.colors_for(list(labels))
    c_rel, c_irr = colors[labels[0]], colors[labels[1]]

    with _style.style():
        fig = _style.new_figure(top_parameters_figsize(k, ncols))
        gs = fig.add_gridspec(nrows, ncols + 2)
        for panel, j in enumerate(order):
            ax = fig.add_subplot(gs[panel // ncols, panel % ncols])
            a, b = rel[:, j], irr[:, j]
            if not values_are_log10:
                a, b = _log10_positive(a), _log10_positive(b)
            _class_histograms(ax, _style.finite(a), _style.finite(b), bins, (c_rel, c_irr), labels)
            ax.set_title(f"{panel + 1}. {names[j]}", fontsize=8)
            ax.tick_params(labelsize=7)
            if panel // ncols == nrows - 1 or panel + ncols >= k:
                ax.set_xlabel(r"log$_{10}$(value)", fontsize=8)
            if panel % ncols == 0:
                ax.set_ylabel("density", fontsize=8)
        ax_kl = fig.add_subplot(gs[:, ncols:])
        _kl_bars(ax_kl, kl[order], [names[j] for j in order])
        handles = [
            Line2D([], [], color=c_rel, linewidth=2, label=f"{labels[0]} (n={rel.shape[0]:,})"),
            Line2D([], [], color=c_irr, linewidth=2, label=f"{labels[1]} (n={irr.shape[0]:,})"),
        ]
        ax_kl.legend(handles=handles, loc="lower right", title="histograms", fontsize=8)
        if title:
            fig.suptitle(title)
        return _style.save_figure(fig, path)


def plot_decile_eigenvalues(
    parameter: ArrayLike,
    max_eig: ArrayLike,
    path: str | Path,
    *,
    q: int = 10,
    parameter_label: str = r"$K_{M,\mathrm{atp}}^{\mathrm{ACS}}$",
    parameter_unit: str = "mM",
    log10: bool = True,
    bins: int = 60,
    threshold: float | None = RELEVANCE_THRESHOLD_PER_H,
    cmap: str = "viridis",
    title: str | None = None,
    seed: int = 0,
) -> Path:
    """Decile split of one parameter and max Re(lambda) per decile (Fig. 3b).

    Left: histogram of the parameter, stacked and coloured by quantile bin.
    Right: violin of max Re(lambda) per bin with the mean as a thick black
    line and the quartiles as dashed lines; the Spearman rho between bin index
    and bin mean is shown in the title.

    Parameters
    ----------
    parameter : array_like, shape (n,)
        Parameter value per model (linear units, e.g. mM, unless ``log10`` is
        False and the values are already transformed).
    max_eig : array_like, shape (n,)
        Largest real Jacobian eigenvalue per model (1/h).
    path : str or pathlib.Path
        Output PNG path.
    q : int, optional
        Number of quantile bins (default 10).
    parameter_label : str, optional
        Display name of the parameter (mathtext allowed).
    parameter_unit : str, optional
        Unit of the parameter, shown in the axis label.
    log10 : bool, optional
        Plot the parameter histogram on a log10 scale (non-positive values are
        dropped).  The binning itself is rank-based and does not depend on it.
    bins : int, optional
        Number of histogram bins in the left panel.
    threshold : float or None, optional
        Relevance threshold (1/h) drawn in the right panel if inside the data
        range; None hides it.
    cmap : str, optional
        Sequential colormap for the bins.
    title : str, optional
        Figure title.
    seed : int, optional
        Seed of the subsampling used for violins with more than
        :data:`MAX_VIOLIN_SAMPLES` models per bin.

    Returns
    -------
    pathlib.Path
        The written PNG (1800 x 675 px).
    """
    x = np.asarray(parameter, dtype=float).ravel()
    y = np.asarray(max_eig, dtype=float).ravel()
    if log10:
        x = _log10_positive(x)
    stats = quantile_bin_stats(x, y, q=q)
    palette = colormaps[cmap](np.linspace(0.1, 0.95, q))
    per_bin_x = [x[stats.bin_index == i] for i in range(q)]
    per_bin_y = [y[stats.bin_index == i] for i in range(q)]
    rng = np.random.default_rng(seed)
    violin_y = [
        v if v.size <= MAX_VIOLIN_SAMPLES else rng.choice(v, MAX_VIOLIN_SAMPLES, replace=False)
        for v in per_bin_y
    ]
    xlabel = f"log$_{{10}}$({parameter_label} / {parameter_unit})" if log10 else (
        f"{parameter_label} ({parameter_unit})")

    with _style.style():
        fig = _style.new_figure(DECILE_FIGSIZE)
        ax_h, ax_v = fig.subplots(1, 2, width_ratios=(1.0, 1.3))
        _decile_histogram(ax_h, stats, per_bin_x, palette, bins, xlabel)
        _decile_violins(ax_v, stats, per_bin_y, violin_y, palette, threshold)
        ax_v.set_xlabel(f"quantile bin of {parameter_label} (low → high)")
        if title:
            fig.suptitle(title)
        return _style.save_figure(fig, path)


def _decile_histogram(
    ax: Axes, stats: Any, per_bin_x: list[np.ndarray], palette: Any, bins: int, xlabel: str
) -> None:
    """Left panel of Fig. 3b: the parameter's histogram stacked by quantile bin."""
    q = len(per_bin_x)
    edges = np.linspace(stats.edges[0], stats.edges[-1], bins + 1)
    if edges[-1] <= edges[0]:
        edges = np.linspace(edges[0] - 0.5, edges[0] + 0.5, bins + 1)
    ax.hist(per_bin_x, bins=edges, stacked=True, color=list(palette),
            edgecolor="none", label=[f"bin {i + 1}" for i in range(q)])
    ax.set_xlabel(xlabel)
    ax.set_ylabel("number of models")
    ax.set_title(f"{stats.n.sum():,} models split into {q} quantile bins")
    ax.legend(ncols=2, fontsize=7, loc="upper right", title="low → high", title_fontsize=7)


def _decile_violins(
    ax: Axes,
    stats: Any,
    per_bin_y: list[np.ndarray],
    violin_y: list[np.ndarray],
    palette: Any,
    threshold: float | None,
) -> None:
    """Right panel of Fig. 3b: max Re(λ) per bin, mean (thick) and quartiles (dashed)."""
    q = len(per_bin_y)
    pos = np.arange(1, q + 1)
    parts = ax.violinplot(violin_y, positions=pos, widths=0.8, showextrema=False)
    for body, color in zip(parts["bodies"], palette, strict=True):
        body.set_facecolor(color)
        body.set_edgecolor("black")
        body.set_linewidth(0.5)
        body.set_alpha(0.8)
    ax.hlines(stats.mean, pos - 0.35, pos + 0.35, color="black", linewidth=2.6, label="mean")
    ax.hlines(stats.q25, pos - 0.25, pos + 0.25, color="black", linewidth=1.0,
              linestyle="--", label="quartiles")
    ax.hlines(stats.q75, pos - 0.25, pos + 0.25, color="black", linewidth=1.0, linestyle="--")
    ax.plot(pos, stats.mean, color="black", linewidth=0.8, alpha=0.5)
    if threshold is not None:
        fin = np.concatenate([v for v in per_bin_y if v.size])
        if fin.size and fin.min() <= threshold <= fin.max():
            ax.axhline(threshold, color=_style.THRESHOLD_COLOR, linestyle=":",
                       linewidth=1.2, label=f"threshold ({threshold:g} /h)")
    ax.set_xticks(pos, [str(i) for i in pos])
    ax.set_ylabel(r"max Re($\lambda$) (1/h)")
    rho = stats.spearman_rho
    rho_txt = "n/a" if not np.isfinite(rho) else f"{rho:+.3f}"
    ax.set_title(f"Max eigenvalue per bin (Spearman ρ = {rho_txt})")
    ax.legend(loc="best", fontsize=8)
