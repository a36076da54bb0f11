"""The sampler delivers the uniform prior restricted to the class, exactly.

Toy case with a known answer: d = 5 saturations, "max Re(λ)" = −10 Σσ, class
max_eig < −42 ⇔ Σσ > 4.2 (P = 0.8⁵/5! = 2.7·10⁻⁴). With y = (1 − σ)/0.8 the class is
the simplex {y ≥ 0, Σy < 1} under the uniform law, so y₁ ~ Beta(1, 5) and
Σy ~ Beta(5, 1) (CDF s⁵): analytic references, no sampling on the reference side.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from rekindle.classes import ClassSamplerSettings, parse_where, sample_class

D = 5


def _measure(sigma: np.ndarray) -> np.ndarray:
    return -10.0 * sigma.sum(axis=1)


@pytest.fixture(scope="module")
def draw():
    spec = parse_where("max_eig < -42")
    return sample_class(spec, _measure, D, 6000, ClassSamplerSettings(seed=3, thin=20))


def test_members_are_members_and_counted(draw) -> None:
    assert draw.saturation.shape == (6000, D)
    assert (draw.max_real_eigenvalue < -42).all()
    np.testing.assert_allclose(draw.max_real_eigenvalue, _measure(draw.saturation))
    # P(class) estimated within a factor 2 of the exact 2.73e-4
    assert abs(draw.diagnostics["log10_p_class"] - np.log10(0.8**5 / 120)) < 0.3
    assert draw.diagnostics["duplicate_fraction"] < 0.02


def test_marginals_match_the_restricted_prior(draw) -> None:
    y = (1.0 - draw.saturation) / 0.8
    for j in range(D):
        assert stats.kstest(y[:, j], stats.beta(1, D).cdf).statistic < 0.03
    s = y.sum(axis=1)
    assert stats.kstest(s, lambda t: np.clip(t, 0, 1) ** D).statistic < 0.03


def test_a_block_of_every_coordinate_delivers_the_same_law() -> None:
    """Chains whose class-fitted block is all 5 coordinates (generalised pCN alone, no
    other move) deliver the same Beta(1, 5) marginals and Beta(5, 1) sum."""
    spec = parse_where("max_eig < -42")
    settings = ClassSamplerSettings(seed=4, thin=20, block_below_beta=1.0)
    draw = sample_class(spec, _measure, D, 6000, settings)
    assert draw.diagnostics["block_size"] == D
    y = (1.0 - draw.saturation) / 0.8
    for j in range(D):
        assert stats.kstest(y[:, j], stats.beta(1, D).cdf).statistic < 0.03
    assert stats.kstest(y.sum(axis=1), lambda t: np.clip(t, 0, 1) ** D).statistic < 0.03


def test_the_check_fails_for_a_narrowed_or_shifted_population(draw) -> None:
    """The same criterion refuses a sampler that favours the class interior."""
    y = (1.0 - draw.saturation) / 0.8
    s = y.sum(axis=1)
    interior = y[s < 0.85]  # a population pushed away from the class boundary
    assert stats.kstest(interior.sum(axis=1), lambda t: np.clip(t, 0, 1) ** D).statistic > 0.03
    # narrowed: the central half of each marginal
    narrow = y[(y[:, 0] > np.quantile(y[:, 0], 0.1)) & (y[:, 0] < np.quantile(y[:, 0], 0.9))]
    assert stats.kstest(narrow[:, 0], stats.beta(1, D).cdf).statistic > 0.03


def test_band_class_fills_the_band() -> None:
    """A band (two-sided) class: Σσ in (3.9, 4.1); the conditional law of Σσ is the
    Irwin–Hall density restricted to the band."""
    spec = parse_where("-41 < max_eig < -39")
    d = sample_class(spec, _measure, D, 4000, ClassSamplerSettings(seed=5, thin=20))
    s = d.saturation.sum(axis=1)
    assert ((s > 3.9) & (s < 4.1)).all()
    ih = stats.irwinhall(D) if hasattr(stats, "irwinhall") else None
    if ih is None:  # Irwin–Hall CDF by its closed form
        from math import comb, factorial

        def cdf(x):
            x = np.asarray(x, dtype=float)
            return sum(
                (-1) ** k * comb(D, k) * np.clip(x - k, 0, None) ** D for k in range(D + 1)
            ) / factorial(D)
    else:
        cdf = ih.cdf
    lo, hi = cdf(3.9), cdf(4.1)
    assert stats.kstest(s, lambda x: (cdf(np.clip(x, 3.9, 4.1)) - lo) / (hi - lo)).statistic < 0.04


def test_a_common_class_is_drawn_by_the_exact_filter() -> None:
    """P(class)·thin ≥ 1: ORACLE + filter yields more per label than chains; i.i.d."""
    d = sample_class(parse_where("max_eig < -25"), _measure, D, 3000, ClassSamplerSettings(seed=2))
    assert d.mode == "rejection" and d.diagnostics["duplicate_fraction"] == 0
    s = d.saturation.sum(axis=1)
    assert (s > 2.5).all()


def test_continuing_from_seeds_skips_the_levels(draw) -> None:
    spec = parse_where("max_eig < -42")
    more = sample_class(spec, _measure, D, 500, ClassSamplerSettings(seed=4), start=draw.state)
    assert more.diagnostics["n_levels"] == 0
    assert (more.max_real_eigenvalue < -42).all()


def test_a_class_common_enough_after_levels_is_filtered_iid() -> None:
    """P = P(Σσ > 3.5) ≈ 0.08 < p0 needs a level, but P·thin ≥ 1: fresh prior draws
    only (the level's chain states are not delivered), so no repeated state."""
    spec = parse_where("max_eig < -35")
    d = sample_class(spec, _measure, D, 2000, ClassSamplerSettings(seed=7, thin=50))
    assert d.mode == "rejection" and d.diagnostics["n_levels"] >= 1
    assert d.diagnostics["duplicate_fraction"] == 0
    s = d.saturation.sum(axis=1)
    assert (s > 3.5).all()
