"""`rekindle import-model`: the published SKiMpy file + steady states give the embedded model."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rekindle.cli import app
from rekindle.data import load_model, load_physiology
from rekindle.errors import PhysiologyError
from rekindle.io.model_yaml import model_to_dict, read_model, read_physiology
from rekindle.io.skimpy_import import import_skimpy
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.labelling import Labeller

EXTRA = Path(__file__).resolve().parents[2] / "examples" / "ecoli_from_skimpy" / "extra.yaml"
runner = CliRunner()


def _skimpy(reference_dir: Path) -> Path:
    return reference_dir / "skimpy" / "varma_strain_1.yml"


def _state(reference_dir: Path, name: str = "fdp1") -> Path:
    return reference_dir / "rekindle" / f"steady_state_{name}.csv"


def _edited_state(reference_dir: Path, tmp_path: Path, edit) -> Path:
    """A copy of the fdp1 steady state with ``edit(row)`` applied."""
    with _state(reference_dir).open(newline="") as fh:
        header, values = list(csv.reader(fh))[:2]
    row = dict(zip(header, values, strict=True))
    edit(row)
    out = tmp_path / "steady_state_edited.csv"
    with out.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(list(row))
        w.writerow(list(row.values()))
    return out


def test_import_model_rebuilds_the_embedded_model(reference_dir, tmp_path, published_toy_sets):
    args = ["import-model", "--skimpy", str(_skimpy(reference_dir)), "--output", str(tmp_path)]
    for name in ("fdp1", "fdp4"):
        args += ["--steady-state", str(_state(reference_dir, name))]
    res = runner.invoke(app, [*args, "--extra", str(EXTRA)])
    assert res.exit_code == 0, res.output
    model = read_model(tmp_path / "model.yaml")
    assert model_to_dict(model) == model_to_dict(load_model("ecoli"))
    fdp1 = read_physiology(tmp_path / "fdp1.yaml")
    assert (tmp_path / "fdp4.yaml").is_file()
    ref = load_physiology("ecoli", "fdp1")
    assert dict(fdp1.concentrations) == dict(ref.concentrations)
    assert dict(fdp1.fluxes) == dict(ref.fluxes)
    # the published toy sets have the published eigenvalues under the imported model
    idx, params, _, published = published_toy_sets
    rows = [i for i, k in enumerate(idx) if int(k) in published][:200]
    lam = Labeller(KineticSystem(model), fdp1).max_real_eigenvalues(params[rows])
    expected = np.array([published[int(idx[i])] for i in rows])
    assert np.all(np.abs(lam - expected) <= 1e-4 * np.maximum(1.0, np.abs(expected)))


def test_missing_reactions_leave_metabolites_unbalanced(reference_dir, tmp_path):
    out = tmp_path / "out"
    res = runner.invoke(
        app,
        [
            "import-model",
            "--skimpy",
            str(_skimpy(reference_dir)),
            "--steady-state",
            str(_state(reference_dir)),
            "--output",
            str(out),
        ],
    )
    assert res.exit_code == 2
    message = " ".join(res.output.split())  # the console wraps long lines
    assert "metabolite 'ac_c' is not at steady state" in message
    assert "steady_state_fdp1.csv" in message
    assert not out.exists()


def test_a_flux_against_its_gibbs_energy_is_refused(reference_dir, tmp_path):
    def flip(row):
        row["DG_PGI"] = str(-float(row["DG_PGI"]))

    state = _edited_state(reference_dir, tmp_path, flip)
    with pytest.raises(PhysiologyError, match=r"flux of 'PGI' .* runs against its ΔG"):
        import_skimpy(_skimpy(reference_dir), [state], EXTRA)


def test_a_metabolite_without_a_concentration_is_refused(reference_dir, tmp_path):
    state = _edited_state(reference_dir, tmp_path, lambda row: row.pop("LC_actp_c"))
    with pytest.raises(PhysiologyError, match=r"steady_state_edited\.csv: no LC_ column .*actp_c"):
        import_skimpy(_skimpy(reference_dir), [state], EXTRA)


def test_a_skimpy_file_given_as_a_model_points_to_import_model(tmp_path):
    path = tmp_path / "net.yml"
    path.write_text("reactants: {a_c: {compartment: c}}\nreactions: {}\n")
    res = runner.invoke(app, ["info", "--model", str(path), "--physiology", str(path)])
    assert res.exit_code == 2, res.output
    assert "use `rekindle import-model`" in " ".join(res.output.split())
