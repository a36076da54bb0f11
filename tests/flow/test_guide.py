"""The relevance guide: Bayes-rule generation of a class whose membership is a known
function of the parameters (analytic conditional moments), calibration, determinism,
the artefact round trip (and version-1 files), and the refusal of a class it cannot make."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from rekindle.errors import GenerationError, GeneratorFileError
from rekindle.flow import FlowConfig, GuideConfig, KineticFlow
from rekindle.flow.guide import native_bfloat16, stability_margin

D = 4
REF = np.array([10.0, 100.0, 1000.0, 50.0])
GUIDE = GuideConfig(
    hidden=128, layers=2, epochs=14, eval_every=250, batch_size=256, chunk_rows=8000, threads=1
)


def _km_from_y(y: np.ndarray) -> np.ndarray:
    """Saturation features y = 2σ − 1 = (x_ref − K_M)/(x_ref + K_M) → K_M (µM)."""
    return REF * (1.0 - y) / (1.0 + y)


def _y_from_km(km: np.ndarray) -> np.ndarray:
    return (REF - km) / (REF + km)


def _data(n: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Independent uniform saturations; relevant ⇔ y0·y1 > 0 (a joint property no copula
    can express: the class fills two opposite quadrants).

    The 'eigenvalue' is a smooth margin, −9·(1 + 4 y0 y1), below −9 where relevant.
    """
    rng = np.random.default_rng(seed)
    y = rng.uniform(-0.999, 0.999, (n, D))
    s = y[:, 0] * y[:, 1]
    return _km_from_y(y), s > 0, -9.0 * (1.0 + 4.0 * s)


@pytest.fixture(scope="module")
def guided() -> KineticFlow:
    km, relevant, max_eig = _data(40_000, seed=1)
    flow = KineticFlow(
        REF, list("abcd"), {"model": "none", "physiology": "none"}, FlowConfig(transforms=0), GUIDE
    )
    flow.fit(km, relevant, max_eig=max_eig)
    return flow


def test_bayes_rule_generation_gives_the_analytic_class_conditional(guided: KineticFlow) -> None:
    y = _y_from_km(guided.generate(20_000, "relevant", seed=2))
    incidence = np.mean(y[:, 0] * y[:, 1] > 0)
    # the unguided copula cannot express two quadrants: it is far less selective
    y_copula = _y_from_km(guided.generate(20_000, "relevant", seed=2, guided=False))
    assert incidence > 0.95
    assert np.mean(y_copula[:, 0] * y_copula[:, 1] > 0) < incidence - 0.1
    # y uniform on (−1, 1)⁴ given y0·y1 > 0: every marginal stays uniform (mean 0, sd 1/√3:
    # the class is as wide as in the data) and E[y0·y1] = E|y0|·E|y1| = 1/4
    assert y.mean(axis=0) == pytest.approx([0.0] * D, abs=0.02)
    assert y.std(axis=0) == pytest.approx([1 / np.sqrt(3)] * D, abs=0.01)
    assert np.mean(y[:, 0] * y[:, 1]) == pytest.approx(0.25, abs=0.015)
    # about half of the draws of all data are kept (P(relevant) = 1/2)
    kept = guided.last_acceptance["kept"] / guided.last_acceptance["drawn"]
    assert kept == pytest.approx(0.5, abs=0.03)
    y_not = _y_from_km(guided.generate(20_000, "not_relevant", seed=2))
    assert np.mean(y_not[:, 0] * y_not[:, 1] <= 0) > 0.95
    assert np.mean(y_not[:, 0] * y_not[:, 1]) == pytest.approx(-0.25, abs=0.015)


def test_summary_of_the_guide(guided: KineticFlow) -> None:
    summary = guided.training_summary["guide"]
    assert summary["validation_accuracy"] > 0.95
    assert summary["expected_incidence"] > 0.95
    assert guided.guide is not None
    # 36 000 training rows / 256 = 140 steps per pass, 14 passes: 1960 steps, 8 evaluations
    assert guided.guide.summary["steps"] == 1960
    assert len(guided.guide.summary["history"]) == 8


def _soft_truth(y: np.ndarray) -> np.ndarray:
    """A known P(relevant | y) = 1 / (1 + exp(−6 y0 y1)) (labels drawn from it)."""
    return 1.0 / (1.0 + np.exp(-6.0 * y[:, 0] * y[:, 1]))


@pytest.fixture(scope="module", params=[0.0, 1.0])
def soft(request: pytest.FixtureRequest) -> KineticFlow:
    """A guided flow fitted on labels drawn from :func:`_soft_truth` (no eigenvalues), its
    guide trained in float32 and in mixed bfloat16 (both must recover the probability)."""
    km, _, _ = _data(40_000, seed=7)
    truth = _soft_truth(_y_from_km(km))
    relevant = np.random.default_rng(8).random(truth.size) < truth
    guide = GUIDE.replace(bfloat16_share=request.param)
    flow = KineticFlow(
        REF, list("abcd"), {"model": "none", "physiology": "none"}, FlowConfig(transforms=0), guide
    )
    flow.fit(km, relevant)
    return flow


