"""Transfer of a flow generator: the prior updates are the conjugate formulas, and a source
whose class structure carries over beats a flat prior on few target sets."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.special import ndtr

from rekindle.flow import FlowConfig, KineticFlow
from rekindle.flow.transfer import (
    PRIOR_ALPHA,
    copula_with_prior,
    marginals_with_prior,
    scratch_flow,
    smooth_counts,
    transfer_flow,
)

SOURCE_REF = np.array([50.0, 200.0, 1000.0])
#: the target's reference concentrations: a known shift of every K_M's metabolite
TARGET_REF = SOURCE_REF * np.array([0.1, 3.0, 1.0])
THRESHOLD = 0.6  # relevant ⇔ saturation of the first K_M above this, at any physiology


def _sets(ref: np.ndarray, n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """ORACLE-like sets: uniform saturations at ``ref``; the planted class rule."""
    sigma = np.random.default_rng(seed).uniform(0.001, 0.999, (n, ref.size))
    return ref * (1 - sigma) / sigma, sigma[:, 0] > THRESHOLD


def _incidence(km: np.ndarray, ref: np.ndarray) -> float:
    """Fraction of sets relevant by the planted rule at the physiology of ``ref``."""
    return float(np.mean(ref[0] / (ref[0] + km[:, 0]) > THRESHOLD))


@pytest.fixture(scope="module")
def source() -> KineticFlow:
    km, rel = _sets(SOURCE_REF, 6000, seed=0)
    flow = KineticFlow(
        SOURCE_REF, ["a", "b", "c"], {"physiology": "src"}, FlowConfig(transforms=0, bins=256)
    )
    flow.fit(km, rel)
    return flow


def test_copula_prior_is_the_pooled_moment_update():
    rng = np.random.default_rng(1)
    g = rng.normal(0.5, 2.0, (7, 3))
    labels = np.zeros(7, dtype=np.int64)
    mu0 = np.array([[0.0, 1.0, -1.0], [0.0, 0.0, 0.0]])
    cov0 = np.stack([np.diag([1.0, 2.0, 3.0]), np.eye(3)])
    k = 5.0
    whit = copula_with_prior(g, labels, mu0, cov0, k)
    n = 7 + k
    mean = (g.sum(axis=0) + k * mu0[0]) / n
    second = (g.T @ g + k * (cov0[0] + np.outer(mu0[0], mu0[0]))) / n
    cov = (second - np.outer(mean, mean)) * n / (n - 1)
    np.testing.assert_allclose(whit.mean[0], mean)
    np.testing.assert_allclose(whit.cholesky[0] @ whit.cholesky[0].T, cov + 1e-6 * np.eye(3))
    # a class without target rows keeps the prior (with the unbiased k/(k − 1) factor)
    np.testing.assert_allclose(whit.mean[1], 0.0, atol=1e-15)
    np.testing.assert_allclose(
        whit.cholesky[1] @ whit.cholesky[1].T, np.eye(3) * k / (k - 1) + 1e-6 * np.eye(3)
    )


def test_marginals_without_target_rows_are_the_prior_and_smoothing_keeps_mass():
    rng = np.random.default_rng(2)
    pmf = rng.uniform(0.1, 1.0, (2, 3, 64))
    pmf /= pmf.sum(axis=2, keepdims=True)
    marg = marginals_with_prior(np.empty((0, 3)), np.empty(0, dtype=np.int64), pmf, 40.0)
    mass = 40.0 * pmf + PRIOR_ALPHA  # the prior's pseudo-sets and the per-bin floor
    np.testing.assert_allclose(np.diff(marg.cdf, axis=2), mass / mass.sum(axis=2, keepdims=True))
    y = np.clip(rng.normal(0.3, 0.2, (50, 3)), -0.99, 0.99)
    labels = np.zeros(50, dtype=np.int64)
    counts = np.zeros((2, 3, 64))
    np.add.at(counts, (0, np.arange(3)[None, :], ((y + 1) * 32).astype(int)), 1.0)
    smooth = smooth_counts(counts, y, labels)
    np.testing.assert_allclose(smooth.sum(axis=2), counts.sum(axis=2))
    # Silverman's bandwidth: the comb of 50 draws comes much closer to the expected counts
    edges = np.linspace(-1, 1, 65)
    expected = 50 * np.diff(ndtr((edges - 0.3) / 0.2))
    raw_error = np.abs(counts[0] - expected).sum(axis=1)
    assert np.all(np.abs(smooth[0] - expected).sum(axis=1) < 0.6 * raw_error)


def test_transfer_beats_scratch_and_the_pretrained_flow_on_ten_target_sets(source):
    """The planted rule holds in saturation at both physiologies, so the source's class
    structure carries over exactly once the K_M are re-referenced; ten target sets (≈4
    relevant) teach a flat prior little. Pretrained generation at the source's reference
    puts the first K_M a decade too high for the target: few of its models pass the rule."""
    km, rel = _sets(TARGET_REF, 10, seed=5)
    transferred = transfer_flow(source, km, rel, TARGET_REF, {"physiology": "tgt"})
    scratch = scratch_flow(km, rel, TARGET_REF, ["a", "b", "c"], {"physiology": "tgt"})
    at_source = _incidence(source.generate(4000, "relevant", seed=1), SOURCE_REF)
    pretrained = _incidence(source.generate(4000, "relevant", seed=1), TARGET_REF)
    got = _incidence(transferred.generate(4000, "relevant", seed=1), TARGET_REF)
    flat = _incidence(scratch.generate(4000, "relevant", seed=1), TARGET_REF)
    assert got == pytest.approx(at_source, abs=0.04)  # the source's skill, carried over
    assert got > flat + 0.15
    assert got > pretrained + 0.3
    # the transferred flow knows both classes: its not-relevant draws fail the rule
    assert _incidence(transferred.generate(4000, "not_relevant", seed=2), TARGET_REF) < 0.2
    assert transferred.metadata["physiology"] == "tgt"
    assert transferred.metadata["transferred_from"] == {"physiology": "src"}
    assert transferred.guide is None and transferred.training_summary["n_train"] == 10


def test_many_target_sets_outweigh_the_prior(source):
    """With 3000 target sets of a *different* rule (the second K_M decides) the transferred
    flow follows the target, not the source."""
    sigma = np.random.default_rng(6).uniform(0.001, 0.999, (3000, 3))
    km, rel = TARGET_REF * (1 - sigma) / sigma, sigma[:, 1] > THRESHOLD
    flow = transfer_flow(source, km, rel, TARGET_REF, prior_sets=30, copula_prior_sets=30)
    s = TARGET_REF / (TARGET_REF + flow.generate(4000, "relevant", seed=3))
    assert np.mean(s[:, 1] > THRESHOLD) > 0.9
    assert np.mean(s[:, 0] > THRESHOLD) == pytest.approx(0.4, abs=0.05)


def test_transfer_refuses_bad_weights_and_shapes(source):
    km, rel = _sets(TARGET_REF, 10, seed=5)
    with pytest.raises(ValueError, match="prior_sets"):
        transfer_flow(source, km, rel, TARGET_REF, prior_sets=0.0)
    with pytest.raises(ValueError, match="copula_prior_sets"):
        transfer_flow(source, km, rel, TARGET_REF, copula_prior_sets=1.0)
    with pytest.raises(ValueError, match="shape"):
        transfer_flow(source, km[:, :2], rel, TARGET_REF)
