"""Figures of GAN training metrics (paper Fig. 2a-c).

All functions take metrics as a list of dicts (``TrainingResult.metrics`` or
``.history``) or the path of a CSV written by the trainer (``metrics.csv``,
``history.csv``), write a PNG with matplotlib's Agg canvas (no GUI backend, no
change of the global backend) and return the output path.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rekindle.gan.monitoring import read_metrics_csv, spearman
from rekindle.io.atomic import save_figure

__all__ = ["plot_incidence_vs_kl", "plot_losses", "plot_training_curves"]

Records = Sequence[Mapping[str, float]]
MetricsLike = Records | str | os.PathLike
RunsLike = MetricsLike | Sequence[MetricsLike]


def _load(metrics: MetricsLike) -> list[Mapping[str, float]]:
    if isinstance(metrics, (str, os.PathLike)):
        return list(read_metrics_csv(metrics))
    return list(metrics)


def _load_runs(runs: RunsLike) -> list[list[Mapping[str, float]]]:
    """Accept one run (records or path) or a sequence of runs."""
    if isinstance(runs, (str, os.PathLike)):
        return [_load(runs)]
    runs = list(runs)
    if not runs or isinstance(runs[0], Mapping):
        return [_load(runs)]  # a single run given as records
    return [_load(r) for r in runs]


def _column(records: Sequence[Mapping[str, float]], key: str) -> np.ndarray:
    return np.array([float(r.get(key, math.nan)) for r in records], dtype=np.float64)


def _aligned(runs: list[list[Mapping[str, float]]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """Epochs (union) and a (n_runs, n_epochs) matrix of ``key`` (NaN where absent)."""
    epochs = sorted({int(r["epoch"]) for run in runs for r in run})
    pos = {e: i for i, e in enumerate(epochs)}
    mat = np.full((len(runs), len(epochs)), np.nan)
    for i, run in enumerate(runs):
        for r in run:
            mat[i, pos[int(r["epoch"])]] = float(r.get(key, math.nan))
    return np.asarray(epochs, dtype=np.float64), mat


def _band(mat: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean, min, max over runs ignoring NaN (NaN where no run has a value)."""
    out = np.full((3, mat.shape[1]), np.nan)
    ok = np.any(np.isfinite(mat), axis=0)
    if np.any(ok):
        sub = mat[:, ok]
        out[0, ok] = np.nanmean(sub, axis=0)
        out[1, ok] = np.nanmin(sub, axis=0)
        out[2, ok] = np.nanmax(sub, axis=0)
    return out[0], out[1], out[2]


def _save(fig: Figure, path: str | os.PathLike[str], dpi: int) -> Path:
    FigureCanvasAgg(fig)
    return save_figure(fig, Path(path), dpi=dpi, format="png")


