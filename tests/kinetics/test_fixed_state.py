"""The fixed-steady-state path (``rekindle.kinetics.fixed_state``) against the general
engine, bit for bit: parameters, elasticity entries, reduced Jacobians and stored
eigenvalues; and against complex-step derivatives."""

from __future__ import annotations

import pickle

import numpy as np
import pytest

from rekindle.data import available_physiologies, load_physiology
from rekindle.kinetics import KineticSystem, max_real_eigenvalues
from rekindle.kinetics.elasticities import GRADIENTS, products_except, quotient_gradient
from rekindle.kinetics.labelling import Labeller
from rekindle.kinetics.mechanisms import MECHANISMS
from rekindle.sampling import km_from_saturation, km_reference_concentrations, sample_chunk

CASES = [("ecoli", ph) for ph in available_physiologies("ecoli")] + [("toy", "ref")]


def _identical(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal bit for bit: values, NaN positions and signs of zeros."""
    return (
        a.shape == b.shape
        and np.array_equal(a, b, equal_nan=True)
        and np.array_equal(np.signbit(a), np.signbit(b))
    )


@pytest.fixture(scope="module")
def systems(ecoli_system, toy_system):
    return {"ecoli": ecoli_system, "toy": toy_system}


def _km(system: KineticSystem, phys, n: int, seed: int, extremes: bool = True) -> np.ndarray:
    x = km_reference_concentrations(system.model, phys)
    sigma = np.random.default_rng(seed).uniform(1e-12, 1 - 1e-12, size=(n, x.size))
    km = km_from_saturation(sigma, x)
    if extremes:
        km[:3] = x * np.array([[1e-6], [1.0], [1e6]])  # far below, at and far above x
    return km


def _general_parameters(system: KineticSystem, km: np.ndarray, phys) -> np.ndarray:
    """The general engine: reference row, K_M set, V_max by the parameters' rate laws."""
    p = system.reference_parameters(phys, km.shape[0])
    p[:, system._km_columns] = km
    p[:, system._vmax_params] = system.back_calculate_vmax(p, phys)
    return p


@pytest.mark.parametrize(("model", "physiology"), CASES)
def test_fixed_state_is_bit_identical_to_the_general_engine(systems, model, physiology):
    system = systems[model]
    phys = load_physiology(model, physiology)
    km = _km(system, phys, 300, seed=3)
    params, entries = system.complete_parameters_and_elasticities(km, phys)
    general = _general_parameters(system, km, phys)
    assert _identical(params, general)
    assert _identical(system.complete_parameters(km, phys), general)
    assert _identical(system.at_state(phys).vmax(km), general[:, system._vmax_params])
    x = system.steady_state_concentrations(phys)
    assert _identical(entries, system.elasticity_entries(x, general))
    # the assembly of the structurally non-zero positions against the whole map's product
    assembly = system.elasticities
    jac = assembly.reduced_jacobian(entries)
    assert _identical(jac, assembly.reduced_jacobian(entries, assembly._to_reduced_t))
    dense = system.reduced_stoichiometric_matrix @ assembly.derivatives(entries)
    dense = dense @ system.conservation.link_matrix
    assert np.max(np.abs(jac - dense)) <= 1e-12 * np.abs(dense).max()


@pytest.mark.parametrize(("model", "physiology"), [CASES[0], CASES[3], CASES[-1]])
def test_fixed_state_elasticities_match_complex_step(systems, model, physiology):
    system = systems[model]
    phys = load_physiology(model, physiology)
    km = _km(system, phys, 8, seed=4, extremes=False)
    params, entries = system.complete_parameters_and_elasticities(km, phys)
    x = system.steady_state_concentrations(phys)
    # V_max puts the physiology at steady state: rates equal the fluxes
    flux = phys.flux_vector(system.model.reaction_ids)
    np.testing.assert_allclose(
        system.rates(x, params), np.broadcast_to(flux, (8, flux.size)), 1e-12
    )
    analytic = system.elasticities.derivatives(entries)
    cs = system.rate_derivatives_complex_step(x, params)
    scale = np.abs(cs).max(axis=2, keepdims=True) + 1e-300
    assert np.max(np.abs(analytic - cs) / scale) < 1e-12


def test_sampled_eigenvalues_equal_the_general_path_bit_for_bit(ecoli_system, fdp1):
    """A sampled chunk stores exactly the max Re(λ) of the general engine's Jacobians
    (entries from the completed parameters, the whole sparse map, LAPACK)."""
    res = sample_chunk(Labeller(ecoli_system, fdp1, n_jobs=1), 200, seed=9, chunk_index=1)
    x = ecoli_system.steady_state_concentrations(fdp1)
    assembly = ecoli_system.elasticities
    entries = ecoli_system.elasticity_entries(x, res.parameters)
    jac = assembly.reduced_jacobian(entries, assembly._to_reduced_t)
    assert _identical(res.max_real_eigenvalue, max_real_eigenvalues(jac))
    assert 0 < res.relevant.sum() < res.relevant.size


@pytest.mark.parametrize("mechanism", sorted(GRADIENTS))
def test_gradients_broadcast_one_state_bit_for_bit(mechanism):
    """Concentrations as a ``(1, R, k)`` row give the rates and gradients of the same
    concentrations repeated for every parameter set, bit for bit (Hill 1.7 too)."""
    spec = MECHANISMS[mechanism]
    rng = np.random.default_rng(11)
    n, r = 6, 4
    ns = spec.n_substrates[0] if spec.n_substrates[0] == spec.n_substrates[1] else 3
    np_ = spec.n_products[0] if spec.n_products[0] == spec.n_products[1] else 2
    s = rng.uniform(0.1, 5.0, (1, r, ns))
    p = rng.uniform(0.1, 5.0, (1, r, np_))
    ks = rng.uniform(0.2, 4.0, (n, r, ns))
    kp = rng.uniform(0.2, 4.0, (n, r, np_))
    keq = rng.uniform(0.5, 20.0, (1, r))
    h = np.full((1, r), 1.7)
    nsub = rng.integers(1, 3, (r, ns)).astype(float)
    nprod = rng.integers(0, 3, (r, np_)).astype(float)
    full = [np.repeat(a, n, axis=0) for a in (s, p, keq, h)]
    row = quotient_gradient(GRADIENTS[mechanism](s, p, ks, kp, keq, h, nsub, nprod))
    rep = quotient_gradient(
        GRADIENTS[mechanism](full[0], full[1], ks, kp, full[2], full[3], nsub, nprod)
    )
    for a, b in zip(row, rep, strict=True):
        assert _identical(np.broadcast_to(a, b.shape), b)
    rates_row = spec.rate_law(s, p, ks, kp, keq, h, nsub, nprod)
    rates_rep = spec.rate_law(full[0], full[1], ks, kp, full[2], full[3], nsub, nprod)
    for a, b in zip(rates_row, rates_rep, strict=True):
        assert _identical(np.broadcast_to(a, b.shape), b)


def test_at_state_is_built_once_per_physiology_and_pickles(ecoli, fdp1):
    system = KineticSystem(ecoli)
    fdp2 = load_physiology("ecoli", "fdp2")
    state = system.at_state(fdp1)
    assert system.at_state(fdp1) is state
    assert system.at_state(fdp2) is not state
    km = _km(system, fdp1, 20, seed=5)
    copy = pickle.loads(pickle.dumps(system))  # a Labeller shipped to a worker process
    assert _identical(copy.complete_parameters(km, fdp1), system.complete_parameters(km, fdp1))


def test_fixed_state_names_the_first_bad_model(ecoli_system, fdp1):
    km = _km(ecoli_system, fdp1, 5, seed=6)
    km[3, 10] = np.nan
    with pytest.raises(ValueError, match="model 3"):
        ecoli_system.at_state(fdp1).complete(km)
    with pytest.raises(ValueError, match=r"K_M must have shape"):
        ecoli_system.at_state(fdp1).vmax(km[:, :-1])


@pytest.mark.parametrize("k", range(1, 9))
def test_products_except_is_the_running_prefix_times_suffix_product(k):
    """``Π_{j≠i} x_j`` as (x₀⋯x_{i−1})·(x_{k−1}⋯x_{i+1}), each a left-to-right running
    product, bit for bit, with zeros, signed zeros and overflow; equal to ``np.prod`` of
    the other entries to rounding."""
    rng = np.random.default_rng(k)
    x = rng.lognormal(0, 2, (50, 4, k)) * rng.choice([1.0, -1.0], (50, 4, k))
    x[rng.uniform(size=x.shape) < 0.1] = 0.0
    x[rng.uniform(size=x.shape) < 0.05] = -0.0
    x[0, 0] = 1e200
    expected = np.empty_like(x)
    with np.errstate(all="ignore"):
        for i in range(k):
            prefix = np.ones(x.shape[:-1])
            for j in range(i):
                prefix = prefix * x[..., j]
            suffix = np.ones(x.shape[:-1])
            for j in range(k - 1, i, -1):
                suffix = suffix * x[..., j]
            expected[..., i] = prefix * suffix
        got = products_except(x)
    assert _identical(got, expected)
    others = [np.prod(np.delete(x[1:], i, axis=-1), axis=-1) for i in range(k)]
    np.testing.assert_allclose(got[1:], np.stack(others, axis=-1), rtol=1e-14, atol=0)


def test_at_state_keeps_the_last_physiologies(ecoli, monkeypatch):
    import rekindle.kinetics.system as engine

    monkeypatch.setattr(engine, "STATE_CACHE", 2)
    system = KineticSystem(ecoli)
    physiologies = [load_physiology("ecoli", ph) for ph in ("fdp1", "fdp2", "fdp3")]
    first = [system.at_state(ph) for ph in physiologies]
    assert [ph for ph, _ in system._states.values()] == physiologies[1:]
    assert system.at_state(physiologies[2]) is first[2]  # kept
    again = system.at_state(physiologies[0])  # evicted: rebuilt, equal
    assert again is not first[0]
    assert _identical(again.reference, first[0].reference)
