"""Tests for rekindle.analysis.perturbation: perturbed states, the analysis and its summaries."""

from __future__ import annotations

import csv
import json
import math
from dataclasses import replace

import numpy as np
import pytest

from rekindle.analysis.initial_states import draw_initial_states, follower_states
from rekindle.analysis.perturbation import (
    CRITERIA,
    PERTURBATION_OPTIONS,
    PerturbationSettings,
    deviations,
    perturbation_analyses,
    perturbation_analysis,
    time_grid,
)
from rekindle.analysis.perturbation_result import PerturbationResult, write_summary
from rekindle.integrate import IntegratorOptions, Status

T_END = 21.0 / 60.0


def test_conserved_moieties_hold_along_trajectories(ecoli_system, x_ref, ecoli_sets, fdp1) -> None:
    p = ecoli_sets[0][ecoli_sets[2]][:2]
    settings = PerturbationSettings(
        n_perturbations=2, protocol="uniform", seed=2, n_times=12, store_models=2
    )
    res = perturbation_analysis(ecoli_system, fdp1, p, settings, n_jobs=1)
    x = (res.trajectories + 1.0) * x_ref  # (2, 2, 12, 50)
    g = ecoli_system.conservation.conservation_matrix
    totals = g @ x_ref
    scale = np.abs(g) @ x_ref
    got = x @ g.T
    assert np.all(np.isfinite(got))
    np.testing.assert_allclose(
        got, np.broadcast_to(totals, got.shape), rtol=0, atol=1e-10 * scale.max()
    )
    assert np.all(x > 0)


@pytest.fixture(scope="module")
def relevant_vs_unstable(ecoli_system, fdp1, ecoli_sets):
    p, lam, rel = ecoli_sets
    unstable = p[lam > 200.0][:4]
    relevant = p[rel][:4]
    assert unstable.shape[0] == 4
    opts = IntegratorOptions(rtol=1e-5, atol=1e-8, max_steps=1500)
    st = PerturbationSettings(
        n_perturbations=3, protocol="fold", seed=7, options=opts, store_models=0
    )
    return (
        perturbation_analysis(ecoli_system, fdp1, relevant, st, n_jobs=2),
        perturbation_analysis(ecoli_system, fdp1, unstable, st, n_jobs=2),
    )


def test_unstable_models_are_flagged_or_not_returned(relevant_vs_unstable) -> None:
    _, unstable = relevant_vs_unstable
    steps = unstable.n_accepted + unstable.n_rejected
    assert steps.max() <= 1500  # bounded: never hangs
    assert unstable.n_returned < unstable.n_integrations
    escaped = (unstable.status != Status.SUCCESS) | (unstable.relative_deviation >= 0.01)
    assert escaped.sum() == unstable.n_integrations - unstable.n_returned
    counts = unstable.status_counts()
    assert sum(counts.values()) == 12


def test_sequential_stages_keep_every_models_verdict(
    ecoli_system, fdp1, ecoli_sets, monkeypatch
) -> None:
    """The sequential return test integrates a model's perturbations stage by stage and
    skips the rest after one does not return: every model's "all return" is the full
    test's, the integrated perturbations get the full test's results, and (without
    speculation) exactly the stages after a model's first failing one are skipped. With
    few integrations outstanding the remaining stages run at once: the verdicts stay."""
    import rekindle.analysis.perturbation as module

    p, lam, rel = ecoli_sets
    models = np.concatenate([p[rel][:6], p[lam > 200.0][:2]])
    opts = IntegratorOptions(rtol=1e-5, atol=1e-8, max_steps=1500)
    st = PerturbationSettings(n_perturbations=4, protocol="fold", seed=3, options=opts)
    stages = (1, 1, 2)
    full = perturbation_analysis(ecoli_system, fdp1, models, st, n_jobs=1)
    members = full.returned.all(axis=1)
    assert 0 < members.sum() < members.size  # both verdicts occur
    stage_of = np.repeat(np.arange(len(stages)), stages)
    failed = ~full.returned
    first_fail = np.where(failed.any(axis=1), stage_of[failed.argmax(axis=1)], len(stages))
    after_failure = stage_of[None, :] > first_fail[:, None]
    assert after_failure.any()

    def check(seq) -> np.ndarray:
        np.testing.assert_array_equal(seq.returned.all(axis=1), members)
        done = seq.status != Status.SKIPPED
        np.testing.assert_array_equal(seq.status[done], full.status[done])
        # the same trajectories in other batches: equal to rounding
        np.testing.assert_allclose(
            seq.relative_deviation[done], full.relative_deviation[done], rtol=1e-9, atol=1e-12
        )
        assert seq.n_integrations == int(done.sum())
        assert not (~done & ~after_failure).any()  # only after a failure is anything skipped
        return ~done

    monkeypatch.setattr(module, "SPECULATE_BELOW", 0)
    staged = perturbation_analysis(ecoli_system, fdp1, models, st, n_jobs=2, stages=stages)
    np.testing.assert_array_equal(check(staged), after_failure)
    monkeypatch.setattr(module, "SPECULATE_BELOW", 9)  # stage 1 holds 8: all at once
    speculated = perturbation_analysis(ecoli_system, fdp1, models, st, n_jobs=1, stages=stages)
    assert not check(speculated).any()
    with pytest.raises(ValueError, match="summing to 4"):
        perturbation_analysis(ecoli_system, fdp1, models, st, stages=(1, 2))


