"""LU factors of the iteration matrices and their solves (rekindle.integrate.linear)."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import scipy.linalg

from rekindle.integrate.linear import factorise


def test_solves_equal_a_dense_solve_and_the_jacobians_stay_unchanged() -> None:
    rng = np.random.default_rng(3)
    m, r = 7, 44
    jac = rng.normal(size=(m, r, r)) * 10.0 ** rng.uniform(-2, 3, size=(m, 1, 1))
    jac_t = np.ascontiguousarray(jac.transpose(0, 2, 1))
    jac_t_before = jac_t.copy()
    diagonal = 10.0 ** rng.uniform(-1, 4, size=m)
    b = rng.normal(size=(m, r))
    lu = factorise(jac_t, diagonal)
    w = diagonal[:, None, None] * np.eye(r) - jac
    expected = np.linalg.solve(w, b[:, :, None])[:, :, 0]
    np.testing.assert_allclose(lu.solve(b), expected, rtol=1e-10, atol=1e-12)
    assert np.array_equal(jac_t, jac_t_before)
    assert lu.finite.all() and not lu.singular.any()
    # the factors are LAPACK's: the same pivots and L, U as scipy's dense LU of W
    for k in range(m):
        lu_k, piv_k = scipy.linalg.lu_factor(w[k])
        np.testing.assert_array_equal(lu.pivots[k], piv_k + 1)
        np.testing.assert_allclose(lu.lu[k], lu_k, rtol=1e-12, atol=1e-12)
        # and the solves are LAPACK's dgetrs on those factors
        np.testing.assert_allclose(
            lu.solve(b)[k], scipy.linalg.lu_solve((lu_k, piv_k), b[k]), rtol=1e-12, atol=1e-14
        )


def test_non_finite_and_singular_matrices_are_flagged_not_raised() -> None:
    r = 5
    jac = np.zeros((3, r, r))
    jac[0] = np.diag(np.arange(1.0, r + 1))  # W = I − J: singular (J has eigenvalue 1)
    jac[1, 2, 3] = np.nan
    jac[2] = -np.eye(r)  # W = 2 I
    lu = factorise(np.ascontiguousarray(jac.transpose(0, 2, 1)), np.ones(3))
    assert lu.singular.tolist() == [True, False, False]
    assert lu.finite.tolist() == [True, False, True]
    np.testing.assert_allclose(lu.solve(np.ones((3, r)))[2], 0.5 * np.ones(r))


def test_integrating_loads_no_torch() -> None:
    """The integrator's linear algebra and rate laws need no torch: a perturbation worker
    process starts without importing it (a second or more per worker)."""
    code = (
        "import sys\n"
        "from rekindle.data import load_model, load_physiology\n"
        "from rekindle.integrate import integrate_batch\n"
        "from rekindle.kinetics import KineticSystem\n"
        "from rekindle.sampling import sample_parameters\n"
        "model, phys = load_model('ecoli'), load_physiology('ecoli', 'fdp1')\n"
        "system = KineticSystem(model)\n"
        "p, _, _ = sample_parameters(model, phys, 2, seed=0)\n"
        "x = system.steady_state_concentrations(phys)\n"
        "sol = integrate_batch(system, p, np.tile(1.1 * x, (2, 1)), 0.01)\n"
        "assert (sol.status == 0).all(), sol.status\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import numpy as np\n" + code],
        capture_output=True,
        text=True,
        check=True,
    )
    assert out.stdout.strip() == "False"
