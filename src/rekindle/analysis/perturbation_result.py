"""The outcome of a perturbation analysis (:class:`PerturbationResult`) and its
summary files (:func:`write_summary`)."""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from rekindle.analysis.perturbation_settings import CRITERIA
from rekindle.integrate.solution import BLOWN_UP_STATUSES, FAILED_STATUSES, Status

if TYPE_CHECKING:
    from rekindle.analysis.perturbation_settings import PerturbationSettings


def deviations(x: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Distance of states ``x`` (n, n_states) µM to ``reference`` under each of
    :data:`CRITERIA`, shape ``(n, 3)`` (NaN rows stay NaN)."""
    rel = x / reference - 1.0
    return np.stack(
        [
            np.linalg.norm(x - reference, axis=1) / float(np.linalg.norm(reference)),
            np.linalg.norm(rel, axis=1),
            np.abs(rel).max(axis=1) if x.shape[0] else np.zeros(0),
        ],
        axis=1,
    )


def returned_mask(status: np.ndarray, deviation: np.ndarray, tolerance: float) -> np.ndarray:
    """Whether each integration returned: it reached ``t_end`` (``SUCCESS``) with a
    deviation from ``X_ref`` below ``tolerance`` (NaN deviations count as not returned)."""
    with np.errstate(invalid="ignore"):
        return (status == Status.SUCCESS) & (deviation < tolerance)


@dataclass(frozen=True)
class PerturbationResult:
    """Outcome of a perturbation analysis of ``n`` models × ``k`` perturbations.

    Returned by :func:`~rekindle.analysis.perturbation.perturbation_analysis`.

    Attributes
    ----------
    settings
        The analysis settings.
    status
        :class:`Status` codes, ``int8``, shape ``(n, k)``.
    deviations
        Deviation from ``X_ref`` at ``t_end`` under each of :data:`CRITERIA`, shape
        ``(n, k, 3)``; NaN unless ``SUCCESS``.
    initial_deviations
        The same for the perturbed initial states, shape ``(n, k, 3)``.
    times
        Output times, h, shape ``(n_times,)``.
    trajectories
        ``X/X_ref − 1`` of the first ``settings.store_models`` models, shape
        ``(n_stored, k, n_times, n_states)`` (NaN after a failure), or ``None``.
    n_accepted, n_rejected
        Integration steps, shape ``(n, k)``.
    n_draws
        Perturbation draws made in total.
    wall_time
        Seconds for the whole analysis.
    n_jobs, chunk_size
        Threads and models per chunk used.
    """

    settings: PerturbationSettings
    status: np.ndarray
    deviations: np.ndarray
    initial_deviations: np.ndarray
    times: np.ndarray
    trajectories: np.ndarray | None
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    n_draws: int
    wall_time: float
    n_jobs: int
    chunk_size: int

    @property
    def relative_deviation(self) -> np.ndarray:
        """Deviation at ``t_end`` under ``settings.criterion``, shape ``(n, k)``."""
        return self.deviations[..., CRITERIA.index(self.settings.criterion)]

    @property
    def initial_deviation(self) -> np.ndarray:
        """Deviation of the perturbed initial states under ``settings.criterion``, ``(n, k)``."""
        return self.initial_deviations[..., CRITERIA.index(self.settings.criterion)]

    def returned_by(self, criterion: str) -> np.ndarray:
        """``True`` where the integration reached ``t_end`` with a deviation under
        ``criterion`` below ``settings.return_tolerance``, shape ``(n, k)``."""
        dev = self.deviations[..., CRITERIA.index(criterion)]
        return returned_mask(self.status, dev, self.settings.return_tolerance)

    @property
    def returned(self) -> np.ndarray:
        """:meth:`returned_by` the settings' criterion, shape ``(n, k)``."""
        return self.returned_by(self.settings.criterion)

    @property
    def n_models(self) -> int:
        """Number of models."""
        return int(self.status.shape[0])

    @property
    def n_integrations(self) -> int:
        """Integrations attempted (perturbations with an admissible initial state, not
        skipped by the sequential return test)."""
        return int(np.sum(self._attempted))

    @property
    def _attempted(self) -> np.ndarray:
        return (self.status != Status.NO_INITIAL_STATE) & (self.status != Status.SKIPPED)

    @property
    def n_completed(self) -> int:
        """Integrations that reached ``t_end``."""
        return int(np.sum(self.status == Status.SUCCESS))

    @property
    def n_returned(self) -> int:
        """Integrations that returned to the reference state."""
        return int(self.returned.sum())

    @property
    def n_blown_up(self) -> int:
        """Integrations flagged non-finite, negative or diverged (trajectory escaped)."""
        return int(np.isin(self.status, BLOWN_UP_STATUSES).sum())

    @property
    def n_failed(self) -> int:
        """Integrations that failed numerically (step underflow or step budget)."""
        return int(np.isin(self.status, FAILED_STATUSES).sum())

    @property
    def n_no_initial_state(self) -> int:
        """Perturbations without an admissible initial state (not integrated)."""
        return int(np.sum(self.status == Status.NO_INITIAL_STATE))

    @property
    def fraction_returned(self) -> float:
        """The headline: returned / attempted integrations, every blow-up or numerical
        failure counting as not returned (NaN if none attempted)."""
        return self.fractions_returned()[self.settings.criterion]

    @property
    def fraction_returned_completed(self) -> float:
        """Returned / integrations that reached ``t_end`` (blow-ups left out; NaN if none)."""
        return self.n_returned / self.n_completed if self.n_completed else math.nan

    def fractions_returned(self) -> dict[str, float]:
        """Returned / attempted integrations under each of :data:`CRITERIA`."""
        n = self.n_integrations
        return {c: int(self.returned_by(c).sum()) / n if n else math.nan for c in CRITERIA}

    @property
    def acceptance_rate(self) -> float:
        """Admissible perturbations / draws (dependent states positive)."""
        accepted = self.status.size - self.n_no_initial_state
        return accepted / self.n_draws if self.n_draws else math.nan

    @property
    def integrations_per_second(self) -> float:
        """Attempted integrations per wall-clock second."""
        return self.n_integrations / self.wall_time if self.wall_time > 0 else math.nan

    def fraction_returned_per_model(self) -> np.ndarray:
        """Fraction of each model's attempted integrations that returned, shape ``(n,)``."""
        done = self._attempted.sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(done > 0, self.returned.sum(axis=1) / done, np.nan)

    def stored_trajectories(self) -> tuple[np.ndarray, np.ndarray]:
        """Stored trajectories flattened for the PCA plot (Fig. 2e, left).

        Returns
        -------
        trajectories, returned
            ``X/X_ref − 1`` of shape ``(n_stored · k, n_times, n_states)`` (for
            :func:`rekindle.analysis.trajectories.pca_trajectories`) and whether each
            returned, shape ``(n_stored · k,)``.
        """
        if self.trajectories is None:
            return np.empty((0, self.times.size, 0)), np.empty(0, dtype=bool)
        m, k, n_t, n_s = self.trajectories.shape
        return self.trajectories.reshape(m * k, n_t, n_s), self.returned[:m].reshape(m * k)

    def status_counts(self) -> dict[str, int]:
        """Number of integrations per :class:`Status` name."""
        return {s.name.lower(): int(np.sum(self.status == s)) for s in Status}

    def summary(self) -> dict[str, object]:
        """Flat summary (numbers and strings) for reports and :func:`write_summary`."""
        st = self.settings
        out: dict[str, object] = {
            "protocol": st.protocol,
            "n_models": self.n_models,
            "n_perturbations": st.n_perturbations,
            "n_integrations": self.n_integrations,
            "n_completed": self.n_completed,
            "n_returned": self.n_returned,
            "criterion": st.criterion,
            "fraction_returned": self.fraction_returned,
            "fraction_returned_completed": self.fraction_returned_completed,
            **{
                f"fraction_returned_{c.replace('-', '_')}": v
                for c, v in self.fractions_returned().items()
            },
            "n_blown_up": self.n_blown_up,
            "n_failed": self.n_failed,
            "n_no_initial_state": self.n_no_initial_state,
            "acceptance_rate": self.acceptance_rate,
            "followers": st.followers,
            "median_relative_deviation": _nanmedian(self.relative_deviation),
            "mean_steps": float(np.mean(self.n_accepted + self.n_rejected))
            if self.n_accepted.size
            else math.nan,
            "wall_time_s": self.wall_time,
            "integrations_per_s": self.integrations_per_second,
            "t_end_h": st.t_end,
            "return_tolerance": st.return_tolerance,
            "seed": st.seed,
            "method": st.method,
            "rtol": st.options.rtol,
            "atol": st.options.atol,
            "max_steps": st.options.max_steps,
            "n_jobs": self.n_jobs,
            "chunk_size": self.chunk_size,
        }
        out.update({f"status_{k}": v for k, v in self.status_counts().items()})
        return out


def _nanmedian(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else math.nan


# --------------------------------------------------------------------------- writers


def write_summary(
    results: PerturbationResult | Mapping[str, PerturbationResult], path: str | Path
) -> Path:
    """Write the summary of one or several analyses as CSV or JSON (by suffix).

    Parameters
    ----------
    results
        One result, or a mapping label → result (e.g. ``{"ORACLE fold": r}``).
    path
        ``.csv`` (one row per result, a ``label`` column first) or ``.json``
        (``{label: summary}``); written atomically.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from rekindle.io.atomic import atomic_write_text

    path = Path(path)
    if isinstance(results, PerturbationResult):
        results = {results.settings.protocol: results}
    rows = {str(label): r.summary() for label, r in results.items()}
    suffix = path.suffix.lower()
    if suffix == ".json":
        clean = {k: {f: _json_value(v) for f, v in s.items()} for k, s in rows.items()}
        return atomic_write_text(path, json.dumps(clean, indent=2, allow_nan=False) + "\n")
    if suffix == ".csv":
        fields = ["label", *next(iter(rows.values())).keys()] if rows else ["label"]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for label, s in rows.items():
            writer.writerow({"label": label, **s})
        return atomic_write_text(path, buf.getvalue())
    raise ValueError(f"unsupported summary format {path.suffix!r}; use .csv or .json")


def _json_value(v: object) -> object:
    """NaN/inf become ``None`` in JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
