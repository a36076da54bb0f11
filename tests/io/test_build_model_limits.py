"""`rekindle build-model` on a network with proton-only transports and oversized rate laws
(issue 18): the protons such a transport moves are held constant, everything left out is
listed in left_out.csv, and every reaction over its rate law's limits is named at once."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from rekindle.cli import app
from rekindle.io.model_yaml import read_model

cobra = pytest.importorskip("cobra")
runner = CliRunner()
FLUX = 1000.0  # µM/h through the one pathway a_e → a_p → a_c → b_c


def _network(path: Path, big: bool) -> Path:
    """a_e → a_p, proton symport a_p + h_p → a_c + h_c, a_c → b_c (demand); the protons
    return by two proton-only transports (Htex: h_e → h_p, HCtr: h_c → h_p), as in
    iJO1366's periplasm. ``big`` adds two lumped reactions of 9 and 10 substrates."""
    model = cobra.Model("protonnet")
    ids = ["a_e", "a_p", "a_c", "b_c", "h_e", "h_p", "h_c"]
    ids += [f"s{k}_c" for k in range(10)] if big else []
    mets = {i: cobra.Metabolite(i, compartment=i.rsplit("_", 1)[1]) for i in ids}

    def reaction(rid: str, stoichiometry: dict[str, float]) -> None:
        r = cobra.Reaction(rid, lower_bound=-1000, upper_bound=1000)
        r.add_metabolites({mets[k]: v for k, v in stoichiometry.items()})
        model.add_reactions([r])

    reaction("ATEX", {"a_e": -1, "a_p": 1})
    reaction("ASYM", {"a_p": -1, "h_p": -1, "a_c": 1, "h_c": 1})
    reaction("CONV", {"a_c": -1, "b_c": 1})
    reaction("Htex", {"h_e": -1, "h_p": 1})
    reaction("HCtr", {"h_c": -1, "h_p": 1})
    if big:
        reaction("BIG9", {**{f"s{k}_c": -1 for k in range(9)}, "b_c": 1})
        reaction("BIG10", {**{f"s{k}_c": -1 for k in range(10)}, "a_c": 1})
    model.add_boundary(mets["a_e"], type="exchange")
    model.add_boundary(mets["h_e"], type="exchange")
    model.add_boundary(mets["b_c"], type="demand")
    cobra.io.write_sbml_model(model, str(path))
    return path


def _state(path: Path, big: bool) -> Path:
    rows = [("concentration", m, 100, "uM") for m in ("a_e", "a_p", "a_c", "b_c")]
    rows += [("concentration", "h_e", 0.1, "uM"), ("concentration", "h_p", 0.1, "uM")]
    rows += [("concentration", "h_c", 0.063, "uM")]
    fluxes = {r: FLUX for r in ("ATEX", "ASYM", "CONV", "Htex", "HCtr", "DM_b_c")}
    fluxes.update({"EX_a_e": -FLUX, "EX_h_e": -FLUX})
    reversible = ["ATEX", "ASYM", "CONV", "Htex", "HCtr"]
    if big:
        rows += [("concentration", f"s{k}_c", 100, "uM") for k in range(10)]
        fluxes.update(BIG9=10.0, BIG10=10.0)
        reversible += ["BIG9", "BIG10"]
    rows += [("flux", r, v, "uM/h") for r, v in fluxes.items()]
    rows += [("gibbs_energy", r, -1.5, "kcal/mol") for r in reversible]
    with path.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["kind", "id", "value", "unit"])
        writer.writerows(rows)
    return path


def test_proton_transports_are_left_out_and_their_protons_held(tmp_path):
    sbml, state = _network(tmp_path / "net.xml", False), _state(tmp_path / "state.csv", False)
    out = tmp_path / "model"
    res = runner.invoke(
        app, ["build-model", "--sbml", str(sbml), "--steady-state", str(state), "-o", str(out)]
    )
    assert res.exit_code == 0, res.output
    assert "5 network reactions left out (3 boundary, 2 moves only water or protons)" in (
        res.output
    )
    with (out / "left_out.csv").open(newline="") as fh:
        left = {row["reaction"]: row["reason"] for row in csv.DictReader(fh)}
    assert set(left) == {"EX_a_e", "EX_h_e", "DM_b_c", "Htex", "HCtr"}
    assert left["Htex"] == "moves only water or protons (flux 1000 uM/h: h_e, h_p held constant)"
    model = read_model(out / "model.yaml")
    boundary = {m.id for m in model.metabolites if m.boundary}
    assert {"h_p", "h_c"} <= boundary and "a_p" not in boundary  # h_e: in no kept reaction
    # the physiology is a steady state: ORACLE samples it
    res = runner.invoke(
        app,
        ["sample", "-m", str(out / "model.yaml"), "-p", str(out / "state.yaml"), "--n", "20",
         "-q", "-o", str(tmp_path / "s.h5")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output


def test_every_oversized_rate_law_is_named_in_one_message(tmp_path):
    sbml, state = _network(tmp_path / "big.xml", True), _state(tmp_path / "big.csv", True)
    res = runner.invoke(
        app,
        ["build-model", "--sbml", str(sbml), "--steady-state", str(state), "-o",
         str(tmp_path / "m")],
    )  # fmt: skip
    assert res.exit_code == 2, res.output
    line = res.output.strip().splitlines()[-1]
    assert "2 reaction(s) exceed the limits of their rate law" in line
    assert "BIG9 (H1GeneralizedReversibleHill: 9 substrate places, takes 1–8)" in line
    assert "BIG10 (H1GeneralizedReversibleHill: 10 substrate places, takes 1–8)" in line
    assert not (tmp_path / "m").exists()
