"""Tests for rekindle.integrate.loop: integrate_batch against independent solutions."""

from __future__ import annotations

import numpy as np
import pytest
import scipy.linalg
from scipy.integrate import solve_ivp

from rekindle.analysis.initial_states import draw_initial_states
from rekindle.analysis.perturbation import PERTURBATION_OPTIONS
from rekindle.integrate import IntegratorOptions, ReducedProblem, Status, integrate_batch

T_END = 21.0 / 60.0


def test_reference_is_a_steady_state_and_stays_put(ecoli_system, x_ref, ecoli_sets) -> None:
    p = ecoli_sets[0][ecoli_sets[2]][:4]
    rhs = ecoli_system.ode_rhs(x_ref, p)
    flux = np.abs(ecoli_system.rates(x_ref, p)).max()
    assert np.abs(rhs).max() < 1e-12 * flux
    sol = integrate_batch(ecoli_system, p, np.tile(x_ref, (4, 1)), T_END, scale=x_ref)
    assert np.all(sol.status == Status.SUCCESS)
    dev = np.linalg.norm(sol.final - x_ref, axis=1) / np.linalg.norm(x_ref)
    assert dev.max() < 1e-8


def _scipy_reference(system, p, x0, x_ref, t_eval):
    """The same reduced, scaled system by scipy's BDF at rtol 1e-10 with the exact Jacobian."""
    prob = ReducedProblem(system, x_ref)
    z0 = prob.offsets(x0[None])
    y0 = x0[prob.ind] / prob.s_ind
    p = p[None]

    def f(t, y):
        return prob.rhs(prob.full(y[None], z0), p)[0]

    def jac(t, y):
        return prob.jacobian(prob.full(y[None], z0), p)[0]

    sol = solve_ivp(
        f, (0, t_eval[-1]), y0, method="BDF", rtol=1e-10, atol=1e-13, jac=jac, t_eval=t_eval
    )
    assert sol.status == 0
    return prob.full(sol.y.T, np.repeat(z0, t_eval.size, axis=0)) * x_ref


def test_agrees_with_scipy_bdf_on_ecoli(ecoli_system, x_ref, ecoli_sets) -> None:
    """Default perturbation tolerances vs BDF(rtol 1e-10): relative error < 1e-4 per state."""
    p = ecoli_sets[0][ecoli_sets[2]][:2]
    rng = np.random.default_rng(5)
    x0, _ = draw_initial_states(ecoli_system, x_ref, 2, "fold", rng)
    times = np.array([0.0, 0.02, 0.1, T_END])
    sol = integrate_batch(
        ecoli_system,
        p,
        x0,
        T_END,
        times=times,
        store=[0, 1],
        scale=x_ref,
        options=PERTURBATION_OPTIONS,
    )
    assert np.all(sol.status == Status.SUCCESS)
    for i in range(2):
        ref = _scipy_reference(ecoli_system, p[i], x0[i], x_ref, times[1:])
        np.testing.assert_allclose(sol.final[i], ref[-1], rtol=1e-4, atol=1e-6 * x_ref.max())
        np.testing.assert_allclose(sol.trajectories[i, 1:], ref, rtol=1e-4, atol=1e-6 * x_ref.max())
        np.testing.assert_allclose(sol.trajectories[i, 0], x0[i], rtol=1e-12)
        np.testing.assert_array_equal(sol.trajectories[i, -1], sol.final[i])


def test_toy_linearised_decay_matches_matrix_exponential(toy_system, toy_ref, toy_sets) -> None:
    """A tiny perturbation decays as exp(J t) (J: reduced Jacobian at the reference)."""
    x = toy_system.steady_state_concentrations(toy_ref)
    p = toy_sets[:3]
    cons = toy_system.conservation
    ind, link = cons.independent, cons.link_matrix
    rng = np.random.default_rng(3)
    eps = 1e-6
    d_ind = eps * x[ind] * rng.choice([-1.0, 1.0], size=(3, ind.size))
    x0 = x + d_ind @ link.T  # dependent states follow the reference totals
    times = np.array([0.0, 0.01, 0.05, 0.1, 0.2])
    sol = integrate_batch(
        toy_system,
        p,
        x0,
        times[-1],
        times=times,
        store=[0, 1, 2],
        scale=x,
        options=IntegratorOptions(rtol=1e-11, atol=1e-15),
    )
    jac = toy_system.jacobian(x, p)
    for i in range(3):
        for k, t in enumerate(times):
            want = link @ (scipy.linalg.expm(jac[i] * t) @ d_ind[i])
            got = sol.trajectories[i, k] - x
            assert np.linalg.norm(got - want) <= 1e-4 * np.linalg.norm(want)


