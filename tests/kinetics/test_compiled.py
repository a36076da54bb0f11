"""The compiled rate laws (:mod:`rekindle.kinetics.compiled`) against the numpy engine
and the complex-step derivatives (independent of both analytic gradients)."""

from __future__ import annotations

import numpy as np
import pytest

from rekindle.integrate.problem import ReducedProblem
from rekindle.kinetics.compiled import CompiledRates
from rekindle.sampling import sample_parameters


def _states(system, phys, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` sampled parameter sets and states scattered ×[0.3, 3] around the reference."""
    params, _, _ = sample_parameters(system.model, phys, n, seed=seed)
    x = system.steady_state_concentrations(phys)
    xs = x * np.random.default_rng(seed).uniform(0.3, 3.0, size=(n, x.size))
    return params, xs


def _with_hill(system, params: np.ndarray, hill: float) -> np.ndarray:
    cols = [i for i, name in enumerate(system.model.parameter_names) if name.startswith("hill")]
    out = params.copy()
    out[:, cols] = hill
    return out


@pytest.mark.parametrize(("name", "hill"), [("ecoli", None), ("ecoli", 1.7), ("toy", None)])
def test_rates_and_entries_equal_the_numpy_engine(
    name, hill, ecoli_system, fdp1, toy_system, toy_ref
):
    """Every mechanism of the E. coli model (modifier exponents −4…8, stoichiometries
    up to 2 in convenience kinetics, merged padded groups); a non-integer Hill
    coefficient takes ``pow`` instead of products."""
    system, phys = (ecoli_system, fdp1) if name == "ecoli" else (toy_system, toy_ref)
    params, xs = _states(system, phys, 40, seed=11)
    if hill is not None:
        params = _with_hill(system, params, hill)
    compiled = CompiledRates(system)
    v_np = system.rates(xs, params)
    v_np_grad, entries_np = system.rates_and_elasticity_entries(xs, params)
    v_c = compiled.rates(xs, params)
    v_c2, entries_c = compiled.rates_and_entries(xs, params)
    # rates: relative to the reaction's largest rate over the batch (net rates cancel)
    scale = np.abs(v_np).max(axis=0) + 1e-300
    assert np.max(np.abs(v_c - v_np) / scale) < 1e-12
    assert np.max(np.abs(v_c2 - v_np) / scale) < 1e-12
    assert np.max(np.abs(v_c - v_np_grad) / scale) < 1e-12
    # entries that reach the Jacobian (padded slots are dropped by its map)
    real = system.elasticities.entry_state < system.n_states
    e_scale = np.abs(entries_np[:, real]).max(axis=0) + 1e-300
    assert np.max(np.abs(entries_c[:, real] - entries_np[:, real]) / e_scale) < 1e-12


def test_entries_equal_the_complex_step_derivatives(ecoli_system, fdp1):
    params, xs = _states(ecoli_system, fdp1, 8, seed=4)
    params = _with_hill(ecoli_system, params, 2.3)
    _, entries = CompiledRates(ecoli_system).rates_and_entries(xs, params)
    dv = ecoli_system.elasticities.derivatives(entries)
    cs = ecoli_system.rate_derivatives_complex_step(xs, params)
    scale = np.abs(cs).max(axis=2, keepdims=True) + 1e-300
    assert np.max(np.abs(dv - cs) / scale) < 1e-12


def test_zero_concentrations_give_the_numpy_engines_exact_gradient(ecoli_system, fdp1):
    """Empty pools: both analytic gradients avoid dividing by a concentration."""
    params, xs = _states(ecoli_system, fdp1, 6, seed=2)
    xs[:, ::3] = 0.0
    _, entries_c = CompiledRates(ecoli_system).rates_and_entries(xs, params)
    _, entries_np = ecoli_system.rates_and_elasticity_entries(xs, params)
    real = ecoli_system.elasticities.entry_state < ecoli_system.n_states
    assert np.isfinite(entries_c[:, real]).all()
    e_scale = np.abs(entries_np[:, real]).max(axis=0) + 1e-300
    assert np.max(np.abs(entries_c[:, real] - entries_np[:, real]) / e_scale) < 1e-12


def test_a_model_alone_gives_the_bits_it_gives_in_a_batch(ecoli_system, fdp1):
    """The integrator's results must not depend on the batch a trajectory is stepped in."""
    params, xs = _states(ecoli_system, fdp1, 40, seed=6)  # vector loops and remainders
    compiled = CompiledRates(ecoli_system)
    v, e = compiled.rates_and_entries(xs, params)
    v3, e3 = compiled.rates_and_entries(xs[35:36], params[35:36])
    np.testing.assert_array_equal(v3[0], v[35])
    np.testing.assert_array_equal(e3[0], e[35])
    # the rates alone (one loop over the models per reaction, vectorised): the same
    np.testing.assert_array_equal(
        compiled.rates(xs[35:36], params[35:36])[0], compiled.rates(xs, params)[35]
    )
    prepared = compiled.prepare(params)
    np.testing.assert_array_equal(compiled.rates(xs, prepared), compiled.rates(xs, params))


def test_the_reduced_problem_is_the_same_with_either_engine(ecoli_system, fdp1, x_ref):
    params, xs = _states(ecoli_system, fdp1, 12, seed=9)
    compiled = ReducedProblem(ecoli_system, x_ref)
    reference = ReducedProblem(ecoli_system, x_ref, compiled=False)
    assert compiled.kernels is not None and reference.kernels is None
    z = xs / x_ref
    f_c, jac_c = compiled.rhs_and_jacobian(z, params, transposed=True)
    f_np, jac_np = reference.rhs_and_jacobian(z, params, transposed=True)
    f_scale = np.abs(f_np).max() + 1e-300
    assert np.max(np.abs(compiled.rhs(z, compiled.prepare(params)) - f_np)) / f_scale < 1e-12
    assert np.max(np.abs(f_c - f_np)) / f_scale < 1e-12
    j_scale = np.abs(jac_np).max(axis=(1, 2), keepdims=True)
    assert np.max(np.abs(jac_c - jac_np) / j_scale) < 1e-12
    np.testing.assert_array_equal(compiled.jacobian(z, params, transposed=True), jac_c)


def test_wrong_shapes_are_refused(ecoli_system):
    compiled = CompiledRates(ecoli_system)
    n_par = ecoli_system.model.n_parameters
    with pytest.raises(ValueError, match="concentrations must have shape"):
        compiled.rates(np.ones((2, 3)), np.ones((2, n_par)))
    with pytest.raises(ValueError, match="parameters must have shape"):
        compiled.rates(np.ones((2, ecoli_system.n_states)), np.ones((3, n_par)))


def test_jacobians_go_to_the_rows_asked_for_and_nowhere_else(ecoli_system, fdp1, x_ref):
    """The integrator's use: the Jacobians of some trajectories into its (N, r, r) store."""
    params, xs = _states(ecoli_system, fdp1, 4, seed=12)
    problem = ReducedProblem(ecoli_system, x_ref)
    r = problem.n_reduced
    store = np.full((7, r, r), 5.0)
    rows = np.array([6, 1, 3, 0])
    _, jac = problem.rhs_and_jacobian(xs / x_ref, params, out=store, rows=rows)
    assert jac is store
    reference = ReducedProblem(ecoli_system, x_ref, compiled=False).jacobian(xs / x_ref, params)
    scale = np.abs(reference).max(axis=(1, 2), keepdims=True)
    assert np.max(np.abs(store[rows] - reference) / scale) < 1e-12
    np.testing.assert_array_equal(store[[2, 4, 5]], 5.0)  # untouched
