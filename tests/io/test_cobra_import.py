"""`rekindle build-model`: a kinetic model from e_coli_core (cobra) and a reference state."""

from __future__ import annotations

import csv
import importlib.util
import json
import shlex
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rekindle.cli import app
from rekindle.errors import ModelError, PhysiologyError
from rekindle.io.cobra_import import build_model
from rekindle.io.dataset import read_dataset
from rekindle.kinetics import KineticSystem

cobra = pytest.importorskip("cobra")
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "e_coli_core" / "make_state.py"
runner = CliRunner()


@pytest.fixture(scope="module")
def example(tmp_path_factory):
    """The e_coli_core network and the example reference state, as the example writes them."""
    spec = importlib.util.spec_from_file_location("make_state", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.write_example(tmp_path_factory.mktemp("core"))


@pytest.fixture(scope="module")
def built(example):
    return build_model(*example)


def _edited(state: Path, tmp_path: Path, edit) -> Path:
    with state.open(newline="") as fh:
        rows = [r for r in csv.DictReader(fh) if edit(r) is not False]
    out = tmp_path / "state.csv"
    with out.open("w", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=["kind", "id", "value", "unit"])
        w.writeheader()
        w.writerows(rows)
    return out


def test_stoichiometry_is_the_networks(example, built):
    net = cobra.io.read_sbml_model(str(example[0]))
    model = built.model
    s = model.stoichiometric_matrix
    rows = {m: i for i, m in enumerate(model.state_ids)}
    for j, rid in enumerate(model.reaction_ids):
        expected = {
            m.id: c for m, c in net.reactions.get_by_id(rid).metabolites.items() if m.id in rows
        }
        got = {m: s[i, j] for m, i in rows.items() if s[i, j] != 0.0}
        assert got == pytest.approx(expected), rid
    # exchanges are boundaries; water is gone; only reactions with flux are kinetic
    assert set(model.boundary_ids) == {"glc__D_e", "o2_e", "co2_e", "nh4_e", "pi_e", "h_e"}
    assert not any(m.startswith("h2o_") for m in model.metabolite_ids)
    assert "EX_glc__D_e" in built.left_out and "FRD7" in built.left_out
    assert all(built.physiology.fluxes[r] != 0.0 for r in model.reaction_ids)


def test_default_mechanisms_follow_the_stoichiometry(built):
    model = built.model
    assert model.reaction("PGI").mechanism == "ReversibleMichaelisMenten"  # g6p <-> f6p
    assert model.reaction("PFK").mechanism == "H1GeneralizedReversibleHill"
    assert model.reaction("Biomass_Ecoli_core").mechanism == "IrrevMichaelisMenten"
    assert model.reaction("CYTBD").mechanism == "IrrevMichaelisMenten"  # 0.5 o2
    atps = model.reaction("ATPS4r")  # adp + pi + 4 h_e <-> atp + h2o + 3 h_c
    assert [m for m, _ in atps.substrates] == ["adp_c", "pi_c"]
    assert {(m.metabolite, m.stoichiometry) for m in atps.modifiers} == {
        ("h_e", -4.0),
        ("h_c", 3.0),
    }


def test_conserved_moieties_are_found(built):
    system = KineticSystem(built.model)
    cons = system.conservation
    s = built.model.stoichiometric_matrix
    assert cons.rank == np.linalg.matrix_rank(s)
    # every conserved moiety is a left null vector of S: NAD + NADH among them
    null = np.linalg.svd(s.T)[2][cons.rank :]
    ids = built.model.state_ids
    nad = np.zeros(len(ids))
    nad[[ids.index("nad_c"), ids.index("nadh_c")]] = 1.0
    assert np.linalg.norm(nad - null.T @ (null @ nad)) < 1e-9
    assert len(cons.dependent) == len(ids) - cons.rank >= 1


def test_a_metabolite_without_a_concentration_is_refused(example, tmp_path):
    state = _edited(
        example[1], tmp_path, lambda r: r["id"] != "g6p_c" or r["kind"] != "concentration"
    )
    with pytest.raises(PhysiologyError, match="metabolite 'g6p_c' has no concentration"):
        build_model(example[0], state)


def test_a_flux_against_its_gibbs_energy_is_refused(example, tmp_path):
    def flip(row):
        if row["kind"] == "gibbs_energy" and row["id"] == "PGI":
            row["value"] = str(-float(row["value"]))

    state = _edited(example[1], tmp_path, flip)
    with pytest.raises(PhysiologyError, match=r"flux of 'PGI' .* runs against its ΔG"):
        build_model(example[0], state)


def test_wrong_units_and_unknown_mechanisms_are_refused(example, tmp_path):
    def millimolar(row):
        if row["id"] == "g6p_c":
            row["unit"] = "mM"

    with pytest.raises(
        PhysiologyError, match=r"state\.csv:\d+: concentration of 'g6p_c' must be in uM"
    ):
        build_model(example[0], _edited(example[1], tmp_path, millimolar))
    with pytest.raises(ModelError, match="unknown mechanism 'Magic' for 'PGI'"):
        build_model(example[0], example[1], {"PGI": "Magic"})


@pytest.mark.slow
def test_build_model_then_run_to_the_report(example, tmp_path):
    sbml, state = example
    _ = runner.invoke(
        app, shlex.split(f"build-model --sbml {sbml} --steady-state {state} -o {tmp_path}/m")
    )
    assert _.exit_code == 0, _.output
    run = tmp_path / "run"
    res = runner.invoke(
        app,
        shlex.split(
            f"run --model {tmp_path}/m/model.yaml --physiology {tmp_path}/m/state.yaml "
            f"--profile smoke -o {run} -q"
        ),
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["model"] == "e_coli_core"
    oracle = read_dataset(run / "oracle.h5")
    assert summary["incidence_training"] == pytest.approx(oracle.incidence)
    assert 0.2 < oracle.incidence < 0.9  # the example state gives about half relevant models
    assert 0.0 <= summary["incidence_generated"] <= 1.0
    assert (run / "generator.pt").stat().st_size > 10_000
    html = (run / "report.html").read_text()
    assert "incidence" in html and "e_coli_core" in html