def test_jacobian_reuse_with_w_method_agrees(toy_system, toy_ref, toy_sets) -> None:
    x = toy_system.steady_state_concentrations(toy_ref)
    x0, _ = draw_initial_states(toy_system, x, 6, "fold", np.random.default_rng(0))
    p = np.repeat(toy_sets[:3], 2, axis=0)
    opts = IntegratorOptions(rtol=1e-8, atol=1e-11)
    ref = integrate_batch(toy_system, p, x0, T_END, scale=x, options=opts)
    w = integrate_batch(
        toy_system,
        p,
        x0,
        T_END,
        scale=x,
        method="ros34pw2",
        options=IntegratorOptions(rtol=1e-8, atol=1e-11, jacobian_max_age=4),
    )
    assert np.all(w.status == Status.SUCCESS)
    assert np.all(w.n_jacobians < w.n_accepted + w.n_rejected)
    np.testing.assert_allclose(w.final, ref.final, rtol=1e-6)
    with pytest.raises(ValueError, match="W-method"):
        integrate_batch(toy_system, p, x0, T_END, options=IntegratorOptions(jacobian_max_age=2))


def test_batch_size_does_not_change_results(toy_system, toy_ref, toy_sets) -> None:
    x = toy_system.steady_state_concentrations(toy_ref)
    x0, _ = draw_initial_states(toy_system, x, 12, "uniform", np.random.default_rng(4))
    p = np.repeat(toy_sets[:4], 3, axis=0)
    a = integrate_batch(toy_system, p, x0, T_END, scale=x, max_batch=100)
    b = integrate_batch(toy_system, p, x0, T_END, scale=x, max_batch=2)
    np.testing.assert_allclose(b.final, a.final, rtol=1e-12)
    np.testing.assert_array_equal(b.n_accepted, a.n_accepted)


def test_failures_are_flagged_with_status_codes(toy, toy_system, toy_ref, toy_sets) -> None:
    x = toy_system.steady_state_concentrations(toy_ref)
    p = np.repeat(toy_sets[:1], 2, axis=0)
    x0 = np.tile(x * [1.2, 1.0, 1.0, 1.0], (2, 1))  # a_c +20 % (not in the NAD moiety)
    nan_p = p.copy()
    nan_p[0, toy.parameter_index["vmax_forward_CONV"]] = np.nan
    cases = {
        Status.NONFINITE: integrate_batch(toy_system, nan_p, x0, T_END, scale=x),
        Status.MAX_STEPS: integrate_batch(
            toy_system, p, x0, T_END, scale=x, options=IntegratorOptions(max_steps=3)
        ),
        Status.STEP_UNDERFLOW: integrate_batch(
            toy_system, p, x0, T_END, scale=x, options=IntegratorOptions(min_step_ratio=0.5)
        ),
        Status.DIVERGED: integrate_batch(
            toy_system, p, x0, T_END, scale=x, options=IntegratorOptions(divergence_bound=1.1)
        ),
    }
    assert cases[Status.NONFINITE].status.tolist() == [Status.NONFINITE, Status.SUCCESS]
    for code in (Status.MAX_STEPS, Status.STEP_UNDERFLOW, Status.DIVERGED):
        assert cases[code].status.tolist() == [code, code]
    sol = cases[Status.MAX_STEPS]
    np.testing.assert_array_equal(sol.n_accepted + sol.n_rejected, [3, 3])
    assert np.all(sol.t_final < T_END) and np.all(np.isfinite(sol.final))


def test_unstable_model_drifts_away_from_reference(ecoli_system, x_ref, ecoli_sets) -> None:
    p, lam, _ = ecoli_sets
    i = int(np.argmax(lam))
    x0, _ = draw_initial_states(ecoli_system, x_ref, 1, "uniform", np.random.default_rng(1))
    small = x_ref + 1e-3 * (x0[0] - x_ref)
    sol = integrate_batch(
        ecoli_system,
        p[i : i + 1],
        small[None],
        T_END,
        scale=x_ref,
        options=IntegratorOptions(rtol=1e-5, atol=1e-8, max_steps=1500),
    )
    dev0 = np.linalg.norm(small - x_ref) / np.linalg.norm(x_ref)
    if sol.status[0] == Status.SUCCESS:
        assert np.linalg.norm(sol.final[0] - x_ref) / np.linalg.norm(x_ref) > 10 * dev0
    else:
        assert sol.status[0] in (
            Status.NONFINITE,
            Status.NEGATIVE,
            Status.DIVERGED,
            Status.MAX_STEPS,
            Status.STEP_UNDERFLOW,
        )


