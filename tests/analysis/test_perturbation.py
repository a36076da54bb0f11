"""Tests for rekindle.analysis.perturbation: the batched stiff integrator and the analysis."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest
import scipy.linalg
from scipy.integrate import solve_ivp

from rekindle.analysis.perturbation import (
    PERTURBATION_OPTIONS,
    RODAS4,
    ROS34PW2,
    IntegratorOptions,
    PerturbationResult,
    Status,
    _ReducedProblem,
    draw_initial_states,
    follower_states,
    integrate_batch,
    perturbation_analysis,
    single_threaded_blas,
    time_grid,
    write_summary,
)
from rekindle.kinetics import KineticSystem
from rekindle.sampling import sample_parameters

T_END = 21.0 / 60.0


# ----------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="module")
def ecoli_sets(ecoli, fdp1):
    """300 sampled fdp1 parameter sets with max Re(λ) and relevance."""
    return sample_parameters(ecoli, fdp1, 300, seed=0)


@pytest.fixture(scope="module")
def x_ref(ecoli_system, fdp1) -> np.ndarray:
    return ecoli_system.steady_state_concentrations(fdp1)


@pytest.fixture(scope="module")
def toy_system(toy) -> KineticSystem:
    return KineticSystem(toy)


@pytest.fixture(scope="module")
def toy_sets(toy, toy_ref):
    p, _, rel = sample_parameters(toy, toy_ref, 40, seed=1)
    return p[rel]


# ----------------------------------------------------------------------------- tableaux


def _order_conditions(alpha, big_gamma, b):
    """Residuals of the Rosenbrock order conditions up to order 4 (Hairer–Wanner IV.7)."""
    s = b.size
    g = big_gamma[0, 0]
    beta = alpha + big_gamma - g * np.eye(s)  # α_ij + γ_ij, strictly lower
    a = alpha.sum(axis=1)
    bp = beta.sum(axis=1)
    return np.array(
        [
            b.sum() - 1,
            b @ bp - (0.5 - g),
            b @ a**2 - 1 / 3,
            b @ beta @ bp - (1 / 6 - g + g**2),
            b @ a**3 - 1 / 4,
            b @ (a * (alpha @ bp)) - (1 / 8 - g / 3),
            b @ beta @ a**2 - (1 / 12 - g / 3),
            b @ beta @ beta @ bp - (1 / 24 - g / 2 + 1.5 * g**2 - g**3),
        ]
    )


def test_rodas4_has_order_4_and_stiffly_accurate_embedded_method() -> None:
    alpha, big_gamma, b, b_hat = RODAS4.standard_form()
    np.testing.assert_allclose(_order_conditions(alpha, big_gamma, b), 0, atol=1e-12)
    np.testing.assert_allclose(_order_conditions(alpha, big_gamma, b_hat)[:4], 0, atol=1e-12)
    assert abs(_order_conditions(alpha, big_gamma, b_hat)[4:]).max() > 1e-3  # order 3 only
    assert abs(RODAS4.stability_function(-1e12)) < 1e-9  # L-stable
    assert abs(RODAS4.stability_function(-1e12, embedded=True)) < 1e-9
    ys = np.linspace(-1e3, 1e3, 2001)
    assert max(abs(RODAS4.stability_function(1j * y)) for y in ys) <= 1 + 1e-12


def test_ros34pw2_has_order_3_and_is_a_w_method() -> None:
    alpha, big_gamma, b, b_hat = ROS34PW2.standard_form()
    np.testing.assert_allclose(_order_conditions(alpha, big_gamma, b)[:4], 0, atol=1e-12)
    np.testing.assert_allclose(_order_conditions(alpha, big_gamma, b_hat)[:2], 0, atol=1e-12)
    # W-method conditions to order 2 (any matrix in place of J): Σ b α_i = ½, Σ b γ_i = −γ
    g = ROS34PW2.gamma
    gam_off = big_gamma - g * np.eye(4)
    for w in (b, b_hat):
        assert w @ alpha.sum(axis=1) == pytest.approx(0.5, abs=1e-12)
        assert w @ gam_off.sum(axis=1) == pytest.approx(-g, abs=1e-12)
    assert abs(ROS34PW2.stability_function(-1e12)) < 1e-9
    assert ROS34PW2.w_method and not RODAS4.w_method


# ----------------------------------------------------------------------------- engine glue


@pytest.mark.parametrize("which", ["ecoli", "toy"])
def test_sparse_jacobian_assembly_matches_engine(
    which, ecoli_system, x_ref, ecoli_sets, toy_system, toy_ref, toy_sets
) -> None:
    if which == "ecoli":
        system, x, p = ecoli_system, x_ref, ecoli_sets[0][:8]
    else:
        system, x, p = toy_system, toy_system.steady_state_concentrations(toy_ref), toy_sets[:8]
    rng = np.random.default_rng(0)
    xx = x * np.exp(rng.uniform(-0.5, 0.5, size=(p.shape[0], x.size)))
    prob = _ReducedProblem(system, x)
    got = prob.jacobian(xx / x, p)
    s = x[prob.ind]
    want = system.jacobian(xx, p) * s[None, None, :] / s[None, :, None]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())


def test_reference_is_a_steady_state_and_stays_put(ecoli_system, x_ref, ecoli_sets) -> None:
    p = ecoli_sets[0][ecoli_sets[2]][:4]
    rhs = ecoli_system.ode_rhs(x_ref, p)
    flux = np.abs(ecoli_system.rates(x_ref, p)).max()
    assert np.abs(rhs).max() < 1e-12 * flux
    sol = integrate_batch(ecoli_system, p, np.tile(x_ref, (4, 1)), T_END, scale=x_ref)
    assert np.all(sol.status == Status.SUCCESS)
    dev = np.linalg.norm(sol.final - x_ref, axis=1) / np.linalg.norm(x_ref)
    assert dev.max() < 1e-8


# ----------------------------------------------------------------------------- accuracy


def _scipy_reference(system, p, x0, x_ref, t_eval):
    """The same reduced, scaled system by scipy's BDF at rtol 1e-10 with the exact Jacobian."""
    prob = _ReducedProblem(system, x_ref)
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


