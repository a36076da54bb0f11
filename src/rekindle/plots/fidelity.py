"""Figures of generator fidelity: the width/C2ST panel and the learning curve."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import _style

__all__ = ["plot_fidelity_panel", "plot_learning_curve"]


def plot_fidelity_panel(fidelity: Mapping[str, float], path: str | Path) -> Path:
    """Width and C2ST of generated relevant-class models against the relevant data.

    Parameters
    ----------
    fidelity : mapping
        Keys ``spread_ratio_generated``, ``iqr_ratio_generated``, ``c2st_generated``,
        ``c2st_noise_floor`` (and optionally ``incidence``), as in the run summary.
    path : path
        PNG to write.

    Returns
    -------
    pathlib.Path
    """
    with _style.style():
        fig = _style.new_figure((8.0, 3.4))
        ax_w, ax_c = fig.subplots(1, 2)
        widths = [fidelity.get("spread_ratio_generated"), fidelity.get("iqr_ratio_generated")]
        ax_w.bar([0, 1], [1.0, 1.0], width=0.35, color="#9e9e9e", label="data (ORACLE relevant)")
        ax_w.bar(
            [0.35, 1.35],
            np.nan_to_num(np.array(widths, float)),
            width=0.35,
            color="#2166ac",
            label="generated",
        )
        ax_w.axhspan(0.9, 1.1, color="#4daf4a", alpha=0.15, label="0.9–1.1")
        ax_w.set_xticks([0.175, 1.175], ["std ratio", "IQR ratio"])
        ax_w.set_ylabel("width of ln K_M (median over K_M)")
        ax_w.set_title("Width: generated / data")
        ax_w.legend(loc="lower right", fontsize=7)
        c2st = [fidelity.get("c2st_noise_floor"), fidelity.get("c2st_generated")]
        ax_c.bar(
            [0, 1], np.nan_to_num(np.array(c2st, float)), width=0.5, color=["#9e9e9e", "#2166ac"]
        )
        ax_c.axhline(0.5, color="black", linestyle=":", linewidth=1.0, label="chance (0.5)")
        for x, v in zip([0, 1], c2st, strict=True):
            if v is not None and np.isfinite(v):
                ax_c.text(x, v + 0.01, f"{v:.3f}", ha="center", va="bottom", fontsize=8)
        ax_c.set_xticks([0, 1], ["data vs data\n(noise floor)", "generated vs data"])
        ax_c.set_ylim(0.4, 1.05)
        ax_c.set_ylabel("C2ST held-out accuracy")
        title = "Classifier two-sample test"
        if fidelity.get("incidence") is not None:
            title += f" (incidence {float(fidelity['incidence']):.3f})"
        ax_c.set_title(title)
        ax_c.legend(loc="upper left", fontsize=7)
        return _style.save_figure(fig, path)


def plot_learning_curve(rows: Sequence[Mapping[str, float]], path: str | Path) -> Path:
    """Incidence, width and C2ST of each generator against the number of training sets.

    Parameters
    ----------
    rows : sequence of mapping
        Records of :func:`rekindle.analysis.learning_curve.learning_curve`.
    path : path
        PNG to write.

    Returns
    -------
    pathlib.Path
    """
    groups: dict[str, list[Mapping[str, float]]] = {}
    for r in rows:
        groups.setdefault(str(r.get("generator", "flow")), []).append(r)
    with _style.style():
        fig = _style.new_figure((10.0, 3.4))
        ax_i, ax_w, ax_c = fig.subplots(1, 3)
        floor: list[tuple[float, float]] = []
        for k, (label, group) in enumerate(groups.items()):
            group = sorted(group, key=lambda r: float(r["n_sets"]))
            n = np.array([float(r["n_sets"]) for r in group])

            def col(key: str, group: list[Mapping[str, float]] = group) -> np.ndarray:
                return np.array([float(r.get(key, np.nan)) for r in group])

            colour = f"C{k}"
            ax_i.plot(n, col("incidence"), marker="o", color=colour, label=label)
            ax_w.plot(n, col("spread_ratio_generated"), marker="o", color=colour)
            ax_w.plot(n, col("iqr_ratio_generated"), marker="s", ls="--", color=colour)
            ax_c.plot(n, col("c2st_generated"), marker="o", color=colour)
            floor += list(zip(n, col("c2st_noise_floor"), strict=True))
        ax_i.set_ylabel("incidence (engine-labelled)")
        ax_i.set_title("Selectivity")
        ax_i.legend(fontsize=7)
        ax_w.axhspan(0.9, 1.1, color="#4daf4a", alpha=0.15)
        ax_w.set_ylabel("width, generated / data")
        ax_w.set_title("Width of ln K_M (o std, s IQR)")
        if floor:
            fx, fy = zip(*sorted(set(floor)), strict=True)
            ax_c.plot(fx, fy, marker="s", color="#9e9e9e", label="noise floor")
            ax_c.legend(fontsize=7)
        ax_c.set_ylabel("C2ST accuracy")
        ax_c.set_title("C2ST (0.5 = indistinguishable)")
        for ax in (ax_i, ax_w, ax_c):
            ax.set_xscale("log")
            ax.set_xlabel("training sets (both classes)")
        return _style.save_figure(fig, path)
