"""Ordered, memory-bounded mapping of chunk functions over threads or a distributed engine.

Every batch stage of rekindle (ORACLE sampling, labelling, perturbation analysis) is a
pure function of one chunk. :func:`map_ordered` maps such a function over chunk inputs
either with a local thread pool (numpy and LAPACK release the GIL, so threads use the
cores of one machine) or with any :class:`concurrent.futures.Executor` — a
:class:`~concurrent.futures.ProcessPoolExecutor`, a Dask cluster
(``distributed.Client.get_executor()``, see :func:`dask_executor`), an MPI pool
(``mpi4py.futures.MPIPoolExecutor``) — so the same stage runs on many machines.

Results come back in input order and at most ``max_in_flight`` chunks are pending at
any time, so a stage streams to disk with bounded memory whatever the engine. With an
executor, the function and its inputs must be picklable: stages submit a
:func:`functools.partial` of a module-level function.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any, TypeVar

T = TypeVar("T")
R = TypeVar("R")

DEFAULT_IN_FLIGHT_PER_WORKER = 2
"""Chunks kept pending per worker: one running, one queued."""


def default_n_jobs() -> int:
    """Number of worker threads: the CPUs available to this process."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def map_ordered(
    func: Callable[[T], R],
    items: Iterable[T],
    *,
    n_jobs: int | None = None,
    executor: Executor | None = None,
    max_in_flight: int | None = None,
) -> Iterator[R]:
    """Apply ``func`` to ``items`` in parallel, yielding results in input order.

    Parameters
    ----------
    func
        A pure function of one chunk input. Picklable when ``executor`` runs in other
        processes or machines.
    items
        Chunk inputs; consumed lazily.
    n_jobs
        Local worker threads when no ``executor`` is given (default: available CPUs;
        1 runs in the calling thread).
    executor
        Any :class:`concurrent.futures.Executor`; it is used, not shut down.
    max_in_flight
        Chunks submitted but not yet yielded (default ``2 × n_jobs``, or 2 × the
        executor's workers where it tells them, else 64).

    Yields
    ------
    The results of ``func``, in the order of ``items``.
    """
    if executor is None:
        jobs = n_jobs or default_n_jobs()
        if jobs <= 1:
            yield from map(func, items)
            return
        with ThreadPoolExecutor(jobs) as pool:
            window = 2 * jobs if max_in_flight is None else max_in_flight
            yield from _bounded(pool, func, items, window)
        return
    window = max_in_flight
    if window is None:
        window = DEFAULT_IN_FLIGHT_PER_WORKER * (_executor_workers(executor) or 32)
    yield from _bounded(executor, func, items, window)


def _bounded(
    pool: Executor, func: Callable[[T], R], items: Iterable[T], window: int
) -> Iterator[R]:
    if window < 1:
        raise ValueError(f"max_in_flight must be ≥ 1, got {window}")
    pending: deque[Future[R]] = deque()
    try:
        for item in items:
            pending.append(pool.submit(func, item))
            if len(pending) >= window:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:  # an error or an abandoned generator: drop what has not started
        for fut in pending:
            fut.cancel()


def _executor_workers(executor: Executor) -> int | None:
    """Worker count of an executor where it exposes one (stdlib pools, Dask)."""
    n = getattr(executor, "_max_workers", None)
    if isinstance(n, int) and n > 0:
        return n
    client = getattr(executor, "_client", None)  # distributed.client.ClientExecutor
    if client is not None:
        try:
            return max(1, sum(client.nthreads().values()))
        except Exception:  # pragma: no cover - a client that cannot answer
            return None
    return None


def process_context() -> multiprocessing.context.BaseContext:
    """The start method of :func:`local_processes`: ``fork`` on Linux, else ``spawn``."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


@contextmanager
def local_processes(
    n_jobs: int,
    initializer: Callable[..., None] | None = None,
    initargs: tuple[Any, ...] = (),
) -> Iterator[ProcessPoolExecutor]:
    """A pool of ``n_jobs`` worker processes on this machine.

    For stages whose chunks hold the GIL most of the time (many small numpy calls, as in
    the integrator): threads then share one core, processes use them all. On Linux the
    workers are forked (no re-import of the caller's ``__main__``, so scripts without an
    ``if __name__ == "__main__"`` guard work; torch's DataLoader forks the same way),
    elsewhere spawned. ``initializer(*initargs)`` runs in each worker (it may receive
    ``multiprocessing`` queues made by :func:`process_context`).
    """
    ctx = process_context()
    with ProcessPoolExecutor(
        n_jobs, mp_context=ctx, initializer=initializer, initargs=initargs
    ) as pool:
        yield pool


@contextmanager
def dask_executor(address: str, **client_kwargs: Any) -> Iterator[Executor]:
    """A :class:`concurrent.futures.Executor` on a running Dask cluster.

    Parameters
    ----------
    address
        Scheduler address, e.g. ``"tcp://10.0.0.5:8786"`` (start one with
        ``dask scheduler`` and ``dask worker ADDRESS`` on each machine). Each worker needs
        rekindle installed.
    **client_kwargs
        Passed to ``distributed.Client``.

    Raises
    ------
    ImportError
        When ``distributed`` is not installed (``pip install "rekindle[distributed]"``).
    """
    try:
        from distributed import Client
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise ImportError(
            "a Dask scheduler needs the 'distributed' package: "
            'pip install "rekindle[distributed]"'
        ) from exc
    client = Client(address, set_as_default=False, **client_kwargs)
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()
