"""The state of the trajectories being stepped together (:class:`ActiveState`)."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np

JACOBIAN_OUTDATED = np.iinfo(np.int64).max // 2
"""Jacobian age that forces a fresh Jacobian at the next step."""


@dataclass
class ActiveState:
    """Working arrays of the ``m`` active trajectories (row *i* = one trajectory).

    Updated in place by the loop; :meth:`take` and :meth:`concat` drop finished
    trajectories and add waiting ones.

    Attributes
    ----------
    index
        Trajectory indices in the whole batch, ``(m,)``.
    parameters
        Parameter sets, ``(m, n_parameters)``.
    offsets
        Conserved totals ``z₀`` on the dependent rows, scaled, ``(m, n_states)``.
    y
        Scaled independent states, ``(m, r)``.
    z
        Full scaled states, ``(m, n_states)``.
    t
        Times reached, h, ``(m,)``.
    f
        Scaled right-hand side at ``y``, h⁻¹, ``(m, r)``.
    h
        Step to try next, h, ``(m,)``.
    jacobian_t
        Scaled reduced Jacobians, transposed (``Jᵀ``: each ``J`` stored column-major,
        the layout in which LAPACK factorises ``I/(hγ) − J`` in place), h⁻¹,
        ``(m, r, r)``.
    jacobian_age
        Accepted steps since each Jacobian was evaluated, ``(m,)``.
    bad_trials
        Consecutive non-finite or negative trial steps, ``(m,)``.
    attempts
        Step attempts so far, ``(m,)``.
    next_output
        Index of the next output time (stored trajectories), ``(m,)``.
    h_accepted, err_accepted
        Last accepted step and its error (predictive controller), NaN before one, ``(m,)``.
    """

    index: np.ndarray
    parameters: np.ndarray
    offsets: np.ndarray
    y: np.ndarray
    z: np.ndarray
    t: np.ndarray
    f: np.ndarray
    h: np.ndarray
    jacobian_t: np.ndarray
    jacobian_age: np.ndarray
    bad_trials: np.ndarray
    attempts: np.ndarray
    next_output: np.ndarray
    h_accepted: np.ndarray
    err_accepted: np.ndarray

    @property
    def size(self) -> int:
        """Number of active trajectories ``m``."""
        return int(self.index.size)

    def take(self, rows: np.ndarray) -> ActiveState:
        """The trajectories at ``rows`` (a copy)."""
        return ActiveState(**{f.name: getattr(self, f.name)[rows] for f in fields(self)})

    def compact(self, keep: np.ndarray) -> ActiveState:
        """The trajectories where ``keep`` (bool ``(m,)``), in place.

        The last kept rows move into the gaps of the dropped ones (the order changes;
        rows are independent) and the result holds views of the same arrays: the cost
        is that of the rows moved, not of the whole batch (a copy of every Jacobian per
        finished trajectory was ~5 % of a step).
        """
        n_keep = int(np.count_nonzero(keep))
        holes = np.flatnonzero(~keep[:n_keep])
        movers = n_keep + np.flatnonzero(keep[n_keep:])
        out = {}
        for f in fields(self):
            a = getattr(self, f.name)
            if holes.size:
                a[holes] = a[movers]
            out[f.name] = a[:n_keep]
        return ActiveState(**out)

    def concat(self, other: ActiveState) -> ActiveState:
        """These trajectories followed by ``other``'s."""
        return ActiveState(
            **{
                f.name: np.concatenate([getattr(self, f.name), getattr(other, f.name)])
                for f in fields(self)
            }
        )
