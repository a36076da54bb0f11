"""What defines a perturbation analysis (:class:`PerturbationSettings`), its return
criteria (:data:`CRITERIA`), default times, tolerances and integrator settings.

Its own module so that the analysis (:mod:`rekindle.analysis.perturbation`) and its
outcome (:mod:`rekindle.analysis.perturbation_result`) both import it without a circle.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rekindle.analysis.initial_states import FOLLOWER_CHOICES, PROTOCOLS
from rekindle.config import Settings, check, check_choice, check_positive_int, is_real
from rekindle.integrate import METHODS, IntegratorOptions

__all__ = [
    "CRITERIA",
    "CVODE_OPTIONS",
    "DOUBLING_TIME_HOURS",
    "PERTURBATION_OPTIONS",
    "RETURN_TOLERANCE",
    "PerturbationSettings",
    "time_grid",
]

CRITERIA: tuple[str, ...] = ("abs-l2", "rel-l2", "rel-max")
"""Return criteria, each ``< return_tolerance`` at ``t_end``:

* ``abs-l2`` — ``‖X − X_ref‖₂ / ‖X_ref‖₂``, the paper's Methods formula (dominated by
  the largest pools);
* ``rel-l2`` — ``‖X/X_ref − 1‖₂``, the relative norm of the authors' code (its
  blow-up root function), every state weighted alike;
* ``rel-max`` — ``max_i |X_i/X_ref,i − 1|``, every state within the tolerance.
"""

DOUBLING_TIME_HOURS: float = 21.0 / 60.0
"""E. coli doubling time (21 min), the time at which return is tested, h."""

RETURN_TOLERANCE: float = 0.01
"""Relative L2 distance to ``X_ref`` below which a perturbation has returned (paper: 1 %)."""

PERTURBATION_OPTIONS = IntegratorOptions(rtol=1e-5, atol=1e-8)
"""Default integrator settings of the perturbation analysis: ``rtol = 1e-5``,
``atol = 1e-8·X_ref``, at most 5 000 steps (see the notes of
:mod:`rekindle.analysis.perturbation` for the accuracy)."""

CVODE_OPTIONS = IntegratorOptions(rtol=1e-9, atol=1e-9, max_steps=100_000)
"""The tolerances of the authors' CVODE call (``rtol = atol = 1e-9``; ``atol`` here
relative to ``X_ref``). Not the default of any protocol: here they cost 27× the steps of
:data:`PERTURBATION_OPTIONS` (5 142 against 189 per integration) and change nothing
that is measured. Against them, on 20 relevant fdp1 models × 10 (``paper`` draws), the
deviations within 0.05 of ``X_ref`` differ by at most 6.2e-5 at ``rtol = atol = 1e-5``
and 5.9e-7 at ``1e-7`` (threshold 1e-2); on 100 models × 10, ``rtol = 1e-6,
atol = 1e-9·X_ref`` and :data:`PERTURBATION_OPTIONS` differ by at most 7.6e-5; no
classification under any criterion changed."""


def time_grid(t_end: float, n_times: int, spacing: str = "linear") -> np.ndarray:
    """Output times, h, shape ``(n_times,)``, from 0 to ``t_end``.

    ``linear``: evenly spaced; ``log``: 0 followed by ``n_times − 1`` points
    geometrically spaced from ``1e-6 t_end`` to ``t_end`` (resolves fast transients).
    """
    if n_times < 2:
        raise ValueError(f"n_times must be ≥ 2, got {n_times}")
    if spacing == "linear":
        return np.linspace(0.0, t_end, n_times)
    if spacing == "log":
        return np.concatenate([[0.0], np.geomspace(1e-6 * t_end, t_end, n_times - 1)])
    raise ValueError(f"spacing must be 'linear' or 'log', got {spacing!r}")


@dataclass(frozen=True)
class PerturbationSettings(Settings):
    """Everything but the parameter sets that defines a perturbation analysis.

    Attributes
    ----------
    protocol
        ``"uniform"`` (Methods: ``X_ref (1 + U(−½, ½))``), ``"fold"`` (``X_ref f``,
        ``ln f ~ U(ln ½, ln 2)``) or ``"paper"`` (the authors' code: linear in
        ``[X_ref/2, 2 X_ref]``, followers inside the box too), see
        :data:`~rekindle.analysis.initial_states.PROTOCOLS`.
    n_perturbations
        Perturbations per model (paper: 10 in Methods, 100 in Results).
    seed
        Model *i* draws from ``SeedSequence(seed, spawn_key=(i, protocol index))``, so
        results do not depend on chunking or threads.
    t_end
        Integration time, h (paper: the doubling time, 21 min).
    return_tolerance
        Returned when the deviation under ``criterion`` is below it at ``t_end``.
    criterion
        One of :data:`CRITERIA` (default ``"abs-l2"``:
        ``‖X(t_end) − X_ref‖₂ < return_tolerance · ‖X_ref‖₂``); the others are
        reported too.
    n_times, time_spacing
        Output times of the stored trajectories: ``n_times`` points from 0 to ``t_end``,
        ``"linear"`` or ``"log"`` (:func:`time_grid`).
    store_models
        Trajectories of the models with index ``< store_models`` are stored (Fig. 2e).
    max_draws
        Draws per perturbation to find admissible follower states.
    followers
        Which states absorb the conserved totals
        (:func:`~rekindle.analysis.initial_states.follower_states`).
    method
        Integration method (:data:`rekindle.integrate.METHODS`).
    options
        Integrator tolerances and limits (default :data:`PERTURBATION_OPTIONS`; the
        authors' CVODE tolerances: :data:`CVODE_OPTIONS`).
    """

    protocol: str = "uniform"
    n_perturbations: int = 10
    seed: int = 0
    t_end: float = DOUBLING_TIME_HOURS
    return_tolerance: float = RETURN_TOLERANCE
    criterion: str = "abs-l2"
    n_times: int = 50
    time_spacing: str = "linear"
    store_models: int = 5
    max_draws: int = 100
    followers: str = "largest"
    method: str = "rodas4"
    options: IntegratorOptions = PERTURBATION_OPTIONS

    def validate(self) -> None:
        check_choice(self, "protocol", PROTOCOLS)
        check_choice(self, "criterion", CRITERIA)
        check_choice(self, "followers", FOLLOWER_CHOICES)
        check_choice(self, "time_spacing", ("linear", "log"))
        check_positive_int(self, "n_perturbations", "n_times", "max_draws")
        check_positive_int(self, "store_models", minimum=0)
        check(is_real(self.t_end) and self.t_end > 0, f"t_end must be positive, got {self.t_end}")
        check(
            is_real(self.return_tolerance) and self.return_tolerance > 0,
            f"return_tolerance must be positive, got {self.return_tolerance}",
        )
        check(self.n_times >= 2, f"n_times must be ≥ 2, got {self.n_times}")
        check(
            str(self.method).lower() in METHODS,
            f"unknown method {self.method!r} (known: {', '.join(METHODS)})",
        )
        check(
            isinstance(self.options, IntegratorOptions),
            f"options must be IntegratorOptions, got {type(self.options).__name__}",
        )

    def output_times(self) -> np.ndarray:
        """Output times of the stored trajectories, h, shape ``(n_times,)``."""
        return time_grid(self.t_end, self.n_times, self.time_spacing)
