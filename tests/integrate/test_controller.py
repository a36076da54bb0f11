"""Tests for rekindle.integrate.controller and .state: step-size control by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from rekindle.integrate import ActiveState, IntegratorOptions
from rekindle.integrate.controller import adapt_step_size, initial_step_size, rms_norm


def _state(h: np.ndarray, h_acc: np.ndarray, err_acc: np.ndarray) -> ActiveState:
    m = h.size
    z = np.zeros((m, 2))
    i = np.zeros(m, dtype=np.int64)
    return ActiveState(
        index=np.arange(m),
        parameters=z,
        offsets=z,
        y=z,
        z=z,
        t=np.zeros(m),
        f=z,
        h=h.astype(float),
        jacobian_t=np.zeros((m, 2, 2)),
        jacobian_age=i,
        bad_trials=i,
        attempts=i,
        next_output=i,
        h_accepted=h_acc.astype(float),
        err_accepted=err_acc.astype(float),
    )


def test_step_size_proposals_by_hand() -> None:
    """Order-3 embedded method (RODAS4): h_new = h·clip(0.9·err^(−1/4), 0.2, 6), etc."""
    opts = IntegratorOptions()
    h = np.full(6, 0.1)
    h_acc = np.array([np.nan, 0.2, np.nan, np.nan, np.nan, np.nan])
    st = _state(h.copy(), h_acc, np.array([np.nan, 0.01, 0.5, np.nan, np.nan, np.nan]))
    err = np.array([0.0625, 0.0625, 16.0, 1e-20, np.nan, 0.5])
    accept = np.array([True, True, False, True, False, False])
    negative = np.array([False, False, False, False, False, True])
    nonfinite = np.array([False, False, False, False, True, False])
    lands = np.zeros(6, dtype=bool)
    adapt_step_size(st, h, lands, err, accept, negative, nonfinite, opts, embedded_order=3)
    # 0: first accepted step, err 1/16 → 0.9·2 = 1.8
    assert st.h[0] == pytest.approx(0.18)
    # 1: Gustafsson: fac·(h/h_acc)·(err_acc/err)^(1/4) = 1.8·0.5·0.16^(1/4) < 1.8
    assert st.h[1] == pytest.approx(0.1 * 1.8 * 0.5 * 0.16**0.25)
    # 2: rejected, err 16 → 0.9/2 = 0.45
    assert st.h[2] == pytest.approx(0.045)
    assert st.h[3] == pytest.approx(0.6)  # capped at max_factor 6
    assert st.h[4] == pytest.approx(0.025)  # non-finite: quartered
    assert st.h[5] == pytest.approx(0.05)  # negative: halved
    np.testing.assert_allclose(st.h_accepted[:2], 0.1)
    assert st.err_accepted[0] == pytest.approx(0.0625) and st.err_accepted[3] == 1e-2
    assert st.err_accepted[2] == 0.5  # rejected steps keep the last accepted error


def test_step_that_landed_on_a_stop_keeps_its_proposal() -> None:
    opts = IntegratorOptions(max_step=0.5)
    st = _state(np.array([1.0]), np.array([np.nan]), np.array([np.nan]))
    h_try = np.array([0.01])  # shortened to land on an output time
    err = np.array([0.9**4])  # fac = 1
    args = (np.array([True]), np.array([False]), np.array([False]))
    adapt_step_size(st, h_try, np.array([True]), err, *args, opts, embedded_order=3)
    assert st.h[0] == 0.5  # the unshortened 1.0, limited by max_step


def test_initial_step_size() -> None:
    opts = IntegratorOptions(rtol=1e-3, atol=1e-6)
    z = np.array([[1.0, 1.0], [1.0, 1.0], [0.0, 0.0]])
    dz = np.array([[10.0, 10.0], [0.0, 0.0], [1.0, 1.0]])
    h = initial_step_size(z, dz, opts, t_end=2.0)
    assert h[0] == pytest.approx(0.01 * 1 / 10)  # 0.01 ‖z‖/‖z'‖ in the weighted norm
    assert h[1] == h[2] == pytest.approx(2e-6)  # either norm tiny: 1e-6 t_end
    fixed = initial_step_size(z, dz, IntegratorOptions(first_step=5.0), t_end=2.0)
    np.testing.assert_array_equal(fixed, 2.0)  # never beyond t_end
    assert rms_norm(np.array([[3.0, 4.0]]))[0] == pytest.approx(math.sqrt(12.5))


def test_active_state_take_and_concat() -> None:
    st = _state(np.array([1.0, 2.0, 3.0]), np.zeros(3), np.zeros(3))
    part = st.take(np.array([2, 0]))
    assert part.size == 2 and part.h.tolist() == [3.0, 1.0]
    part.h[0] = 9.0
    assert st.h[2] == 3.0  # a copy
    both = part.concat(st)
    assert both.index.tolist() == [2, 0, 0, 1, 2] and both.jacobian_t.shape == (5, 2, 2)


def test_active_state_compact_moves_the_last_rows_into_the_gaps() -> None:
    st = _state(np.arange(1.0, 7.0), np.zeros(6), np.zeros(6))
    st.jacobian_t[:] = np.arange(6.0)[:, None, None]
    keep = np.array([True, False, True, False, True, True])
    kept = st.compact(keep)
    # rows 1 and 3 are dropped: the kept rows 4 and 5 (beyond the 4 kept) fill them
    assert kept.index.tolist() == [0, 4, 2, 5]
    assert kept.h.tolist() == [1.0, 5.0, 3.0, 6.0]
    assert kept.jacobian_t[:, 0, 0].tolist() == [0.0, 4.0, 2.0, 5.0]
    assert np.shares_memory(kept.jacobian_t, st.jacobian_t)  # in place, no copy
    assert st.compact(np.ones(6, dtype=bool)).size == 6
    assert st.compact(np.zeros(6, dtype=bool)).size == 0


def test_options_are_validated() -> None:
    for bad in ({"rtol": 0}, {"max_steps": 0}, {"min_factor": 2}, {"divergence_bound": 1}):
        with pytest.raises(ValueError):
            IntegratorOptions(**bad)
