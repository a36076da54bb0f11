"""Physiologies: transcribed steady states and the checks that reject bad ones."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from rekindle.data import load_physiology
from rekindle.kinetics import PhysiologyError, check_physiology


@pytest.mark.parametrize("name", ["fdp1", "fdp2", "fdp3", "fdp4"])
def test_embedded_physiologies_are_balanced_steady_states(ecoli, name):
    phys = load_physiology("ecoli", name)
    check_physiology(ecoli, phys)
    v = phys.flux_vector(ecoli.reaction_ids)
    s = ecoli.stoichiometric_matrix
    # S v = 0 to round-off of the turnover (facts: 1e-12)
    assert np.max(np.abs(s @ v) / (np.abs(s) @ np.abs(v))) < 1e-10
    # ACKr/PTAr carry the published flux (1.744e6 uM/h in fdp1)
    if name == "fdp1":
        assert v[ecoli.reaction_ids.index("ACKr")] == pytest.approx(1.744e6, rel=1e-3)


def test_physiologies_differ_in_tala_and_icl_directions(ecoli):
    signs = {}
    for name in ("fdp1", "fdp2", "fdp3", "fdp4"):
        phys = load_physiology("ecoli", name)
        signs[name] = (np.sign(phys.fluxes["TALA"]), np.sign(phys.fluxes["ICL"]))
    assert signs == {"fdp1": (1, 1), "fdp2": (-1, 1), "fdp3": (1, -1), "fdp4": (-1, -1)}


def test_published_steady_state_csv_import_matches_embedded(reference_dir, ecoli, fdp1):
    from rekindle.io.steady_state_csv import read_steady_state_csv

    phys = read_steady_state_csv(reference_dir / "rekindle" / "steady_state_fdp1.csv", ecoli)
    for met in ecoli.metabolite_ids:
        assert phys.concentrations[met] == pytest.approx(fdp1.concentrations[met], rel=1e-14)
    for rxn in ecoli.reaction_ids:
        assert phys.fluxes[rxn] == pytest.approx(fdp1.fluxes[rxn], rel=1e-14, abs=1e-9)


def _with(phys, **changes):
    return replace(phys, **changes)


def test_missing_metabolite_is_named(ecoli, fdp1):
    conc = {k: v for k, v in fdp1.concentrations.items() if k != "g6p_c"}
    with pytest.raises(PhysiologyError, match="'g6p_c' has no concentration"):
        check_physiology(ecoli, _with(fdp1, concentrations=conc))


@pytest.mark.parametrize("value", [0.0, -1.0, float("nan")])
def test_non_positive_concentration_is_named(ecoli, fdp1, value):
    conc = {**fdp1.concentrations, "atp_c": value}
    with pytest.raises(
        PhysiologyError, match="concentration of 'atp_c' must be finite and positive"
    ):
        check_physiology(ecoli, _with(fdp1, concentrations=conc))


def test_flux_against_its_gibbs_energy_is_named(ecoli, fdp1):
    dg = {**fdp1.gibbs_energies, "PGI": abs(fdp1.gibbs_energies["PGI"]) + 0.1}
    with pytest.raises(PhysiologyError, match=r"flux of .PGI.*against its ΔG"):
        check_physiology(ecoli, _with(fdp1, gibbs_energies=dg))


def test_unbalanced_metabolite_is_named(ecoli, fdp1):
    fluxes = {**fdp1.fluxes, "PGI": fdp1.fluxes["PGI"] * 1.01}
    with pytest.raises(PhysiologyError, match="not at steady state"):
        check_physiology(ecoli, _with(fdp1, fluxes=fluxes))


def test_equilibrium_constants_use_micromolar_and_protons(toy, toy_ref):
    keq = toy_ref.equilibrium_constants(toy)
    rt = toy_ref.rt
    c = toy_ref.concentrations
    j = toy.reaction_ids.index("CONV")
    lnq = np.log(c["b_c"] * c["nadh_c"] / (c["a_c"] * c["nad_c"]))
    # ΔG = ΔG°' + RT ln Q  =>  Keq = exp(-ΔG°'/RT) = Q exp(-ΔG/RT)
    assert keq[j] == pytest.approx(np.exp(lnq - toy_ref.gibbs_energies["CONV"] / rt), rel=1e-12)
    assert np.isnan(keq[toy.reaction_ids.index("REOX")])