def test_sequential_stages_with_inadmissible_draws(ecoli_system, fdp1, ecoli_sets) -> None:
    """With the link matrix's followers most perturbed states are inadmissible (no
    initial state): a stage holding one ends its model there, unintegrated, and every
    verdict is still the full test's."""
    p, _, rel = ecoli_sets
    opts = IntegratorOptions(rtol=1e-5, atol=1e-8, max_steps=1500)
    st = PerturbationSettings(
        n_perturbations=4, protocol="fold", seed=2, options=opts, followers="link", max_draws=1
    )
    models = p[rel][:8]
    full = perturbation_analysis(ecoli_system, fdp1, models, st, n_jobs=1)
    seq = perturbation_analysis(ecoli_system, fdp1, models, st, n_jobs=1, stages=(1, 1, 2))
    inadmissible = full.status == Status.NO_INITIAL_STATE
    assert inadmissible.any() and (~inadmissible).any()
    np.testing.assert_array_equal(seq.status == Status.NO_INITIAL_STATE, inadmissible)
    np.testing.assert_array_equal(seq.returned.all(axis=1), full.returned.all(axis=1))
    # a model whose first perturbation has no initial state is never integrated
    first_bad = inadmissible[:, 0]
    assert first_bad.any()
    assert (seq.status[first_bad] != Status.SUCCESS).all()
    assert seq.n_integrations <= full.n_integrations


def test_relevant_models_return_more_often_than_unstable(relevant_vs_unstable) -> None:
    relevant, unstable = relevant_vs_unstable
    assert relevant.fraction_returned > unstable.fraction_returned
    assert relevant.fraction_returned_completed >= 0.5


# ----------------------------------------------------------------------------- perturbations


@pytest.mark.parametrize("protocol,lo,hi", [("uniform", 0.5, 1.5), ("fold", 0.5, 2.0)])
def test_draws_keep_reference_totals_and_bounds(ecoli_system, x_ref, protocol, lo, hi) -> None:
    x0, n_draws = draw_initial_states(ecoli_system, x_ref, 200, protocol, np.random.default_rng(0))
    fol = follower_states(ecoli_system, x_ref)
    per = np.setdiff1d(np.arange(x_ref.size), fol)
    assert np.all(np.isfinite(x0)) and np.all(x0 > 0)
    f = x0[:, per] / x_ref[per]
    assert f.min() >= lo and f.max() <= hi
    assert f.min() < lo + 0.05 and f.max() > hi - 0.1
    g = ecoli_system.conservation.conservation_matrix
    np.testing.assert_allclose(x0 @ g.T, np.tile(g @ x_ref, (200, 1)), rtol=1e-12)
    assert n_draws >= 200


def test_follower_choice(ecoli, ecoli_system, x_ref) -> None:
    names = [ecoli.state_ids[i] for i in follower_states(ecoli_system, x_ref)]
    assert names == ["adp_c", "amp_c", "nad_c", "nadph_c", "q8_c", "succoa_c"]
    link = follower_states(ecoli_system, x_ref, "link")
    np.testing.assert_array_equal(link, ecoli_system.conservation.dependent)
    rng = np.random.default_rng(0)
    _, d_largest = draw_initial_states(ecoli_system, x_ref, 100, "fold", rng)
    _, d_link = draw_initial_states(ecoli_system, x_ref, 100, "fold", rng, followers=link)
    assert 100 / d_largest > 0.9 > 0.3 > 100 / d_link
    with pytest.raises(ValueError, match="followers"):
        follower_states(ecoli_system, x_ref, "smallest")


