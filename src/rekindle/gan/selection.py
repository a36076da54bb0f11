"""Which evaluation gives the kept generator.

The trainer evaluates the generator every ``eval_every`` epochs; each evaluation
is a record with ``incidence``, ``kl_train`` and the width ``spread_ratio``. The
rule here decides whether a new evaluation replaces the kept one.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from .config import TrainingConfig

__all__ = ["is_better", "wide_enough"]


def wide_enough(evaluation: Mapping[str, Any] | None, config: TrainingConfig) -> bool:
    """Whether an evaluation may give the kept generator (``min_spread_ratio``).

    An evaluation without a width (NaN: no reference) qualifies.
    """
    if evaluation is None:
        return False
    spread = evaluation.get("spread_ratio", math.nan)
    return not spread < config.min_spread_ratio


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
        The new evaluation (``incidence``, ``kl_train``, ``spread_ratio``).
    incumbent : mapping or None
        The kept evaluation; None before the first.
    config : TrainingConfig
        Its ``min_spread_ratio``: evaluations at least that wide rank above
        narrower ones.
    by_incidence : bool
        Rank by incidence (ties: lower ``kl_train``); False (no labeller): by
        lower ``kl_train``.
    """
    if incumbent is None:
        return True
    ok, best_ok = wide_enough(candidate, config), wide_enough(incumbent, config)
    if ok != best_ok:
        return ok
    kl, best_kl = candidate["kl_train"], incumbent["kl_train"]
    if by_incidence:
        score, best_score = candidate["incidence"], incumbent["incidence"]
    else:
        score, best_score = -kl, -best_kl
    return bool(score > best_score or (score == best_score and kl < best_kl))
