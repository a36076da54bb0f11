"""SBML export, checked against an independent simulator (libRoadRunner).

roadrunner reads the files, builds its own ODEs from the MathML and computes its own
reduced Jacobian (by its own conservation analysis and finite differences) and its
own trajectories (CVODE); none of rekindle's numerics is reused on that side.
Conventions: roadrunner's time is the model's time unit (hours), its Jacobian is taken
in concentrations (``ROADRUNNER_JACOBIAN_MODE_CONCENTRATIONS``, µM), so its
eigenvalues are in h⁻¹ like rekindle's.
"""

from __future__ import annotations

from pathlib import Path

import libsbml
import numpy as np
import pytest
import roadrunner
from typer.testing import CliRunner

from rekindle.analysis.initial_states import draw_initial_states
from rekindle.cli import app
from rekindle.errors import ModelError
from rekindle.integrate import IntegratorOptions, Status, integrate_batch
from rekindle.io.dataset import read_dataset
from rekindle.io.sbml import ANNOTATION_NAMESPACE, SetLabel, sbml_id, write_sbml_models
from rekindle.kinetics import Compartment, KineticModel, KineticSystem, Metabolite, Reaction
from rekindle.sampling import sample_parameters

roadrunner.Config.setValue(
    roadrunner.Config.ROADRUNNER_JACOBIAN_MODE,
    roadrunner.Config.ROADRUNNER_JACOBIAN_MODE_CONCENTRATIONS,
)


@pytest.fixture(scope="module")
def fdp4():
    from rekindle.data import load_physiology

    return load_physiology("ecoli", "fdp4")


def _export(tmp: Path, model, physiology, params, lam, relevant) -> list[Path]:
    labels = [
        SetLabel(i, float(a), bool(b)) for i, (a, b) in enumerate(zip(lam, relevant, strict=True))
    ]
    return write_sbml_models(tmp, model, physiology, params, labels, source="test")


def _load(path: Path) -> roadrunner.RoadRunner:
    rr = roadrunner.RoadRunner(str(path))
    rr.conservedMoietyAnalysis = True
    return rr


def roadrunner_check(path: Path) -> tuple[float, float]:
    """``(max|dx/dt| / max|v|, max Re λ)`` of a file at its initial state, by roadrunner."""
    rr = _load(path)
    dxdt = rr.model.getFloatingSpeciesConcentrationRates()
    rates = rr.model.getReactionRates()
    jac = np.asarray(rr.getReducedJacobian())
    return float(np.abs(dxdt).max() / np.abs(rates).max()), float(np.linalg.eigvals(jac).real.max())


def _relative(a: float, b: float) -> float:
    return abs(a - b) / abs(b)


# --------------------------------------------------------------------------- the files


def test_file_content_units_species_annotations(tmp_path, toy, toy_ref) -> None:
    system = KineticSystem(toy)
    p, lam, rel = sample_parameters(toy, toy_ref, 2, seed=0)
    path = _export(tmp_path, toy, toy_ref, p, lam, rel)[1]
    assert path.name == "parameter_set_1.xml"
    doc = libsbml.readSBMLFromFile(str(path))
    assert (doc.getLevel(), doc.getVersion()) == (3, 2)
    doc.checkConsistency()
    severities = [doc.getError(i).getSeverity() for i in range(doc.getNumErrors())]
    assert all(s < libsbml.LIBSBML_SEV_ERROR for s in severities)
    m = doc.getModel()
    assert (m.getTimeUnits(), m.getSubstanceUnits()) == ("hour", "micromole")
    hour = m.getUnitDefinition("hour").getUnit(0)
    assert (hour.getKind(), hour.getMultiplier()) == (libsbml.UNIT_KIND_SECOND, 3600.0)
    um = m.getUnitDefinition("micromolar")
    assert {(u.getKind(), u.getExponent(), u.getScale()) for u in um.getListOfUnits()} == {
        (libsbml.UNIT_KIND_MOLE, 1, -6),
        (libsbml.UNIT_KIND_LITRE, -1, 0),
    }
    x_ref = system.steady_state_concentrations(toy_ref)
    for met, x in zip(toy.state_ids, x_ref, strict=True):
        sp = m.getSpecies(met)
        assert not sp.getBoundaryCondition() and not sp.getConstant()
        assert sp.getInitialConcentration() == pytest.approx(x, rel=1e-14)
    for met in toy.boundary_ids:
        sp = m.getSpecies(met)
        assert sp.getBoundaryCondition() and sp.getConstant()
        assert sp.getInitialConcentration() == pytest.approx(toy_ref.concentrations[met], 1e-14)
    for name, value in zip(toy.parameter_names, p[1], strict=True):
        if (par := m.getParameter(name)) is not None:
            assert par.getValue() == pytest.approx(value, rel=1e-14)
    assert m.getParameter("km_substrate_EXP").getSBOTermID() == "SBO:0000027"
    assert m.getParameter("vmax_forward_EXP").getSBOTermID() == "SBO:0000186"
    for r in toy.reactions:
        ann = m.getReaction(r.id).getAnnotation().getChild(0)
        assert ann.getURI() == ANNOTATION_NAMESPACE
        assert ann.getAttrValue("mechanism") == r.mechanism
        assert r.mechanism in m.getReaction(r.id).getNotesString()
    info = m.getAnnotation().getChild(0)
    assert int(info.getAttrValue("parameter_set")) == 1
    assert float(info.getAttrValue("max_real_eigenvalue_per_hour")) == lam[1]


