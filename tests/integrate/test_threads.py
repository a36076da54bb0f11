"""Tests for rekindle.integrate.threads: BLAS on one thread inside, restored after."""

from __future__ import annotations

import threading

import numpy as np
from threadpoolctl import threadpool_info

from rekindle.integrate import single_threaded_blas


def _blas_threads() -> list[int]:
    return [p["num_threads"] for p in threadpool_info() if p["user_api"] == "blas"]


def test_blas_limiter_limits_and_restores() -> None:
    np.linalg.inv(np.eye(3))  # make sure numpy's BLAS is loaded
    before = _blas_threads()
    with single_threaded_blas, single_threaded_blas:  # re-entrant
        assert all(n == 1 for n in _blas_threads())
        assert np.linalg.inv(np.eye(3) * 2.0)[0, 0] == 0.5
    assert _blas_threads() == before


def test_blas_limiter_restores_only_when_the_last_user_leaves() -> None:
    """A worker thread leaving while the main thread is still inside keeps the limit."""
    before = _blas_threads()
    with single_threaded_blas:
        worker = threading.Thread(target=lambda: single_threaded_blas.__enter__())
        worker.start()
        worker.join()
        single_threaded_blas.__exit__(None, None, None)  # the worker's exit
        assert all(n == 1 for n in _blas_threads())
    assert _blas_threads() == before
