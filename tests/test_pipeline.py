"""End to end: `rekindle run` (smoke profile), generation, export and re-labelling."""

from __future__ import annotations

import csv
import json
import re

import numpy as np
import pytest
from typer.testing import CliRunner

from rekindle.cli import app
from rekindle.io.dataset import read_dataset

runner = CliRunner()


@pytest.fixture(scope="module")
def smoke_run(smoke_run_files):
    """The smoke run of the E. coli model given as files (conftest.smoke_run_files)."""
    return smoke_run_files[1]


@pytest.mark.slow
def test_run_writes_the_run_folder(smoke_run):
    summary = json.loads((smoke_run / "summary.json").read_text())
    for key in (
        "incidence_training",
        "incidence_generated",
        "n_training",
        "epochs",
        "seconds",
        "returned_fraction_training",
        "returned_fraction_generated",
        "top_parameters",
        "spread_ratio_generated",
        "iqr_ratio_generated",
        "c2st_generated",
        "c2st_noise_floor",
        "ks_max_eig",
    ):
        assert key in summary, key
    assert summary["generator"] == "cgan"
    assert summary["profile_settings"]["cgan"]["epochs"] == summary["epochs"] == 6
    assert "flow" not in summary["profile_settings"]
    assert 0.3 < summary["c2st_noise_floor"] < 0.7
    oracle = read_dataset(smoke_run / "oracle.h5")
    assert summary["incidence_training"] == pytest.approx(oracle.incidence)
    assert summary["n_training"] == int(0.9 * oracle.n_models)
    assert len(summary["top_parameters"]) == 10
    for fig in (
        "fig2ab_training_curves.png",
        "fig2c_incidence_vs_kl.png",
        "fig2d_dynamics.png",
        "fig2e_returned_fraction.png",
        "fig3a_top_parameters.png",
        "fig3b_deciles.png",
        "fig_fidelity.png",
    ):
        assert (smoke_run / fig).stat().st_size > 1000, fig
    html = (smoke_run / "report.html").read_text()
    assert html.count("<img") >= 6 and "incidence" in html


