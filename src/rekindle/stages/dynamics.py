"""Stage: distributions of max Re(λ) and τ per population (Fig. 2d)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H as DEFAULT_THRESHOLD

if TYPE_CHECKING:
    pass


def analyse_dynamics(
    populations: Mapping[str, np.ndarray],
    out: str | Path,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    plotted: Sequence[str] | None = None,
    spread_ratio: Mapping[str, float] | None = None,
    class_where: str | None = None,
) -> dict[str, dict[str, Any]]:
    """Distributions of max Re(λ) and τ per population → ``dynamics.csv``, Fig. 2d.

    Parameters
    ----------
    populations
        ``{name: max Re(λ) (n,) in 1/h}``.
    plotted
        Names drawn in the figure (default: all).
    spread_ratio
        ``{name: spread ratio}`` of the populations' K_M against a reference
        (:func:`rekindle.gan.spread_ratio`), added as a ``spread_ratio`` column.
    class_where
        The class the populations were restricted to (a ``--where`` sentence), added as
        a ``class_where`` column.

    Returns
    -------
    dict
        ``{name: record}``, the columns of ``dynamics.csv``
        (:data:`rekindle.analysis.dynamics.SUMMARY_FIELDS`).
    """
    from rekindle.analysis.dynamics import SUMMARY_FIELDS, summarize_dynamics, write_dynamics_csv
    from rekindle.plots.dynamics import plot_dynamics

    out = Path(out)
    dyn = summarize_dynamics(dict(populations), threshold=threshold)
    columns: tuple[str, ...] = tuple(SUMMARY_FIELDS)
    if spread_ratio is not None:
        for name, rec in dyn.items():
            rec["spread_ratio"] = spread_ratio.get(name, float("nan"))
        columns += ("spread_ratio",)
    if class_where is not None:
        for rec in dyn.values():
            rec["class_where"] = class_where
        columns += ("class_where",)
    write_dynamics_csv(dyn, out / "dynamics.csv", columns)
    names = list(plotted) if plotted else list(populations)
    plot_dynamics(
        {k: populations[k] for k in names}, out / "fig2d_dynamics.png", threshold=threshold
    )
    return dyn
