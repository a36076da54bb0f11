"""The fitted-proposal deliveries (independence chains, rejection against M) are exact.

Toy case with a known answer in normal space u = Φ⁻¹(σ): d = 6, "max Re(λ)" =
−10·(u₁ + u₂)/√2, class max_eig < −25 ⇔ s = (u₁ + u₂)/√2 > 2.5 (a half-space,
P = Φ(−2.5) = 6.2·10⁻³). The prior restricted to it: s ~ N(0, 1) truncated to s > 2.5,
o = (u₁ − u₂)/√2 and u₃…u₆ ~ N(0, 1) independently. Analytic references only.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from tests.classes.halfspace import TAIL, D, T, coordinates, ks_all, measure

from rekindle.classes import ClassSamplerSettings, parse_where, sample_class
from rekindle.classes.proposal import GaussianProposal


@pytest.fixture(scope="module", params=["imh", "rejection"])
def draw(request):
    settings = ClassSamplerSettings(seed=11, population=2000, delivery=request.param)
    return sample_class(parse_where("max_eig < -25"), measure, D, 4000, settings)


def test_route_and_its_records(draw) -> None:
    d = draw.diagnostics
    assert draw.mode in ("imh", "proposal-rejection")
    assert (draw.max_real_eigenvalue < -25).all()
    # the importance estimate of P(class) within 15 % of Φ(−2.5)
    assert abs(d["p_class_importance"] / stats.norm.sf(T) - 1) < 0.15
    assert d["ess_fit"] > 100 and 0 < d["bound"] <= 1 / d["defensive"] + 1e-9
    if draw.mode == "proposal-rejection":
        assert d["truncated_mass_delivery"] < 0.01
        assert d["ess_delivery"] > 500
    else:
        assert d["duplicate_fraction"] < 0.03


def test_law_is_the_restricted_prior(draw) -> None:
    s, o, rest = coordinates(draw.saturation)
    assert ks_all(s, o, rest) < 0.03
    assert abs(s.mean() - TAIL.mean()) < 0.02 and abs(s.var() / TAIL.var() - 1) < 0.1
    assert abs(o.var() - 1) < 0.08 and np.all(np.abs(rest.mean(axis=0)) < 0.06)


def test_the_check_fails_for_a_shifted_or_narrowed_delivery(draw) -> None:
    s, o, rest = coordinates(draw.saturation)
    assert ks_all(s + 0.1, o, rest) > 0.03  # pushed into the interior
    keep = np.abs(o) < np.quantile(np.abs(o), 0.9)  # the outer tenth of o lost
    assert ks_all(s[keep], o[keep], rest[keep]) > 0.03


def test_a_continued_draw_keeps_the_proposal(draw) -> None:
    """The state (proposal included) continues without levels or fit, same law."""
    more = sample_class(
        parse_where("max_eig < -25"),
        measure,
        D,
        3000,
        ClassSamplerSettings(seed=12, population=2000),
        start=draw.state,
    )
    assert more.mode == draw.mode and more.diagnostics["n_levels"] == 0
    assert "labels_fit" not in more.diagnostics or more.diagnostics["labels_fit"] == 0
    assert ks_all(*coordinates(more.saturation)) < 0.035


def test_proposal_density_is_normalised_against_the_prior() -> None:
    """E_q[p/q] = 1 for a mixture with a shifted, rescaled direction (Monte Carlo, 4σ)."""
    rng = np.random.default_rng(0)
    basis = np.linalg.qr(rng.standard_normal((D, 2)))[0]
    q = GaussianProposal(np.full(D, 0.3), basis, np.array([0.5, 2.0]), 0.1)
    r = np.exp(q.log_ratio(q.sample(400_000, rng)))
    assert abs(r.mean() - 1) < 4 * r.std() / np.sqrt(r.size)
    assert r.max() <= 1 / 0.1 + 1e-9


def test_delivery_without_a_class_is_refused(tmp_path) -> None:
    """``--delivery`` chooses a route of the class sampler: without ``--where`` it would be
    ignored silently, so it is refused in one line and nothing is written."""
    from typer.testing import CliRunner

    from rekindle.cli import app

    out = tmp_path / "g.h5"
    res = CliRunner().invoke(app, ["generate", "--n", "10", "-o", str(out), "--delivery", "imh"])
    assert res.exit_code == 2 and "--delivery applies only with --where" in res.output
    assert not out.exists()


def test_independence_thin_is_the_first_step_within_the_duplicate_target() -> None:
    """One state of acceptance a: the smallest k with (1 − a)^k ≤ d is ⌈log d / log(1 − a)⌉;
    a state the chain never leaves caps the thin at its limit."""
    from rekindle.classes.proposal import independence_thin

    for a, d in ((0.3, 0.02), (0.05, 0.02), (0.9, 0.5), (0.01, 0.001)):
        expected = int(np.ceil(np.log(d) / np.log(1 - a)))
        assert independence_thin(np.ones(1), np.array([a]), d) == expected
    w, acc = np.array([0.5, 0.5]), np.array([0.5, 0.1])  # 0.5·0.5^k + 0.5·0.9^k ≤ 0.1
    k = independence_thin(w, acc, 0.1)
    assert 0.5 * 0.5**k + 0.5 * 0.9**k <= 0.1 < 0.5 * 0.5 ** (k - 1) + 0.5 * 0.9 ** (k - 1)
    assert independence_thin(np.ones(1), np.zeros(1), 0.02) == 100_000


def _restricted_prior(n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` exact draws of the half-space toy's prior restricted to its class, ``(n, D)``."""
    s = TAIL.rvs(size=n, random_state=rng)
    o = rng.standard_normal(n)
    u = rng.standard_normal((n, D))
    u[:, 0], u[:, 1] = (s + o) / np.sqrt(2.0), (s - o) / np.sqrt(2.0)
    return u


def test_rejection_labels_only_the_draws_that_pass_the_ratio_test() -> None:
    """The ``r/M`` test comes before the label: the labels spent are the draws that pass it
    (``E_q[min(1, r/M)]`` of them), and the truncated mass estimated from those labelled
    members alone (Horvitz–Thompson) agrees with ``E_{p|C}[(1 − M/r)₊]`` computed from
    exact draws of the restricted prior. A loose ``truncation`` makes that mass ~5 %."""
    settings = ClassSamplerSettings(seed=5, population=2000, delivery="rejection", truncation=0.05)
    draw = sample_class(parse_where("max_eig < -25"), measure, D, 3000, settings)
    d, q, log_m = draw.diagnostics, draw.proposal, draw.log_bound
    rng = np.random.default_rng(1)
    passed = np.minimum(1.0, np.exp(q.log_ratio(q.sample(400_000, rng)) - log_m)).mean()
    ratio = d["labels_delivery"] / d["proposals_delivery"]
    assert abs(ratio / passed - 1) < 0.05 and ratio < 0.7
    r_over_m = np.exp(q.log_ratio(_restricted_prior(400_000, rng)) - log_m)
    exact = np.clip(1.0 - 1.0 / r_over_m, 0.0, None).mean()
    assert 0.02 < exact < 0.15
    assert abs(d["truncated_mass_delivery"] / exact - 1) < 0.2
