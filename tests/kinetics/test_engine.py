"""Rate laws, derivatives, Jacobians and conservation against analytic cases."""

from __future__ import annotations

import numpy as np
import pytest

from rekindle.kinetics import (
    KineticModel,
    KineticSystem,
    Metabolite,
    Physiology,
    Reaction,
    analyse_conservation,
    max_real_eigenvalues,
    relevance_labels,
    time_constants,
)
from rekindle.kinetics.model import Compartment
from rekindle.sampling import sample_parameters


def test_rate_derivatives_match_finite_differences(ecoli_system, fdp1):
    params, _, _ = sample_parameters(ecoli_system.model, fdp1, 5, seed=3)
    x = ecoli_system.steady_state_concentrations(fdp1)
    exact = ecoli_system.rate_derivatives(x, params)
    # fourth-order central differences with a relative step, per state
    fd = np.empty_like(exact)

    def shifted(i: int, h: float) -> np.ndarray:
        xs = x.copy()
        xs[i] += h
        return ecoli_system.rates(xs, params)

    for i in range(x.size):
        h = 1e-4 * x[i]
        fd[:, :, i] = (
            8 * (shifted(i, h) - shifted(i, -h)) - (shifted(i, 2 * h) - shifted(i, -2 * h))
        ) / (12 * h)
    scale = np.abs(exact).max(axis=2, keepdims=True) + 1e-300
    assert np.max(np.abs(exact - fd) / scale) < 1e-6


def test_every_mechanism_is_in_the_ecoli_model(ecoli):
    from rekindle.kinetics import MECHANISMS

    assert {r.mechanism for r in ecoli.reactions} == set(MECHANISMS)


def test_reversible_rates_vanish_at_equilibrium(ecoli, fdp1):
    """Haldane consistency: v = 0 when the mass-action ratio equals Keq."""
    system = KineticSystem(ecoli)
    params, _, _ = sample_parameters(ecoli, fdp1, 3, seed=1)
    x = system.steady_state_concentrations(fdp1)
    pidx = ecoli.parameter_index
    state = {m: i for i, m in enumerate(ecoli.state_ids)}
    v_ref = system.rates(x, params)
    for j, r in enumerate(ecoli.reactions):
        if not r.reversible:
            continue
        # move the first product that is a state (and not a substrate) until Q = Keq
        stoich = r.stoichiometry()
        prod = next((m for m, _ in r.products if m in state and stoich.get(m, 0) > 0), None)
        if prod is None:
            continue
        c = dict(fdp1.concentrations)
        c.update(dict(zip(ecoli.state_ids, x, strict=True)))
        lnq = sum(n * np.log(c[m]) for m, n in stoich.items())
        keq = params[0, pidx[f"k_equilibrium_{r.id}"]]
        x_eq = x.copy()
        x_eq[state[prod]] *= np.exp((np.log(keq) - lnq) / stoich[prod])
        v = system.rates(x_eq, params[:1])[0, j]
        assert abs(v) < 1e-9 * abs(v_ref[0, j]) + 1e-12, r.id


def _chain_model() -> tuple[KineticModel, Physiology]:
    """a_e -> x -> b_e with reversible Michaelis-Menten kinetics: one state."""
    mets = (Metabolite("x", "c"), Metabolite("a_e", "c", True), Metabolite("b_e", "c", True))
    rx = (
        Reaction("IN", "ReversibleMichaelisMenten", (("a_e", 1.0),), (("x", 1.0),)),
        Reaction("OUT", "ReversibleMichaelisMenten", (("x", 1.0),), (("b_e", 1.0),)),
    )
    model = KineticModel("chain", (Compartment("c"),), mets, rx)
    phys = Physiology(
        "ref",
        {"x": 2.0, "a_e": 10.0, "b_e": 0.5},
        {"IN": 3.0, "OUT": 3.0},
        {"IN": -1.0, "OUT": -1.0},
    )
    return model, phys


def test_one_state_jacobian_is_the_hand_derived_one():
    model, phys = _chain_model()
    system = KineticSystem(model)
    km = np.array([[4.0, 1.5, 0.7, 3.0]])  # Ks_IN, Kp_IN, Ks_OUT, Kp_OUT
    p = system.complete_parameters(km, phys)
    pi = model.parameter_index
    a, x, b = 10.0, 2.0, 0.5
    v1, k1, ks1, kp1 = (
        p[0, pi[n]]
        for n in ("vmax_forward_IN", "k_equilibrium_IN", "km_substrate_IN", "km_product_IN")
    )
    v2, k2, ks2, kp2 = (
        p[0, pi[n]]
        for n in ("vmax_forward_OUT", "k_equilibrium_OUT", "km_substrate_OUT", "km_product_OUT")
    )
    # v1 = V1 (a/Ks1 - x/(Ks1 K1)) / (1 + a/Ks1 + x/Kp1)
    d1 = 1 + a / ks1 + x / kp1
    n1 = a / ks1 - x / (ks1 * k1)
    dv1 = v1 * (-1 / (ks1 * k1) * d1 - n1 / kp1) / d1**2
    d2 = 1 + x / ks2 + b / kp2
    n2 = x / ks2 - b / (ks2 * k2)
    dv2 = v2 * (1 / ks2 * d2 - n2 / ks2) / d2**2
    jac = system.jacobian(np.array([x]), p, reduced=False)
    np.testing.assert_allclose(jac[0, 0, 0], dv1 - dv2, rtol=1e-12)
    lam = max_real_eigenvalues(jac)
    np.testing.assert_allclose(time_constants(lam, unit="h"), -1 / (dv1 - dv2), rtol=1e-12)
    # the back-calculated V_max reproduce the steady-state flux
    np.testing.assert_allclose(v1 * n1 / d1, 3.0, rtol=1e-12)


