"""Transfer learning experiment: rows, figures, and the pretrained baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rekindle.data import load_model, load_physiology
from rekindle.gan import ArchitectureConfig, KineticGAN, SaturationScaler, TrainingConfig
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.labelling import Labeller
from rekindle.sampling import km_reference_concentrations, sample_parameters
from rekindle.stages.transfer import TransferSettings, run_transfer_experiment


@pytest.mark.slow
def test_transfer_experiment_writes_rows_and_figures(tmp_path):
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    system = KineticSystem(model)
    params, _, rel = sample_parameters(model, phys, 2000, seed=0)
    gan = KineticGAN(
        system.km_of(params),
        rel,
        model.km_names,
        {"model": "ecoli", "physiology": "fdp1", "threshold": -9.0},
        scaler=SaturationScaler(km_reference_concentrations(model, phys)),
        architecture=ArchitectureConfig(label_encoding="onehot"),
    )
    gan.train(
        Labeller(system, phys, n_jobs=1),
        TrainingConfig(epochs=2, eval_every=1, n_eval=200, num_threads=1),
    )
    gan.save(tmp_path / "generator.pt")
    st = TransferSettings(
        targets=("fdp4",),
        n_sets=(10,),
        epochs_transfer=10,
        epochs_scratch=10,
        eval_every=5,
        n_eval=200,
        n_validation_models=5,
        n_validation_perturbations=2,
    )
    rows = run_transfer_experiment(tmp_path / "generator.pt", tmp_path / "tl", st)
    modes = sorted(r["mode"] for r in rows)
    assert modes == ["pretrained", "scratch", "transfer"]
    for r in rows:
        assert r["source"] == "fdp1" and r["target"] == "fdp4"
        assert 0.0 <= r["incidence"] <= 1.0
        # trained generators report their width against the target sets
        assert (r["mode"] == "pretrained") == np.isnan(r["spread_ratio"])
        assert r["mode"] == "pretrained" or r["spread_ratio"] > 0
    # the incidence is measured by the engine at the *target* physiology
    t4 = load_physiology("ecoli", "fdp4")
    pre = KineticGAN.load(tmp_path / "generator.pt")
    lam = Labeller(system, t4, n_jobs=1)(pre.generate(200, "relevant", seed=0))
    assert rows[0]["incidence"] == pytest.approx(np.mean(lam < -9))
    for f in ("transfer.csv", "fig4b_transfer_incidence.png", "fig4c_transfer_validation.png"):
        assert (tmp_path / "tl" / f).stat().st_size > 0
    saved = json.loads((tmp_path / "tl" / "transfer.json").read_text())
    assert saved["source"] == "fdp1" and len(saved["rows"]) == 3


@pytest.fixture(scope="module")
def flow_file(tmp_path_factory):
    """A small guided flow of E. coli at fdp1 (2 000 ORACLE sets), the default generator."""
    from rekindle.flow import FlowConfig, GuideConfig
    from rekindle.flow.model import fit_flow_generator
    from rekindle.io.model_bundle import load_bundle

    bundle = load_bundle("ecoli", "fdp1")
    system = KineticSystem(bundle.model)
    params, lam, rel = sample_parameters(bundle.model, bundle.physiology, 2000, seed=0)
    out = tmp_path_factory.mktemp("flow")
    fit_flow_generator(
        bundle,
        out,
        FlowConfig(transforms=0),
        km=system.km_of(params),
        relevant=rel,
        max_eig=lam,
        guide_config=GuideConfig(hidden=32, layers=1, epochs=2),
    )
    return out / "generator.pt"


@pytest.mark.slow
def test_cli_transfer_and_interpret_take_the_flow(flow_file, tmp_path):
    """`rekindle transfer` and `rekindle interpret` on the default generator (a flow)."""
    from typer.testing import CliRunner

    from rekindle.cli import app

    runner = CliRunner()
    args = ["transfer", "-g", str(flow_file), "-o", str(tmp_path / "tl"), "--target", "fdp4"]
    args += ["--n-sets", "10", "--n-eval", "300", "--validation-models", "2"]
    res = runner.invoke(app, [*args, "--n-reference", "300"])
    assert res.exit_code == 0, res.output
    saved = json.loads((tmp_path / "tl" / "transfer.json").read_text())
    assert saved["generator"] == "flow" and saved["source"] == "fdp1"
    rows = {r["mode"]: r for r in saved["rows"]}
    assert sorted(rows) == ["pretrained", "scratch", "transfer"]
    # the pretrained flow generates at fdp1's concentrations: at fdp4 its K_M are
    # told apart from fdp4's ORACLE sets; the transferred flow's are re-referenced
    assert rows["pretrained"]["c2st_reference"] > 0.9
    assert rows["transfer"]["c2st_reference"] < 0.75
    assert rows["transfer"]["incidence"] > rows["pretrained"]["incidence"] + 0.2
    assert 0.9 < rows["transfer"]["spread_ratio_reference"] < 1.1
    for f in ("transfer.csv", "fig4b_transfer_incidence.png", "fig4c_transfer_validation.png"):
        assert (tmp_path / "tl" / f).stat().st_size > 0
    refused = runner.invoke(app, [*args, "--freeze", "hidden.0", "-o", str(tmp_path / "f")])
    assert refused.exit_code == 2 and "freeze" in refused.output
    interpret = ["interpret", "-g", str(flow_file), "-o", str(tmp_path / "i")]
    res = runner.invoke(app, [*interpret, "--n-per-class", "100", "--n-subpopulation", "500"])
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "i" / "interpretability.json").read_text())
    assert len(summary["top_parameters"]) == 10
    names = [r["name"] for r in summary["top_parameters"]]
    assert set(names) <= set(load_model("ecoli").km_names)
    assert (tmp_path / "i" / "fig3b_deciles.png").stat().st_size > 0


def test_transfer_settings_refuse_bad_prior_weights():
    from rekindle.errors import ConfigError

    for bad in ({"prior_sets": 0.0}, {"copula_prior_sets": 1.0}, {"n_reference": 5}):
        with pytest.raises(ConfigError, match=next(iter(bad))):
            TransferSettings(**bad)
    assert TransferSettings(n_reference=0).n_reference == 0
