"""The reduced-precision guided sampler against the float64 path it replaces.

At E. coli's size (259 K_M, the guide's default 3 × 256 trunk): every accept/reject
decision taken by the bfloat16 screen with float32/float64 rechecks is the float64
network's decision on a seeded sample; the tabulated marginal map is within a small
fraction of a histogram bin of the float64 inverse CDF; and what the sampler keeps has
the same acceptance rate and marginals as the float64 algorithm (colouring, inverse CDF,
guide and acceptance all in float64) up to sampling noise.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from scipy.special import expit

from rekindle.flow import GuideConfig
from rekindle.flow.guide import RelevanceGuide, RelevanceNet, native_bfloat16
from rekindle.flow.marginals import MarginalScores, Whitening
from rekindle.flow.sampler import (
    BLOCK_ROWS,
    CALIBRATION_ROWS,
    PAD,
    GuidedSampler,
    GuidedStream,
    ScoreTable,
    ScreenedGuide,
    _bfloat16_rows,
    _gather_rows,
)

D = 259
BINS = 1024


@pytest.fixture(scope="module")
def proposal() -> tuple[MarginalScores, Whitening]:
    """Marginals (skewed, bounded) and a correlated copula counted from 30 000 rows."""
    rng = np.random.default_rng(3)
    mix = np.eye(D) + 0.15 * rng.standard_normal((D, D)) / np.sqrt(D)
    g = rng.standard_normal((30_000, D)) @ mix
    y = np.tanh(0.8 * g + 0.3 * g**2 / (1 + g**2))  # in (−1, 1), skewed
    labels = np.zeros(y.shape[0], dtype=np.int64)
    marginals = MarginalScores(1, D, BINS)
    marginals.update(y, labels)
    marginals.finalize()
    whitening = Whitening(1, D)
    whitening.update(marginals.to_scores(y, labels), labels)
    whitening.finalize()
    return marginals, whitening


@pytest.fixture(scope="module")
def guide() -> RelevanceGuide:
    """A guide of the default shape whose logits spread like a trained one's (±10)."""
    torch.manual_seed(5)
    config = GuideConfig()
    net = RelevanceNet(D, config.hidden, config.layers)
    with torch.no_grad():
        net.head.weight.mul_(25.0)
    return RelevanceGuide(net, 1.35, config)


@pytest.fixture(scope="module")
def sampler(proposal, guide) -> GuidedSampler:
    return GuidedSampler(*proposal, guide, seed=0)


@pytest.fixture(scope="module")
def screens(sampler, guide) -> dict[str, ScreenedGuide]:
    """The sampler's guide screened from each first pass, calibrated on the same draws."""
    y = sampler._features(CALIBRATION_ROWS, torch.Generator().manual_seed(0))
    return {first: ScreenedGuide(guide, y, first_pass=first) for first in ("bfloat16", "float32")}


def test_the_first_pass_is_chosen_by_the_cpu(sampler, screens) -> None:
    """Without native bfloat16 products the screen starts in float32 (no bfloat16 band is
    measured); with them, the faster of the two is timed."""
    if native_bfloat16():
        assert sampler.guide.first_pass in ("bfloat16", "float32")
    else:
        assert sampler.guide.first_pass == "float32" and np.isnan(sampler.guide.band16)
    # the bands measured on the same calibration draws: bfloat16's is the wider
    assert screens["bfloat16"].band16 > screens["float32"].band32 > 0
    assert screens["bfloat16"].band32 == screens["float32"].band32


def test_table_is_within_a_fraction_of_a_bin_of_the_float64_map(proposal, sampler) -> None:
    marginals, _ = proposal
    g = np.random.default_rng(1).standard_normal((20_000, D)) * 1.5
    exact = marginals.from_scores(g, np.zeros(g.shape[0], dtype=np.int64))
    fast = sampler.table(torch.as_tensor(g.T.copy(), dtype=torch.float32)).T
    err = np.abs(fast - exact)
    bin_width = 2.0 / BINS
    # the largest errors sit where a bin holds only its pseudo-count (a step of a whole
    # bin over a sliver of g, smoothed by the grid): rare draws, a fraction of a bin
    assert err.max() < 0.5 * bin_width
    assert np.quantile(err, 0.9999) < 0.1 * bin_width
    assert err.mean() < 1e-3 * bin_width
    # the bound measured at construction is of the same size
    assert sampler.table.max_error < 0.5 * bin_width
    # and a coarse table is measurably worse: the test can see interpolation error
    coarse = ScoreTable(marginals, 0, nodes=256)
    coarse_err = np.abs(coarse(torch.as_tensor(g.T.copy(), dtype=torch.float32)).T - exact)
    assert coarse_err.max() > 3 * err.max()