def test_input_validation(toy_system, toy_ref, toy_sets) -> None:
    x = toy_system.steady_state_concentrations(toy_ref)
    p = toy_sets[:2]
    with pytest.raises(ValueError, match="x0"):
        integrate_batch(toy_system, p, np.tile(x, (3, 1)), 1.0)
    with pytest.raises(ValueError, match="times"):
        integrate_batch(toy_system, p, np.tile(x, (2, 1)), 1.0, times=[0.0, 2.0])
    with pytest.raises(ValueError, match="method"):
        integrate_batch(toy_system, p, np.tile(x, (2, 1)), 1.0, method="euler")
    with pytest.raises(ValueError, match="store"):
        integrate_batch(toy_system, p, np.tile(x, (2, 1)), 1.0, store=[2])
    with pytest.raises(ValueError, match="scale"):
        integrate_batch(toy_system, p, np.tile(x, (2, 1)), 1.0, scale=-x)


def test_every_trajectory_finishes_once(toy_system, toy_ref, toy_sets) -> None:
    """on_finish counts each trajectory once, whatever the batch size; t_final = t_end."""
    x = toy_system.steady_state_concentrations(toy_ref)
    x0, _ = draw_initial_states(toy_system, x, 10, "fold", np.random.default_rng(2))
    p = np.repeat(toy_sets[:5], 2, axis=0)
    counts: list[int] = []
    sol = integrate_batch(toy_system, p, x0, T_END, scale=x, max_batch=3, on_finish=counts.append)
    assert sum(counts) == 10 and all(c > 0 for c in counts)
    assert np.all(sol.status == Status.SUCCESS)
    np.testing.assert_array_equal(sol.t_final, T_END)
    # RODAS4: a fresh Jacobian for every accepted step, reused by the retries of a rejected one
    np.testing.assert_array_equal(sol.n_jacobians, sol.n_accepted)


def test_follow_ups_join_the_running_batch(toy_system, toy_ref, toy_sets) -> None:
    """Trajectories queued by ``follow_up`` as others finish get the results they get
    when all are queued at once; those never queued end SKIPPED."""
    x = toy_system.steady_state_concentrations(toy_ref)
    x0, _ = draw_initial_states(toy_system, x, 12, "uniform", np.random.default_rng(4))
    p = np.repeat(toy_sets[:4], 3, axis=0)
    whole = integrate_batch(toy_system, p, x0, T_END, scale=x, max_batch=3)
    seen: list[np.ndarray] = []

    def next_of(done, status, final):
        seen.append(done)
        np.testing.assert_array_equal(status, whole.status[done])
        np.testing.assert_allclose(final, whole.final[done], rtol=1e-12)
        return done[done < 8] + 4  # 0..3 start; each finished one queues the one 4 on

    chained = integrate_batch(
        toy_system, p, x0, T_END, scale=x, max_batch=3, start=[0, 1, 2, 3], follow_up=next_of
    )
    np.testing.assert_allclose(chained.final, whole.final, rtol=1e-12)
    np.testing.assert_array_equal(chained.status, whole.status)
    np.testing.assert_array_equal(chained.n_accepted, whole.n_accepted)
    assert sorted(np.concatenate(seen).tolist()) == list(range(12))

    partial = integrate_batch(
        toy_system, p, x0, T_END, scale=x, start=[5, 2], follow_up=lambda d, s, f: []
    )
    assert set(np.flatnonzero(partial.status != Status.SKIPPED)) == {2, 5}
    np.testing.assert_allclose(partial.final[[2, 5]], whole.final[[2, 5]], rtol=1e-12)
    assert np.isnan(partial.final[0]).all() and partial.n_accepted[0] == 0

    with pytest.raises(ValueError, match="never queued"):
        integrate_batch(
            toy_system, p, x0, T_END, scale=x, start=[0, 1], follow_up=lambda d, s, f: d
        )
    with pytest.raises(ValueError, match="distinct trajectory indices"):
        integrate_batch(toy_system, p, x0, T_END, scale=x, start=[0, 0])
    with pytest.raises(ValueError, match="distinct trajectory indices"):
        integrate_batch(toy_system, p, x0, T_END, scale=x, start=[12])
