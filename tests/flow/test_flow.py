"""The flow generator: exact marginals, the copula of a known Gaussian, streaming equal to
in-memory training, a learnt flow that beats the copula on non-Gaussian dependence, and the
artefact round trip through rekindle's generation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from scipy.special import ndtr, ndtri

from rekindle.errors import GeneratorFileError
from rekindle.flow import FlowConfig, KineticFlow
from rekindle.flow.marginals import MarginalScores

REF = np.array([50.0, 200.0, 1000.0])


def _km_from_z(z: np.ndarray) -> np.ndarray:
    """z = atanh(2σ − 1) = (ln x_ref − ln K_M)/2 → K_M."""
    return REF * np.exp(-2.0 * z)


def _correlated(n: int, rho: float, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    cov = np.array([[1.0, rho, 0.0], [rho, 1.0, 0.0], [0.0, 0.0, 1.0]]) * 0.25
    return rng.multivariate_normal(np.zeros(3), cov, n)


def _flow(config: FlowConfig) -> KineticFlow:
    return KineticFlow(REF, ["a", "b", "c"], {"model": "none", "physiology": "none"}, config)


def test_marginal_scores_round_trip_and_are_standard_normal():
    rng = np.random.default_rng(0)
    y = np.tanh(rng.standard_normal((20000, 4)))
    labels = rng.integers(0, 2, 20000)
    marg = MarginalScores(2, 4, 512)
    marg.update(y[:7000], labels[:7000])
    marg.update(y[7000:], labels[7000:])
    g = marg.finalize().to_scores(y, labels)
    assert np.allclose(g.mean(axis=0), 0.0, atol=0.02)
    assert np.allclose(g.std(axis=0), 1.0, atol=0.02)
    assert np.max(np.abs(marg.from_scores(g, labels) - y)) < 1e-12


def test_marginal_scores_are_the_normal_quantiles_of_the_interpolated_cdf():
    """Against np.interp of each class's CDF over the bin edges (rows over several of
    to_scores' blocks, classes mixed, the ends of (−1, 1) included)."""
    rng = np.random.default_rng(2)
    y = np.tanh(rng.standard_normal((1500, 3)) * 1.5)
    y[:4] = [[-1.0, 1.0 - 1e-12, 0.0], [1.0 - 1e-12, -1.0, 0.5], [0.25, 0.25, -0.999], [0, 0, 0]]
    labels = rng.integers(0, 2, len(y))
    marg = MarginalScores(2, 3, 64)
    marg.update(y, labels)
    cdf = marg.finalize().cdf
    assert cdf is not None
    edges = np.linspace(-1.0, 1.0, 65)
    want = np.empty_like(y)
    for c in range(2):
        rows = labels == c
        for j in range(3):
            u = np.interp(y[rows, j], edges, cdf[c, j])
            want[rows, j] = ndtri(np.clip(u, 1e-8, 1 - 1e-8))
    assert np.allclose(marg.to_scores(y, labels), want, rtol=0, atol=1e-9)


def test_inverse_cdf_equals_a_sorted_search_on_a_very_uneven_histogram():
    """The index table + stepping finds the bin a sorted search finds, even where one
    cell of the table spans hundreds of nearly empty bins (all data in three bins)."""
    rng = np.random.default_rng(1)
    y = rng.choice([-0.9, 0.001, 0.5], size=(50_000, 2)) + rng.uniform(0, 1e-3, (50_000, 2))
    marg = MarginalScores(1, 2, 256, alpha=1e-3)
    marg.update(y, np.zeros(50_000, dtype=np.int64))
    cdf = marg.finalize().cdf
    assert cdf is not None
    g = np.concatenate([rng.standard_normal((5000, 2)) * 3, [[-40.0, 40.0], [0.0, 0.0]]])
    u = ndtr(g)
    got = marg.from_scores(g, np.zeros(len(g), dtype=np.int64))
    for j in range(2):
        k = np.clip(np.searchsorted(cdf[0, j], u[:, j], side="right") - 1, 0, 255)
        lo, hi = cdf[0, j, k], cdf[0, j, k + 1]
        want = (k + np.clip((u[:, j] - lo) / (hi - lo), 0, 1)) * (2 / 256) - 1
        assert np.array_equal(got[:, j], want)