def test_the_compiled_table_is_the_float32_interpolation_bit_for_bit(sampler) -> None:
    """The compiled pass does in float32 what numpy's float32 operations do, one by one:
    shift, index, gathers, multiply-add (no fused or reordered arithmetic)."""
    table = sampler.table
    rng = np.random.default_rng(5)
    g = (rng.standard_normal((D, 3000)) * 2.5).astype(np.float32)
    g[:, :4] = [[-9.0, 9.0, -5.7, 5.7]]  # both clamps and the edges
    shift = (rng.standard_normal(D) * 0.3).astype(np.float32)
    x = (g + shift[:, None] + np.float32(table.edge)) * np.float32(table.scale)
    x = np.minimum(np.maximum(x, np.float32(0.0)), np.float32(table.nodes - 1))
    k = x.astype(np.int64)
    frac = x - k.astype(np.float32)
    idx = k + (np.arange(D) * table.nodes)[:, None]
    expected = table.slopes[idx] * frac + table.values[idx]
    assert expected.dtype == np.float32
    np.testing.assert_array_equal(table(g, shift=shift), expected)
    np.testing.assert_array_equal(table(torch.from_numpy(g)), table(g, shift=np.zeros(D)))


def test_the_triangular_colouring_is_the_full_product(sampler) -> None:
    w = np.random.default_rng(6).standard_normal((D, 1000)).astype(np.float32)
    expected = sampler.cholesky.astype(np.float64) @ w.astype(np.float64)
    got = sampler.colour(w.copy())
    assert got.shape == (D, 1000) and got.dtype == np.float32
    np.testing.assert_allclose(got, expected, rtol=0, atol=2e-5 * np.abs(expected).max())
    # the compiled call is scipy's own strmm (the same OpenBLAS), bit for bit
    from scipy.linalg.blas import strmm

    wt = strmm(1.0, sampler.cholesky, w.T.copy(order="F"), side=1, lower=1, trans_a=1)
    np.testing.assert_array_equal(got, wt.T)
    with pytest.raises(ValueError, match="C-ordered float32"):
        sampler.colour(w.T)


@pytest.mark.parametrize(("cls", "power"), [(0, 1.0), (1, 1.0), (0, 2.5)])
def test_every_decision_is_the_float64_networks(sampler, screens, cls: int, power: float) -> None:
    gen = torch.Generator().manual_seed(11 + cls)
    screen = screens["bfloat16"]
    y = sampler._features(65_536, gen)
    u = torch.rand(y.shape[0], generator=gen)
    thresholds = screen.thresholds(u, power)
    sign = 1.0 if cls == 0 else -1.0
    before = dict(screen.rechecked)
    keep = screen.keep(y, thresholds, sign)
    with torch.inference_mode():
        z64 = screen.net64(y.double())[0]
        z16 = screen._logit16(y).double()
    reference = sign * z64 > thresholds
    assert int((keep != reference).sum()) == 0
    # the independent float64 form of the rule: keep when u < c^power, c = σ(±z/T)
    c = expit(sign * z64.numpy() / screen.temperature)
    direct = u.double().numpy() < c**power
    assert int((reference.numpy() != direct).sum()) <= 2  # rounding of u^(1/p) vs c^p only
    # the screen did the work: bfloat16 alone errs on some draws, rechecks are a minority
    assert int(((sign * z16 > thresholds) != reference).sum()) > 0
    rechecked = screen.rechecked["float32"] - before["float32"]
    assert 0 < rechecked < 0.3 * y.shape[0]