def test_conserved_moieties_hold_along_trajectories(ecoli_system, x_ref, ecoli_sets, fdp1) -> None:
    p = ecoli_sets[0][ecoli_sets[2]][:2]
    res = perturbation_analysis(
        ecoli_system, fdp1, p, 2, "uniform", seed=2, n_times=12, store_models=2, n_jobs=1
    )
    x = (res.trajectories + 1.0) * x_ref  # (2, 2, 12, 50)
    g = ecoli_system.conservation.conservation_matrix
    totals = g @ x_ref
    scale = np.abs(g) @ x_ref
    got = x @ g.T
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(
        got, np.broadcast_to(totals, got.shape), rtol=0, atol=1e-10 * scale.max()
    )
    assert np.all(x > 0)


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


# ----------------------------------------------------------------------------- failures


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


@pytest.fixture(scope="module")
def relevant_vs_unstable(ecoli_system, fdp1, ecoli_sets):
    p, lam, rel = ecoli_sets
    unstable = p[lam > 200.0][:4]
    relevant = p[rel][:4]
    assert unstable.shape[0] == 4
    opts = IntegratorOptions(rtol=1e-5, atol=1e-8, max_steps=1500)
    kw = {
        "n_perturbations": 3,
        "protocol": "fold",
        "seed": 7,
        "options": opts,
        "store_models": 0,
        "n_jobs": 2,
    }
    return (
        perturbation_analysis(ecoli_system, fdp1, relevant, **kw),
        perturbation_analysis(ecoli_system, fdp1, unstable, **kw),
    )