# ----------------------------------------------------------------------------- analysis API


def test_analysis_is_reproducible_and_independent_of_chunking(
    toy_system, toy_ref, toy_sets
) -> None:
    p = toy_sets[:9]
    seen: list[int] = []
    st = PerturbationSettings(
        n_perturbations=4, protocol="fold", seed=11, n_times=7, store_models=2
    )
    a = perturbation_analysis(
        toy_system, toy_ref, p, st, chunk_size=2, n_jobs=1, progress=seen.append
    )
    b = perturbation_analysis(toy_system, toy_ref, p, st, n_jobs=2)
    c = perturbation_analysis(
        toy_system, toy_ref, p, replace(st, seed=12, store_models=0), n_jobs=2
    )
    np.testing.assert_array_equal(a.status, b.status)
    np.testing.assert_array_equal(a.returned, b.returned)
    np.testing.assert_allclose(a.relative_deviation, b.relative_deviation, rtol=1e-12)
    np.testing.assert_allclose(a.initial_deviation, b.initial_deviation, rtol=0)
    np.testing.assert_allclose(a.trajectories, b.trajectories, rtol=1e-10, atol=1e-14)
    assert not np.allclose(a.initial_deviation, c.initial_deviation)
    assert a.trajectories.shape == (2, 4, 7, 4) and c.trajectories is None
    np.testing.assert_allclose(a.times, np.linspace(0, T_END, 7))
    x_ref = toy_system.steady_state_concentrations(toy_ref)
    x0 = (a.trajectories[:, :, 0] + 1.0) * x_ref
    dev0 = np.linalg.norm(x0 - x_ref, axis=-1) / np.linalg.norm(x_ref)
    np.testing.assert_allclose(dev0, a.initial_deviation[:2], rtol=1e-10)
    flat, ret = a.stored_trajectories()
    assert flat.shape == (8, 7, 4) and ret.shape == (8,)
    np.testing.assert_array_equal(ret, a.returned[:2].ravel())
    assert c.stored_trajectories()[0].shape[0] == 0
    assert seen[0] == 0 and seen[-1] == 9 and seen == sorted(seen)


def test_worker_processes_give_the_threads_results(
    toy_system, toy_ref, toy_sets, monkeypatch
) -> None:
    """Above PROCESS_MIN_INTEGRATIONS the chunks run in forked worker processes, with
    per-integration progress forwarded to this process; results equal the threads'."""
    import rekindle.analysis.perturbation as module
    from rekindle.scale import local_processes

    p = toy_sets[:9]
    st = PerturbationSettings(n_perturbations=4, protocol="fold", seed=5, n_times=5, store_models=3)
    threads = perturbation_analysis(toy_system, toy_ref, p, st, chunk_size=2, n_jobs=1)
    monkeypatch.setattr(module, "PROCESS_MIN_INTEGRATIONS", 1)
    pools: list[int] = []

    def counted(n_jobs, *args):
        pools.append(n_jobs)
        return local_processes(n_jobs, *args)

    monkeypatch.setattr(module, "local_processes", counted)
    seen: list[int] = []
    procs = perturbation_analysis(toy_system, toy_ref, p, st, n_jobs=2, progress=seen.append)
    np.testing.assert_array_equal(threads.status, procs.status)
    np.testing.assert_allclose(threads.relative_deviation, procs.relative_deviation, rtol=1e-12)
    np.testing.assert_allclose(threads.trajectories, procs.trajectories, rtol=1e-10, atol=1e-14)
    assert seen[0] == 0 and seen[-1] == 9 and seen == sorted(seen)
    assert pools == [2] and procs.n_jobs == 2 and procs.chunk_size == 5