def test_copula_reproduces_a_known_correlation_and_the_marginal_width():
    z = _correlated(40000, 0.8, seed=1)
    relevant = np.arange(z.shape[0]) % 2 == 0
    z[~relevant] *= 2.0  # the other class twice as wide: the classes are kept apart
    flow = _flow(FlowConfig(transforms=0))
    flow.fit(_km_from_z(z), relevant)
    km = flow.generate(20000, "relevant", seed=3)
    z_gen = 0.5 * (np.log(REF) - np.log(km))
    assert np.corrcoef(z_gen.T)[0, 1] == pytest.approx(0.8, abs=0.02)
    assert abs(np.corrcoef(z_gen.T)[0, 2]) < 0.03
    # std of a N(0, 1/4) marginal: 0.5 (relevant class), 1.0 (the other class)
    assert np.std(z_gen, axis=0) == pytest.approx([0.5, 0.5, 0.5], abs=0.015)
    z_other = 0.5 * (np.log(REF) - np.log(flow.generate(20000, "not_relevant", seed=3)))
    assert np.std(z_other, axis=0) == pytest.approx([1.0, 1.0, 1.0], abs=0.03)


def test_streaming_from_a_file_equals_training_in_memory(tmp_path):
    from rekindle.io.dataset import DatasetWriter

    z = _correlated(6000, 0.5, seed=2)
    km, relevant = _km_from_z(z), z[:, 0] > -0.2
    names = ["a", "b", "c", "other"]
    params = np.column_stack([km, np.ones(len(km))])
    with DatasetWriter(tmp_path / "d.h5", names, {"model": "none"}) as writer:
        for i in range(0, 6000, 1000):
            writer.append(params[i : i + 1000], np.zeros(1000), relevant[i : i + 1000])
    cfg = FlowConfig(transforms=1, hidden=8, chunk_rows=700, batch_size=64, max_steps=30)
    in_memory, streamed = _flow(cfg), _flow(cfg)
    in_memory.fit(km, relevant)
    streamed.fit(path=tmp_path / "d.h5", km_columns=np.array([0, 1, 2]))
    assert streamed.training_summary["n_train"] == 5400
    np.testing.assert_array_equal(in_memory.generate(500, seed=1), streamed.generate(500, seed=1))


def test_flow_learns_dependence_the_copula_cannot_express():
    rng = np.random.default_rng(4)
    n = 20000
    a = rng.standard_normal(n)
    # a V-shaped dependence: b is uncorrelated with a, so the copula sees nothing
    b = 0.8 * np.abs(a) + 0.3 * rng.standard_normal(n)
    z = np.column_stack([a, b, rng.standard_normal(n)]) * 0.5
    cfg = FlowConfig(transforms=4, hidden=32, batch_size=256, epochs=2, eval_every=50)
    flow = _flow(cfg)
    summary = flow.fit(_km_from_z(z), np.arange(n) % 2 == 0)
    assert summary["validation_nll_best"] < summary["validation_nll_initial"] - 0.05
    assert summary["best_step"] > 0
    z_gen = 0.5 * (np.log(REF) - np.log(flow.generate(20000, seed=5)))
    corr_abs = np.corrcoef(np.abs(z_gen[:, 0]), z_gen[:, 1])[0, 1]
    # the data's corr(|a|, b) is 0.74; the copula's 0 (it makes a and b independent)
    assert corr_abs > 0.3


def test_artefact_round_trip_and_refusals(tmp_path):
    flow = _flow(FlowConfig(transforms=1, hidden=8, batch_size=64, max_steps=5))
    z = _correlated(3000, 0.3, seed=6)
    flow.fit(_km_from_z(z), z[:, 0] > 0)
    path = flow.save(tmp_path / "generator.pt")
    again = KineticFlow.load(path)
    np.testing.assert_array_equal(flow.generate(100, seed=2), again.generate(100, seed=2))
    assert again.metadata["generator"] == "flow"
    torch.save({"format": "something else"}, tmp_path / "other.pt")
    with pytest.raises(GeneratorFileError, match="not a rekindle-flow"):
        KineticFlow.load(tmp_path / "other.pt")
    (tmp_path / "broken.pt").write_bytes(path.read_bytes()[:200])
    with pytest.raises(GeneratorFileError, match="corrupted"):
        KineticFlow.load(tmp_path / "broken.pt")