def test_unstable_models_are_flagged_or_not_returned(relevant_vs_unstable) -> None:
    _, unstable = relevant_vs_unstable
    steps = unstable.n_accepted + unstable.n_rejected
    assert steps.max() <= 1500  # bounded: never hangs
    assert unstable.n_returned < unstable.n_integrations
    escaped = (unstable.status != Status.SUCCESS) | (unstable.relative_deviation >= 0.01)
    assert escaped.sum() == unstable.n_integrations - unstable.n_returned
    counts = unstable.status_counts()
    assert sum(counts.values()) == 12


def test_relevant_models_return_more_often_than_unstable(relevant_vs_unstable) -> None:
    relevant, unstable = relevant_vs_unstable
    assert relevant.fraction_returned_all > unstable.fraction_returned_all
    assert relevant.fraction_returned >= 0.5


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


# ----------------------------------------------------------------------------- perturbations


@pytest.mark.parametrize("protocol,lo,hi", [("uniform", 0.5, 1.5), ("fold", 0.5, 2.0)])
def test_draws_keep_reference_totals_and_bounds(ecoli_system, x_ref, protocol, lo, hi) -> None:
    x0, n_draws = draw_initial_states(ecoli_system, x_ref, 200, protocol, np.random.default_rng(0))
    fol = follower_states(ecoli_system, x_ref)
    per = np.setdiff1d(np.arange(x_ref.size), fol)
    assert np.all(np.isfinite(x0)) and np.all(x0 > 0)
    f = x0[:, per] / x_ref[per]
    assert f.min() >= lo and f.max() <= hi
    assert f.min() < lo + 0.05 and f.max() > hi - 0.1
    g = ecoli_system.conservation.conservation_matrix
    np.testing.assert_allclose(x0 @ g.T, np.tile(g @ x_ref, (200, 1)), rtol=1e-12)
    assert n_draws >= 200


def test_follower_choice(ecoli, ecoli_system, x_ref) -> None:
    names = [ecoli.state_ids[i] for i in follower_states(ecoli_system, x_ref)]
    assert names == ["adp_c", "amp_c", "nad_c", "nadph_c", "q8_c", "succoa_c"]
    link = follower_states(ecoli_system, x_ref, "link")
    np.testing.assert_array_equal(link, ecoli_system.conservation.dependent)
    rng = np.random.default_rng(0)
    _, d_largest = draw_initial_states(ecoli_system, x_ref, 100, "fold", rng)
    _, d_link = draw_initial_states(ecoli_system, x_ref, 100, "fold", rng, followers=link)
    assert 100 / d_largest > 0.9 > 0.3 > 100 / d_link
    with pytest.raises(ValueError, match="followers"):
        follower_states(ecoli_system, x_ref, "smallest")


# ----------------------------------------------------------------------------- analysis API


def test_analysis_is_reproducible_and_independent_of_chunking(
    toy_system, toy_ref, toy_sets
) -> None:
    p = toy_sets[:9]
    seen: list[int] = []
    a = perturbation_analysis(
        toy_system,
        toy_ref,
        p,
        4,
        "fold",
        seed=11,
        n_times=7,
        store_models=2,
        chunk_size=2,
        n_jobs=1,
        progress=seen.append,
    )
    b = perturbation_analysis(
        toy_system, toy_ref, p, 4, "fold", seed=11, n_times=7, store_models=2, n_jobs=2
    )
    c = perturbation_analysis(
        toy_system, toy_ref, p, 4, "fold", seed=12, n_times=7, store_models=0, n_jobs=2
    )
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.returned, b.returned)
    np.testing.assert_allclose(a.relative_deviation, b.relative_deviation, rtol=1e-12)
    np.testing.assert_allclose(a.initial_deviation, b.initial_deviation, rtol=0)
    np.testing.assert_allclose(a.trajectories, b.trajectories, rtol=1e-10, atol=1e-14)
    assert not np.allclose(a.initial_deviation, c.initial_deviation)
    assert a.trajectories.shape == (2, 4, 7, 4) and c.trajectories is None
    np.testing.assert_allclose(a.times, np.linspace(0, T_END, 7))
    x_ref = toy_system.steady_state_concentrations(toy_ref)
    x0 = (a.trajectories[:, :, 0] + 1.0) * x_ref
    dev0 = np.linalg.norm(x0 - x_ref, axis=-1) / np.linalg.norm(x_ref)
    np.testing.assert_allclose(dev0, a.initial_deviation[:2], rtol=1e-10)
    flat, ret = a.stored_trajectories()
    assert flat.shape == (8, 7, 4) and ret.shape == (8,)
    np.testing.assert_array_equal(ret, a.returned[:2].ravel())
    assert c.stored_trajectories()[0].shape[0] == 0
    assert seen[0] == 0 and seen[-1] == 9 and seen == sorted(seen)


