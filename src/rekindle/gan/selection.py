"""Which evaluation gives the kept generator.

The trainer evaluates the generator every ``eval_every`` epochs; each evaluation
is a record with ``incidence``, ``kl_train`` and the width of the generated ln K_M
against the relevant training rows: ``spread_ratio`` (std) and ``iqr_ratio``
(interquartile range), medians over the K_M. :func:`is_better` decides whether a
new evaluation replaces the kept one, by ``TrainingConfig.selection``:

``"width-band"`` (default)
    The highest incidence among the evaluations whose width (both ratios) lies in
    ``width_band`` (0.9-1.1); an evaluation in the band always beats one outside;
    between two outside, the one closer to the band wins. A generator that
    raises its incidence by narrowing its distributions (narrow saturations are
    stable by themselves: ORACLE sets drawn from U(0.25, 0.75) instead of U(0, 1)
    are 99 % relevant) leaves the band and cannot win.
``"incidence"``
    The paper's rule: the highest incidence, among the evaluations at least
    ``min_spread_ratio`` wide when any is.

Without a labeller the incidence is NaN and the lower ``kl_train`` decides in
place of the higher incidence.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .config import TrainingConfig

__all__ = ["band_distance", "is_better", "wide_enough"]


def wide_enough(evaluation: Mapping[str, Any] | None, config: TrainingConfig) -> bool:
    """Whether an evaluation reaches ``min_spread_ratio`` (NaN width: no reference, qualifies)."""
    if evaluation is None:
        return False
    spread = evaluation.get("spread_ratio", math.nan)
    return not spread < config.min_spread_ratio


def band_distance(evaluation: Mapping[str, Any], band: tuple[float, float]) -> float:
    """How far the width of an evaluation lies outside ``band`` (0 inside).

    The larger of the distances of ``spread_ratio`` and ``iqr_ratio`` from the
    band; a NaN ratio (no reference to compare with) counts as inside.
    """
    low, high = band
    worst = 0.0
    for key in ("spread_ratio", "iqr_ratio"):
        value = float(evaluation.get(key, math.nan))
        if math.isfinite(value):
            worst = max(worst, low - value, value - high)
    return worst


def _quality(evaluation: Mapping[str, Any], by_incidence: bool) -> tuple[float, float]:
    """(score, -kl): larger is better; score is the incidence or -kl_train."""
    kl = float(evaluation["kl_train"])
    score = float(evaluation["incidence"]) if by_incidence else -kl
    return score, -kl


def is_better(
    candidate: Mapping[str, Any],
    incumbent: Mapping[str, Any] | None,
    config: TrainingConfig,
    *,
    by_incidence: bool,
) -> bool:
    """Whether ``candidate`` replaces the kept evaluation ``incumbent``.

    Parameters
    ----------
    candidate : mapping
        The new evaluation (``incidence``, ``kl_train``, ``spread_ratio``,
        ``iqr_ratio``).
    incumbent : mapping or None
        The kept evaluation; None before the first.
    config : TrainingConfig
        ``selection`` and its settings (``width_band``, ``min_spread_ratio``).
    by_incidence : bool
        Rank by incidence (ties: lower ``kl_train``); False (no labeller): by
        lower ``kl_train``.
    """
    if incumbent is None:
        return True
    if config.selection == "width-band":
        d_new = band_distance(candidate, config.width_band)
        d_old = band_distance(incumbent, config.width_band)
        if d_new != d_old and (d_new > 0 or d_old > 0):
            return d_new < d_old
    else:
        ok, best_ok = wide_enough(candidate, config), wide_enough(incumbent, config)
        if ok != best_ok:
            return ok
    return _quality(candidate, by_incidence) > _quality(incumbent, by_incidence)