def _grid_moments(power: float) -> tuple[float, float]:
    """E[y0·y1] and P(y0·y1 > 0) under p(y) ∝ P(relevant | y)^power on the uniform square
    (midpoint rule on a 2000 × 2000 grid)."""
    u = (np.arange(2000) + 0.5) / 1000.0 - 1.0
    y0, y1 = np.meshgrid(u, u, indexing="ij")
    weight = _soft_truth(np.stack([y0.ravel(), y1.ravel()], axis=1)) ** power
    prod = (y0 * y1).ravel()
    total = weight.sum()
    return float(np.sum(weight * prod) / total), float(np.sum(weight * (prod > 0)) / total)


def test_random_labels_the_guide_recovers_the_probability(soft: KineticFlow) -> None:
    assert soft.guide is not None
    y = _y_from_km(_data(20_000, seed=9)[0])
    assert np.mean(np.abs(soft.guide.prob_relevant(y) - _soft_truth(y))) < 0.03
    # calibrated: the held-out likelihood of the relevant class is highest near Bayes' rule
    assert 0.8 < soft.guide.summary["power_max_likelihood"] < 1.25


@pytest.mark.parametrize("power", [1.0, 4.0])
def test_random_labels_generation_follows_bayes_rule(soft: KineticFlow, power: float) -> None:
    """p(y | relevant) ∝ P(relevant | y) (power 1), or ∝ P^power: moments from the grid (an
    over- or under-confident guide misses them)."""
    product, same_sign = _grid_moments(power)
    g = _y_from_km(soft.generate(20_000, "relevant", seed=10, power=power))
    assert np.mean(g[:, 0] * g[:, 1]) == pytest.approx(product, abs=0.01)
    assert np.mean(g[:, 0] * g[:, 1] > 0) == pytest.approx(same_sign, abs=0.015)
    assert g[:, 2:].std(axis=0) == pytest.approx([1 / np.sqrt(3)] * 2, abs=0.01)


def test_same_seed_same_models_and_the_artefact_round_trip(guided: KineticFlow, tmp_path) -> None:
    a = guided.generate(3000, "relevant", seed=5)
    assert np.array_equal(a, guided.generate(3000, "relevant", seed=5))
    assert not np.array_equal(a, guided.generate(3000, "relevant", seed=6))
    guided.save(tmp_path / "generator.pt")
    back = KineticFlow.load(tmp_path / "generator.pt")
    assert back.guide is not None and back.guide.temperature == guided.guide.temperature
    assert np.array_equal(back.generate(3000, "relevant", seed=5), a)


def test_version_1_files_without_a_guide_still_load(guided: KineticFlow, tmp_path) -> None:
    path = guided.save(tmp_path / "generator.pt")
    payload = torch.load(path, weights_only=True)
    payload.pop("guide")
    payload["format_version"] = 1
    torch.save(payload, path)
    old = KineticFlow.load(path)
    assert old.guide is None
    unguided = guided.generate(500, "relevant", seed=1, guided=False)
    assert np.array_equal(old.generate(500, "relevant", seed=1), unguided)
    with pytest.raises(GenerationError, match="no relevance guide"):
        old.generate(10, "relevant", guided=True)
    payload["format_version"] = 99
    torch.save(payload, path)
    with pytest.raises(GeneratorFileError, match="unsupported version"):
        KineticFlow.load(path)


def test_a_class_the_guide_never_keeps_is_refused(soft: KineticFlow) -> None:
    # P(relevant | y) ≤ 1/(1 + e⁻⁶) = 0.9975: to the power 5000, at most 4e-6 is kept
    with pytest.raises(GenerationError, match=r"keeps \d+ of \d+ draws"):
        soft.generate(1000, "relevant", seed=1, power=5000.0)


def _guide_probabilities(share: float) -> tuple[np.ndarray, dict]:
    """A guide trained on the soft-truth data with ``bfloat16_share`` ``share``: its
    probabilities on held-out draws, and its summary."""
    km, _, _ = _data(12_000, seed=11)
    truth = _soft_truth(_y_from_km(km))
    relevant = np.random.default_rng(12).random(truth.size) < truth
    flow = KineticFlow(
        REF,
        list("abcd"),
        {"model": "none", "physiology": "none"},
        FlowConfig(transforms=0),
        GUIDE.replace(epochs=4, bfloat16_share=share),
    )
    flow.fit(km, relevant)
    assert flow.guide is not None and flow.guide.config.bfloat16_share == share
    probs = flow.guide.prob_relevant(_y_from_km(_data(4000, seed=13)[0]))
    return probs, flow.guide.summary


