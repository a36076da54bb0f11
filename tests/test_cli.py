"""The command line, as a user calls it: sample -> export -> label, and bad input."""

from __future__ import annotations

import csv

import h5py
import numpy as np
from typer.testing import CliRunner

from rekindle.cli import app
from rekindle.io.dataset import read_dataset

runner = CliRunner()


def _ok(args):
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    return res


def test_sample_export_label_round_trip(tmp_path):
    d, p, out = tmp_path / "d.h5", tmp_path / "p.h5", tmp_path / "l.csv"
    _ok(
        [
            "sample",
            "--model",
            "ecoli",
            "--physiology",
            "fdp2",
            "--n",
            "300",
            "--seed",
            "3",
            "--output",
            str(d),
            "-q",
        ]
    )
    ds = read_dataset(d)
    assert ds.n_models == 300 and ds.metadata["physiology"] == "fdp2" and ds.metadata["seed"] == 3
    _ok(["export", str(d), "--format", "skimpy", "--output", str(p)])
    _ok(
        [
            "label",
            "--model",
            "ecoli",
            "--physiology",
            "fdp2",
            "--parameters",
            str(p),
            "--output",
            str(out),
            "-q",
        ]
    )
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert [int(r["parameter_set"]) for r in rows] == list(range(300))
    lam = np.array([float(r["max_real_eigenvalue"]) for r in rows])
    np.testing.assert_allclose(lam, ds.max_real_eigenvalue, rtol=1e-12)
    assert [r["relevant"] == "True" for r in rows] == ds.relevant.tolist()


def test_label_with_names_file(tmp_path, reference_dir):
    out = tmp_path / "toy.csv"
    _ok(
        [
            "label",
            "--model",
            "ecoli",
            "--physiology",
            "fdp1",
            "--parameters",
            str(reference_dir / "rekindle" / "toy_parameter_sets.h5"),
            "--parameter-names",
            str(reference_dir / "rekindle" / "toy_parameter_names.txt"),
            "--output",
            str(out),
            "-q",
        ]
    )
    with out.open() as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1000 and rows[3]["parameter_set"] == "3"
    assert float(rows[3]["max_real_eigenvalue"]) == __import__("pytest").approx(
        41.0302644537754, rel=1e-6
    )


def test_bad_parameter_file_fails_cleanly_and_writes_nothing(tmp_path, toy):
    bad = tmp_path / "bad.h5"
    with h5py.File(bad, "w") as f:
        f["parameter_set_0"] = np.full(toy.n_parameters, np.nan)
        f["parameter_names"] = np.array(toy.parameter_names, dtype=object)
    out = tmp_path / "out.csv"
    res = runner.invoke(
        app, ["label", "--model", "toy", "--parameters", str(bad), "--output", str(out)]
    )
    assert res.exit_code == 2
    assert "non-finite" in res.output
    assert not out.exists()


def test_unknown_physiology_and_model_are_named(tmp_path):
    res = runner.invoke(
        app, ["sample", "--physiology", "fdp9", "--n", "5", "-o", str(tmp_path / "x.h5")]
    )
    assert res.exit_code == 2 and "fdp9" in res.output
    res = runner.invoke(app, ["info", "--model", "yeast"])
    assert res.exit_code == 2 and "yeast" in res.output
    assert not (tmp_path / "x.h5").exists()


def test_perturb_paper_protocol_writes_three_criteria(tmp_path):
    """`rekindle perturb --protocol paper --criterion rel-l2`: the headline uses rel-l2,
    perturbation.json carries the three fractions, and the figures are written."""
    import json

    d = tmp_path / "toy.h5"
    _ok(["sample", "--model", "toy", "--physiology", "ref", "--n", "60", "--seed", "1",
         "--output", str(d), "-q"])
    out = tmp_path / "pert"
    res = _ok(["perturb", str(d), "--output", str(out), "--models", "4", "--perturbations",
               "3", "--protocol", "paper", "--criterion", "rel-l2", "--followers", "link",
               "--t-end", "0.5", "-q"])
    assert "rel-max" in res.output
    rec = json.loads((out / "perturbation.json").read_text())["toy"]
    assert rec["protocol"] == "paper" and rec["criterion"] == "rel-l2"
    assert rec["followers"] == "link" and rec["t_end_h"] == 0.5
    assert rec["fraction_returned"] == rec["fraction_returned_rel_l2"]
    assert rec["fraction_returned_rel_l2"] <= rec["fraction_returned_rel_max"]
    assert rec["n_integrations"] + rec["n_no_initial_state"] == 12
    assert (out / "fig2e_returned_fraction.png").exists()
    bad = runner.invoke(app, ["perturb", str(d), "--output", str(out), "--criterion", "l1"])
    assert bad.exit_code == 2 and "criterion" in bad.output



def test_version_option_prints_the_installed_distribution_version() -> None:
    from importlib.metadata import version

    from typer.testing import CliRunner

    from rekindle.cli import app

    res = CliRunner().invoke(app, ["--version"])
    assert res.exit_code == 0
    assert res.output.strip() == f"rekindle {version('rekindle')}"


def test_generate_lets_idle_openmp_threads_sleep_unless_the_user_chose() -> None:
    # OpenMP reads OMP_WAIT_POLICY when torch loads: set before that, in a fresh process
    import os
    import subprocess
    import sys

    code = (
        "import os, sys\n"
        "from rekindle.cli.generate import _let_idle_threads_sleep\n"
        "assert 'torch' not in sys.modules\n"
        "_let_idle_threads_sleep()\n"
        "print(os.environ.get('OMP_WAIT_POLICY'))\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    for chosen, expected in ((None, "PASSIVE"), ("ACTIVE", "ACTIVE")):
        run_env = env if chosen is None else {**env, "OMP_WAIT_POLICY": chosen}
        out = subprocess.run(
            [sys.executable, "-c", code], env=run_env, capture_output=True, text=True, check=True
        )
        assert out.stdout.strip() == expected