def test_result_accounting(toy_system, toy_ref, toy_sets) -> None:
    res = perturbation_analysis(
        toy_system, toy_ref, toy_sets[:6], 5, "uniform", seed=0, store_models=0, n_jobs=1
    )
    assert isinstance(res, PerturbationResult)
    assert res.returned.shape == res.status.shape == (6, 5)
    assert res.n_integrations == 30 and res.acceptance_rate == 1.0
    assert res.n_completed + res.n_blown_up + res.n_failed == res.n_integrations
    assert res.fraction_returned == pytest.approx(res.n_returned / res.n_completed)
    assert res.fraction_returned_all <= res.fraction_returned
    assert res.integrations_per_second > 0
    np.testing.assert_array_equal(
        res.returned, (res.status == Status.SUCCESS) & (res.relative_deviation < 0.01)
    )
    per_model = res.fraction_returned_per_model()
    assert per_model.shape == (6,) and np.all((per_model >= 0) & (per_model <= 1))
    assert np.all(res.initial_deviation > 0)


def test_write_summary_csv_and_json(tmp_path, toy_system, toy_ref, toy_sets) -> None:
    res = perturbation_analysis(
        toy_system, toy_ref, toy_sets[:3], 2, "fold", seed=0, store_models=0, n_jobs=1
    )
    path = write_summary({"ORACLE fold": res, "copy": res}, tmp_path / "s.csv")
    rows = list(csv.DictReader(path.open()))
    assert [r["label"] for r in rows] == ["ORACLE fold", "copy"]
    assert int(rows[0]["n_integrations"]) == 6
    assert float(rows[0]["fraction_returned"]) == pytest.approx(res.fraction_returned)
    data = json.loads(write_summary(res, tmp_path / "s.json").read_text())
    assert data["fold"]["protocol"] == "fold" and data["fold"]["status_success"] >= 0
    assert all(
        v is None or not (isinstance(v, float) and math.isnan(v)) for v in data["fold"].values()
    )
    with pytest.raises(ValueError, match=r"\.csv or \.json"):
        write_summary(res, tmp_path / "s.txt")


def test_input_validation(toy_system, toy_ref, toy_sets) -> None:
    x = toy_system.steady_state_concentrations(toy_ref)
    p = toy_sets[:2]
    with pytest.raises(ValueError, match="x0"):
        integrate_batch(toy_system, p, np.tile(x, (3, 1)), 1.0)
    with pytest.raises(ValueError, match="times"):
        integrate_batch(toy_system, p, np.tile(x, (2, 1)), 1.0, times=[0.0, 2.0])
    with pytest.raises(ValueError, match="method"):
        integrate_batch(toy_system, p, np.tile(x, (2, 1)), 1.0, method="euler")
    with pytest.raises(ValueError, match="protocol"):
        perturbation_analysis(toy_system, toy_ref, p, 2, "gaussian")
    with pytest.raises(ValueError, match="n_times"):
        time_grid(1.0, 1)
    assert time_grid(1.0, 5, "log")[1] == pytest.approx(1e-6)


def test_blas_limiter_is_reentrant() -> None:
    with single_threaded_blas, single_threaded_blas:
        pass
    with single_threaded_blas:
        assert np.linalg.inv(np.eye(3) * 2.0)[0, 0] == 0.5
