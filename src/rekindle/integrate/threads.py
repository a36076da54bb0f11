"""One BLAS thread while integrating (:data:`single_threaded_blas`), via ``threadpoolctl``.

The integrator's LU factorisations are LAPACK's (scipy's OpenBLAS); its solves and rate
laws are compiled loops (numba, one thread). No torch: a perturbation worker loads none.
"""

from __future__ import annotations

import threading

from threadpoolctl import threadpool_limits


class _BlasThreadLimiter:
    """Process-wide, re-entrant limit of the BLAS libraries to one thread.

    The integrator works on many small matrices (44 × 44) and thin products; OpenBLAS
    threading on such sizes is slower than one thread (measured 2–3× slower on 2 cores)
    and oversubscribes the cores when chunks already run in threads. The first entrant
    limits every loaded BLAS to one thread with ``threadpoolctl``; the last one out
    restores the original limits.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._limits: threadpool_limits | None = None

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._limits = threadpool_limits(limits=1, user_api="blas")
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._limits is not None:
                self._limits.restore_original_limits()
                self._limits = None


single_threaded_blas = _BlasThreadLimiter()
"""Context manager: BLAS runs on one thread inside (re-entrant, thread-safe)."""