@pytest.mark.slow
def test_generated_sets_are_complete_and_survive_export(smoke_run, tmp_path):
    gen = read_dataset(smoke_run / "generated.h5")
    names = gen.parameter_names
    vmax = gen.parameters[:, [i for i, n in enumerate(names) if n.startswith("vmax_forward_")]]
    km = gen.parameters[:, [i for i, n in enumerate(names) if n.startswith("km_")]]
    assert np.all(np.isfinite(vmax)) and np.all(vmax >= 0)
    assert np.all(np.isfinite(km)) and np.all(km > 0)
    # the labels stored with the generated models are the engine's: recompute them
    g2 = tmp_path / "g.h5"
    res = runner.invoke(
        app,
        [
            "generate",
            "--generator",
            str(smoke_run / "generator.pt"),
            "--n",
            "200",
            "--seed",
            "3",
            "--validate",
            "--output",
            str(g2),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    p = tmp_path / "p.h5"
    assert (
        runner.invoke(app, ["export", str(g2), "--format", "skimpy", "-o", str(p)]).exit_code == 0
    )
    out = tmp_path / "l.csv"
    res = runner.invoke(app, ["label", "--parameters", str(p), "--output", str(out), "-q"])
    assert res.exit_code == 0, res.output
    with out.open() as fh:
        lam = np.array([float(r["max_real_eigenvalue"]) for r in csv.DictReader(fh)])
    np.testing.assert_allclose(lam, read_dataset(g2).max_real_eigenvalue, rtol=1e-12)


@pytest.mark.slow
def test_only_valid_collects_exactly_n_relevant(smoke_run, tmp_path):
    g = tmp_path / "v.h5"
    res = runner.invoke(
        app,
        [
            "generate",
            "--generator",
            str(smoke_run / "generator.pt"),
            "--n",
            "300",
            "--only-valid",
            "--chunk-size",
            "256",
            "--output",
            str(g),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    ds = read_dataset(g)
    assert ds.n_models == 300 and ds.relevant.all()
    assert np.all(ds.max_real_eigenvalue < -9)


@pytest.mark.slow
def test_interrupted_generation_leaves_no_file(smoke_run, tmp_path):
    """Ctrl-C after the first chunk: neither the output nor a temporary file is left, and
    the same command then writes the file whole (same seed, the same rows as one pass)."""
    from rekindle.generation import generate_dataset, load_generator

    gan = load_generator(smoke_run / "generator.pt")
    out = tmp_path / "g.h5"

    def interrupt(done: int) -> None:
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        generate_dataset(gan, 700, out, chunk_size=200, seed=3, progress=interrupt)
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    generate_dataset(gan, 700, out, chunk_size=200, seed=3)
    again = generate_dataset(gan, 700, tmp_path / "h.h5", chunk_size=200, seed=3)
    assert again["n_written"] == 700
    a, b = read_dataset(out), read_dataset(tmp_path / "h.h5")
    np.testing.assert_array_equal(a.parameters, b.parameters)
    assert a.n_models == 700 and np.isfinite(a.parameters).all()


@pytest.mark.slow
def test_validation_on_a_dask_cluster_equals_local(smoke_run, tmp_path):
    distributed = pytest.importorskip("distributed")
    args = ["generate", "--generator", str(smoke_run / "generator.pt"), "--n", "1500"]
    args += ["--validate", "--chunk-size", "700", "--seed", "3", "-q"]
    res = runner.invoke(app, [*args, "--output", str(tmp_path / "local.h5")])
    assert res.exit_code == 0, res.output
    with distributed.LocalCluster(
        n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
    ) as cluster:
        remote = ["--output", str(tmp_path / "dask.h5"), "--scheduler", cluster.scheduler_address]
        res = runner.invoke(app, [*args, *remote])
    assert res.exit_code == 0, res.output
    a, b = read_dataset(tmp_path / "local.h5"), read_dataset(tmp_path / "dask.h5")
    np.testing.assert_array_equal(a.parameters, b.parameters)
    np.testing.assert_array_equal(a.max_real_eigenvalue, b.max_real_eigenvalue)
    assert np.isfinite(a.max_real_eigenvalue).all()


@pytest.mark.slow
def test_dynamics_reports_the_spread_of_each_dataset(smoke_run, tmp_path):
    oracle, generated = smoke_run / "oracle.h5", smoke_run / "generated.h5"
    res = runner.invoke(app, ["dynamics", str(oracle), str(generated), "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    with (tmp_path / "dynamics.csv").open() as fh:
        rows = {r["population"]: r for r in csv.DictReader(fh)}
    summary = json.loads((smoke_run / "summary.json").read_text())
    # the generated models against the relevant ORACLE models: the run's own number
    assert float(rows["generated"]["spread_ratio"]) == pytest.approx(
        summary["spread_ratio_median"], rel=1e-12
    )
    res = runner.invoke(
        app, ["dynamics", str(oracle), "--relevant-only", "-o", str(tmp_path / "r")]
    )
    assert res.exit_code == 0, res.output
    with (tmp_path / "r" / "dynamics.csv").open() as fh:
        (row,) = csv.DictReader(fh)
    assert float(row["spread_ratio"]) == pytest.approx(1.0, rel=1e-12)  # itself


def test_corrupted_generator_is_refused(tmp_path):
    bad = tmp_path / "generator.pt"
    bad.write_bytes(b"\x80\x02 not a torch file")
    res = runner.invoke(
        app, ["generate", "--generator", str(bad), "--n", "5", "--output", str(tmp_path / "g.h5")]
    )
    assert res.exit_code == 2
    assert "generator.pt" in res.output
    assert not (tmp_path / "g.h5").exists()


def test_perturbation_stage_reports_progress_in_models(toy, toy_ref, tmp_path):
    from contextlib import contextmanager

    from rekindle.analysis.perturbation import PerturbationSettings
    from rekindle.kinetics import KineticSystem
    from rekindle.sampling import sample_parameters
    from rekindle.stages import analyse_perturbations

    bars: dict[str, tuple[int, list[int]]] = {}

    @contextmanager
    def recording(description, total):
        seen: list[int] = []
        bars[description] = (total, seen)
        yield seen.append

    p, _, rel = sample_parameters(toy, toy_ref, 40, seed=1)
    res = analyse_perturbations(
        KineticSystem(toy),
        toy_ref,
        {"ORACLE": p[rel], "all": p},
        tmp_path,
        PerturbationSettings(protocol="fold", n_perturbations=3),
        n_models=6,
        progress=recording,
    )
    # one bar: both populations share the pool of workers
    assert list(bars) == ["perturbation analysis (ORACLE + all, models)"]
    total, seen = bars["perturbation analysis (ORACLE + all, models)"]
    # the bar ends exactly at its total (the models of both), never beyond, counting up
    assert total == 12 and seen[-1] == 12 and max(seen) == 12 and seen == sorted(seen)
    assert 0 <= res.summary()["returned_fraction_training"] <= 1


def test_paper_profile_trains_with_the_reference_recipe() -> None:
    """`--profile paper`: the authors' step, networks and scaling with the paper's sizes."""
    from rekindle.data import load_model, load_physiology
    from rekindle.gan import ArchitectureConfig, GlobalLogMinMaxScaler, TrainingConfig
    from rekindle.kinetics import KineticSystem
    from rekindle.pipeline import RunConfig
    from rekindle.stages import make_scaler

    cfg = RunConfig.from_profile("paper")
    plan = cfg.training_plan()
    tcfg = plan.training_config(repeat=2)
    assert tcfg == TrainingConfig.paper(seed=cfg.seed + 2, split_seed=cfg.seed)
    assert plan.architecture() == ArchitectureConfig.paper()
    assert (cfg.n_sets, cfg.repeats, tcfg.batch_size, tcfg.epochs) == (80_000, 5, 1024, 1000)
    system = KineticSystem(load_model("ecoli"))
    scaler = make_scaler(cfg.scaling, system, load_physiology("ecoli", "fdp1"))
    assert isinstance(scaler, GlobalLogMinMaxScaler)
    # the default profile trains with the dataclasses' defaults: one set of defaults
    default = RunConfig.from_profile("default").training_plan()
    assert default.training_config(0) == TrainingConfig(seed=0, split_seed=0)
    assert default.architecture() == ArchitectureConfig()


@pytest.mark.slow
def test_run_with_the_flow_generator_and_generate_from_it(tmp_path):
    """`run --generator flow`: the flow replaces GAN training; its generator.pt generates."""
    out = tmp_path / "flow_run"
    args = ["run", "--profile", "smoke", "--generator", "flow", "--output", str(out), "-q"]
    res = runner.invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["generator"] == "flow"
    assert summary["flow_training"]["n_train"] == int(0.9 * summary["n_oracle"])
    # exact marginals: the flow is as wide as the relevant training data
    assert summary["spread_ratio_generated"] == pytest.approx(1.0, abs=0.1)
    assert (out / "flow_history.csv").exists() and not (out / "training").exists()
    # only the flow's settings are recorded, and the report shows no cGAN setting
    settings = summary["profile_settings"]
    assert settings["flow"] == {
        "flow_transforms": 0,
        "flow_guide": True,
        "flow_guide_epochs": 4.0,
        "flow_guide_power": 1.0,
        "flow_guide_hidden": 256,
        "flow_guide_layers": 3,
    }
    assert settings["n_sets"] == 3000
    # the relevance guide was trained and reports its held-out accuracy
    guide = summary["flow_training"]["guide"]
    # 2 700 training rows / 1024 = 2 steps per pass, 4 passes
    assert guide["steps"] == 8 and 0.4 < guide["validation_accuracy"] <= 1.0
    assert not {"cgan", "epochs", "repeats", "batch_size", "recipe"} & set(settings)
    assert "epochs" not in summary and "repeats" not in summary
    report = (out / "report.html").read_text()
    assert not re.search(r"(?<![A-Za-z_])(epochs|repeats)\b", report)
    gen = out / "g.h5"
    res = runner.invoke(
        app, ["generate", "--generator", str(out / "generator.pt"), "--n", "500", "-o", str(gen)]
    )
    assert res.exit_code == 0, res.output
    assert read_dataset(gen).n_models == 500
    # the two generation modes of a guided flow, chosen on the command line
    for extra, name in ((["--unguided"], "u.h5"), (["--guided", "--power", "2"], "p.h5")):
        args = ["generate", "-g", str(out / "generator.pt"), "--n", "200", "-o", str(out / name)]
        res = runner.invoke(app, [*args, *extra])
        assert res.exit_code == 0, res.output
        assert read_dataset(out / name).n_models == 200


def test_train_cgan_takes_the_options_given_and_the_plan_defaults(tmp_path):
    """`train --generator cgan`: given options reach the training, the rest keep the plan's."""
    from rekindle.data import load_model, load_physiology
    from rekindle.generation import load_generator
    from rekindle.sampling import sample_dataset
    from rekindle.stages import TrainingPlan

    data = sample_dataset(
        load_model("toy"), load_physiology("toy", "ref"), 600, tmp_path / "d.h5", seed=0, n_jobs=1
    )
    out = tmp_path / "g"
    args = ["train", "-d", str(data), "-o", str(out), "--generator", "cgan", "--epochs", "2"]
    res = runner.invoke(app, [*args, "--eval-every", "1", "--n-eval", "100", "--batch-size", "64"])
    assert res.exit_code == 0, res.output
    cfg = load_generator(out / "generator.pt").training_config
    assert (cfg.epochs, cfg.batch_size, cfg.eval_every, cfg.n_eval) == (2, 64, 1, 100)
    assert cfg.learning_rate == TrainingPlan().learning_rate
    rows = (out / "training" / "repeat_0" / "metrics.csv").read_text().splitlines()
    assert [r.split(",")[0] for r in rows[1:]] == ["1", "2"]  # one evaluation per epoch


def test_train_flow_and_learning_curve_commands(tmp_path):
    """`train` (flow, the default) streams a dataset; `learning-curve` writes its table."""
    from rekindle.data import load_model, load_physiology
    from rekindle.sampling import sample_dataset

    model, phys = load_model("toy"), load_physiology("toy", "ref")
    data = sample_dataset(model, phys, 3000, tmp_path / "d.h5", seed=0, n_jobs=1)
    held = sample_dataset(model, phys, 2000, tmp_path / "h.h5", seed=1, n_jobs=1)
    args = ["train", "--data", str(data), "--output", str(tmp_path / "f")]  # the flow
    res = runner.invoke(app, [*args, "--max-sets", "2000", "--guide-epochs", "4"])
    assert res.exit_code == 0, res.output
    assert "flow on 1800 sets" in res.output and "guide held-out accuracy" in res.output
    # the mode kept is the one with the higher incidence (guide's held-out estimate against
    # engine-labelled copula draws), and the saved generator generates in it by default
    from rekindle.flow import KineticFlow

    assert "generation mode:" in res.output
    flow = KineticFlow.load(tmp_path / "f" / "generator.pt")
    choice = flow.training_summary["mode_choice"]
    assert 0.0 < choice["copula_incidence"] < 1.0
    guided = choice["guided_expected_incidence"] > choice["copula_incidence"]
    assert choice["mode"] == ("guided" if guided else "copula")
    assert flow.default_guided is guided
    kept = flow.generate(50, "relevant", seed=3)
    assert np.array_equal(kept, flow.generate(50, "relevant", seed=3, guided=guided))
    res = runner.invoke(
        app, ["train", "--data", str(data), "-o", str(tmp_path / "x"), "--generator", "vae"]
    )
    assert res.exit_code == 2 and "--generator must be cgan or flow" in res.output
    lc = ["learning-curve", "--data", str(data), "--heldout", str(held), "-o", str(tmp_path / "lc")]
    lc += ["--sizes", "1000", "--sizes", "3000", "--n-eval", "500", "--guide-epochs", "4"]
    res = runner.invoke(app, lc)
    assert res.exit_code == 0, res.output
    # header + (copula, guided) × 2 sizes
    assert len((tmp_path / "lc" / "learning_curve.csv").read_text().splitlines()) == 5