def test_identifiers_are_rewritten_and_clashes_refused(tmp_path, toy_ref) -> None:
    assert [sbml_id(n) for n in ("glc-D_e", "13dpg_c", "a.b")] == ["glc_D_e", "_13dpg_c", "a_b"]
    model = KineticModel(
        "clash",
        (Compartment("c"),),
        (Metabolite("x-1", "c"), Metabolite("x_1", "c")),
        (Reaction("R", "ReversibleMichaelisMenten", (("x-1", 1.0),), (("x_1", 1.0),)),),
    )
    with pytest.raises(ModelError, match="'x_1'"):
        write_sbml_models(tmp_path, model, toy_ref, np.ones((1, model.n_parameters)))
    assert not list(tmp_path.iterdir())


def test_rate_laws_equal_rekindles_away_from_the_steady_state(tmp_path, ecoli, fdp1) -> None:
    """Every reaction of every mechanism, at random states (0.2–5× the reference).

    The second set has Hill coefficients 1.7 (1 in the published model), so the
    exponents of the uni-bi and bi-uni Hill laws are checked too.
    """
    system = KineticSystem(ecoli)
    p, lam, rel = sample_parameters(ecoli, fdp1, 2, seed=5)
    hill = [k for n, k in ecoli.parameter_index.items() if n.startswith("hill_coefficient_")]
    assert len(hill) >= 2
    p[1, hill] = 1.7
    paths = _export(tmp_path, ecoli, fdp1, p, lam, rel)
    x_ref = system.steady_state_concentrations(fdp1)
    rng = np.random.default_rng(0)
    worst = 0.0
    for k, path in enumerate(paths):
        rr = roadrunner.RoadRunner(str(path))
        assert rr.model.getFloatingSpeciesIds() == ecoli.state_ids
        for _ in range(3):
            x = x_ref * np.exp(rng.uniform(np.log(0.2), np.log(5.0), x_ref.size))
            rr.model.setFloatingSpeciesConcentrations(x)
            want = system.rates(x, p[k])[0]
            got = rr.model.getReactionRates()
            worst = max(worst, float(np.max(np.abs(got - want) / np.abs(want))))
            np.testing.assert_allclose(
                rr.model.getFloatingSpeciesConcentrationRates(),
                system.ode_rhs(x, p[k])[0],
                rtol=1e-8,
                atol=1e-10 * np.abs(system.stoichiometric_matrix).max() * np.abs(want).max(),
            )
    print(f"rates: max relative difference roadrunner vs rekindle {worst:.2e}")
    assert worst < 1e-9


@pytest.mark.parametrize("physiology", ["fdp1", "fdp4"])
def test_steady_state_and_eigenvalues_in_roadrunner(tmp_path, ecoli, physiology, request) -> None:
    phys = request.getfixturevalue(physiology)
    p, lam, rel = sample_parameters(ecoli, phys, 10, seed=11)
    pick = np.r_[np.flatnonzero(rel)[:2], np.flatnonzero(~rel)[:1]]  # both classes
    assert pick.size == 3
    p, lam, rel = p[pick], lam[pick], rel[pick]
    worst = 0.0
    for path, want in zip(_export(tmp_path, ecoli, phys, p, lam, rel), lam, strict=True):
        imbalance, got = roadrunner_check(path)
        assert imbalance <= 1e-6
        assert _relative(got, want) <= 1e-4, (path.name, got, want)
        worst = max(worst, _relative(got, want))
    print(f"{physiology}: max Re(λ) relative difference {worst:.2e}")


def test_compartment_volumes_keep_rekindles_odes(tmp_path, toy, toy_ref) -> None:
    """Volumes ≠ 1: roadrunner's concentrations follow dx/dt = S v and J_red as rekindle's."""
    system = KineticSystem(toy)
    p, lam, rel = sample_parameters(toy, toy_ref, 1, seed=2)
    idx = toy.parameter_index
    p[:, idx["volume_c"]], p[:, idx["volume_e"]] = 2.5, 0.4
    path = _export(tmp_path, toy, toy_ref, p, lam, rel)[0]
    rr = roadrunner.RoadRunner(str(path))
    assert rr.model.getCompartmentVolumes().tolist() == [2.5, 0.4]
    x = system.steady_state_concentrations(toy_ref) * np.array([1.5, 0.7, 1.2, 0.9])
    rr.model.setFloatingSpeciesConcentrations(x)
    np.testing.assert_allclose(
        rr.model.getFloatingSpeciesConcentrationRates(), system.ode_rhs(x, p)[0], rtol=1e-12
    )
    _, got = roadrunner_check(path)
    assert _relative(got, lam[0]) <= 1e-6


