"""Stage: perturbation analysis of several populations (Fig. 2e)."""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rekindle.io.atomic import write_json
from rekindle.progress import LogFunction, ProgressFactory, no_log, no_progress

if TYPE_CHECKING:
    from rekindle.analysis.perturbation import PerturbationResult, PerturbationSettings
    from rekindle.kinetics import KineticSystem, Physiology


SUMMARY_ALIASES = {"ORACLE": "training", "REKINDLE": "generated"}
"""Population names of a run and the suffix of their ``returned_fraction_*`` key."""


@dataclass(frozen=True)
class PerturbationSummary:
    """Perturbation analyses of several populations (paper Fig. 2e)."""

    results: dict[str, PerturbationResult]

    @property
    def returned_fraction(self) -> dict[str, float]:
        """``{population: fraction of perturbations that returned}``."""
        return {name: r.fraction_returned for name, r in self.results.items()}

    @property
    def rows(self) -> dict[str, dict[str, Any]]:
        """``{population: summary record}`` (the content of ``perturbation.json``)."""
        return {name: r.summary() for name, r in self.results.items()}

    def summary(self) -> dict[str, Any]:
        """``perturbation`` and ``returned_fraction_<population>`` (ORACLE → training,
        REKINDLE → generated)."""
        numbers: dict[str, Any] = {"perturbation": self.rows}
        for name, fraction in self.returned_fraction.items():
            numbers[f"returned_fraction_{SUMMARY_ALIASES.get(name, name)}"] = fraction
        return numbers


def analyse_perturbations(
    system: KineticSystem,
    physiology: Physiology,
    populations: Mapping[str, np.ndarray],
    out: str | Path,
    settings: PerturbationSettings | None = None,
    *,
    n_models: int = 1000,
    progress: ProgressFactory = no_progress,
    log: LogFunction = no_log,
    executor: Executor | None = None,
    record: Mapping[str, Any] | None = None,
) -> PerturbationSummary:
    """Perturbation analysis of several populations → ``perturbation.json``, Fig. 2e.

    Parameters
    ----------
    populations
        ``{name: parameter sets (n, n_parameters)}``; ``n_models`` of each are drawn
        at random (seeded by ``settings.seed``).
    settings
        Protocol, criterion, perturbations per model, seed, … (default: the
        :class:`~rekindle.analysis.perturbation.PerturbationSettings` defaults).
    executor
        Map the integrations over this :class:`concurrent.futures.Executor` (e.g. a
        Dask cluster) instead of local threads.
    record
        Added to every population's record in ``perturbation.json`` (e.g. the class the
        populations were chosen by: ``class_where``, ``class_spec``).
    """
    from rekindle.analysis.perturbation import PerturbationSettings, perturbation_analyses
    from rekindle.analysis.trajectories import pca_trajectories
    from rekindle.integrate import Status
    from rekindle.plots.perturbation import plot_pca_trajectories, plot_returned_fraction

    out = Path(out)
    settings = settings or PerturbationSettings()
    rng = np.random.default_rng(settings.seed)
    picks = {}
    for name, params in populations.items():
        m = min(n_models, params.shape[0])
        if m:
            picks[name] = params[np.sort(rng.choice(params.shape[0], m, replace=False))]
    # one pool for all populations: their slowest integrations overlap
    total = sum(p.shape[0] for p in picks.values())
    # the bar counts models: perturbation_analyses reports models done so far
    with progress(f"perturbation analysis ({' + '.join(picks)}, models)", total) as set_done:
        res = perturbation_analyses(
            system, physiology, picks, settings, progress=set_done, executor=executor
        )
    for name, result in res.items():
        _require_some_integrations(name, result, settings)
        log(f"perturbation {name}: {result.fraction_returned:.4f} returned")
    # blow-ups and numerical failures count as not returned (only draws without an
    # admissible initial state are left out)
    counts = {k: r.returned[r.status != Status.NO_INITIAL_STATE] for k, r in res.items()}
    plot_returned_fraction(counts, out / "fig2e_returned_fraction.png")
    traj, returned = res[list(res)[-1]].stored_trajectories()
    # a PCA needs two finite time points (a population whose stored integrations all
    # failed has none: no trajectory figure then)
    finite_points = int(np.all(np.isfinite(traj), axis=-1).sum()) if traj.size else 0
    if finite_points >= 2:
        # every stored trajectory, and a panel of the returned ones in their own PCA
        returned_points = np.all(np.isfinite(traj[returned]), axis=-1).sum()
        view = pca_trajectories(traj[returned]) if returned_points >= 2 else None
        plot_pca_trajectories(
            pca_trajectories(traj),
            returned,
            out / "fig2e_pca_trajectories.png",
            returned_view=view,
        )
    summary = PerturbationSummary(res)
    rows = summary.rows
    if record:
        rows = {name: {**row, **record} for name, row in rows.items()}
    write_json(out / "perturbation.json", rows)
    return summary


def _require_some_integrations(name: str, result: Any, settings: Any) -> None:
    """Refuse a result with nothing to count: no admissible initial state, or every
    integration failed (a fraction of 0 or NaN would read as a finding).

    Raises
    ------
    GenerationError
        Naming the population and the setting to change.
    """
    from rekindle.errors import GenerationError

    drawn = int(result.status.size)
    if result.n_no_initial_state == drawn:
        raise GenerationError(
            f"perturbation of {name}: none of the {drawn} perturbed states drawn by "
            f"--protocol {settings.protocol} with --followers {settings.followers} keeps the "
            "moiety totals inside the protocol's bounds (try --followers largest)"
        )
    if result.n_integrations and result.n_failed == result.n_integrations:
        raise GenerationError(
            f"perturbation of {name}: every one of the {result.n_integrations} integrations "
            f"failed before --t-end {settings.t_end:g} h (lower --t-end)"
        )