def test_conservation_of_toy_and_ecoli(toy, ecoli):
    ca = analyse_conservation(toy.stoichiometric_matrix)
    assert ca.rank == 3
    g = ca.conservation_matrix
    np.testing.assert_allclose(g @ toy.stoichiometric_matrix, 0, atol=1e-12)
    # the one moiety is nad_c + nadh_c
    row = dict(zip(toy.state_ids, g[0], strict=True))
    assert abs(row["nad_c"]) == abs(row["nadh_c"]) == 1 and row["a_c"] == row["b_c"] == 0
    cb = analyse_conservation(ecoli.stoichiometric_matrix)
    assert cb.rank == 44 and cb.dependent.size == 6
    s = ecoli.stoichiometric_matrix
    np.testing.assert_allclose(cb.link_matrix @ s[cb.independent], s, atol=1e-6)
    np.testing.assert_allclose(cb.conservation_matrix @ s, 0, atol=1e-6)


def test_reduced_spectrum_is_full_spectrum_without_structural_zeros(ecoli_system, fdp1):
    params, _, _ = sample_parameters(ecoli_system.model, fdp1, 3, seed=5)
    x = ecoli_system.steady_state_concentrations(fdp1)
    # compare on a model-independent scale: eigenvalues of the full 50x50 include six ~0
    full = np.linalg.eigvals(ecoli_system.jacobian(x, params, reduced=False))
    red = np.linalg.eigvals(ecoli_system.jacobian(x, params))
    for f, r in zip(full, red, strict=True):
        fs = np.sort_complex(f)
        small = np.argsort(np.abs(fs))[:6]
        rest = np.sort_complex(np.delete(fs, small))
        rs = np.sort_complex(r)
        slow = np.abs(rs) < 1e4  # well-resolved part of the spectrum
        np.testing.assert_allclose(rest[np.abs(rest) < 1e4], rs[slow], rtol=1e-6, atol=1e-6)


def test_labels_and_time_constants():
    lam = np.array([-20.0, -9.0, -8.999, 3.0, np.nan])
    np.testing.assert_array_equal(relevance_labels(lam), [True, False, False, False, False])
    np.testing.assert_allclose(time_constants(lam[:3], unit="h"), [0.05, 1 / 9, 1 / 8.999])
    assert np.isinf(time_constants(np.array([3.0]), unit="h")[0])
    np.testing.assert_array_equal(
        relevance_labels(lam, threshold=-8.0), [True, True, True, False, False]
    )


def test_wrong_shapes_are_refused(ecoli_system):
    with pytest.raises(ValueError, match="shape"):
        ecoli_system.rates(np.ones(50), np.ones((2, 400)))
    with pytest.raises(ValueError, match="shape"):
        ecoli_system.rates(np.ones(49), np.ones((2, 411)))
    with pytest.raises(ValueError, match="K_M must have shape"):
        ecoli_system.complete_parameters(np.ones((2, 258)), None)


def test_merged_padded_groups_equal_one_group_per_shape(ecoli, fdp1, monkeypatch):
    """The groups of one mechanism merged with padding (the default) give the rates and
    ∂v/∂x of one group per (mechanism, substrates, products), away from the steady state;
    prepared parameters give bit-identical rates."""
    import rekindle.kinetics.system as engine

    merged = KineticSystem(ecoli)
    monkeypatch.setattr(engine, "GROUP_OVERHEAD", -(10**9))  # never merge
    separate = KineticSystem(ecoli)
    assert len(separate._groups) == 12 and len(merged._groups) < len(separate._groups)
    params, _, _ = sample_parameters(ecoli, fdp1, 4, seed=7)
    rng = np.random.default_rng(1)
    x = merged.steady_state_concentrations(fdp1) * rng.uniform(0.3, 3.0, (4, merged.n_states))
    np.testing.assert_allclose(merged.rates(x, params), separate.rates(x, params), rtol=1e-13)
    np.testing.assert_allclose(
        merged.rate_derivatives(x, params),
        separate.rate_derivatives(x, params),
        rtol=1e-12,
        atol=1e-12 * np.abs(separate.rate_derivatives(x, params)).max(),
    )
    np.testing.assert_array_equal(merged.rates(x, merged.prepare(params)), merged.rates(x, params))