def _toy_generator(toy, path, guide=None) -> tuple[Path, np.ndarray]:
    """A flow (with ``guide``'s relevance guide, if given) fitted on 4 000 toy ORACLE sets
    and saved at ``path``; returns the path and the sets' labels."""
    from rekindle.data import load_physiology
    from rekindle.sampling import km_reference_concentrations, sample_parameters

    phys = load_physiology("toy", "ref")
    params, _, relevant = sample_parameters(toy, phys, 4000, seed=0)
    km_cols = [toy.parameter_index[k] for k in toy.km_names]
    flow = KineticFlow(
        km_reference_concentrations(toy, phys),
        toy.km_names,
        {"model": "toy", "physiology": "ref"},
        FlowConfig(transforms=0),
        guide,
    )
    flow.fit(params[:, km_cols], relevant)
    return flow.save(path), relevant


def test_generation_validates_flow_models_with_the_engine(tmp_path, toy):
    """A flow on toy ORACLE data, loaded by load_generator, streamed through generate_dataset."""
    from rekindle.generation import generate_dataset, load_generator
    from rekindle.io.dataset import read_dataset

    path, relevant = _toy_generator(toy, tmp_path / "generator.pt")
    out = generate_dataset(load_generator(path), 2000, tmp_path / "g.h5", validate=True, seed=1)
    # the copula of a 1-moiety toy model: at least as relevant as the ORACLE data
    assert out["incidence"] >= float(np.mean(relevant)) - 0.03
    assert read_dataset(tmp_path / "g.h5").n_models == 2000


def test_a_flow_that_only_overfits_is_not_kept():
    """Independent Gaussian scores: the copula is exact; a flow trained on few rows
    overfits, and the kept state is the starting identity (the copula itself)."""
    z = _correlated(600, 0.0, seed=9)
    relevant = np.arange(600) % 2 == 0
    copula, flow = _flow(FlowConfig(transforms=0)), _flow(
        FlowConfig(transforms=2, hidden=64, batch_size=32, epochs=30, eval_every=20)
    )
    copula.fit(_km_from_z(z), relevant)
    summary = flow.fit(_km_from_z(z), relevant)
    if summary["best_step"] == 0:
        np.testing.assert_allclose(flow.generate(200, seed=1), copula.generate(200, seed=1))
    kept = next(h for h in flow.history if h["step"] == summary["best_step"])
    assert kept["validation_nll"] == min(h["validation_nll"] for h in flow.history)


def test_a_guided_file_is_one_stream_whatever_the_chunk_size(tmp_path, toy) -> None:
    """generate_dataset with a guided flow: the models are the first n kept draws of one
    stream (seed), completed by the engine, whatever the chunk size, and none is dropped
    between chunks."""
    from rekindle.flow import GuideConfig
    from rekindle.generation import generate_dataset, labeller_for, load_generator
    from rekindle.io.dataset import read_dataset

    guide = GuideConfig(hidden=32, layers=2, epochs=2, chunk_rows=2000)
    gan = load_generator(_toy_generator(toy, tmp_path / "generator.pt", guide)[0])
    assert gan.uses_guide()
    files = []
    for chunk in (1500, 400, 1001):
        out = tmp_path / f"g{chunk}.h5"
        generate_dataset(gan, 1500, out, seed=5, chunk_size=chunk)
        files.append(read_dataset(out).parameters)
    with gan.guided_stream("relevant", seed=5) as stream:
        y = np.empty((1500, len(toy.km_names)), np.float32)
        stream.fill(y)
    # generate() with that seed takes the same stream
    np.testing.assert_array_equal(gan.generate(1500, seed=5, scaled=True, dtype=np.float32), y)
    labeller = labeller_for(gan)
    km = gan.scaler.inverse_transform(y)
    expected = labeller.system.complete_parameters(km, labeller.physiology)
    for got in files:
        np.testing.assert_array_equal(got, expected)