def test_without_native_bfloat16_the_guide_trains_in_float32(monkeypatch) -> None:
    """Where bfloat16 would be emulated (many times slower), a mixed-precision share trains
    exactly the float32 network, and the summary says no step was mixed."""
    import rekindle.flow.guide as guide_module

    monkeypatch.setattr(guide_module, "native_bfloat16", lambda: False)
    float32, summary32 = _guide_probabilities(0.0)
    mixed, summary = _guide_probabilities(1.0)
    np.testing.assert_array_equal(mixed, float32)
    assert summary["bfloat16_steps"] == summary32["bfloat16_steps"] == 0
    monkeypatch.setattr(guide_module, "native_bfloat16", lambda: True)
    assert guide_module.mixed_precision_steps(GUIDE.replace(bfloat16_share=0.5), 100) == 50


@pytest.mark.skipif(
    not native_bfloat16(),
    reason="no native bfloat16 on this CPU: the guide trains in float32",
)
def test_mixed_precision_training_changes_the_arithmetic_not_the_answer() -> None:
    """The same seed and data in float32, in mixed bfloat16, and mixed for the first half of
    the steps: different weights (the setting takes effect), the same probabilities to well
    within the guide's own error."""
    probs = {share: _guide_probabilities(share)[0] for share in (0.0, 0.5, 1.0)}
    for share in (0.5, 1.0):
        gap = np.abs(probs[0.0] - probs[share])
        assert gap.max() > 1e-6  # bfloat16 products: not the float32 network
        assert gap.mean() < 0.03


@pytest.mark.parametrize("share", [-0.1, 1.5, float("nan")])
def test_a_bfloat16_share_outside_0_1_is_refused(share: float) -> None:
    with pytest.raises(ValueError, match=r"bfloat16_share must lie in \[0, 1\]"):
        GuideConfig(bfloat16_share=share)


def test_the_auxiliary_target_of_a_class_bounded_at_zero_is_finite() -> None:
    lam = np.array([-20.0, -1.0, 0.0, 3.0, np.nan])
    assert np.allclose(stability_margin(lam, -9.0)[:4], np.arcsinh(lam[:4] / 9.0))
    margin = stability_margin(lam, 0.0)  # max_eig < 0: scale 1/h
    assert np.allclose(margin[:4], np.arcsinh(lam[:4]))
    assert np.isnan(margin[4])


def test_the_first_layer_reads_the_features_in_float32_under_autocast() -> None:
    from rekindle.flow.guide import RelevanceNet

    net = RelevanceNet(4, 8, 2)
    dtypes: list[torch.dtype] = []
    for layer in (net.trunk[0], net.trunk[2]):
        layer.register_forward_hook(lambda _m, _i, out: dtypes.append(out.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        net(torch.randn(3, 4))
    assert dtypes == [torch.float32, torch.bfloat16]


def test_cached_and_streamed_training_rows_give_the_same_guide(monkeypatch) -> None:
    """Training rows kept in memory across passes (the default for sources that fit
    ``GUIDE_CACHE_BYTES``) and rows re-read every pass train bit-identical guides."""
    import rekindle.flow.guide as guide_module

    km, _, _ = _data(6000, seed=14)
    relevant = np.random.default_rng(15).random(km.shape[0]) < _soft_truth(_y_from_km(km))
    states = []
    for cap in (guide_module.GUIDE_CACHE_BYTES, 0):
        monkeypatch.setattr(guide_module, "GUIDE_CACHE_BYTES", cap)
        flow = KineticFlow(
            REF,
            list("abcd"),
            {"model": "none", "physiology": "none"},
            FlowConfig(transforms=0),
            GUIDE.replace(epochs=3, chunk_rows=2000),
        )
        flow.fit(km, relevant)
        assert flow.guide is not None
        states.append(flow.guide.net.state_dict())
    assert states[0].keys() == states[1].keys()
    assert all(torch.equal(states[0][k], states[1][k]) for k in states[0])


def test_guided_rows_asked_in_float32_are_the_float64_rows_exactly(guided: KineticFlow) -> None:
    # generate_dataset takes the guided features in float32 and converts them later
    y64 = guided.generate(3000, seed=4, scaled=True)
    y32 = guided.generate(3000, seed=4, scaled=True, dtype=np.float32)
    assert guided.uses_guide() and y32.dtype == np.float32
    np.testing.assert_array_equal(y32.astype(np.float64), y64)
    km = guided.scaler.inverse_transform(y32)
    np.testing.assert_array_equal(km, guided.generate(3000, seed=4))
