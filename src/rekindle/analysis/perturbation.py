"""Perturbation analysis of kinetic models (paper Fig. 2e; Methods, "Perturbation analysis").

Each kinetic model is integrated from perturbed initial states back towards (or away
from) its reference steady state ``X_ref``; a perturbation has *returned* when
``‖X(t_end) − X_ref‖₂ < 0.01 ‖X_ref‖₂`` (all states) at the E. coli doubling time
``t_end = 21 min``.

Layers
------
* :mod:`rekindle.integrate` — the batched stiff integrator (RODAS4 on the reduced,
  scaled system); :func:`~rekindle.integrate.integrate_batch` steps many trajectories
  together.
* :mod:`rekindle.analysis.initial_states` — the perturbed initial states with the
  reference's conserved totals (protocols, follower states).
* :func:`perturbation_chunk` — a pure function of a chunk of parameter sets, their
  global index and the :class:`PerturbationSettings`: draws the perturbations
  (per-model random streams), integrates and classifies them. It can be mapped by
  threads (as :func:`perturbation_analysis` does) or by a distributed engine.
* :func:`perturbation_analysis` — the whole analysis for a :class:`PerturbationSettings`,
  returning a :class:`~rekindle.analysis.perturbation_result.PerturbationResult`;
  :func:`~rekindle.analysis.perturbation_result.write_summary` writes summaries;
  :func:`perturbation_analyses` analyses several populations in one pool of workers.

Design decisions
----------------
* **Conserved moieties.** A perturbation must keep the reference's conserved totals
  (otherwise the system relaxes to a different steady state and cannot "return").
  One state per moiety (the *follower*) is therefore solved from the reference totals
  and the others are perturbed; draws with a follower ≤ 0 are redrawn (at most
  ``max_draws`` times, acceptance rate recorded). By default the followers are the
  *largest* pools (:func:`~rekindle.analysis.initial_states.follower_states`): for
  E. coli the link matrix's dependent states are the small pools (NADH, ubiquinol,
  PPi, ...), which then absorb the perturbations of their large partners — ubiquinol up
  to 640× its reference — and only 6 % of the draws are admissible; with the largest
  pools as followers 100 % are, and every state stays within a moderate factor of its
  reference. ``followers="link"`` gives the literal variant.
* **Tolerances.** The analysis uses :data:`PERTURBATION_OPTIONS` (``rtol = 1e-5``,
  ``atol = 1e-8·X_ref``); the accuracy this gives is measured in
  :mod:`rekindle.integrate` (at most 2.4e-5 change of the final relative deviation
  against ``rtol = 1e-8``, against a return threshold of 1e-2; no classification
  changed).
* **Parallelism.** Local runs use worker processes (the integrator holds the GIL most
  of the time, threads share one core), one chunk per worker: each chunk ends with its
  slowest integrations in nearly empty batches (an integration that needs the full
  ``max_steps`` takes 5 000 iterations), and with one chunk per worker these tails
  overlap instead of adding up; populations analysed together
  (:func:`perturbation_analyses`) share the pool, so their tails overlap too.
  Throughput: ``benchmarks/bench_perturbation.py`` (``docs/science/perturbation-speed.md``).
* **Sequential return test** (``stages``): a model's perturbations in stages, its later
  stages skipped once one has not returned; the stages of all models share one running
  batch (the integrator's ``follow_up``), so a chunk still ends with one tail.

Units: time in hours, concentrations in µM, rates in µM h⁻¹, Jacobians in h⁻¹.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Executor
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any

import numpy as np

from rekindle.analysis.initial_states import (
    FOLLOWER_CHOICES,
    PROTOCOLS,
    draw_initial_states,
    follower_states,
)
from rekindle.analysis.perturbation_result import (
    PerturbationResult,
    deviations,
    returned_mask,
    write_summary,
)
from rekindle.analysis.perturbation_settings import (
    CRITERIA,
    CVODE_OPTIONS,
    DOUBLING_TIME_HOURS,
    PERTURBATION_OPTIONS,
    RETURN_TOLERANCE,
    PerturbationSettings,
    time_grid,
)
from rekindle.integrate import (
    BLOWN_UP_STATUSES,
    FAILED_STATUSES,
    BatchSolution,
    IntegratorOptions,
    Status,
    check_parameters,
    integrate_batch,
    single_threaded_blas,
)
from rekindle.scale.executors import (
    default_n_jobs,
    local_processes,
    map_ordered,
    process_context,
)

if TYPE_CHECKING:
    from rekindle.kinetics.physiology import Physiology
    from rekindle.kinetics.system import KineticSystem

__all__ = [
    "BLOWN_UP_STATUSES",
    "CRITERIA",
    "CVODE_OPTIONS",
    "DOUBLING_TIME_HOURS",
    "FAILED_STATUSES",
    "FOLLOWER_CHOICES",
    "PERTURBATION_OPTIONS",
    "PROTOCOLS",
    "RETURN_TOLERANCE",
    "BatchSolution",
    "IntegratorOptions",
    "PerturbationChunk",
    "PerturbationResult",
    "PerturbationSettings",
    "Status",
    "deviations",
    "draw_initial_states",
    "follower_states",
    "integrate_batch",
    "perturbation_analyses",
    "perturbation_analysis",
    "perturbation_chunk",
    "time_grid",
    "write_summary",
]


@dataclass(frozen=True)
class PerturbationChunk:
    """Result of :func:`perturbation_chunk` for ``n`` models × ``k`` perturbations.

    Attributes
    ----------
    start
        Global index of the chunk's first model.
    status
        :class:`Status` codes, ``int8``, shape ``(n, k)``.
    deviations
        Deviation from ``X_ref`` at ``t_end`` under each of :data:`CRITERIA`, shape
        ``(n, k, 3)``; NaN unless ``SUCCESS``.
    initial_deviations
        The same for the perturbed initial state, shape ``(n, k, 3)``.
    n_accepted, n_rejected
        Steps per integration, shape ``(n, k)``.
    n_draws
        Perturbation draws made (accepted ones: ``n·k`` minus ``NO_INITIAL_STATE``).
    trajectories
        ``X/X_ref − 1`` at the output times of the stored models, shape
        ``(n_stored, k, n_times, n_states)``, or ``None``.
    """

    start: int
    status: np.ndarray
    deviations: np.ndarray
    initial_deviations: np.ndarray
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    n_draws: int
    trajectories: np.ndarray | None


def perturbation_chunk(
    system: KineticSystem,
    reference: np.ndarray,
    parameters: np.ndarray,
    start: int,
    settings: PerturbationSettings,
    on_finish: Callable[[int], None] | None = None,
    stages: Sequence[int] | None = None,
) -> PerturbationChunk:
    """Perturb, integrate and classify a chunk of models: a pure function.

    Parameters
    ----------
    system
        Compiled model.
    reference
        Reference steady state ``X_ref``, µM, shape ``(n_states,)``.
    parameters
        The chunk's parameter sets, shape ``(n, n_parameters)``.
    start
        Global index of the first model (selects its random streams).
    settings
        Protocol, seed, tolerances (:class:`PerturbationSettings`).
    on_finish
        Called with the number of integrations that just finished.
    stages
        Sizes summing to ``settings.n_perturbations``: a model's perturbations are
        integrated stage by stage, and its later stages are skipped (status
        ``SKIPPED``) once one of its perturbations has not returned under
        ``settings.criterion`` (the sequential return test). The perturbations are the
        ones drawn without stages, so "every perturbation returns" is the same for every
        model; only integrations whose outcome cannot change it are spared. A model's
        next stage joins the running batch as soon as its stage ends
        (:func:`~rekindle.integrate.integrate_batch`'s ``follow_up``), and when fewer
        than :data:`SPECULATE_BELOW` integrations are outstanding every remaining stage
        of the models still in the test is queued at once. Default: all at once.

    Returns
    -------
    PerturbationChunk
    """
    p = check_parameters(system, parameters)
    n, k, n_states = p.shape[0], settings.n_perturbations, system.n_states
    proto = PROTOCOLS.index(settings.protocol)
    x0 = np.empty((n, k, n_states))
    n_draws = 0
    followers = follower_states(system, reference, settings.followers)
    for i in range(n):
        rng = np.random.default_rng(
            np.random.SeedSequence(settings.seed, spawn_key=(start + i, proto))
        )
        x0[i], d = draw_initial_states(
            system,
            reference,
            k,
            settings.protocol,
            rng,
            followers=followers,
            max_draws=settings.max_draws,
        )
        n_draws += d
    x0 = x0.reshape(n * k, n_states)
    ok = np.isfinite(x0).all(axis=1)
    rows = np.flatnonzero(ok)
    times = settings.output_times()
    n_store = min(max(settings.store_models - start, 0), n)
    store_flat = np.flatnonzero(ok[: n_store * k])  # positions among all n*k rows
    schedule = None if stages is None else _StagedReturns(stages, rows, n, k, reference, settings)
    sol = integrate_batch(
        system,
        np.repeat(p, k, axis=0)[rows],
        x0[rows],
        settings.t_end,
        times=times,
        store=np.searchsorted(rows, store_flat),
        scale=reference,
        options=settings.options,
        method=settings.method,
        on_finish=on_finish,
        start=None if schedule is None else schedule.first(),
        follow_up=None if schedule is None else schedule.follow_up,
    )
    status = np.full(n * k, Status.NO_INITIAL_STATE, dtype=np.int8)
    status[rows] = sol.status
    dev = np.full((n * k, len(CRITERIA)), np.nan)
    success = sol.status == Status.SUCCESS
    dev[rows[success]] = deviations(sol.final[success], reference)
    dev0 = deviations(x0, reference)
    n_acc = np.zeros(n * k, dtype=np.int64)
    n_rej = np.zeros(n * k, dtype=np.int64)
    n_acc[rows], n_rej[rows] = sol.n_accepted, sol.n_rejected
    traj = None
    if n_store:
        traj = np.full((n_store * k, len(times), n_states), np.nan)
        if sol.trajectories is not None:
            traj[store_flat] = sol.trajectories / reference - 1.0
        traj = traj.reshape(n_store, k, len(times), n_states)
    return PerturbationChunk(
        start=start,
        status=status.reshape(n, k),
        deviations=dev.reshape(n, k, len(CRITERIA)),
        initial_deviations=dev0.reshape(n, k, len(CRITERIA)),
        n_accepted=n_acc.reshape(n, k),
        n_rejected=n_rej.reshape(n, k),
        n_draws=n_draws,
        trajectories=traj,
    )


def _stage_sizes(stages: Sequence[int], k: int) -> np.ndarray:
    """``stages`` as an array, checked: positive sizes summing to ``k``."""
    sizes = np.asarray(stages, dtype=np.int64)
    if sizes.ndim != 1 or sizes.size == 0 or (sizes < 1).any() or sizes.sum() != k:
        raise ValueError(f"stages must be positive sizes summing to {k}, got {list(stages)}")
    return sizes


SPECULATE_BELOW = 32
"""The sequential return test queues every remaining perturbation of the models still
in the test when fewer than this many of its integrations are queued or running.

A step of the integrator has a fixed cost (the loop's and the rate laws' numpy calls:
~2.5 ms for one trajectory) beside ~80 µs per trajectory (at a full batch of 512 on
E. coli; ``benchmarks/bench_perturbation.py``'s step table), about the cost of 32
trajectories. Below that, the stages of the slowest models would run one after the
other in nearly empty steps, so their remaining stages run at once instead. The verdicts
do not change (the same perturbations, integrated or not)."""


class _StagedReturns:
    """The schedule of the sequential return test in one :func:`perturbation_chunk`.

    Trajectories are numbered by their position among the chunk's admissible initial
    states (``rows``: flat index ``model·k + perturbation``). A model's stage is queued
    whole; when its last trajectory ends, the next stage is queued unless one of the
    stage's perturbations did not return. When fewer than :data:`SPECULATE_BELOW`
    integrations are outstanding, every remaining stage of the models still in the test
    is queued at once. A stage holding a perturbation without an admissible initial
    state ends the model there (it cannot return), unintegrated.
    """

    def __init__(
        self,
        stages: Sequence[int],
        rows: np.ndarray,
        n: int,
        k: int,
        reference: np.ndarray,
        settings: PerturbationSettings,
    ) -> None:
        self.k, self.reference, self.settings = k, reference, settings
        self.bounds = np.concatenate([[0], np.cumsum(_stage_sizes(stages, k))])
        self.rows = rows  # position → flat index of the admissible perturbations
        self.position = np.full(n * k, -1, dtype=np.int64)  # flat index → position
        self.position[rows] = np.arange(rows.size)
        self.queued_to = np.zeros(n, dtype=np.int64)  # perturbations 0..queued_to-1 queued
        self.remaining = np.zeros(n, dtype=np.int64)  # queued, not finished
        self.failed = np.zeros(n, dtype=bool)
        self.outstanding = 0

    def first(self) -> np.ndarray:
        """Positions of every model's first stage (all stages, for few integrations)."""
        models = np.arange(self.queued_to.size)
        return np.concatenate([self._queue(models, self._next_bound(models)), self._speculate()])

    def _next_bound(self, models: np.ndarray) -> np.ndarray:
        return self.bounds[np.searchsorted(self.bounds, self.queued_to[models], side="right")]

    def _queue(self, models: np.ndarray, ends: np.ndarray) -> np.ndarray:
        """Positions of perturbations ``queued_to … ends − 1`` of ``models`` (a model with
        an inadmissible one among them fails instead)."""
        out = [np.zeros(0, dtype=np.int64)]
        starts = self.queued_to[models]
        for a, b in sorted(set(zip(starts.tolist(), ends.tolist(), strict=True))):
            m = models[(starts == a) & (ends == b)]
            pos = self.position[m[:, None] * self.k + np.arange(a, b)[None, :]]
            whole = (pos >= 0).all(axis=1)
            self.failed[m[~whole]] = True
            self.remaining[m[whole]] += b - a
            self.queued_to[m[whole]] = b
            out.append(pos[whole].ravel())
        new = np.concatenate(out)
        self.outstanding += new.size
        return new

    def _speculate(self) -> np.ndarray:
        """Every remaining perturbation of the models still in the test, when few
        integrations are outstanding."""
        if self.outstanding >= SPECULATE_BELOW:
            return np.zeros(0, dtype=np.int64)
        alive = np.flatnonzero(~self.failed & (self.queued_to < self.k))
        return self._queue(alive, np.full(alive.size, self.k))

    def follow_up(self, done: np.ndarray, status: np.ndarray, final: np.ndarray) -> np.ndarray:
        """``integrate_batch``'s follow-up: the next stages of the models whose stage ended
        with every perturbation returned."""
        self.outstanding -= done.size
        models = self.rows[done] // self.k
        dev = deviations(final, self.reference)[:, CRITERIA.index(self.settings.criterion)]
        back = returned_mask(status, dev, self.settings.return_tolerance)
        self.failed[models[~back]] = True
        np.subtract.at(self.remaining, models, 1)
        touched = np.unique(models)
        ended = touched[self.remaining[touched] == 0]
        advance = ended[~self.failed[ended] & (self.queued_to[ended] < self.k)]
        return np.concatenate([self._queue(advance, self._next_bound(advance)), self._speculate()])


PROCESS_MIN_INTEGRATIONS = 20
"""Local runs with ``n_jobs > 1``, more than one chunk and at least this many
integrations use worker processes (:func:`~rekindle.scale.executors.local_processes`),
smaller ones threads.

The integrator holds the GIL most of the time (many small numpy calls per step):
threads gave no speed-up on 2 cores (100 E. coli models × 10: 40.5 s with one thread,
40.1 s with two), processes use both cores. Forking them costs little: relevant E. coli
fdp1 models × 10 fold perturbations on 2 cores took 1.8 / 2.2 s in processes against
5.0 / 4.5 s in threads for 3 models, 8.0 / 8.5 against 16.6 / 19.3 s for 30 and 47.0 /
42.8 against 57.1 / 52.2 s for 120 (AMD EPYC with AVX2, 2026-12-07;
``benchmarks/bench_perturbation.py --n-models N --protocols fold --no-step-table
[--threads]``); the threshold was 2 000 integrations before."""

_progress_queue: Any = None
"""In a local worker process: the queue that forwards finished integrations."""


def _set_progress_queue(queue: Any) -> None:
    global _progress_queue
    _progress_queue = queue


@contextmanager
def _forwarded_progress(counter: _ProgressCounter) -> Iterator[Any]:
    """A queue for the local worker processes whose counts (finished integrations) a
    thread passes to ``counter`` until the block ends."""
    queue = process_context().Queue()

    def forward() -> None:
        while (count := queue.get()) is not None:
            counter.finished(count)

    thread = threading.Thread(target=forward, daemon=True)
    thread.start()
    try:
        yield queue
    finally:
        queue.put(None)
        thread.join()


def _perturbation_task(
    system: KineticSystem,
    reference: np.ndarray,
    settings: PerturbationSettings,
    stages: Sequence[int] | None,
    chunk: tuple[int, np.ndarray],
) -> PerturbationChunk:
    """:func:`perturbation_chunk` of ``(start, parameters)``: picklable for executors.

    In a local worker process the finished integrations are reported to the parent."""
    start, parameters = chunk
    queue = _progress_queue
    on_finish = None if queue is None else queue.put
    return perturbation_chunk(system, reference, parameters, start, settings, on_finish, stages)


def perturbation_analysis(
    system: KineticSystem,
    physiology: Physiology,
    parameters: np.ndarray,
    settings: PerturbationSettings | None = None,
    *,
    chunk_size: int | None = None,
    n_jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    executor: Executor | None = None,
    stages: Sequence[int] | None = None,
) -> PerturbationResult:
    """Perturbation analysis of kinetic models (paper Methods and Fig. 2e).

    For every parameter set, ``settings.n_perturbations`` perturbed initial states are
    drawn (:func:`~rekindle.analysis.initial_states.draw_initial_states`), integrated for
    ``settings.t_end`` and classified as returned when
    ``‖X(t_end) − X_ref‖₂ < return_tolerance · ‖X_ref‖₂`` over all states.

    Parameters
    ----------
    system
        Compiled model.
    physiology
        Reference steady state ``X_ref`` (the parameter sets must make it a steady state).
    parameters
        Shape ``(n_models, n_parameters)``.
    settings
        Protocol, perturbations per model, seed, times, tolerances
        (:class:`PerturbationSettings`; default: its defaults).
    chunk_size
        Models per chunk (default: the models split evenly over the workers). Each
        chunk streams its ``chunk_size × k`` integrations through one batch of
        :data:`~rekindle.integrate.DEFAULT_MAX_BATCH`; the few slowest integrations of a
        chunk finish in nearly empty, overhead-bound iterations, so few large chunks are
        fastest.
    n_jobs
        Local workers (default: available CPUs): processes when there are at least
        :data:`PROCESS_MIN_INTEGRATIONS` integrations, else threads.
    progress
        Called with the number of models done (finished integrations ÷ ``k``, rounded
        down) as integrations finish, from a thread of this process; first with 0.
        With an ``executor``, after each chunk.
    executor
        Map the chunks with this :class:`concurrent.futures.Executor` (a process pool,
        a Dask cluster: :mod:`rekindle.scale`) instead of ``n_jobs`` local threads;
        ``chunk_size`` then defaults to ``ceil(n_models / 16)``. Results are the same.
    stages
        The sequential return test (:func:`perturbation_chunk`): a model's remaining
        perturbations are skipped (status ``SKIPPED``) once one has not returned.
        ``returned.all(axis=1)`` is then the same as without stages.

    Returns
    -------
    PerturbationResult
    """
    return perturbation_analyses(
        system,
        physiology,
        {"": parameters},
        settings,
        chunk_size=chunk_size,
        n_jobs=n_jobs,
        progress=progress,
        executor=executor,
        stages=stages,
    )[""]


def perturbation_analyses(
    system: KineticSystem,
    physiology: Physiology,
    populations: Mapping[str, np.ndarray],
    settings: PerturbationSettings | None = None,
    *,
    chunk_size: int | None = None,
    n_jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    executor: Executor | None = None,
    stages: Sequence[int] | None = None,
) -> dict[str, PerturbationResult]:
    """:func:`perturbation_analysis` of several populations in one pool of workers.

    Each population's result is the one :func:`perturbation_analysis` gives it alone
    (its models are seeded by their index in it), but the chunks of all populations
    share the workers: the slow tails of their integrations overlap instead of adding
    up (ORACLE and generated models of the main job, 200 × 10 each).

    Parameters
    ----------
    populations
        ``{name: parameter sets (n, n_parameters)}``.
    chunk_size
        Models per chunk (default: all models split evenly over the workers, chunks
        ending at the populations' ends).
    progress
        Called with the models done in all populations together (as
        :func:`perturbation_analysis`).
    system, physiology, settings, n_jobs, executor, stages
        As :func:`perturbation_analysis`.

    Returns
    -------
    dict
        ``{name: PerturbationResult}``. Each ``wall_time`` is the joint run's wall time
        apportioned by the populations' integrations.
    """
    settings = settings or PerturbationSettings()
    params = {name: check_parameters(system, p) for name, p in populations.items()}
    if stages is not None:
        _stage_sizes(stages, settings.n_perturbations)
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be ≥ 1, got {chunk_size}")
    reference = system.steady_state_concentrations(physiology)
    jobs = n_jobs or default_n_jobs()
    n = sum(p.shape[0] for p in params.values())
    size = chunk_size or max(1, -(-n // (jobs if executor is None else 16)))
    # (population, start, parameters) of every chunk; a chunk ends at its population's end
    items = [
        (name, s, p[s : s + size]) for name, p in params.items() for s in range(0, p.shape[0], size)
    ]
    processes = (
        executor is None
        and jobs > 1
        and len(items) > 1
        and n * settings.n_perturbations >= PROCESS_MIN_INTEGRATIONS
    )
    counter = _ProgressCounter(progress, settings.n_perturbations, n)
    t0 = time.perf_counter()
    counter.start()
    if executor is None and not processes:
        with single_threaded_blas:
            chunks = list(
                map_ordered(
                    lambda item: perturbation_chunk(
                        system, reference, item[2], item[1], settings, counter.finished, stages
                    ),
                    items,
                    n_jobs=jobs,
                )
            )
    else:
        work = partial(_perturbation_task, system, reference, settings, stages)
        starts = (item[1:] for item in items)
        if processes:
            with _forwarded_progress(counter) as queue:
                with local_processes(jobs, _set_progress_queue, (queue,)) as pool:
                    chunks = list(map_ordered(work, starts, executor=pool))
        else:
            chunks = []
            for res in map_ordered(work, starts, executor=executor):
                chunks.append(res)
                counter.finished(res.status.size)
    counter.close()
    wall = time.perf_counter() - t0
    return {
        name: _assemble(
            [c for c, item in zip(chunks, items, strict=True) if item[0] == name],
            settings,
            wall * p.shape[0] / max(n, 1),
            jobs,
            size,
        )
        for name, p in params.items()
    }


class _ProgressCounter:
    """Turns finished integrations (from any thread) into models-done progress calls."""

    def __init__(self, progress: Callable[[int], None] | None, k: int, n: int) -> None:
        self.progress, self.k, self.n = progress, k, n
        self.lock = threading.Lock()
        self.integrations = 0
        self.reported = 0

    def start(self) -> None:
        if self.progress:
            self.progress(0)

    def finished(self, count: int) -> None:
        if self.progress is None:
            return
        with self.lock:
            self.integrations += count
            done = min(self.integrations // self.k, self.n)
            if done > self.reported:
                self.reported = done
                self.progress(done)

    def close(self) -> None:
        with self.lock:
            if self.progress and self.reported < self.n:
                self.reported = self.n
                self.progress(self.n)


def _assemble(
    chunks: list[PerturbationChunk],
    settings: PerturbationSettings,
    wall: float,
    n_jobs: int,
    chunk_size: int,
) -> PerturbationResult:
    """Concatenate the chunks (in order) into one :class:`PerturbationResult`."""
    k, n_crit = settings.n_perturbations, len(CRITERIA)

    def cat(name: str, dtype: type, fill: float, *shape: int) -> np.ndarray:
        if not chunks:
            return np.full((0, k, *shape), fill, dtype=dtype)
        return np.concatenate([getattr(c, name) for c in chunks])

    status = cat("status", np.int8, 0)
    stored = [c.trajectories for c in chunks if c.trajectories is not None]
    return PerturbationResult(
        settings=settings,
        status=status,
        deviations=cat("deviations", float, np.nan, n_crit),
        initial_deviations=cat("initial_deviations", float, np.nan, n_crit),
        times=settings.output_times(),
        trajectories=np.concatenate(stored) if stored else None,
        n_accepted=cat("n_accepted", np.int64, 0),
        n_rejected=cat("n_rejected", np.int64, 0),
        n_draws=sum(c.n_draws for c in chunks),
        wall_time=wall,
        n_jobs=n_jobs,
        chunk_size=chunk_size,
    )
