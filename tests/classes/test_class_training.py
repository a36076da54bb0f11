"""Bands and lower bounds where generators are trained (issue 15): ``train --where``,
``run --where``, ``learning-curve --where`` take any eigenvalue class.

The labels are checked against the class itself (:meth:`ClassSpec.evaluate`) on
eigenvalues the exact engine computes again, never against ``λ < threshold``. Everything
runs on the toy model (3 concentrations, 10 K_M; its ORACLE max Re(λ) lie in about
(−19, −0.4) 1/h, so the bands below cut both tails).
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from tests.classes.toy_sets import TOY, sample_toy_sets
from typer.testing import CliRunner

from rekindle.classes import parse_where
from rekindle.classes.store import class_threshold, read_class
from rekindle.cli import app
from rekindle.errors import ConfigError, DatasetError
from rekindle.io.dataset import read_dataset, relevance_interval
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.labelling import Labeller
from rekindle.kinetics.stability import relevance_labels

runner = CliRunner()
BAND = "-13 < max_eig < -6"
LOWER = "max_eig > -5"


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """1 500 toy ORACLE sets (seed 0) and 600 held-out ones (seed 1)."""
    root = tmp_path_factory.mktemp("bands")
    sample_toy_sets(root, (("S.h5", 0, 1500), ("H.h5", 1, 600)))
    return root


@pytest.mark.parametrize("where", [BAND, LOWER, "max_eig < -9", "tau_min < 12 and max_eig > -8"])
def test_relevance_labels_are_the_class_membership_on_its_boundaries(where) -> None:
    """Both ends open, ±∞ and NaN outside: the labels and eig_member agree on every value
    at, just inside and just outside each end."""
    spec = parse_where(where)
    low, high = spec.eig_interval
    ends = [v for v in (low, high) if math.isfinite(v)]
    near = [np.nextafter(v, s) for v in ends for s in (-np.inf, np.inf)]
    lam = np.array([*ends, *near, -np.inf, np.inf, np.nan, -1e300, 1e300, -7.0, 0.0])
    labels = relevance_labels(lam, high, low)
    np.testing.assert_array_equal(labels, spec.eig_member(lam))
    assert not labels[: len(ends)].any()  # the ends themselves are outside
    assert labels[: len(ends) + len(near)].sum() == len(ends)  # one side of each end is in


def test_labeller_and_sampler_label_a_band_and_a_lower_bound_as_the_class(toy, toy_ref) -> None:
    """On 2 000 sampled toy sets: the Labeller with the class's interval, and the sampler
    given it, give exactly ClassSpec.evaluate of the stored max Re(λ)."""
    from rekindle.sampling import sample_parameters

    system = KineticSystem(toy)
    for where in (BAND, LOWER):
        spec = parse_where(where)
        low, high = spec.eig_interval
        params, lam, rel = sample_parameters(toy, toy_ref, 2000, seed=4, threshold=high, lower=low)
        member = spec.evaluate(lam)
        np.testing.assert_array_equal(rel, member)
        assert 0.1 < member.mean() < 0.9  # both classes present: the labels can fail
        assert (member != (lam < high)).any()  # and differ from "below the upper end"
        lam2, rel2 = Labeller(system, toy_ref, high, lower=low).label(params)
        np.testing.assert_array_equal(lam2, lam)
        np.testing.assert_array_equal(rel2, member)
    with pytest.raises(ValueError, match="lower -5 must be below the threshold -9"):
        Labeller(system, toy_ref, -9.0, lower=-5.0)


def test_run_config_takes_bands_and_lower_bounds() -> None:
    from rekindle.pipeline import RunConfig

    band = RunConfig.from_profile("smoke", where=BAND)
    assert band.threshold == -6.0 and band.relevance_interval == (-13.0, -6.0)
    lower = RunConfig.from_profile("smoke", where=LOWER)  # no upper end: the lower one
    assert lower.threshold == -5.0 and lower.relevance_interval == (-5.0, math.inf)
    assert class_threshold(parse_where(LOWER)) == -5.0
    with pytest.raises(ConfigError, match="has the threshold -6 1/h"):
        RunConfig.from_profile("smoke", where=BAND, threshold=-9.0)
    with pytest.raises(ConfigError, match="a returns clause needs integrations"):
        RunConfig.from_profile("smoke", where="max_eig < -9 and returns")
    # without a class: below the threshold, as before
    assert RunConfig.from_profile("smoke").relevance_interval == (-math.inf, -9.0)
    assert relevance_interval({"threshold": -7.0}) == (-math.inf, -7.0)
    # a recorded class: its interval (tau_min < 12 ⇔ max_eig < −5), read without ClassSpec
    from rekindle.classes.store import class_attrs

    record = class_attrs(parse_where("tau_min < 12 and max_eig > -8"))
    assert relevance_interval({"threshold": -9.0, **record}) == (-8.0, -5.0)
    # a returns clause is not decided by λ: the threshold, as before
    record = class_attrs(parse_where("max_eig < -20 and returns"))
    assert relevance_interval({"threshold": -9.0, **record}) == (-math.inf, -9.0)
    with pytest.raises(DatasetError, match=r"G\.pt: damaged class record"):
        relevance_interval({"class_spec": "[1, 2"}, "G.pt")


def _engine_max_eig(path: Path) -> tuple[np.ndarray, np.ndarray, object]:
    """Stored labels, and max Re(λ) of the stored parameters computed again by the engine."""
    ds = read_dataset(path)
    bundle = ds.bundle()
    lam = Labeller(KineticSystem(bundle.model), bundle.physiology).max_real_eigenvalues(
        ds.parameters
    )
    np.testing.assert_allclose(ds.max_real_eigenvalue, lam, rtol=1e-12, atol=0)
    return ds.relevant, lam, ds


@pytest.mark.parametrize(("generator", "where"), [("flow", BAND), ("cgan", BAND), ("flow", LOWER)])
def test_train_where_learns_the_class_and_generate_validate_labels_by_it(
    data, tmp_path, generator, where
) -> None:
    """`train --where` on a band or lower bound: the generator records the class (and its
    threshold), and `generate --validate` labels by membership, not by λ < threshold."""
    from rekindle.generation import load_generator

    spec = parse_where(where)
    out = tmp_path / "g"
    args = ["train", "--data", str(data / "S.h5"), "-o", str(out), "--generator", generator, "-q"]
    extra = ["--guide-epochs", "1"] if generator == "flow" else ["--epochs", "4", "--repeats", "1"]
    res = runner.invoke(app, [*args, "--where", where, *extra])
    assert res.exit_code == 0, res.output
    gen = load_generator(out / "generator.pt")
    assert read_class(gen.metadata, "generator") == spec
    assert gen.threshold == class_threshold(spec)
    assert gen.relevance_interval == spec.eig_interval
    gen_file = tmp_path / "G.h5"
    args = ["generate", "-g", str(out / "generator.pt"), "--n", "400", "--validate"]
    res = runner.invoke(app, [*args, "--seed", "3", "-o", str(gen_file), "-q"])
    assert res.exit_code == 0, res.output
    relevant, lam, ds = _engine_max_eig(gen_file)
    np.testing.assert_array_equal(relevant, spec.evaluate(lam))
    assert (relevant != (lam < gen.threshold)).any()  # not the labels of "below threshold"
    assert read_class(ds.metadata) == spec
    training = read_dataset(out / "data_where.h5")
    np.testing.assert_array_equal(training.relevant, spec.evaluate(training.max_real_eigenvalue))
    if generator == "flow":  # the class is learnt: well above its share of the data
        assert relevant.mean() > training.incidence + 0.15, (relevant.mean(), training.incidence)
    if generator == "flow" and where == BAND:
        _interpret_splits_by_the_recorded_class(gen, out / "generator.pt", tmp_path / "i")


def _interpret_splits_by_the_recorded_class(gen, path: Path, out: Path) -> None:
    """`interpret` without --where on a band generator: its Fig. 3b deciles hold the band's
    members among the 300 relevant-class models (seed 0 + 30 000), counted here by the
    engine and the class, which differs from the count below the threshold."""
    from rekindle.generation import labeller_for

    args = ["interpret", "-g", str(path), "-o", str(out), "--n-per-class", "40"]
    res = runner.invoke(app, [*args, "--n-subpopulation", "300"])
    assert res.exit_code == 0, res.output
    record = json.loads((out / "interpretability.json").read_text())
    kept = sum(int(r["n"]) for r in record["deciles_top_parameter"]["rows"])
    lam = labeller_for(gen).label_km(gen.generate(300, "relevant", seed=30_000), check=False)[1]
    assert kept == int(parse_where(BAND).eig_member(lam).sum())
    assert kept != int((lam < gen.threshold).sum())


def test_learning_curve_where_band_counts_the_band(data, tmp_path) -> None:
    spec = parse_where(BAND)
    out = tmp_path / "lc"
    args = ["learning-curve", "-d", str(data / "S.h5"), "--heldout", str(data / "H.h5")]
    args += ["-o", str(out), "--sizes", "1000", "--n-eval", "200", "--guide-epochs", "1"]
    res = runner.invoke(app, [*args, "--where", BAND])
    assert res.exit_code == 0, res.output
    rows = json.loads((out / "learning_curve.json").read_text())
    assert rows and all(parse_where(r["class_where"]) == spec for r in rows)
    for name in ("data_where.h5", "heldout_where.h5"):
        copy = read_dataset(out / name)
        np.testing.assert_array_equal(copy.relevant, spec.evaluate(copy.max_real_eigenvalue))
        assert copy.metadata["threshold"] == -6.0
        assert (copy.max_real_eigenvalue < -13).any()  # the band excludes some below it
    # the flows learn the band: their members' share is above the data's
    incidence = read_dataset(out / "data_where.h5").incidence
    assert max(r["incidence"] for r in rows) > incidence


def test_run_where_band_labels_every_output_by_the_band(data, tmp_path) -> None:
    """`run --where` with a band (flow, smoke profile, ~7 s): the data, the generated models
    and the summary are the band's, the generated labels exact against the engine."""
    spec = parse_where(BAND)
    run = tmp_path / "run"
    args = ["run", *TOY, "--profile", "smoke", "--generator", "flow", "--n-sets", "1500"]
    res = runner.invoke(app, [*args, "--where", BAND, "-o", str(run), "-q"])
    assert res.exit_code == 0, res.output
    summary = json.loads((run / "summary.json").read_text())
    assert summary["class_interval"] == [-13.0, -6.0]
    assert summary["profile_settings"]["threshold"] == -6.0
    oracle = read_dataset(run / "oracle.h5")
    np.testing.assert_array_equal(oracle.relevant, spec.evaluate(oracle.max_real_eigenvalue))
    assert (oracle.max_real_eigenvalue < -13).any()
    assert summary["incidence_training"] == pytest.approx(oracle.incidence)
    relevant, lam, ds = _engine_max_eig(run / "generated.h5")
    np.testing.assert_array_equal(relevant, spec.evaluate(lam))
    assert read_class(ds.metadata) == spec
    assert summary["incidence_generated"] == pytest.approx(relevant.mean())
    assert summary["incidence_generated"] > oracle.incidence
