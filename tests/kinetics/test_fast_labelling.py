"""The fast labelling path (analytic elasticities, sparse assembly, blocked eigenvalues)
against independent evidence: finite differences, the complex-step engine, the dense
reference Jacobian and the published toy sets."""

from __future__ import annotations

import numpy as np
import pytest

from rekindle.kinetics import KineticSystem, max_real_eigenvalues, relevance_labels
from rekindle.kinetics.elasticities import GRADIENTS, products_except, quotient_gradient
from rekindle.kinetics.labelling import Labeller, label_chunk, label_km_chunk
from rekindle.kinetics.mechanisms import MECHANISMS
from rekindle.sampling import sample_chunk, sample_parameters


def _fd_derivatives(system: KineticSystem, x: np.ndarray, params: np.ndarray) -> np.ndarray:
    """Fourth-order central differences of the rates, relative step 1e-4, per state."""
    fd = np.empty((params.shape[0], system.n_reactions, x.size))

    def shifted(i: int, h: float) -> np.ndarray:
        xs = x.copy()
        xs[i] += h
        return system.rates(xs, params)

    for i in range(x.size):
        h = 1e-4 * x[i]
        fd[:, :, i] = (
            8 * (shifted(i, h) - shifted(i, -h)) - (shifted(i, 2 * h) - shifted(i, -2 * h))
        ) / (12 * h)
    return fd


@pytest.mark.parametrize("name", ["ecoli", "toy"])
def test_analytic_elasticities_match_finite_differences_and_complex_step(
    name, ecoli_system, fdp1, toy_system, toy_ref
):
    system, phys = (ecoli_system, fdp1) if name == "ecoli" else (toy_system, toy_ref)
    params, _, _ = sample_parameters(system.model, phys, 6, seed=5)
    x = system.steady_state_concentrations(phys)
    analytic = system.rate_derivatives(x, params)
    scale = np.abs(analytic).max(axis=2, keepdims=True) + 1e-300
    fd = _fd_derivatives(system, x, params)
    assert np.max(np.abs(analytic - fd) / scale) < 1e-6
    cs = system.rate_derivatives_complex_step(x, params)
    assert np.max(np.abs(analytic - cs) / scale) < 1e-12
    # away from the steady state too (the integrator's use): states × [0.3, 3]
    xs = x * np.random.default_rng(0).uniform(0.3, 3.0, size=(6, x.size))
    a2 = system.rate_derivatives(xs, params)
    c2 = system.rate_derivatives_complex_step(xs, params)
    assert np.max(np.abs(a2 - c2) / (np.abs(c2).max(axis=2, keepdims=True) + 1e-300)) < 1e-12


