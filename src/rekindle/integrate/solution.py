"""What the integrator returns: the :class:`Status` of each trajectory and the
:class:`BatchSolution` of a batch."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

import numpy as np


class Status(IntEnum):
    """Outcome of one integration (stored as ``int8``).

    ``SUCCESS`` reached ``t_end``. ``NONFINITE``: the state, the right-hand side or the
    Jacobian became non-finite (repeated non-finite trial steps, see
    :class:`~rekindle.integrate.controller.IntegratorOptions`). ``NEGATIVE``: trial
    steps kept producing a concentration below ``−negative_tolerance·scale``.
    ``DIVERGED``: a concentration exceeded ``divergence_bound·scale``.
    ``STEP_UNDERFLOW``: the step size fell below ``min_step_ratio·t_end``.
    ``MAX_STEPS``: the step budget was exhausted. ``NO_INITIAL_STATE``: no admissible
    perturbed state was drawn (not integrated). ``SKIPPED``: never queued for
    integration (``integrate_batch(..., start=..., follow_up=...)`` did not ask for it, as
    the sequential return test skips a model's perturbations after one fails).
    ``NONFINITE``, ``NEGATIVE`` and ``DIVERGED`` count as *blown up* (the trajectory
    escaped); ``STEP_UNDERFLOW`` and ``MAX_STEPS`` as *failed* (numerical failure).
    """

    SUCCESS = 0
    NONFINITE = 1
    NEGATIVE = 2
    DIVERGED = 3
    STEP_UNDERFLOW = 4
    MAX_STEPS = 5
    NO_INITIAL_STATE = 6
    SKIPPED = 7


BLOWN_UP_STATUSES = (Status.NONFINITE, Status.NEGATIVE, Status.DIVERGED)
"""Statuses of trajectories that escaped (blew up) during integration."""

FAILED_STATUSES = (Status.STEP_UNDERFLOW, Status.MAX_STEPS)
"""Statuses of integrations that failed numerically."""

RUNNING = -1
"""Status code of a trajectory still being integrated (never returned)."""


@dataclass(frozen=True)
class BatchSolution:
    """Result of :func:`~rekindle.integrate.loop.integrate_batch` for ``n`` trajectories.

    Attributes
    ----------
    times
        Output times, h, shape ``(n_times,)``.
    final
        State at ``t_end`` (or at failure), µM, shape ``(n, n_states)``.
    t_final
        Time reached, h, shape ``(n,)``.
    status
        :class:`Status` codes, ``int8``, shape ``(n,)``.
    trajectories
        States at ``times`` of the stored trajectories, µM, shape
        ``(n_stored, n_times, n_states)``, NaN after a failure; ``None`` if none stored.
    stored
        Indices of the stored trajectories, shape ``(n_stored,)``.
    n_accepted, n_rejected, n_jacobians
        Per trajectory: accepted and rejected steps and Jacobian evaluations.
    """

    times: np.ndarray
    final: np.ndarray
    t_final: np.ndarray
    status: np.ndarray
    trajectories: np.ndarray | None
    stored: np.ndarray
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    n_jacobians: np.ndarray
