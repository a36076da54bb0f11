"""Delayed-acceptance pCN chains deliver the restricted prior exactly, whatever the screen.

Toy case with a known answer in normal space u = Φ⁻¹(σ) (as in test_fitted_delivery):
d = 6, "max Re(λ)" = −10·(u₁ + u₂)/√2, class max_eig < −25 ⇔ s = (u₁ + u₂)/√2 > 2.5.
The prior restricted to it: s ~ N(0, 1) truncated to s > 2.5, o = (u₁ − u₂)/√2 and
u₃…u₆ ~ N(0, 1) independently. A learned (good) screen and a deliberately inverted
(bad) one must both deliver that law; only the good one saves labels.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest
from scipy import stats
from tests.classes.halfspace import TAIL, D, T, coordinates, ks_all, measure

from rekindle.classes import ClassSamplerSettings, parse_where, sample_class
from rekindle.classes.sampler import normal_of
from rekindle.classes.surrogate import Surrogate, fit_surrogate, screen_accuracy

BOUND = -25.0
SPEC = parse_where(f"max_eig < {BOUND}")


def _settings(da: bool, seed: int = 11) -> ClassSamplerSettings:
    return ClassSamplerSettings(
        seed=seed, population=2000, delivery="pcn", delayed_acceptance=da, block_size=0
    )


def _inverted() -> Surrogate:
    """A screen that believes the opposite: predicted max Re(λ) mirrored about the bound."""
    rng = np.random.default_rng(5)
    u = rng.standard_normal((4000, D))
    good = fit_surrogate(u, measure(stats.norm.cdf(u)), SPEC)
    return Surrogate(
        -good.coef, 2 * BOUND - good.intercept, good.tau, good.floor, good.low, good.high
    )


@pytest.fixture(scope="module")
def plain():
    return sample_class(SPEC, measure, D, 4000, _settings(False))


@functools.cache
def _delivery(kind: str):
    """4 000 members delivered by DA chains with the learned (good) or the inverted screen."""
    screen = _inverted() if kind == "bad" else None
    return sample_class(SPEC, measure, D, 4000, _settings(True), fixed_surrogate=screen)


@pytest.fixture(scope="module", params=["good", "bad"])
def draw(request):
    return request.param, _delivery(request.param)


@pytest.fixture(scope="module")
def good_draw():
    return _delivery("good")


def test_the_screen_fits_the_toy() -> None:
    """On fresh prior draws near the bound the learned screen separates the class."""
    rng = np.random.default_rng(3)
    u = rng.standard_normal((4000, D))
    sur = fit_surrogate(u, measure(stats.norm.cdf(u)), SPEC)
    v = rng.standard_normal((4000, D))
    v[:, :2] += T / np.sqrt(2)  # centred on the bound
    member = measure(stats.norm.cdf(v)) < BOUND
    acc = screen_accuracy(sur.score(v), member)
    # (its level is biased by the target's clipping at the prior median, its ranking is not)
    assert acc["auc"] > 0.99
    bad = screen_accuracy(_inverted().score(v), member)
    assert bad["auc"] < 0.01  # the inverted screen ranks every member below every non-member


def test_law_is_the_restricted_prior(draw) -> None:
    _, d = draw
    assert (d.max_real_eigenvalue < BOUND).all() and d.diagnostics["delayed_acceptance"]
    s, o, rest = coordinates(d.saturation)
    assert ks_all(s, o, rest) < 0.03
    assert abs(s.mean() - TAIL.mean()) < 0.02 and abs(s.var() / TAIL.var() - 1) < 0.1
    assert abs(o.var() - 1) < 0.08 and np.all(np.abs(rest.mean(axis=0)) < 0.06)


def test_the_check_fails_for_a_shifted_or_narrowed_delivery(draw) -> None:
    s, o, rest = coordinates(draw[1].saturation)
    assert ks_all(s + 0.1, o, rest) > 0.03
    keep = np.abs(o) < np.quantile(np.abs(o), 0.9)
    assert ks_all(s[keep], o[keep], rest[keep]) > 0.03


def test_good_screen_saves_labels_bad_one_does_not(draw, plain) -> None:
    kind, d = draw
    base = plain.diagnostics["labels_per_member_production"]
    assert base == pytest.approx(50.0)  # plain pCN: one label per step, thin 50
    got = d.diagnostics["labels_per_member_production"]
    if kind == "good":
        # ≈ thin × stage-1 pass rate ≈ thin × acceptance (0.3): under half the labels
        assert got < 0.5 * base
        assert d.diagnostics["stage2_acceptance"] > 0.8
        assert d.diagnostics["screen_accuracy"]["auc"] > 0.95
    else:
        # the bad screen labels the proposals that leave the class and starves the rest
        assert d.diagnostics["stage2_acceptance"] < 0.5


def test_a_continued_draw_keeps_the_screen(good_draw) -> None:
    d = good_draw
    more = sample_class(SPEC, measure, D, 3000, _settings(True, seed=12), start=d.state)
    assert more.diagnostics["n_levels"] == 0 and more.diagnostics["delayed_acceptance"]
    assert more.diagnostics["labels_per_member_production"] < 25
    assert ks_all(*coordinates(more.saturation)) < 0.035


def test_without_the_second_stage_the_check_fails(good_draw) -> None:
    """Negative control: the same screened chains without stage 2's min(1, s/s') factor
    (not reversible for π) drift towards where the bad screen scores high (the bound)."""
    d = good_draw
    rng, bad = np.random.default_rng(0), _inverted()
    u = normal_of(d.saturation)[:1000].copy()  # start in the law (the good delivery)
    cur, kept = bad.score(u), []
    for step in range(1, 501):
        prop = np.sqrt(1 - 0.36) * u + 0.6 * rng.standard_normal(u.shape)
        ps = bad.score(prop)
        ok = (rng.random(u.shape[0]) < ps / cur) & (measure(stats.norm.cdf(prop)) < BOUND)
        u, cur = np.where(ok[:, None], prop, u), np.where(ok, ps, cur)
        if step > 200 and step % 50 == 0:
            kept.append(u.copy())
    u = np.concatenate(kept)
    s, o = (u[:, 0] + u[:, 1]) / np.sqrt(2), (u[:, 0] - u[:, 1]) / np.sqrt(2)
    assert ks_all(s, o, u[:, 2:]) > 0.2


def test_screen_round_trips_through_arrays() -> None:
    sur = _inverted()
    back = Surrogate.from_arrays(sur.to_arrays())
    u = np.random.default_rng(1).standard_normal((50, D))
    np.testing.assert_array_equal(back.score(u), sur.score(u))


def test_class_sampler_file_keeps_the_screen(tmp_path, good_draw) -> None:
    """The screen travels in the class-sampler file (``--generator FILE`` continues with it)."""
    d = good_draw
    from rekindle.classes.store import load_class_sampler, save_class_sampler
    from rekindle.io.model_bundle import load_bundle

    path = save_class_sampler(
        tmp_path / "s.pt", SPEC, load_bundle("ecoli", "fdp1"), d.state, d.diagnostics
    )
    _, _, state = load_class_sampler(path)
    assert state.surrogate is not None and d.surrogate is not None
    u = normal_of(d.saturation[:100])
    np.testing.assert_array_equal(state.surrogate.score(u), d.surrogate.score(u))
