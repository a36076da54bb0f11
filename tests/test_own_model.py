"""A model known to rekindle only as a file goes through every command (issue 8, acceptance).

The E. coli model and fdp1 are copied under names rekindle does not know; after
`run --model FILE --physiology FILE`, every later command works on the outputs without
naming the model again, and refuses to mix them with data of another model.
"""

from __future__ import annotations

import json
import shlex

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rekindle.cli import app
from rekindle.flow import KineticFlow
from rekindle.io.dataset import read_dataset

runner = CliRunner()


def _ok(command: str) -> str:
    """Run ``rekindle COMMAND`` (paths without spaces); assert it succeeds."""
    res = runner.invoke(app, shlex.split(command))
    assert res.exit_code == 0, res.output
    return res.output


@pytest.fixture(scope="module")
def own(smoke_run_files):
    """Model + two physiology files under new names, and a smoke run on them."""
    return smoke_run_files


@pytest.mark.slow
def test_run_on_a_model_file_embeds_the_model(own):
    _, run = own
    summary = json.loads((run / "summary.json").read_text())
    assert summary["model"] == "my_network" and summary["physiology"] == "cond"
    assert 0.0 < summary["incidence_training"] < 1.0
    bundle = read_dataset(run / "generated.h5").bundle()
    assert bundle.model.name == "my_network" and bundle.physiology.name == "cond"
    html = (run / "report.html").read_text()
    assert "incidence" in html


@pytest.mark.slow
def test_later_commands_need_no_model_name(own, tmp_path):
    root, run = own
    gen = tmp_path / "g.h5"
    out = _ok(f"generate -g {run}/generator.pt --n 300 --validate --seed 3 -o {gen} -q")
    assert "incidence" in out
    g = read_dataset(gen)
    assert g.bundle().model.name == "my_network" and np.isfinite(g.max_real_eigenvalue).all()
    _ok(f"dynamics {run}/oracle.h5 {gen} -o {tmp_path}/dyn")
    assert (tmp_path / "dyn" / "dynamics.csv").is_file()
    _ok(f"perturb {run}/oracle.h5 {gen} -o {tmp_path}/pert --models 3 --perturbations 2 -q")
    assert (tmp_path / "pert" / "perturbation.json").is_file()
    _ok(f"interpret -g {run}/generator.pt -o {tmp_path}/i --n-per-class 30 --n-subpopulation 300")
    assert (tmp_path / "i" / "interpretability.json").is_file()
    _ok(f"train --generator cgan -d {run}/oracle.h5 -o {tmp_path}/tr --epochs 1 --n-eval 100 -q")
    trained = torch.load(tmp_path / "tr" / "generator.pt", weights_only=True)["metadata"]
    assert trained["model_sha256"] == read_dataset(run / "oracle.h5").metadata["model_sha256"]
    _ok(
        f"transfer -g {run}/generator.pt -o {tmp_path}/tl --target {root}/cond_b.yaml "
        "--n-sets 10 --epochs 2 --no-scratch --validation-models 5"
    )
    rows = json.loads((tmp_path / "tl" / "transfer.json").read_text())["rows"]
    assert {r["target"] for r in rows} == {"cond_b"} and rows[0]["source"] == "cond"
    _ok(f"report {run} -o {tmp_path}/report.html")
    assert (tmp_path / "report.html").stat().st_size > 1000


@pytest.mark.slow
def test_data_of_different_models_are_not_mixed(own, tmp_path):
    _, run = own
    other = tmp_path / "ecoli.h5"
    _ok(f"sample --model ecoli --physiology fdp1 --n 50 -o {other} -q")
    for cmd in ("dynamics", "perturb"):
        res = runner.invoke(app, shlex.split(f"{cmd} {run}/oracle.h5 {other} -o {tmp_path}/x"))
        assert res.exit_code == 2, res.output
        message = " ".join(res.output.split())  # the console wraps long lines
        assert "made from model 'ecoli'" in message and "'my_network'" in message
        assert "different models" in message
    # a run folder of one model is not continued with another
    res = runner.invoke(app, shlex.split(f"run --profile smoke -o {run} -q"))
    assert res.exit_code == 2 and "different models" in " ".join(res.output.split()), res.output


@pytest.mark.slow
def test_flow_generator_carries_the_model_file(own, tmp_path):
    """The default generator (flow) trained on model-file data generates, is interpreted and
    transferred to another physiology file without the model."""
    root, run = own
    _ok(f"train --generator flow --data {run}/oracle.h5 -o {tmp_path}/flow --guide-epochs 4 -q")
    assert KineticFlow.load(tmp_path / "flow" / "generator.pt").guide is not None
    meta = torch.load(tmp_path / "flow" / "generator.pt", weights_only=True)["metadata"]
    assert meta["model_sha256"] == read_dataset(run / "oracle.h5").metadata["model_sha256"]
    gen = tmp_path / "g.h5"
    _ok(f"generate -g {tmp_path}/flow/generator.pt --n 200 --validate --seed 1 -o {gen} -q")
    g = read_dataset(gen)
    assert g.bundle().model.name == "my_network" and np.isfinite(g.max_real_eigenvalue).all()
    flow = f"{tmp_path}/flow/generator.pt"
    _ok(f"interpret -g {flow} -o {tmp_path}/i --n-per-class 30 --n-subpopulation 300")
    assert (tmp_path / "i" / "interpretability.json").is_file()
    _ok(
        f"transfer -g {flow} -o {tmp_path}/tl --target {root}/cond_b.yaml --n-sets 10 "
        "--n-eval 200 --validation-models 0"
    )
    saved = json.loads((tmp_path / "tl" / "transfer.json").read_text())
    assert saved["generator"] == "flow" and saved["source"] == "cond"
    assert {r["target"] for r in saved["rows"]} == {"cond_b"}
