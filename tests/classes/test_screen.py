"""The learned screen of a costly class (rekindle.classes.screen): the logistic fit against
known generating weights, the AUC against its pair-counting definition, the audit's miss
rate against the true misses of a simulated class, and `generate --where … --screen` on
the toy model."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from rekindle.classes.screen import ReturnScreen, fit_logistic, roc_auc
from rekindle.cli import app
from rekindle.io.dataset import read_dataset


def test_fit_logistic_recovers_the_generating_weights() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((40_000, 3))
    w_true, b_true = np.array([1.5, -0.7, 0.0]), 0.3
    y = rng.random(40_000) < 1 / (1 + np.exp(-(x @ w_true + b_true)))
    w = fit_logistic(x, y, l2=0.0)
    np.testing.assert_allclose(w, [*w_true, b_true], atol=0.05)


def test_roc_auc_is_the_pair_counting_probability() -> None:
    rng = np.random.default_rng(1)
    s = np.round(rng.standard_normal(300), 1)  # ties
    y = rng.random(300) < 0.4
    pos, neg = s[y], s[~y]
    brute = ((pos[:, None] > neg[None, :]) + 0.5 * (pos[:, None] == neg[None, :])).mean()
    assert roc_auc(s, y) == pytest.approx(brute, abs=1e-12)


def test_audit_miss_rate_matches_the_true_misses_of_a_simulated_class() -> None:
    """Members drawn from a known P(returns | λ): the screen turns away candidates, and the
    members among them (known here, never seen by the screen) are the fraction the audit
    estimates; both near 1 − recall."""
    rng = np.random.default_rng(2)
    screen = ReturnScreen(recall=0.9, audit=0.2, warmup=300, refit_every=300, seed=3)
    missed = members = 0
    for _ in range(40):
        sigma = rng.random((250, 4))
        lam = rng.uniform(-40, -9, 250)
        returned = rng.random(250) < 1 / (1 + np.exp(-(-lam - 20) / 3))  # the truth
        feats = screen.features(sigma, lam)
        go, free, score = screen.select(feats)
        screen.update(feats[go], returned[go], free[go], score[go])
        if screen.fit is not None:
            members += int(returned.sum())
            missed += int((returned & ~go).sum())
    d = screen.diagnostics()
    assert d["auc_out_of_fold"] > 0.85 and d["turned_away"] > 1000
    true_miss = missed / members  # members never integrated / all members
    sd = np.sqrt(0.1 * 0.9 / d["audit_members"])
    # the audit estimates the misses of the screen alone (it then rescues its own share)
    assert abs(d["miss_rate"] * (1 - screen.audit) - true_miss) < 4 * sd
    assert abs(d["miss_rate"] - 0.1) < 4 * sd + 0.03


def test_generate_where_screen_on_the_toy_model(tmp_path) -> None:
    out = tmp_path / "R.h5"
    args = ["generate", "--model", "toy", "--physiology", "ref", "-o", str(out), "-q"]
    args += ["--where", "max_eig < -5 and returns(n=2, tol=0.01, t_end=0.35)"]
    args += ["--n", "400", "--population", "300", "--screen", "--screen-audit", "0.3"]
    args += ["--sequential"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    ds = read_dataset(out)
    assert ds.n_models == 400 and (ds.max_real_eigenvalue < -5).all()
    rounds = ds.metadata["class_rounds"]
    scr = rounds["screen"]
    assert scr["used"] and rounds["settings"]["screen"] is True
    assert rounds["settings"]["sequential_returns"] is True
    # sequential: at most 2 perturbations per integrated set (some stop after the first)
    assert rounds["perturbation_integrations"] <= 2 * (
        rounds["integrations_levels"] + rounds["integrations_production"]
    )
    # every candidate is integrated (warm-up, above the cut, audit) or turned away
    assert scr["turned_away"] == scr["candidates_screened"] - scr["integrated_screened"]
    integrated = rounds["integrations_levels"] + rounds["integrations_production"]
    assert integrated == scr["candidates_warmup"] + scr["integrated_screened"]
    # refused in one line: a screen for a class without returns, options without --screen
    for extra, message in (
        (["--where", "max_eig < -5", "--screen"], "has none"),
        (["--where", "max_eig < -5", "--sequential"], "--[no-]sequential applies"),
        (["--where", "max_eig < -5", "--no-sequential"], "--[no-]sequential applies"),
        (["--where", "relevant and returns", "--screen-recall", "0.9"], "only with --screen"),
        (["--where", "relevant and returns", "--screen", "--screen-recall", "1.5"], "recall"),
    ):
        base = ["generate", "--model", "toy", "--physiology", "ref", "-o", str(tmp_path / "x.h5")]
        res = CliRunner().invoke(app, [*base, *extra])
        assert res.exit_code == 2 and message in res.output, res.output
        assert not (tmp_path / "x.h5").exists()
    for flag in ("--sequential", "--no-sequential", "--screen"):  # without --where
        res = CliRunner().invoke(app, ["generate", "-o", str(tmp_path / "x.h5"), flag])
        assert res.exit_code == 2 and "apply only with --where" in res.output, res.output
        assert not (tmp_path / "x.h5").exists()


def test_sequential_stages_sum_to_the_perturbations() -> None:
    from rekindle.classes.generate import sequential_stages

    assert sequential_stages(10) == (1, 1, 2, 4, 2)
    assert sequential_stages(1) == (1,)
    assert all(sum(sequential_stages(n)) == n for n in range(1, 40))


def test_sequential_return_test_gives_the_full_tests_verdicts() -> None:
    """Stopping at the first perturbation that does not return leaves the indicator "all
    return" unchanged: the sequential test integrates the perturbations the full test
    draws, so on the toy model each of 600 sets gets the full test's verdict, for fewer
    integrations."""
    from rekindle.classes import parse_where
    from rekindle.classes.generate import class_engine
    from rekindle.io.model_bundle import load_bundle

    bundle = load_bundle("toy", "ref")
    spec = parse_where("returns(n=6, tol=0.01, t_end=0.35)")
    sigma = np.random.default_rng(4).random((600, len(bundle.model.km_names)))
    results = {}
    for sequential in (False, True):
        _, test, _ = class_engine(bundle.model, bundle.physiology, spec, sequential=sequential)
        results[sequential] = (test(sigma), test.integrations)
    (full, n_full), (seq, n_seq) = results[False], results[True]
    assert n_full == 600 * 6 and n_seq < n_full
    p = 0.5 * (full.mean() + seq.mean())
    assert 0.05 < p < 0.95  # the clause separates the sets: the check has power
    np.testing.assert_array_equal(seq, full)


def test_no_sequential_is_a_choice_the_settings_receive() -> None:
    """``--no-sequential`` reaches the sampler settings (False), an absent flag leaves the
    default (the sequential test), and ``--screen`` counts only when on."""
    from rekindle.classes import ClassSamplerSettings, parse_where
    from rekindle.cli.classes import _screen_options

    spec = parse_where("relevant and returns")
    given = {"screen": False, "screen_recall": None, "screen_audit": None}
    assert _screen_options(spec, "w", {**given, "sequential_returns": False}) == {
        "sequential_returns": False
    }
    assert _screen_options(spec, "w", {**given, "sequential_returns": None}) == {}
    assert ClassSamplerSettings().sequential_returns is True