def test_perturbed_trajectory_agrees_with_rekindles_integrator(tmp_path, ecoli, fdp1) -> None:
    """Two relevant models, fold-perturbed (0.5–2×), 21 min: CVODE vs rekindle's RODAS4."""
    system = KineticSystem(ecoli)
    p, lam, rel = sample_parameters(ecoli, fdp1, 12, seed=1)
    p, lam = p[rel][1:3], lam[rel][1:3]
    paths = _export(tmp_path, ecoli, fdp1, p, lam, np.ones(2, bool))
    x_ref = system.steady_state_concentrations(fdp1)
    x0, _ = draw_initial_states(system, x_ref, 2, "fold", np.random.default_rng(0))
    times = np.linspace(0.0, 0.35, 8)
    ours = integrate_batch(
        system,
        p,
        x0,
        times[-1],
        times=times,
        store=[0, 1],
        scale=x_ref,
        options=IntegratorOptions(rtol=1e-7, atol=1e-9),
    )
    assert np.all(ours.status == Status.SUCCESS)
    worst = 0.0
    for k, path in enumerate(paths):
        rr = roadrunner.RoadRunner(str(path))
        rr.model.setFloatingSpeciesConcentrations(x0[k])
        cvode = rr.getIntegrator()
        cvode.relative_tolerance, cvode.absolute_tolerance = 1e-10, 1e-14
        cvode.maximum_num_steps = 100_000
        sel = ["time"] + [f"[{m}]" for m in ecoli.state_ids]
        res = np.asarray(rr.simulate(0.0, times[-1], points=times.size, selections=sel))
        np.testing.assert_allclose(res[:, 0], times, rtol=1e-12)
        theirs = res[:, 1:]
        moved = np.abs(theirs - x_ref).max(axis=0) / x_ref  # the perturbation is real
        assert moved.max() > 0.4
        deviation = np.abs(theirs - ours.trajectories[k]) / x_ref
        assert deviation.max() < 1e-6, deviation.max()
        worst = max(worst, float(deviation.max()))
    print(f"trajectories: max |x_CVODE − x_RODAS4| / x_ref {worst:.2e}")


# --------------------------------------------------------------------------- command line


def test_cli_exports_labelled_sets(tmp_path) -> None:
    runner = CliRunner()
    d, out = tmp_path / "d.h5", tmp_path / "sbml"
    args = ["sample", "--model", "toy", "--n", "6", "--seed", "0", "--output", str(d), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    res = runner.invoke(app, ["export", str(d), "--format", "sbml", "-o", str(out), "--first", "3"])
    assert res.exit_code == 0, res.output
    assert sorted(f.name for f in out.glob("*.xml")) == [f"parameter_set_{i}.xml" for i in range(3)]
    assert (out / "sbml_manifest.json").is_file()  # what the next export may replace
    ds = read_dataset(d)
    for i in range(3):
        _, got = roadrunner_check(out / f"parameter_set_{i}.xml")
        assert _relative(got, ds.max_real_eigenvalue[i]) <= 1e-6
    for bad, culprit in (
        (["--first", "0"], "--first"),
        (["--format", "copasi"], "copasi"),
    ):
        args = ["export", str(d), "--format", "sbml", "-o", str(tmp_path / "x"), *bad]
        res = runner.invoke(app, args)
        assert res.exit_code == 2 and culprit in res.output
        assert not (tmp_path / "x").exists()
    args = ["export", str(d), "--format", "sbml", "-o", str(tmp_path / "r"), "--only-relevant"]
    assert runner.invoke(app, args).exit_code == 0
    relevant = [f"parameter_set_{i}.xml" for i in np.flatnonzero(ds.relevant)]
    assert relevant and sorted(f.name for f in (tmp_path / "r").glob("*.xml")) == sorted(relevant)
    res = runner.invoke(app, ["export", str(d), "-o", str(tmp_path / "y.h5"), "--first", "2"])
    assert res.exit_code == 2 and "--first" in res.output


# --------------------------------------------------------------------------- acceptance


@pytest.mark.slow
def test_forty_oracle_sets_in_roadrunner(tmp_path, ecoli, fdp1, fdp4) -> None:
    """Issue 8: 30 fdp1 + 10 fdp4 fresh ORACLE sets: steady states, max Re(λ) within 1e-3."""
    worst_imbalance, worst_relative = 0.0, 0.0
    for name, phys, n in (("fdp1", fdp1, 30), ("fdp4", fdp4, 10)):
        p, lam, rel = sample_parameters(ecoli, phys, n, seed=2026)
        for path, want in zip(_export(tmp_path / name, ecoli, phys, p, lam, rel), lam, strict=True):
            imbalance, got = roadrunner_check(path)
            worst_imbalance = max(worst_imbalance, imbalance)
            worst_relative = max(worst_relative, _relative(got, want))
    print(f"40 sets: max|dx/dt|/max|v| {worst_imbalance:.2e}, max Re(λ) rel. {worst_relative:.2e}")
    assert worst_imbalance <= 1e-6
    assert worst_relative <= 1e-3
