"""``--where`` everywhere a class is meant (issue 15): ``run`` and the analyses.

A class given by ``--where`` round-trips into each output's metadata (``summary.json``,
``oracle.h5``, ``generator.pt``, ``generated.h5``, ``dynamics.csv``,
``perturbation.json``, ``interpretability.json``, ``learning_curve.json``), and a
malformed, empty or contradictory one is refused in one line (exit 2, nothing written).
Everything runs on the toy model (3 concentrations, 10 K_M) at small sizes.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from tests.classes.toy_sets import TOY, sample_toy_sets
from typer.testing import CliRunner

from rekindle.classes import parse_where
from rekindle.classes.store import read_class
from rekindle.cli import app
from rekindle.io.dataset import read_dataset

runner = CliRunner()
WHERE = "tau_min < 12"  # ⇔ max Re(λ) < −5 1/h; about 70 % of the toy's ORACLE sets


@pytest.fixture(scope="module")
def toy(tmp_path_factory) -> Path:
    """A toy ORACLE dataset, a held-out one, and a `run --where` folder (flow, 1 500 sets)."""
    root = tmp_path_factory.mktemp("where")
    sample_toy_sets(root, (("S.h5", 0, 1200), ("H.h5", 1, 600)))
    args = ["run", *TOY, "--profile", "smoke", "--generator", "flow", "--n-sets", "1500"]
    res = runner.invoke(app, [*args, "--where", WHERE, "-o", str(root / "run"), "-q"])
    assert res.exit_code == 0, res.output
    return root


def test_run_where_records_the_class_in_every_output(toy) -> None:
    from rekindle.generation import load_generator

    spec = parse_where(WHERE)
    run = toy / "run"
    summary = json.loads((run / "summary.json").read_text())
    assert parse_where(summary["class_where"]) == spec
    assert summary["class_spec"] == spec.to_dict()
    assert summary["profile_settings"]["where"] == WHERE
    assert summary["profile_settings"]["threshold"] == -5.0  # the class is the threshold
    for name in ("oracle.h5", "generated.h5"):
        ds = read_dataset(run / name)
        assert read_class(ds.metadata) == spec and ds.metadata["threshold"] == -5.0
    oracle = read_dataset(run / "oracle.h5")
    # the labels are the class's, from the stored eigenvalues
    np.testing.assert_array_equal(oracle.relevant, spec.evaluate(oracle.max_real_eigenvalue))
    generated = read_dataset(run / "generated.h5")
    assert generated.incidence == pytest.approx(
        float(spec.evaluate(generated.max_real_eigenvalue).mean())
    )
    gen = load_generator(run / "generator.pt")
    assert read_class(gen.metadata, "generator") == spec and gen.threshold == -5.0


def test_dynamics_where_keeps_the_members_and_records_the_class(toy, tmp_path) -> None:
    data = toy / "S.h5"
    where = "-20 < max_eig < -5"
    out = tmp_path / "d"
    res = runner.invoke(app, ["dynamics", str(data), "--where", where, "-o", str(out)])
    assert res.exit_code == 0, res.output
    (row,) = list(csv.DictReader((out / "dynamics.csv").open()))
    lam = read_dataset(data).max_real_eigenvalue
    assert int(row["n"]) == int(((lam > -20) & (lam < -5)).sum())
    assert parse_where(row["class_where"]) == parse_where(where)
    assert float(row["fraction_relevant"]) == 1.0  # every member lies below its bound


def test_perturb_where_perturbs_the_members(toy, tmp_path) -> None:
    data = toy / "S.h5"
    out = tmp_path / "p"
    args = ["perturb", str(data), "--models", "4", "--perturbations", "2", "-q", "-o", str(out)]
    res = runner.invoke(app, [*args, "--where", "max_eig > -5"])  # the NON-relevant ones
    assert res.exit_code == 0, res.output
    rows = json.loads((out / "perturbation.json").read_text())
    (row,) = rows.values()
    assert parse_where(row["class_where"]) == parse_where("max_eig > -5")
    assert row["class_spec"]["eig_above"] == -5


def test_interpret_where_splits_by_the_class(toy, tmp_path) -> None:
    out = tmp_path / "i"
    gen = toy / "run" / "generator.pt"
    args = ["interpret", "-g", str(gen), "-o", str(out), "--n-per-class", "60"]
    res = runner.invoke(app, [*args, "--n-subpopulation", "300", "--where", "max_eig < -12"])
    assert res.exit_code == 0, res.output
    record = json.loads((out / "interpretability.json").read_text())
    assert parse_where(record["class_where"]) == parse_where("max_eig < -12")
    assert record["top_parameters"]  # both members and non-members were found


def test_learning_curve_where_relabels_copies_and_records_the_class(toy, tmp_path) -> None:
    out = tmp_path / "lc"
    args = ["learning-curve", "-d", str(toy / "S.h5"), "--heldout", str(toy / "H.h5")]
    args += ["-o", str(out), "--sizes", "1000", "--n-eval", "200", "--guide-epochs", "1"]
    res = runner.invoke(app, [*args, "--where", "max_eig < -8"])
    assert res.exit_code == 0, res.output
    rows = json.loads((out / "learning_curve.json").read_text())
    assert rows and all(parse_where(r["class_where"]) == parse_where("max_eig < -8") for r in rows)
    copy = read_dataset(out / "data_where.h5")
    np.testing.assert_array_equal(copy.relevant, copy.max_real_eigenvalue < -8)
    assert read_dataset(toy / "S.h5").metadata["threshold"] == -9.0  # the input untouched


R = ["run", *TOY, "--profile", "smoke", "--generator", "flow", "--n-sets", "300"]
REFUSALS = [
    ("run with --threshold", [*R, "--where", WHERE, "--threshold", "-5"], "both choose the class"),
    ("run returns", [*R, "--where", "relevant and returns"], "a returns clause needs integrations"),
    ("run empty", [*R, "--where", " "], "empty class"),
    ("run malformed", [*R, "--where", "max_eg < 3"], "unknown property 'max_eg'"),
    ("run contradictory", [*R, "--where", "-5 < max_eig < -20"], "contradictory class"),
    ("run twice", [*R, "--where", "relevant and max_eig < -3"], "bounded twice"),
    ("dynamics relevant-only", ["dynamics", "S.h5", "--relevant-only", "--where", WHERE],
     "--where and --relevant-only both choose the class"),
    ("dynamics threshold", ["dynamics", "S.h5", "--threshold", "-3", "--where", WHERE],
     "--where and --threshold both choose the class"),
    ("dynamics returns", ["dynamics", "S.h5", "--where", "relevant and returns"],
     "a returns clause needs integrations"),
    ("dynamics no member", ["dynamics", "S.h5", "--where", "max_eig < -1e6"],
     "has no member of the class"),
    ("perturb returns", ["perturb", "S.h5", "--where", "returns(n=2)"],
     "a returns clause needs integrations"),
    ("perturb contradictory", ["perturb", "S.h5", "--where", "tau_min < 1 and max_eig > -10"],
     "contradictory class"),
    ("interpret malformed", ["interpret", "-g", "run/generator.pt", "--where", "max_eig <"],
     "cannot read the clause"),
    ("learning-curve returns",
     ["learning-curve", "-d", "S.h5", "--heldout", "H.h5", "--sizes", "1000", "--where",
      "-20 < max_eig < -5 and returns"], "a returns clause needs integrations"),
    ("train returns", ["train", "--data", "S.h5", "--where", "max_eig < -5 and returns(n=2)"],
     "a returns clause needs integrations"),
]  # fmt: skip


@pytest.mark.parametrize(("name", "args", "message"), REFUSALS, ids=[c[0] for c in REFUSALS])
def test_where_refused_in_one_line_nothing_written(toy, monkeypatch, name, args, message):
    monkeypatch.chdir(toy)
    before = sorted(p.name for p in toy.iterdir())
    res = runner.invoke(app, [*args, "-o", "out_refused"])
    assert res.exit_code == 2, res.output
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message in lines[0], lines
    assert sorted(p.name for p in toy.iterdir()) == before  # nothing written