@pytest.mark.parametrize("mechanism", sorted(GRADIENTS))
@pytest.mark.parametrize("hill", [1.0, 1.7])
def test_each_mechanism_gradient_matches_complex_step(mechanism, hill):
    """Every rate law, random shapes and values, Hill coefficients 1 and 1.7."""
    spec = MECHANISMS[mechanism]
    rng = np.random.default_rng(7)
    n, r = 5, 3
    ns = spec.n_substrates[0] if spec.n_substrates[0] == spec.n_substrates[1] else 3
    np_ = spec.n_products[0] if spec.n_products[0] == spec.n_products[1] else 2
    s = rng.uniform(0.1, 5.0, (n, r, ns))
    p = rng.uniform(0.1, 5.0, (n, r, np_))
    ks = rng.uniform(0.2, 4.0, (n, r, ns))
    kp = rng.uniform(0.2, 4.0, (n, r, np_))
    keq = rng.uniform(0.5, 20.0, (n, r))
    h = np.full((n, r), hill)
    nsub = rng.integers(1, 3, (r, ns)).astype(float)
    nprod = rng.integers(1, 3, (r, np_)).astype(float)
    fwd, bwd, dfwd, dbwd = quotient_gradient(
        GRADIENTS[mechanism](s, p, ks, kp, keq, h, nsub, nprod)
    )
    f0, b0 = spec.rate_law(s, p, ks, kp, keq, h, nsub, nprod)
    np.testing.assert_allclose(fwd, f0, rtol=1e-13)
    np.testing.assert_allclose(bwd, b0, rtol=1e-13, atol=0)
    step = 1e-20
    for k in range(ns + np_):
        sz, pz = s.astype(complex), p.astype(complex)
        if k < ns:
            sz[..., k] += 1j * step
        else:
            pz[..., k - ns] += 1j * step
        fz, bz = spec.rate_law(sz, pz, ks, kp, keq, h, nsub, nprod)
        np.testing.assert_allclose(dfwd[..., k], np.imag(fz) / step, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(dbwd[..., k], np.imag(bz) / step, rtol=1e-12, atol=1e-300)


def test_products_except_is_exact_with_zeros():
    x = np.array([[2.0, 0.0, 3.0, 5.0], [0.0, 0.0, 1.0, 4.0]])
    np.testing.assert_array_equal(products_except(x), [[0.0, 30.0, 0.0, 0.0], [0.0, 0.0, 0.0, 0.0]])
    np.testing.assert_array_equal(products_except(np.array([[7.0]])), [[1.0]])


def test_gradient_at_zero_concentrations_matches_complex_step(ecoli_system, fdp1):
    """Empty pools (the integrator may reach them): no division by a concentration.

    The reference is the complex step at 1e-9 µM in place of 0 (the derivatives are
    continuous there; the complex step itself needs a non-zero concentration).
    """
    params, _, _ = sample_parameters(ecoli_system.model, fdp1, 3, seed=2)
    x = np.tile(ecoli_system.steady_state_concentrations(fdp1), (3, 1))
    x[:, ::3] = 0.0
    a = ecoli_system.rate_derivatives(x, params)
    c = ecoli_system.rate_derivatives_complex_step(np.where(x == 0, 1e-9, x), params)
    assert np.isfinite(a).all()
    # per reaction, relative to its largest derivative or 1e-12 of the model's largest
    scale = np.maximum(
        np.abs(c).max(axis=2, keepdims=True), 1e-12 * np.abs(c).max(axis=(1, 2), keepdims=True)
    )
    assert np.max(np.abs(a - c) / scale) < 1e-6


def test_sparse_jacobian_equals_the_dense_reference(ecoli_system, fdp1):
    params, _, _ = sample_parameters(ecoli_system.model, fdp1, 40, seed=9)
    x = ecoli_system.steady_state_concentrations(fdp1)
    old = (
        ecoli_system.reduced_stoichiometric_matrix
        @ ecoli_system.rate_derivatives_complex_step(x, params)
        @ ecoli_system.conservation.link_matrix
    )
    new = ecoli_system.jacobian(x, params)
    norm = np.abs(old).max(axis=(1, 2), keepdims=True)
    assert np.max(np.abs(new - old) / norm) < 1e-14
    # entry-wise, every entry not at the rounding level of the norm
    big = np.abs(old) > 1e-6 * norm
    assert np.max(np.abs(new - old)[big] / np.abs(old)[big]) < 1e-10
    full_old = ecoli_system.stoichiometric_matrix @ ecoli_system.rate_derivatives_complex_step(
        x, params
    )
    full_new = ecoli_system.jacobian(x, params, reduced=False)
    assert np.max(np.abs(full_new - full_old) / np.abs(full_old).max()) < 1e-14


def test_fused_back_calculation_equals_complete_parameters(ecoli_system, fdp1, published_toy_sets):
    _, params, _, _ = published_toy_sets
    km = ecoli_system.km_of(params)
    ref = ecoli_system.complete_parameters(km, fdp1)
    fused, entries = ecoli_system.complete_parameters_and_elasticities(km, fdp1)
    np.testing.assert_allclose(fused, ref, rtol=1e-14, atol=0)
    x = ecoli_system.steady_state_concentrations(fdp1)
    np.testing.assert_allclose(
        entries, ecoli_system.elasticity_entries(x, fused), rtol=1e-13, atol=0
    )


def test_labels_and_eigenvalues_on_the_published_sets(ecoli_system, fdp1, published_toy_sets):
    """The fast path against the dense complex-step reference and the published values.

    Stated tolerance of a stored max Re(λ): 1e-6 relative (absolute below 1 h⁻¹) of the
    reference path, median 1e-9 — the Jacobians differ by rounding only, and rounding
    of a Jacobian with ‖J‖ ~ 4e10 moves its rightmost eigenvalue by up to ~4e-7
    relative (two LAPACKs, MKL and OpenBLAS, differ by as much on the same matrices) —
    and the labels equal.
    """
    idx, params, _, published = published_toy_sets
    x = ecoli_system.steady_state_concentrations(fdp1)
    ref_jac = (
        ecoli_system.reduced_stoichiometric_matrix
        @ ecoli_system.rate_derivatives_complex_step(x, params)
        @ ecoli_system.conservation.link_matrix
    )
    ref = max_real_eigenvalues(ref_jac)
    fast = label_chunk(ecoli_system, x, params)
    err = np.abs(fast - ref) / np.maximum(1.0, np.abs(ref))
    assert err.max() < 1e-6
    assert np.median(err) < 1e-9
    np.testing.assert_array_equal(relevance_labels(fast), relevance_labels(ref))
    # from K_M (V_max back-calculated in the same pass), as sampling labels
    _, from_km = label_km_chunk(ecoli_system, fdp1, ecoli_system.km_of(params))
    assert (np.abs(from_km - ref) / np.maximum(1.0, np.abs(ref))).max() < 1e-6
    np.testing.assert_array_equal(relevance_labels(from_km), relevance_labels(ref))
    by_set = dict(zip(idx.tolist(), fast, strict=True))
    ours = np.array([by_set[i] for i in sorted(published)])
    theirs = np.array([published[i] for i in sorted(published)])
    assert np.max(np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))) <= 1e-4
    np.testing.assert_array_equal(relevance_labels(ours), theirs < -9)