def test_a_float32_first_pass_takes_the_same_decisions(sampler, screens, guide) -> None:
    """The screen may start in float32 (where bfloat16 is the slower on this CPU): the same
    decisions as the bfloat16 screen and as the float64 network, with float64 rechecks for a
    small minority only."""
    gen = torch.Generator().manual_seed(31)
    y = sampler._features(65_536, gen)
    thresholds = screens["float32"].thresholds(torch.rand(y.shape[0], generator=gen), 1.0)
    keep = {}
    for first, screen in screens.items():
        before = dict(screen.rechecked)
        keep[first] = screen.keep(y, thresholds, 1.0)
        after = {k: screen.rechecked[k] - before[k] for k in before}
    assert after["float32"] == 0 and after["float64"] < 0.01 * y.shape[0]
    with torch.inference_mode():
        reference = screens["float32"].net64(y.double())[0] > thresholds
    assert int((keep["float32"] != reference).sum()) == 0
    assert torch.equal(keep["float32"], keep["bfloat16"])
    with pytest.raises(ValueError, match="first_pass"):
        ScreenedGuide(guide, y[:64], first_pass="float16")


def test_kept_draws_follow_the_float64_algorithm(proposal, guide, sampler) -> None:
    """Same acceptance and marginals as the float64 path (colour, inverse CDF, guide,
    ``u < c``), compared as two independent samples."""
    marginals, whitening = proposal
    n = 40_000
    kept = sampler.draw(n, 0, torch.Generator().manual_seed(21)).astype(np.float64)
    rng = np.random.default_rng(22)
    labels = np.zeros(n, dtype=np.int64)
    eps = np.clip(rng.standard_normal((n, D)), -8.0, 8.0)
    y = marginals.from_scores(whitening.colour(eps, labels), labels)
    net64 = sampler.guide.net64
    with torch.inference_mode():
        z = net64(torch.as_tensor(y))[0].numpy()
    ref = y[rng.random(n) < expit(z / guide.temperature)]
    p_fast, p_ref = kept.shape[0] / n, ref.shape[0] / n
    se = np.sqrt(2 * p_ref * (1 - p_ref) / n)
    assert abs(p_fast - p_ref) < 4 * se
    assert 0.2 < p_ref < 0.8
    se_mean = np.sqrt(kept.var(axis=0) / kept.shape[0] + ref.var(axis=0) / ref.shape[0])
    z_mean = (kept.mean(axis=0) - ref.mean(axis=0)) / se_mean
    assert np.abs(z_mean).max() < 5.0  # 259 features: |z| > 5 has p ≈ 1.5e-4 in all
    assert np.abs(np.median(z_mean)) < 0.3
    ratio = kept.std(axis=0) / ref.std(axis=0)
    assert np.abs(ratio - 1).max() < 0.05


def test_the_draw_major_copies_are_torchs_conversions_bit_for_bit() -> None:
    """The transposes of a padded feature-major block: bfloat16 rows rounded as torch
    rounds (ties to even, infinities, subnormals, the largest finite values; NaN stays
    NaN), and
    gathered rows equal to indexing, in float32 and float64, cut at ``out``'s length."""
    rng = np.random.default_rng(8)
    n = 1000
    block = np.empty((D, n + PAD), np.float32)
    block[:, :n] = rng.standard_normal((D, n)) * 10.0 ** rng.integers(-40, 37, (D, n))
    bits = block.view(np.uint32)
    bits[0, :6] = [0x3F808000, 0x3F818000, 0x7FC00001, 0x7F800001, 0x7F800000, 0x00018000]
    bits[1, :3] = [0xFF800000, 0x7F7FFFFF, 0x80008000]  # −inf, largest finite, −subnormal
    block[:, n:] = np.nan  # the padding is never read
    expected = torch.from_numpy(block[:, :n].copy()).T.to(torch.bfloat16).view(torch.uint16)
    got = np.empty((n, D), np.uint16)
    _bfloat16_rows(block, n, got)
    # a NaN stays a NaN (torch's own code paths differ in which NaN they write)
    nan = np.isnan(block[:, :n].T)
    assert nan.sum() == 2
    np.testing.assert_array_equal(got[~nan], expected.numpy()[~nan])
    assert np.isnan(torch.from_numpy(got).view(torch.bfloat16).float().numpy()[nan]).all()
    columns = np.sort(rng.choice(n, 600, replace=False))
    for dtype in (np.float32, np.float64):
        out = np.full((600, D), -7.0, dtype)
        _gather_rows(block, columns, out)
        np.testing.assert_array_equal(out, block[:, columns].T.astype(dtype))
    short = np.full((10, D), -7.0)
    _gather_rows(block, columns, short)
    np.testing.assert_array_equal(short, block[:, columns[:10]].T)


