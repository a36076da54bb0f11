"""Transfer learning experiment: rows, figures, and the pretrained baseline."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rekindle.analysis.transfer import TransferSettings, run_transfer_experiment
from rekindle.data import load_model, load_physiology
from rekindle.gan import ArchitectureConfig, KineticGAN, SaturationScaler, TrainingConfig
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.labelling import Labeller
from rekindle.sampling import km_reference_concentrations, sample_parameters


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