def test_sampled_chunk_stores_the_reference_eigenvalues(ecoli_system, fdp1):
    labeller = Labeller(ecoli_system, fdp1, n_jobs=1)
    res = sample_chunk(labeller, 150, seed=4, chunk_index=2)
    x = ecoli_system.steady_state_concentrations(fdp1)
    ref_jac = (
        ecoli_system.reduced_stoichiometric_matrix
        @ ecoli_system.rate_derivatives_complex_step(x, res.parameters)
        @ ecoli_system.conservation.link_matrix
    )
    ref = max_real_eigenvalues(ref_jac)
    assert np.max(np.abs(res.max_real_eigenvalue - ref) / np.maximum(1.0, np.abs(ref))) < 1e-6
    np.testing.assert_array_equal(res.relevant, relevance_labels(ref))
    # the Labeller's K_M path gives the same parameters and eigenvalues
    params, lam, rel = Labeller(ecoli_system, fdp1, chunk_size=64, n_jobs=2).label_km(
        ecoli_system.km_of(res.parameters)
    )
    np.testing.assert_array_equal(params, res.parameters)
    np.testing.assert_array_equal(lam, res.max_real_eigenvalue)
    np.testing.assert_array_equal(rel, res.relevant)


def test_label_km_names_the_first_bad_model_globally(ecoli_system, fdp1):
    params, _, _ = sample_parameters(ecoli_system.model, fdp1, 10, seed=1)
    km = ecoli_system.km_of(params)
    km[7, 3] = -1.0
    with pytest.raises(ValueError, match="model 7"):
        Labeller(ecoli_system, fdp1, chunk_size=4, n_jobs=1).label_km(km)


def test_a_small_batch_is_split_over_the_threads_with_the_same_labels(
    ecoli_system, fdp1, monkeypatch
):
    """A batch of fewer than ``n_jobs × chunk_size`` models (the class sampler's ~10³
    proposals per move) is labelled in one chunk per thread, not one chunk on one thread,
    and the eigenvalues are those of one chunk, bit for bit."""
    import rekindle.kinetics.labelling as module
    from rekindle.kinetics.labelling import MIN_SPLIT_CHUNK

    sizes: list[int] = []
    chunk = module.label_km_chunk

    def recorded(system, physiology, km, check=True):
        sizes.append(km.shape[0])
        return chunk(system, physiology, km, check)

    monkeypatch.setattr(module, "label_km_chunk", recorded)

    params, _, _ = sample_parameters(ecoli_system.model, fdp1, 700, seed=3)
    km = ecoli_system.km_of(params)
    threaded = Labeller(ecoli_system, fdp1, chunk_size=1000, n_jobs=2)
    assert threaded.chunk_rows(700) == 350
    assert threaded.chunk_rows(5000) == 1000  # large batches keep chunk_size
    assert threaded.chunk_rows(30) == MIN_SPLIT_CHUNK  # tiny ones are not shredded
    assert Labeller(ecoli_system, fdp1, chunk_size=1000, n_jobs=1).chunk_rows(700) == 1000
    one = Labeller(ecoli_system, fdp1, chunk_size=1000, n_jobs=1)
    split = threaded.label_km(km)
    assert sorted(sizes) == [350, 350]  # both threads labelled a half
    for a, b in zip(split, one.label_km(km), strict=True):
        np.testing.assert_array_equal(a, b)
    assert sizes[2:] == [700]
    np.testing.assert_array_equal(threaded.max_real_eigenvalues(params), one.label_km(km)[1])