def test_populations_analysed_together_get_their_own_results(
    toy_system, toy_ref, toy_sets, monkeypatch
) -> None:
    """Two populations in one pool of worker processes (one chunk each): each gets the
    result of its own analysis — its models seeded by their index in it, its own stored
    trajectories and draw count — and the progress counts the models of both."""
    import rekindle.analysis.perturbation as module

    st = PerturbationSettings(n_perturbations=4, protocol="fold", seed=5, n_times=5, store_models=2)
    pops = {"first": toy_sets[:5], "second": toy_sets[5:12]}
    alone = {
        k: perturbation_analysis(toy_system, toy_ref, p, st, n_jobs=1) for k, p in pops.items()
    }
    monkeypatch.setattr(module, "PROCESS_MIN_INTEGRATIONS", 1)
    seen: list[int] = []
    both = perturbation_analyses(toy_system, toy_ref, pops, st, n_jobs=2, progress=seen.append)
    assert list(both) == ["first", "second"]
    for name, a in alone.items():
        b = both[name]
        np.testing.assert_array_equal(a.status, b.status)
        np.testing.assert_allclose(a.relative_deviation, b.relative_deviation, rtol=1e-12)
        np.testing.assert_array_equal(a.initial_deviations, b.initial_deviations)
        np.testing.assert_allclose(a.trajectories, b.trajectories, rtol=1e-10, atol=1e-14)
        assert a.n_draws == b.n_draws and b.chunk_size == 6
    # seeded by their index in the concatenation they would start elsewhere
    joined = np.concatenate(list(pops.values()))
    cat = perturbation_analysis(toy_system, toy_ref, joined, st, n_jobs=1)
    assert not np.allclose(cat.initial_deviation[5:], both["second"].initial_deviation)
    assert seen[0] == 0 and seen[-1] == 12 and seen == sorted(seen)
    shares = both["first"].wall_time / both["second"].wall_time
    assert shares == pytest.approx(5 / 7)


def test_result_accounting(toy_system, toy_ref, toy_sets) -> None:
    st = PerturbationSettings(n_perturbations=5, protocol="uniform", store_models=0)
    res = perturbation_analysis(toy_system, toy_ref, toy_sets[:6], st, n_jobs=1)
    assert isinstance(res, PerturbationResult)
    assert res.returned.shape == res.status.shape == (6, 5)
    assert res.n_integrations == 30 and res.acceptance_rate == 1.0
    assert res.n_completed + res.n_blown_up + res.n_failed == res.n_integrations
    assert res.fraction_returned == pytest.approx(res.n_returned / res.n_integrations)
    assert res.fraction_returned_completed == pytest.approx(res.n_returned / res.n_completed)
    assert res.fraction_returned <= res.fraction_returned_completed
    assert res.integrations_per_second > 0
    np.testing.assert_array_equal(
        res.returned, (res.status == Status.SUCCESS) & (res.relative_deviation < 0.01)
    )
    per_model = res.fraction_returned_per_model()
    assert per_model.shape == (6,) and np.all((per_model >= 0) & (per_model <= 1))
    assert np.all(res.initial_deviation > 0)


def test_write_summary_csv_and_json(tmp_path, toy_system, toy_ref, toy_sets) -> None:
    st = PerturbationSettings(n_perturbations=2, protocol="fold", store_models=0)
    res = perturbation_analysis(toy_system, toy_ref, toy_sets[:3], st, n_jobs=1)
    path = write_summary({"ORACLE fold": res, "copy": res}, tmp_path / "s.csv")
    rows = list(csv.DictReader(path.open()))
    assert [r["label"] for r in rows] == ["ORACLE fold", "copy"]
    assert int(rows[0]["n_integrations"]) == 6
    assert float(rows[0]["fraction_returned"]) == pytest.approx(res.fraction_returned)
    data = json.loads(write_summary(res, tmp_path / "s.json").read_text())
    assert data["fold"]["protocol"] == "fold" and data["fold"]["status_success"] >= 0
    assert all(
        v is None or not (isinstance(v, float) and math.isnan(v)) for v in data["fold"].values()
    )
    with pytest.raises(ValueError, match=r"\.csv or \.json"):
        write_summary(res, tmp_path / "s.txt")


def test_input_validation(toy_system, toy_ref, toy_sets) -> None:
    with pytest.raises(ValueError, match="protocol"):
        PerturbationSettings(protocol="gaussian")
    with pytest.raises(ValueError, match="method"):
        PerturbationSettings(method="euler")
    with pytest.raises(ValueError, match="chunk_size"):
        perturbation_analysis(toy_system, toy_ref, toy_sets[:2], chunk_size=0)
    with pytest.raises(ValueError, match="n_times"):
        time_grid(1.0, 1)
    assert time_grid(1.0, 5, "log")[1] == pytest.approx(1e-6)


# ----------------------------------------------------------------------------- paper protocol


