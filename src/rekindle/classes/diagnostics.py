"""Diagnostics every delivery of the class sampler records.

:func:`level_diagnostics`: the settings, the levels, ``P(class)``, labels and integrations
spent on the levels and in production; :func:`lag_one_correlation`: the dependence of
successive kept states of a chain (1 for a chain that never moves, 0 for i.i.d. draws).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from rekindle.classes.labels import LabelCounter
from rekindle.classes.settings import ClassSamplerSettings, Reached

__all__ = ["lag_one_correlation", "level_diagnostics"]


def lag_one_correlation(kept: list[np.ndarray]) -> float:
    """Correlation of max Re(λ) between successive kept states of the same chain."""
    if len(kept) < 2:
        return float("nan")
    a = np.concatenate(kept[:-1])
    b = np.concatenate(kept[1:])
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def level_diagnostics(
    settings: ClassSamplerSettings,
    reached: Reached,
    counter: LabelCounter,
    labels_levels: int,
    integrated_levels: int,
) -> dict[str, Any]:
    """The diagnostics every delivery shares: settings, levels, P(class), labels and
    integrations spent on the levels and in production (``counter`` at the end of
    production; ``labels_levels``/``integrated_levels``: its counts when delivery began)."""
    log_p = reached.log_p
    return {
        "settings": settings.to_dict(),
        "from_start": reached.from_start,
        "levels": reached.levels,
        "n_levels": len(reached.levels),
        "log10_p_class": log_p,
        "p_class": 10**log_p if math.isfinite(log_p) else None,
        "labels_levels": labels_levels,
        "integrations_levels": integrated_levels,
        "labels_production": counter.labels - labels_levels,
        "integrations_production": counter.integrated - integrated_levels,
        # integrations spent (models × perturbations integrated), when the test counts them
        "perturbation_integrations": getattr(counter.returns_test, "integrations", None),
    }