def plot_losses(
    metrics: MetricsLike,
    path: str | os.PathLike[str],
    *,
    failure_accuracy: float = 0.9,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Discriminator/generator losses and discriminator accuracy vs epoch.

    Parameters
    ----------
    metrics : list of dict or path
        Records with ``epoch``, ``d_loss``, ``g_loss``, ``d_accuracy``
        (per-epoch ``history`` or per-evaluation ``metrics``).
    path : path
        Output PNG.
    failure_accuracy : float
        Drawn as a dashed line on the accuracy panel (paper: 0.9).
    title : str, optional
        Figure title.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    rec = _load(metrics)
    epoch = _column(rec, "epoch")
    fig = Figure(figsize=(7.0, 5.5), layout="constrained")
    ax1, ax2 = fig.subplots(2, 1, sharex=True)
    ax1.plot(epoch, _column(rec, "d_loss"), label="discriminator", color="tab:blue")
    ax1.plot(epoch, _column(rec, "g_loss"), label="generator", color="tab:red")
    ax1.set_ylabel("BCE loss")
    ax1.legend(frameon=False)
    ax2.plot(epoch, _column(rec, "d_accuracy"), color="black")
    ax2.axhline(failure_accuracy, ls="--", color="grey", lw=1, label="failure threshold")
    ax2.set_ylim(0.0, 1.02)
    ax2.set_ylabel("discriminator accuracy")
    ax2.set_xlabel("epoch")
    ax2.legend(frameon=False, loc="lower right")
    if title:
        fig.suptitle(title)
    return _save(fig, path, dpi)


def plot_training_curves(
    runs: RunsLike,
    path: str | os.PathLike[str],
    *,
    title: str | None = None,
    show_runs: bool = True,
    dpi: int = 150,
) -> Path:
    """KL divergence and incidence vs epoch over repeats (paper Fig. 2a-b).

    Panel a: mean ``kl_train`` (black) with min-max band over repeats (orange)
    and mean ``kl_test`` (dashed); where the metrics hold ``kl_means_train``, the
    paper's KL between the histograms of the per-feature means (dotted, red), which a
    generator of zero spread can win. Panel b: mean ``incidence`` (black) with
    min-max band (green) and a triangle at each repeat's maximum incidence.
    Panel c, where the metrics hold a ``spread_ratio``: how wide the generated
    distributions are relative to the data (1 = as wide; a collapse falls to 0):
    the spread (std) ratio with its band over repeats and the IQR ratio, over the
    0.9–1.1 band of the default selection rule.

    Parameters
    ----------
    runs : records, path, or sequence of these
        Evaluation metrics of one or several training repeats.
    path : path
        Output PNG.
    title : str, optional
        Figure title.
    show_runs : bool
        Also draw each repeat as a thin line.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    data = _load_runs(runs)
    band_label = "min-max over repeats" if len(data) > 1 else None  # one repeat: no band
    _, spread = _aligned(data, "spread_ratio")
    with_spread = bool(np.any(np.isfinite(spread)))
    fig = Figure(figsize=(7.0, 8.5 if with_spread else 6.0), layout="constrained")
    axes = fig.subplots(3 if with_spread else 2, 1, sharex=True)
    ax_kl, ax_inc = axes[0], axes[1]

    epochs, kl = _aligned(data, "kl_train")
    mean, lo, hi = _band(kl)
    ax_kl.fill_between(epochs, lo, hi, color="tab:orange", alpha=0.35, lw=0, label=band_label)
    if show_runs and len(data) > 1:
        for row in kl:
            ax_kl.plot(epochs, row, color="tab:orange", lw=0.6, alpha=0.8)
    ax_kl.plot(epochs, mean, color="black", lw=1.6, label="KL(generated || train)")
    _, kl_test = _aligned(data, "kl_test")
    if np.any(np.isfinite(kl_test)):
        ax_kl.plot(
            epochs, _band(kl_test)[0], color="black", ls="--", lw=1.2, label="KL(generated || test)"
        )
    _, kl_means = _aligned(data, "kl_means_train")
    if np.any(np.isfinite(kl_means)):
        ax_kl.plot(
            epochs,
            _band(kl_means)[0],
            color="tab:red",
            ls=":",
            lw=1.4,
            label="paper's KL of the 259 feature means (blind to width)",
        )
    ax_kl.set_ylabel("KL divergence (nats)")
    ax_kl.legend(frameon=False)
    ax_kl.set_title("a", loc="left", fontweight="bold")

    _, inc = _aligned(data, "incidence")
    mean, lo, hi = _band(inc)
    ax_inc.fill_between(epochs, lo, hi, color="tab:green", alpha=0.35, lw=0, label=band_label)
    if show_runs and len(data) > 1:
        for row in inc:
            ax_inc.plot(epochs, row, color="tab:green", lw=0.6, alpha=0.8)
    ax_inc.plot(epochs, mean, color="black", lw=1.6, label="mean incidence")
    for row in inc:
        if np.any(np.isfinite(row)):
            j = int(np.nanargmax(row))
            ax_inc.plot(epochs[j], row[j], marker="^", color="black", ms=7, ls="none")
    ax_inc.set_ylim(-0.02, 1.02)
    ax_inc.set_ylabel("incidence of relevant models")
    ax_inc.legend(frameon=False, loc="best")
    ax_inc.set_title("b", loc="left", fontweight="bold")
    if with_spread:
        ax_sp = axes[2]
        mean, lo, hi = _band(spread)
        ax_sp.axhspan(0.9, 1.1, color="grey", alpha=0.15, lw=0, label="width band 0.9–1.1")
        ax_sp.fill_between(epochs, lo, hi, color="tab:blue", alpha=0.3, lw=0, label=band_label)
        ax_sp.plot(epochs, mean, color="black", lw=1.6, label="mean spread ratio (std)")
        _, iqr = _aligned(data, "iqr_ratio")
        if np.any(np.isfinite(iqr)):
            ax_sp.plot(epochs, _band(iqr)[0], color="tab:purple", lw=1.4, label="mean IQR ratio")
        ax_sp.axhline(1.0, color="grey", ls=":", lw=1, label="as wide as the data")
        ax_sp.set_ylabel("width of ln K_M, generated / data\n(median over K_M)")
        ax_sp.legend(frameon=False, loc="best")
        ax_sp.set_title("c", loc="left", fontweight="bold")
    axes[-1].set_xlabel("epoch")
    if title:
        fig.suptitle(title)
    return _save(fig, path, dpi)


def plot_incidence_vs_kl(
    runs: RunsLike,
    path: str | os.PathLike[str],
    *,
    kl_key: str = "kl_train",
    pooled: bool = False,
    title: str | None = None,
    dpi: int = 150,
) -> Path:
    """Incidence vs KL divergence with Spearman's rho in the title (paper Fig. 2c).

    Parameters
    ----------
    runs : records, path, or sequence of these
        Evaluation metrics of one or several repeats.
    path : path
        Output PNG.
    kl_key : str
        ``"kl_train"`` (default) or ``"kl_test"``.
    pooled : bool
        ``False``: one point per evaluation epoch, the mean incidence and mean
        KL over repeats (as in the paper). ``True``: every (repeat, epoch) pair.
    title : str, optional
        Prefix of the title.
    dpi : int
        Resolution.

    Returns
    -------
    pathlib.Path
        ``path``.
    """
    data = _load_runs(runs)
    epochs, kl = _aligned(data, kl_key)
    _, inc = _aligned(data, "incidence")
    if pooled:
        x, y = kl.ravel(), inc.ravel()
        c = np.tile(epochs, len(data))
    else:
        x, y, c = _band(kl)[0], _band(inc)[0], epochs
    ok = np.isfinite(x) & np.isfinite(y)
    rho, pval = spearman(x[ok], y[ok])
    fig = Figure(figsize=(5.5, 4.5), layout="constrained")
    ax = fig.subplots()
    sc = ax.scatter(x[ok], y[ok], c=c[ok], cmap="viridis", s=14)
    fig.colorbar(sc, ax=ax, label="epoch")
    ax.set_xlabel(f"KL divergence ({kl_key}, nats)")
    ax.set_ylabel("incidence of relevant models")
    head = f"{title}: " if title else ""
    ax.set_title(f"{head}Spearman ρ = {rho:.3f} (p = {pval:.2g}, n = {int(ok.sum())})")
    return _save(fig, path, dpi)
