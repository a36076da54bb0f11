"""Tests for rekindle.integrate.problem: the reduced, scaled kinetic system."""

from __future__ import annotations

import numpy as np
import pytest

from rekindle.integrate import ReducedProblem, check_parameters, derivative_pattern


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
    prob = ReducedProblem(system, x)
    got = prob.jacobian(xx / x, p)
    s = x[prob.ind]
    want = system.jacobian(xx, p) * s[None, None, :] / s[None, :, None]
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-13 * np.abs(want).max())
    # the integrator's transposed assembly: the same sums into the transposed slots
    got_t = prob.jacobian(xx / x, p, transposed=True)
    np.testing.assert_array_equal(got_t, got.transpose(0, 2, 1))
    _, got_fused_t = prob.rhs_and_jacobian(xx / x, p, transposed=True)
    np.testing.assert_allclose(got_fused_t, got.transpose(0, 2, 1), rtol=1e-13, atol=0)


def test_rhs_is_the_scaled_reduced_ode(ecoli_system, x_ref, ecoli_sets) -> None:
    """rhs(z) = (dx_I/dt)/s_I of the engine's full ODE; full() restores the totals."""
    p = ecoli_sets[0][:5]
    rng = np.random.default_rng(1)
    prob = ReducedProblem(ecoli_system, x_ref)
    x = x_ref * np.exp(rng.uniform(-0.3, 0.3, size=(5, x_ref.size)))
    z0 = prob.offsets(x)
    z = prob.full(x[:, prob.ind] / prob.s_ind, z0)
    g = ecoli_system.conservation.conservation_matrix
    np.testing.assert_allclose((z * x_ref) @ g.T, x @ g.T, rtol=1e-12)
    np.testing.assert_allclose(z[:, prob.ind] * x_ref[prob.ind], x[:, prob.ind], rtol=1e-15)
    want = ecoli_system.ode_rhs(z * x_ref, p)[:, prob.ind] / prob.s_ind
    got = prob.rhs(z, p)
    np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12 * np.abs(want).max())


def test_derivative_pattern_covers_the_engine_nonzeros(ecoli_system, x_ref, ecoli_sets) -> None:
    e = ecoli_system.rate_derivatives(np.tile(x_ref, (3, 1)), ecoli_sets[0][:3])
    pattern = derivative_pattern(ecoli_system)
    assert not np.any(e[:, ~pattern])
    assert pattern.sum() < 0.2 * pattern.size  # sparse: the point of the assembly


def test_check_parameters(toy_system, toy_sets) -> None:
    assert check_parameters(toy_system, toy_sets[:2].tolist()).dtype == float
    with pytest.raises(ValueError, match="n_models"):
        check_parameters(toy_system, toy_sets[0])