def test_paper_protocol_draws_linearly_inside_the_box(ecoli_system, x_ref) -> None:
    """Every state (followers too) in [X_ref/2, 2 X_ref], totals kept, factors linear."""
    x0, n_draws = draw_initial_states(ecoli_system, x_ref, 400, "paper", np.random.default_rng(0))
    f = x0 / x_ref
    assert f.min() >= 0.5 and f.max() <= 2.0
    g = ecoli_system.conservation.conservation_matrix
    np.testing.assert_allclose(x0 @ g.T, np.tile(g @ x_ref, (400, 1)), rtol=1e-12)
    per = np.setdiff1d(np.arange(x_ref.size), follower_states(ecoli_system, x_ref))
    # U(½, 2) puts 2/3 of the factors above 1 (a log-uniform fold change: 1/2)
    assert np.mean(f[:, per] > 1.0) == pytest.approx(2 / 3, abs=0.02)
    assert np.mean(f[:, per]) == pytest.approx(1.25, abs=0.02)
    assert 0.8 < 400 / n_draws < 0.97  # fdp1: 0.91 of the draws keep the followers inside


def test_paper_protocol_is_uniform_on_the_polytope_whatever_follows(toy_system, toy_ref) -> None:
    """Toy: nad + nadh = 550 µM. Either state as follower gives the same distribution."""
    from scipy.stats import ks_2samp

    x = toy_system.steady_state_concentrations(toy_ref)
    nad = 2
    a, _ = draw_initial_states(
        toy_system, x, 3000, "paper", np.random.default_rng(1), followers=np.array([2])
    )
    b, d_b = draw_initial_states(
        toy_system, x, 3000, "paper", np.random.default_rng(2), followers=np.array([3])
    )
    # the segment: nadh ∈ [25, 100] ⇔ nad ∈ [450, 525] (inside nad's box [250, 1000])
    for s in (a, b):
        assert s[:, nad].min() >= 450 - 1e-9 and s[:, nad].max() <= 525 + 1e-9
    assert ks_2samp(a[:, nad], b[:, nad]).pvalue > 0.01
    assert 3000 / d_b == pytest.approx(75 / 750, abs=0.02)  # nad ∈ U(250, 1000) hits it


def test_deviations_by_hand() -> None:
    ref = np.array([100.0, 1.0])
    x = np.array([[101.0, 1.5], [100.0, 1.0]])
    dev = deviations(x, ref)
    np.testing.assert_allclose(
        dev[0], [math.hypot(1.0, 0.5) / math.hypot(100.0, 1.0), math.hypot(0.01, 0.5), 0.5]
    )
    np.testing.assert_array_equal(dev[1], 0.0)
    assert CRITERIA == ("abs-l2", "rel-l2", "rel-max")


def test_three_criteria_and_blow_ups_count_as_not_returned(
    relevant_vs_unstable, toy_system, toy_ref, toy_sets
) -> None:
    for res in relevant_vs_unstable:
        fr = res.fractions_returned()
        assert set(fr) == set(CRITERIA)
        # max_i |x_i/x_ref − 1| ≤ ‖x/x_ref − 1‖₂: rel-l2 returned ⇒ rel-max returned
        assert np.all(res.returned_by("rel-max")[res.returned_by("rel-l2")])
        assert fr["rel-max"] >= fr["rel-l2"]
        for c in CRITERIA:
            assert fr[c] == res.returned_by(c).sum() / res.n_integrations
        assert res.fraction_returned == fr["abs-l2"]  # the settings' criterion
    # trajectories above 1.9 X_ref are flagged DIVERGED: they count as not returned
    opts = IntegratorOptions(rtol=1e-5, atol=1e-8, divergence_bound=1.9)
    st = PerturbationSettings(
        protocol="paper", n_perturbations=10, options=opts, store_models=0, criterion="rel-max"
    )
    res = perturbation_analysis(toy_system, toy_ref, toy_sets[:6], st, n_jobs=1)
    assert 0 < res.n_blown_up < res.n_integrations == 60
    assert res.fraction_returned == res.n_returned / 60 < res.fraction_returned_completed
    s = res.summary()
    assert s["fraction_returned"] == s["fraction_returned_rel_max"] == res.fraction_returned
    assert s["criterion"] == "rel-max" and s["protocol"] == "paper"


def test_settings_validation() -> None:
    st = PerturbationSettings(protocol="paper", criterion="rel-l2")
    assert st.options == PERTURBATION_OPTIONS
    with pytest.raises(ValueError, match="criterion"):
        PerturbationSettings(criterion="l1")