def test_draw_into_writes_what_draw_returns(sampler) -> None:
    """The same seed gives the same kept rows whether returned or written into a float64
    array; a short ``out`` receives the first rows and the count is of all kept."""
    kept = sampler.draw(20_000, 0, torch.Generator().manual_seed(4))
    out = np.full((kept.shape[0] + 5, D), np.nan)
    assert sampler.draw_into(out, 20_000, 0, torch.Generator().manual_seed(4)) == kept.shape[0]
    np.testing.assert_array_equal(out[: kept.shape[0]], kept)
    assert np.isnan(out[kept.shape[0] :]).all()
    short = np.empty((100, D), np.float32)
    assert sampler.draw_into(short, 20_000, 0, torch.Generator().manual_seed(4)) == kept.shape[0]
    np.testing.assert_array_equal(short, kept[:100])
    with pytest.raises(ValueError, match="C-ordered float32"):
        sampler.table(np.zeros((D, 8), np.float32), out=np.zeros((D, 4), np.float32))


def test_the_pipelined_draw_is_the_serial_algorithm_bit_for_bit(sampler) -> None:
    """Blocks made in a second thread, the first pass fed by the compiled transpose and the
    kept rows gathered by the compiled kernel: the same rows, in the same order, as one
    thread making each block, deciding on torch's own conversions and indexing the kept
    rows, with the same generator (three blocks, the last one partial)."""
    b = 2 * BLOCK_ROWS + 1000
    gen = torch.Generator().manual_seed(9)
    expected = []
    for a in range(0, b, BLOCK_ROWS):
        m = min(BLOCK_ROWS, b - a)
        y = sampler._features(m, gen)
        u = torch.rand(m, generator=gen)
        keep = sampler.guide.keep(y, sampler.guide.thresholds(u, 1.5), -1.0)
        expected.append(y[keep].numpy())
    got = sampler.draw(b, 1, torch.Generator().manual_seed(9), power=1.5)
    np.testing.assert_array_equal(got, np.concatenate(expected))


def test_a_stream_is_the_draws_of_whole_blocks_whatever_the_fills(sampler) -> None:
    """The kept draws of a stream, taken in fills of any sizes (inside a block, spanning
    blocks), are those of :meth:`draw` over the same
    whole blocks with the same generator, in order; nothing is dropped between fills."""
    blocks = 3
    expected = sampler.draw(blocks * BLOCK_ROWS, 0, torch.Generator().manual_seed(11), 1.2)
    n = expected.shape[0]
    with GuidedStream(sampler, 0, torch.Generator().manual_seed(11), 1.2) as stream:
        sizes = [7, 1, n // 7, n // 2, n // 5]  # inside a block, across one or two
        sizes.append(n - sum(sizes))
        parts = []
        for i, m in enumerate(sizes):
            out = np.empty((m, D), np.float64 if i % 2 else np.float32)
            stream.fill(out)
            parts.append(out)
        assert stream.drawn == blocks * BLOCK_ROWS and stream.kept == n
    np.testing.assert_array_equal(np.concatenate(parts), expected)


def test_a_stream_that_keeps_too_little_stops_with_one_line(sampler) -> None:
    from rekindle.errors import GenerationError

    stream = GuidedStream(sampler, 0, torch.Generator().manual_seed(1), 1.0, min_acceptance=1.0)
    with stream, pytest.raises(GenerationError, match=r"keeps \d+ of \d+ draws of class 0"):
        stream.fill(np.empty((10 * BLOCK_ROWS, D), np.float32))
