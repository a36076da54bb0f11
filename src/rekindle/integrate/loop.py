"""The loop: :func:`integrate_batch` steps many trajectories together until each ends.

At most ``max_batch`` trajectories are active (an :class:`~rekindle.integrate.state.
ActiveState`); whenever trajectories finish, waiting ones join, so the batch stays full
until the queue is empty (no long tail of nearly empty iterations per batch).
Trajectories never interact: the result of each is independent of the batch it is
stepped in.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from rekindle.integrate.controller import IntegratorOptions, adapt_step_size, initial_step_size
from rekindle.integrate.method import TrialStep, rosenbrock_step
from rekindle.integrate.problem import ReducedProblem, check_parameters
from rekindle.integrate.solution import RUNNING, BatchSolution, Status
from rekindle.integrate.state import JACOBIAN_OUTDATED, ActiveState
from rekindle.integrate.tableau import RosenbrockTableau, resolve_method
from rekindle.integrate.threads import single_threaded_blas

if TYPE_CHECKING:
    from rekindle.kinetics.system import KineticSystem

DEFAULT_MAX_BATCH = 512
"""Trajectories stepped together by the integrator (see :func:`integrate_batch`)."""

FollowUp = Callable[[np.ndarray, np.ndarray, np.ndarray], ArrayLike]
"""``follow_up(finished, status, final) -> indices to queue`` of :func:`integrate_batch`."""


def integrate_batch(
    system: KineticSystem,
    parameters: np.ndarray,
    x0: np.ndarray,
    t_end: float,
    *,
    times: ArrayLike | None = None,
    store: ArrayLike | None = None,
    scale: ArrayLike | None = None,
    options: IntegratorOptions | None = None,
    method: str | RosenbrockTableau = "rodas4",
    max_batch: int = DEFAULT_MAX_BATCH,
    on_finish: Callable[[int], None] | None = None,
    start: ArrayLike | None = None,
    follow_up: FollowUp | None = None,
) -> BatchSolution:
    """Integrate ``dx/dt = S v(x; p)`` for many parameter sets and initial states at once.

    The reduced system of the independent states is integrated; the dependent states
    follow from the conserved totals of ``x0`` (``x_dep = T + L₀ x_I``), so every
    conserved moiety holds to rounding error. Each trajectory has its own time and
    step size; all advance together as one batch and finished ones drop out.

    Parameters
    ----------
    system
        Compiled kinetic model.
    parameters
        Parameter sets, shape ``(n, n_parameters)`` (one per trajectory).
    x0
        Initial states, µM, shape ``(n, n_states)``.
    t_end
        Final time, h (> 0).
    times
        Output times in ``[0, t_end]``, h, increasing (default ``[0, t_end]``). The
        stored trajectories step exactly onto them (no interpolation).
    store
        Indices of the trajectories whose states at ``times`` are returned.
    scale
        Per-state scale, µM, shape ``(n_states,)``: variables are ``x/scale`` and
        ``atol`` is relative to it (default: the largest ``|x0|`` of each state).
    options
        Tolerances and limits (:class:`~rekindle.integrate.controller.IntegratorOptions`).
    method
        A name in :data:`~rekindle.integrate.tableau.METHODS` or a
        :class:`~rekindle.integrate.tableau.RosenbrockTableau` (default RODAS4).
    max_batch
        Trajectories stepped together; when some finish, waiting ones take their
        places. Results do not depend on it (up to rounding).
    on_finish
        Called with the number of trajectories that just finished (any status).
    start
        Indices of the trajectories queued at the start, in order (default: all).
    follow_up
        Called after every step of the batch in which trajectories finished, with their
        indices, :class:`Status` codes and final states (µM), shapes ``(f,)``, ``(f,)``
        and ``(f, n_states)``; returns indices of trajectories to queue next (never
        queued before). The queue grows as results come in, so dependent work (the
        sequential return test's next stage of a model) joins the running batch
        instead of waiting for a second call and its slow tail. Trajectories never
        queued end with status ``SKIPPED``.

    Returns
    -------
    BatchSolution
        Final states, status codes, step statistics and stored trajectories.
    """
    opts = options or IntegratorOptions()
    tableau = resolve_method(method)
    if opts.jacobian_max_age > 1 and not tableau.w_method:
        raise ValueError(
            f"{tableau.name} needs the exact Jacobian at every step: jacobian_max_age > 1 "
            "requires a W-method (e.g. 'ros34pw2')"
        )
    p_all = check_parameters(system, parameters)
    x0 = np.asarray(x0, dtype=float)
    n, n_states = p_all.shape[0], system.n_states
    if x0.shape != (n, n_states):
        raise ValueError(f"x0 must have shape ({n}, {n_states}), got {x0.shape}")
    if not t_end > 0:
        raise ValueError(f"t_end must be positive, got {t_end}")
    t_out = np.array([0.0, t_end]) if times is None else np.asarray(times, dtype=float)
    if t_out.ndim != 1 or t_out.size == 0 or np.any(np.diff(t_out) <= 0):
        raise ValueError("times must be a non-empty increasing 1-D array")
    if t_out[0] < 0 or t_out[-1] > t_end:
        raise ValueError("times must lie in [0, t_end]")
    stored = np.unique(np.asarray([] if store is None else store, dtype=int))
    if stored.size and (stored[0] < 0 or stored[-1] >= n):
        raise ValueError("store indices out of range")
    if scale is None:
        sc = np.abs(x0).max(axis=0) if n else np.ones(n_states)
        sc = np.where(sc > 0, sc, 1.0)
    else:
        sc = np.asarray(scale, dtype=float)
        if sc.shape != (n_states,) or np.any(~np.isfinite(sc)) or np.any(sc <= 0):
            raise ValueError(f"scale must be positive and finite, shape ({n_states},)")
    queue = np.arange(n) if start is None else np.asarray(start, dtype=np.int64).ravel()
    if queue.size and (queue.min() < 0 or queue.max() >= n or np.unique(queue).size < queue.size):
        raise ValueError("start must hold distinct trajectory indices in [0, n)")
    run = _Run(
        problem=ReducedProblem(system, sc),
        tableau=tableau,
        options=opts,
        parameters=p_all,
        x0=x0,
        t_end=float(t_end),
        t_out=t_out,
        record=_Record.empty(n, n_states, stored, t_out.size),
        on_finish=on_finish,
        follow_up=follow_up,
    )
    with single_threaded_blas:
        _loop(run, queue, max(1, int(max_batch)))
    run.record.status[run.record.status == RUNNING] = Status.SKIPPED
    return run.record.solution(t_out, stored)


@dataclass
class _Record:
    """Per-trajectory results of the whole batch, filled as trajectories finish."""

    status: np.ndarray
    final: np.ndarray
    t_final: np.ndarray
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    n_jacobians: np.ndarray
    trajectories: np.ndarray | None
    slot_of: np.ndarray  # row in `trajectories` of each trajectory, −1 if not stored
    queued: np.ndarray | None = None  # whether each trajectory was queued (with follow-ups)
    finished_now: list[np.ndarray] | None = None  # finished since the last follow-up

    @classmethod
    def empty(cls, n: int, n_states: int, stored: np.ndarray, n_times: int) -> _Record:
        slot_of = np.full(n, -1, dtype=np.int64)
        slot_of[stored] = np.arange(stored.size)
        return cls(
            status=np.full(n, RUNNING, dtype=np.int8),
            final=np.full((n, n_states), np.nan),
            t_final=np.zeros(n),
            n_accepted=np.zeros(n, dtype=np.int64),
            n_rejected=np.zeros(n, dtype=np.int64),
            n_jacobians=np.zeros(n, dtype=np.int64),
            trajectories=np.full((stored.size, n_times, n_states), np.nan) if stored.size else None,
            slot_of=slot_of,
        )

    def solution(self, t_out: np.ndarray, stored: np.ndarray) -> BatchSolution:
        return BatchSolution(
            times=t_out,
            final=self.final,
            t_final=self.t_final,
            status=self.status,
            trajectories=self.trajectories,
            stored=stored,
            n_accepted=self.n_accepted,
            n_rejected=self.n_rejected,
            n_jacobians=self.n_jacobians,
        )


@dataclass(frozen=True)
class _Run:
    """What stays fixed during one :func:`integrate_batch` call."""

    problem: ReducedProblem
    tableau: RosenbrockTableau
    options: IntegratorOptions
    parameters: np.ndarray
    x0: np.ndarray
    t_end: float
    t_out: np.ndarray
    record: _Record
    on_finish: Callable[[int], None] | None
    follow_up: FollowUp | None = None

    def finished(self, indices: np.ndarray) -> None:
        """Trajectories ``indices`` just received their status."""
        if self.on_finish and indices.size:
            self.on_finish(int(indices.size))
        if self.follow_up is not None and indices.size:
            assert self.record.finished_now is not None
            self.record.finished_now.append(indices)

    def next_work(self) -> np.ndarray:
        """The follow-ups of the trajectories finished since the last call (validated)."""
        record = self.record
        if self.follow_up is None or not record.finished_now:
            return np.zeros(0, dtype=np.int64)
        done = np.concatenate(record.finished_now)
        record.finished_now.clear()
        new = np.asarray(
            self.follow_up(done, record.status[done], record.final[done]), dtype=np.int64
        ).ravel()
        assert record.queued is not None
        n = record.queued.size
        if new.size and (
            new.min() < 0
            or new.max() >= n
            or record.queued[new].any()
            or np.unique(new).size < new.size
        ):
            raise ValueError(
                "follow_up must return distinct indices of trajectories never queued before"
            )
        record.queued[new] = True
        return new


def _loop(run: _Run, queue: np.ndarray, max_batch: int) -> None:
    """Step until every queued trajectory has a status (fills ``run.record``); the
    follow-ups of finished trajectories join the queue."""
    if run.follow_up is not None:
        run.record.queued = np.zeros(run.x0.shape[0], dtype=bool)
        run.record.queued[queue] = True
        run.record.finished_now = []
    state = _start(run, queue[:max_batch])
    queue = np.concatenate([queue[max_batch:], run.next_work()])
    running = np.ones(state.size, dtype=bool)
    while True:
        # ---- drop finished trajectories and top the batch up from the queue
        n_run = int(running.sum())
        free = max_batch - n_run
        refill = queue.size > 0 and (free >= max(1, max_batch // 8) or n_run == 0)
        if refill or n_run < running.size:
            state = state.compact(running)
            if refill:
                state = state.concat(_start(run, queue[:free]))
                queue = np.concatenate([queue[free:], run.next_work()])
        if state.size == 0:
            if queue.size:
                running = np.zeros(0, dtype=bool)
                continue
            break
        running = _advance(run, state)
        if run.follow_up is not None:
            queue = np.concatenate([queue, run.next_work()])


def _start(run: _Run, new: np.ndarray) -> ActiveState:
    """Active state of trajectories ``new`` at t = 0; those already non-finite finish."""
    prob, record = run.problem, run.record
    p = run.parameters[new]
    z0 = prob.offsets(run.x0[new])
    y = run.x0[new][:, prob.ind] / prob.s_ind
    with np.errstate(all="ignore"):
        z = prob.full(y, z0)
        f0 = prob.rhs(z, p)
        dz_dt = (f0 @ prob.lz.T) if run.options.first_step is None else f0
    h = initial_step_size(z, dz_dt, run.options, run.t_end)
    out_i = np.zeros(new.size, dtype=np.int64)
    if record.trajectories is not None and run.t_out[0] == 0.0:
        has = record.slot_of[new] >= 0
        record.trajectories[record.slot_of[new[has]], 0] = z[has] * prob.scale
        out_i[has] = 1
    bad = ~np.isfinite(f0).all(axis=1) | ~np.isfinite(z).all(axis=1)
    if bad.any():
        g = new[bad]
        record.status[g] = Status.NONFINITE
        record.final[g] = z[bad] * prob.scale
        run.finished(g)
    ok = ~bad
    m, r = int(ok.sum()), prob.n_reduced
    return ActiveState(
        index=new[ok],
        parameters=p[ok],
        offsets=z0[ok],
        y=y[ok],
        z=z[ok],
        t=np.zeros(m),
        f=f0[ok],
        h=h[ok],
        jacobian_t=np.zeros((m, r, r)),
        jacobian_age=np.full(m, JACOBIAN_OUTDATED),  # forces one at the first step
        bad_trials=np.zeros(m, dtype=np.int64),
        attempts=np.zeros(m, dtype=np.int64),
        next_output=out_i[ok],
        h_accepted=np.full(m, np.nan),
        err_accepted=np.full(m, np.nan),
    )


def _advance(run: _Run, state: ActiveState) -> np.ndarray:
    """One trial step of every active trajectory; returns which are still running."""
    opts, record = run.options, run.record
    # ---- next stop: an output time (stored trajectories) or t_end
    slots = record.slot_of[state.index]
    stop = np.full(state.size, run.t_end)
    has_out = (slots >= 0) & (state.next_output < run.t_out.size)
    stop[has_out] = run.t_out[state.next_output[has_out]]
    lands = state.h >= stop - state.t  # this step lands exactly on the stop
    h_try = np.where(lands, stop - state.t, state.h)
    _refresh_jacobians(run, state)
    trial = rosenbrock_step(run.problem, run.tableau, state, h_try, opts)
    state.attempts += 1
    nonfinite = trial.nonfinite
    negative = ~nonfinite & (trial.z < -opts.negative_tolerance).any(axis=1)
    accept = ~nonfinite & ~negative & (trial.error <= 1.0)
    adapt_step_size(
        state,
        h_try,
        lands,
        trial.error,
        accept,
        negative,
        nonfinite,
        opts,
        run.tableau.embedded_order,
    )
    state.bad_trials[:] = np.where(nonfinite | negative, state.bad_trials + 1, 0)
    # a step rejected with an old Jacobian is retried with a fresh one
    age = state.jacobian_age
    age[:] = np.where(~accept & (age > 0), JACOBIAN_OUTDATED, age)
    record.n_rejected[state.index[~accept]] += 1
    if accept.any():
        _accept(run, state, trial, np.flatnonzero(accept), lands, stop, has_out, slots, h_try)
    return _classify(run, state, accept, nonfinite, negative)


def _refresh_jacobians(run: _Run, state: ActiveState) -> None:
    """Evaluate the Jacobians that are too old (all of them for a non-W method)."""
    need = state.jacobian_age >= run.options.jacobian_max_age
    if need.any():
        rows = np.flatnonzero(need)
        with np.errstate(all="ignore"):
            state.jacobian_t[rows] = run.problem.jacobian(
                state.z[rows], state.parameters[rows], transposed=True
            )
        state.jacobian_age[rows] = 0
        run.record.n_jacobians[state.index[rows]] += 1


def _accept(
    run: _Run,
    state: ActiveState,
    trial: TrialStep,
    rows: np.ndarray,
    lands: np.ndarray,
    stop: np.ndarray,
    has_out: np.ndarray,
    slots: np.ndarray,
    h_try: np.ndarray,
) -> None:
    """Advance the trajectories ``rows`` to their accepted trial step, record outputs."""
    record = run.record
    state.t[rows] = np.where(lands[rows], stop[rows], state.t[rows] + h_try[rows])
    state.y[rows] = trial.y[rows]
    state.z[rows] = trial.z[rows]
    # a non-W method needs the Jacobian at the accepted state for its next step: one pass
    # over the rate laws gives it with the right-hand side (not for the finished ones)
    fused = rows[state.t[rows] < run.t_end] if run.options.jacobian_max_age == 1 else rows[:0]
    plain = np.setdiff1d(rows, fused, assume_unique=True) if fused.size else rows
    with np.errstate(all="ignore"):
        if fused.size:
            state.f[fused], _ = run.problem.rhs_and_jacobian(
                trial.z[fused],
                state.parameters[fused],
                out=state.jacobian_t,
                rows=fused,
                transposed=True,
            )
            state.jacobian_age[fused] = 0
            record.n_jacobians[state.index[fused]] += 1
        if plain.size:
            state.f[plain] = run.problem.rhs(trial.z[plain], state.parameters[plain])
            state.jacobian_age[plain] += 1
    record.n_accepted[state.index[rows]] += 1
    hit = rows[has_out[rows] & lands[rows]]
    if record.trajectories is not None and hit.size:
        record.trajectories[slots[hit], state.next_output[hit]] = state.z[hit] * run.problem.scale
        state.next_output[hit] += 1


def _classify(
    run: _Run,
    state: ActiveState,
    accept: np.ndarray,
    nonfinite: np.ndarray,
    negative: np.ndarray,
) -> np.ndarray:
    """Give a status to the trajectories that end now; returns which keep running."""
    opts, record = run.options, run.record
    done = accept & (state.t >= run.t_end)
    with np.errstate(invalid="ignore"):
        f_bad = accept & ~np.isfinite(state.f).all(axis=1)
        diverged = accept & (state.z > opts.divergence_bound).any(axis=1)
    running = np.ones(state.size, dtype=bool)
    ended: list[np.ndarray] = []
    for mask, code in (
        (done, Status.SUCCESS),
        (f_bad, Status.NONFINITE),
        (diverged, Status.DIVERGED),
        (nonfinite & (state.bad_trials >= opts.max_bad_trials), Status.NONFINITE),
        (negative & (state.bad_trials >= opts.max_bad_trials), Status.NEGATIVE),
        (state.h < opts.min_step_ratio * run.t_end, Status.STEP_UNDERFLOW),
        (state.attempts >= opts.max_steps, Status.MAX_STEPS),
    ):
        rows = np.flatnonzero(mask & running)
        if rows.size:
            g = state.index[rows]
            record.status[g] = code
            record.t_final[g] = state.t[rows]
            record.final[g] = state.z[rows] * run.problem.scale
            running[rows] = False
            ended.append(g)
    if ended:
        run.finished(np.concatenate(ended))
    return running
