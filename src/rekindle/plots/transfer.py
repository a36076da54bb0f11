"""Transfer-learning figures (paper Fig. 4b-c).

Input format for the incidence curves
-------------------------------------
:func:`plot_transfer_incidence` takes an iterable of *row dicts*, one per
trained GAN (one repeat of one configuration), with the keys

``source`` : str or None
    Physiology whose generator was fine-tuned (e.g. ``"physiology 1"``);
    ignored (may be None or missing) for ``mode == "scratch"``.
``target`` : str
    Physiology the GAN was (re)trained for.
``n_sets`` : int
    Number of training parameter sets from the target (10, 50, 100, 500, 1000).
``mode`` : {"transfer", "scratch"}
    Fine-tuned from ``source`` or trained from scratch.
``repeat`` : int
    Replicate index (used only to count repeats).
``incidence`` : float
    Highest incidence of relevant models reached, a fraction in [0, 1].

Extra keys are ignored.  The rows are typically read from a CSV with
``csv.DictReader``; string values of ``n_sets``/``incidence`` are converted.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import TypedDict

import numpy as np
from numpy.typing import ArrayLike

from rekindle.analysis.dynamics import RELEVANCE_THRESHOLD_PER_H
from rekindle.plots import _style
from rekindle.plots.perturbation import draw_fraction_bars

N_SETS: tuple[int, ...] = (10, 50, 100, 500, 1000)
"""Training-set sizes used in the paper (Fig. 4b)."""

VALIDATION_FIGSIZE: tuple[float, float] = (5.5, 7.0)
"""Size of the Fig. 4c figure in inches (825 x 1050 px at 150 dpi)."""

SCRATCH_COLOR = "#000000"


class IncidenceSummary(TypedDict):
    """Aggregated incidence of one configuration over repeats."""

    target: str
    mode: str
    source: str | None
    n_sets: int
    n_repeats: int
    mean: float
    min: float
    max: float


def transfer_incidence_figsize(n_targets: int) -> tuple[float, float]:
    """Figure size (inches) of :func:`plot_transfer_incidence`.

    Parameters
    ----------
    n_targets : int
        Number of distinct target physiologies (one panel each, <= 4 per row).

    Returns
    -------
    tuple of float
        ``(width, height)``; pixels are 150 times these.
    """
    ncols = max(1, min(4, n_targets))
    nrows = math.ceil(max(1, n_targets) / ncols)
    return (3.8 * ncols + 0.4, 3.6 * nrows + 0.4)


def aggregate_transfer_rows(rows: Iterable[Mapping[str, object]]) -> list[IncidenceSummary]:
    """Mean, min and max incidence over repeats per configuration.

    Parameters
    ----------
    rows : iterable of mapping
        Row dicts as described in the module docstring.

    Returns
    -------
    list of IncidenceSummary
        One record per ``(target, mode, source, n_sets)`` with keys
        ``target``, ``mode``, ``source`` (None for scratch), ``n_sets``,
        ``n_repeats``, ``mean``, ``min``, ``max``; sorted by target, mode,
        source and n_sets.  Non-finite incidences are ignored.

    Raises
    ------
    ValueError
        On an unknown ``mode`` or a missing key.
    """
    groups: dict[tuple[str, str, str | None, int], list[float]] = {}
    for row in rows:
        try:
            mode = str(row["mode"]).strip().lower()
            target = str(row["target"])
            n_sets = int(float(str(row["n_sets"])))
            inc = float(str(row["incidence"]))
        except KeyError as exc:
            raise ValueError(f"row is missing key {exc}: {dict(row)!r}") from None
        if mode not in ("transfer", "scratch"):
            raise ValueError(f"mode must be 'transfer' or 'scratch', got {row['mode']!r}")
        src_raw = row.get("source")
        source = None if mode == "scratch" or src_raw in (None, "") else str(src_raw)
        groups.setdefault((target, mode, source, n_sets), [])
        if math.isfinite(inc):
            groups[(target, mode, source, n_sets)].append(inc)
    out: list[IncidenceSummary] = []
    for (target, mode, source, n_sets), vals in sorted(
        groups.items(), key=lambda kv: (kv[0][0], kv[0][1], kv[0][2] or "", kv[0][3])
    ):
        arr = np.asarray(vals, dtype=float)
        out.append(IncidenceSummary(
            target=target,
            mode=mode,
            source=source,
            n_sets=n_sets,
            n_repeats=int(arr.size),
            mean=float(arr.mean()) if arr.size else math.nan,
            min=float(arr.min()) if arr.size else math.nan,
            max=float(arr.max()) if arr.size else math.nan,
        ))
    return out


def plot_transfer_incidence(
    rows: Iterable[Mapping[str, object]],
    path: str | Path,
    *,
    n_sets_ticks: Sequence[int] = N_SETS,
    title: str | None = None,
) -> Path:
    """Incidence of relevant models vs number of training sets (Fig. 4b).

    One panel per target physiology; one line per ``source -> target``
    transfer (coloured, solid, circles) and one for training from scratch
    (black, dashed, squares).  Each point is the mean over repeats and the
    error bar spans the minimum to maximum over repeats.  The x axis is
    logarithmic.

    Parameters
    ----------
    rows : iterable of mapping
        Row dicts (see module docstring): ``source``, ``target``, ``n_sets``,
        ``mode``, ``repeat``, ``incidence``.
    path : str or pathlib.Path
        Output PNG path.
    n_sets_ticks : sequence of int, optional
        X tick positions (default 10, 50, 100, 500, 1000).
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        The written PNG, ``transfer_incidence_figsize(n_targets) * 150`` px.
    """
    agg = aggregate_transfer_rows(rows)
    if not agg:
        raise ValueError("no rows to plot")
    targets = sorted({str(r["target"]) for r in agg})
    sources = sorted({str(r["source"]) for r in agg if r["source"] is not None})
    src_colors = {s: _style.PALETTE[i % len(_style.PALETTE)] for i, s in enumerate(sources)}
    ncols = max(1, min(4, len(targets)))
    nrows = math.ceil(len(targets) / ncols)
    # Small multiplicative x offsets so that overlapping error bars stay visible.
    n_lines = len(sources) + 1
    offsets = 1.0 + 0.04 * (np.arange(n_lines) - (n_lines - 1) / 2)

    with _style.style():
        fig = _style.new_figure(transfer_incidence_figsize(len(targets)))
        axes = np.atleast_1d(fig.subplots(nrows, ncols, sharey=True, squeeze=False)).ravel()
        for ax, target in zip(axes, targets, strict=False):
            recs = [r for r in agg if r["target"] == target]
            keys = [("scratch", None)] + [("transfer", s) for s in sources]
            for li, (mode, source) in enumerate(keys):
                sel = sorted(
                    (r for r in recs if r["mode"] == mode and r["source"] == source),
                    key=lambda r: r["n_sets"],
                )
                if not sel:
                    continue
                x = np.array([r["n_sets"] for r in sel], dtype=float) * offsets[li]
                mean = np.array([r["mean"] for r in sel])
                lo = np.array([r["min"] for r in sel])
                hi = np.array([r["max"] for r in sel])
                reps = max(r["n_repeats"] for r in sel)
                if mode == "scratch":
                    style = {"color": SCRATCH_COLOR, "linestyle": "--", "marker": "s"}
                    label = f"from scratch (≤{reps} repeats)"
                else:
                    style = {"color": src_colors[str(source)], "linestyle": "-", "marker": "o"}
                    label = f"{source} → {target}"
                yerr = np.clip(np.vstack([mean - lo, hi - mean]), 0.0, None)
                ax.errorbar(x, mean, yerr=yerr, capsize=3, markersize=5, linewidth=1.5,
                            label=label, **style)
            ax.set_xscale("log")
            ax.set_xticks(list(n_sets_ticks), [str(t) for t in n_sets_ticks])
            ax.minorticks_off()
            ax.set_xlim(min(n_sets_ticks) / 1.6, max(n_sets_ticks) * 1.6)
            ax.set_ylim(0.0, 1.05)
            ax.set_title(f"target: {target}")
            ax.set_xlabel("number of training parameter sets")
            ax.legend(loc="best", fontsize=7)
        for ax in axes[:: ncols]:
            ax.set_ylabel("incidence of relevant models")
        for ax in axes[len(targets):]:
            ax.set_visible(False)
        fig.suptitle(title or "Transfer learning vs training from scratch "
                     "(mean, min–max over repeats)")
        return _style.save_figure(fig, path)


def plot_transfer_validation(
    returned: Mapping[str, tuple[int, int] | ArrayLike],
    max_eig: Mapping[str, ArrayLike],
    path: str | Path,
    *,
    threshold: float = RELEVANCE_THRESHOLD_PER_H,
    reference: Mapping[str, float] | None = None,
    bins: int = 60,
    confidence: float = 0.95,
    title: str | None = None,
) -> Path:
    """Validation of transfer learning (Fig. 4c).

    Upper panel: fraction of perturbed models that return to the reference
    steady state per generator type, with Wilson error bars.  Lower panel:
    overlaid probability densities of max Re(lambda) with the relevance
    threshold.

    Parameters
    ----------
    returned : mapping of str to (int, int) or array_like of bool
        Label (e.g. ``"transfer"``, ``"scratch"``) -> ``(n_returned, n_total)``
        or one boolean per perturbation.
    max_eig : mapping of str to array_like, each shape (n_models,)
        Label -> max Re(lambda) in 1/h of the generated models.
    path : str or pathlib.Path
        Output PNG path.
    threshold : float, optional
        Relevance threshold in 1/h (default -9).
    reference : mapping of str to float, optional
        Reference returned fractions to draw as markers.
    bins : int, optional
        Histogram bins of the density panel.
    confidence : float, optional
        Wilson interval level.
    title : str, optional
        Figure title.

    Returns
    -------
    pathlib.Path
        The written PNG (825 x 1050 px).
    """
    if not returned or not max_eig:
        raise ValueError("need at least one population in each panel")
    names = [str(k) for k in max_eig]
    colors = _style.colors_for(names)
    eigs = {str(k): _style.finite(v) for k, v in max_eig.items()}
    pooled = np.concatenate([*eigs.values(), np.array([threshold])])
    lo, hi = np.percentile(pooled, [0.5, 99.5])
    lo, hi = min(lo, threshold), max(hi, threshold)
    pad = 0.03 * (hi - lo) if hi > lo else 1.0
    edges = np.linspace(lo - pad, hi + pad, bins + 1)

    with _style.style():
        fig = _style.new_figure(VALIDATION_FIGSIZE)
        ax_bar, ax_pdf = fig.subplots(2, 1, height_ratios=(1.0, 1.1))
        draw_fraction_bars(ax_bar, returned, reference=reference, confidence=confidence,
                           ylabel="fraction returned to RSS")
        ax_bar.set_title("Return to the reference steady state (RSS)")
        for name in names:
            _style.density_step(ax_pdf, eigs[name], edges, colors[name], name)
        ax_pdf.axvline(threshold, color=_style.THRESHOLD_COLOR, linestyle="--", linewidth=1.2,
                       label=f"threshold ({threshold:g} /h)")
        ax_pdf.set_xlim(edges[0], edges[-1])
        ax_pdf.set_xlabel(r"max Re($\lambda$) (1/h)")
        ax_pdf.set_ylabel("probability density (h)")
        ax_pdf.set_title("Largest real eigenvalue of generated models")
        ax_pdf.legend(loc="upper left", fontsize=8)
        if title:
            fig.suptitle(title)
        return _style.save_figure(fig, path)
