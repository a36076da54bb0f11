"""The engine against the published REKINDLE data (independent evidence)."""

from __future__ import annotations

import numpy as np

from rekindle.kinetics import max_real_eigenvalues, relevance_labels


def test_parameter_layout_is_the_published_one(ecoli, published_toy_sets):
    _, _, names, _ = published_toy_sets
    assert ecoli.parameter_names == names
    assert ecoli.summary() == {
        "reactions": 67,
        "metabolites": 65,
        "states": 50,
        "boundary_metabolites": 15,
        "parameters": 411,
        "michaelis_constants": 259,
    }


def test_max_real_eigenvalues_match_published_values(ecoli_system, fdp1, published_toy_sets):
    idx, params, _, ref = published_toy_sets
    x = ecoli_system.steady_state_concentrations(fdp1)
    lam = max_real_eigenvalues(ecoli_system.jacobian(x, params))
    by_set = dict(zip(idx.tolist(), lam, strict=True))
    ours = np.array([by_set[i] for i in sorted(ref)])
    theirs = np.array([ref[i] for i in sorted(ref)])
    assert len(ours) == 500
    err = np.abs(ours - theirs) / np.maximum(1.0, np.abs(theirs))
    assert err.max() <= 1e-4, f"worst set {sorted(ref)[int(err.argmax())]}: {err.max():.2e}"
    assert np.median(err) < 1e-7
    np.testing.assert_array_equal(relevance_labels(ours), theirs < -9)


def test_published_incidence_of_the_toy_sets(ecoli_system, fdp1, published_toy_sets):
    _, params, _, _ = published_toy_sets
    x = ecoli_system.steady_state_concentrations(fdp1)
    lam = max_real_eigenvalues(ecoli_system.jacobian(x, params))
    # ecoli-model-facts.md: 59.2 % of the 1000 toy sets are relevant
    assert np.mean(lam < -9) == 0.592


def test_vmax_and_keq_back_calculation_reproduce_stored_values(
    ecoli, ecoli_system, fdp1, published_toy_sets
):
    _, params, _, _ = published_toy_sets
    completed = ecoli_system.complete_parameters(ecoli_system.km_of(params), fdp1)
    pidx = ecoli.parameter_index
    vmax = [pidx[f"vmax_forward_{r}"] for r in ecoli.reaction_ids]
    keq = [pidx[f"k_equilibrium_{r.id}"] for r in ecoli.reactions if r.reversible]
    rel_v = np.abs(completed[:, vmax] / params[:, vmax] - 1.0)
    rel_k = np.abs(completed[:, keq] / params[:, keq] - 1.0)
    assert rel_v.max() <= 1e-9
    assert rel_k.max() <= 1e-9
    # boundary concentrations of the published sets are those of the fdp1 steady state
    for met in ecoli.boundary_ids:
        np.testing.assert_allclose(params[:, pidx[met]], fdp1.concentrations[met], rtol=1e-12)


def test_published_sets_are_steady_states(ecoli_system, fdp1, published_toy_sets):
    _, params, _, _ = published_toy_sets
    x = ecoli_system.steady_state_concentrations(fdp1)
    v = ecoli_system.rates(x, params[:50])
    flux = fdp1.flux_vector(ecoli_system.model.reaction_ids)
    np.testing.assert_allclose(v, np.broadcast_to(flux, v.shape), rtol=1e-9, atol=1e-6)
