"""pCN chains with a class-fitted block deliver the restricted prior exactly.

The block's move (:mod:`rekindle.classes.block`) is generalised pCN, reversible with
respect to a fitted Gaussian ``ψ`` and corrected by the density ratio ``φ/ψ``. Checks:
the ratio against scipy's normal densities; the move leaves ``ψ`` invariant (its
reversibility); on the half-space toy (:mod:`tests.classes.halfspace`, known answer) the
chains deliver the restricted prior, and the same chains without the ratio do not.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats
from tests.classes.halfspace import TAIL, D, coordinates, ks_all, measure

from rekindle.classes import ClassSamplerSettings, parse_where, sample_class
from rekindle.classes.block import BlockReference, fit_block, pool_states
from rekindle.classes.chains import _Blocked
from rekindle.classes.settings import ChainState

SPEC = parse_where("max_eig < -25")


def _reference() -> BlockReference:
    chol = np.array([[0.5, 0.0, 0.0], [0.2, 0.3, 0.0], [-0.1, 0.4, 0.6]])
    return BlockReference(np.array([1, 3, 4]), np.array([1.5, -0.5, 0.2]), chol)


def test_the_ratio_is_the_log_density_ratio_of_the_block() -> None:
    ref = _reference()
    u = np.random.default_rng(0).standard_normal((50, 6))
    psi = stats.multivariate_normal(ref.mean, ref.chol @ ref.chol.T)
    ub = u[:, ref.index]
    exact = stats.multivariate_normal(np.zeros(3)).logpdf(ub) - psi.logpdf(ub)
    got = ref.log_ratio(u)
    np.testing.assert_allclose(got - got[0], exact - exact[0], rtol=0, atol=1e-10)


def test_the_move_leaves_the_fitted_gaussian_invariant() -> None:
    """u_B ~ ψ before a move ⇒ u'_B ~ ψ after it; the other coordinates never move."""
    ref, rng = _reference(), np.random.default_rng(1)
    cov = ref.chol @ ref.chol.T
    u = rng.standard_normal((200_000, 6))
    u[:, ref.index] = ref.mean + rng.standard_normal((u.shape[0], 3)) @ ref.chol.T
    v = ref.propose(u, 0.7, rng)
    np.testing.assert_array_equal(v[:, ref.rest(6)], u[:, ref.rest(6)])
    vb = v[:, ref.index]
    np.testing.assert_allclose(vb.mean(axis=0), ref.mean, atol=0.005)
    np.testing.assert_allclose(np.cov(vb.T), cov, atol=0.005)
    # a move with the wrong scale does not: the check can fail
    wide = BlockReference(ref.index, ref.mean, 1.2 * ref.chol).propose(u, 0.7, rng)
    assert np.abs(np.cov(wide[:, ref.index].T) - cov).max() > 0.05


def test_the_block_is_the_most_constrained_coordinates() -> None:
    rng = np.random.default_rng(2)
    u = rng.standard_normal((20_000, 6))
    u[:, 2] = 0.3 * u[:, 2] + 1.0  # narrowed and shifted
    u[:, 5] = 0.5 * u[:, 5]  # narrowed
    moments = None
    for chunk in np.array_split(u, 7):
        moments = pool_states(moments, chunk)
    assert moments is not None
    block = fit_block(moments, 2)
    np.testing.assert_array_equal(block.index, [2, 5])
    np.testing.assert_allclose(block.mean, [1.0, 0.0], atol=0.02)
    np.testing.assert_allclose(np.diag(block.chol @ block.chol.T), [0.09, 0.25], rtol=0.05)


@pytest.fixture(scope="module")
def draw():
    """4 000 members by pCN chains with a block of 2 (the class's coordinates u₁, u₂)."""
    settings = ClassSamplerSettings(
        seed=11, population=2000, delivery="pcn", block_size=2, block_below_beta=1.0
    )
    return sample_class(SPEC, measure, D, 4000, settings)


def test_the_block_is_the_class_coordinates(draw) -> None:
    d = draw.diagnostics
    assert d["block_size"] == 2 and d["block_coordinates"] == [0, 1]
    assert d["acceptance_block_production"] > 0.15  # γ = 1 here: independent draws of ψ
    assert draw.block is not None and draw.gamma == d["gamma"]


def test_law_is_the_restricted_prior(draw) -> None:
    assert (draw.max_real_eigenvalue < -25).all()
    s, o, rest = coordinates(draw.saturation)
    assert ks_all(s, o, rest) < 0.03
    assert abs(s.mean() - TAIL.mean()) < 0.02 and abs(s.var() / TAIL.var() - 1) < 0.1


def test_jumps_from_scratch_refit_the_block_and_deliver_the_restricted_prior() -> None:
    """Jumps start at the block's fit halfway through the burn-in; the block is fitted again
    at its end (from better-mixed states) and the law is still exact."""
    settings = ClassSamplerSettings(
        seed=13, population=2000, delivery="pcn", block_size=2, block_below_beta=1.0,
        block_jumps=2,
    )  # fmt: skip
    draw = sample_class(SPEC, measure, D, 4000, settings)
    d = draw.diagnostics
    assert d["block_jumps"] == 2 and d["acceptance_jump_production"] > 0.1
    assert d["block_coordinates"] == [0, 1]
    assert ks_all(*coordinates(draw.saturation)) < 0.03


@pytest.mark.parametrize(("accepted", "kept"), [(1, 0), (10, 1)])
def test_after_the_refit_the_ratios_are_those_of_the_new_block(accepted: int, kept: int) -> None:
    """The chains' cached ratio ρ is recomputed for the refitted block (a stale ρ would
    bias every later acceptance), and jumps accepted less often than
    JUMP_MIN_ACCEPTANCE (0.002) in the burn-in are dropped for the production."""
    settings = ClassSamplerSettings(block_size=3, block_jumps=1)
    rng = np.random.default_rng(4)
    blocked = _Blocked(None, float("nan"), fit_step=4, pool_after=0, refit_step=8, jumps=1)
    blocked.jump_counts[:] = [accepted, 1000]
    shape = np.ones(D)
    for step in range(1, 9):
        u = rng.standard_normal((500, D)) * (0.5 if step <= 4 else 1.5) + (step > 4)
        blocked.observe(step, u, settings, shape, beta=0.01)
        if step == 4:
            first = blocked.block
    assert blocked.block is not None and blocked.block is not first
    assert not np.allclose(blocked.block.mean, first.mean)
    np.testing.assert_allclose(blocked.rho, blocked.block.log_ratio(u))
    assert blocked.jumps == kept and blocked.jump_acceptance_burn_in == accepted / 1000


class _WithoutRatio(BlockReference):
    """The same moves, accepted without the density ratio φ/ψ (wrong)."""

    def log_ratio(self, u: np.ndarray) -> np.ndarray:
        return np.zeros(u.shape[0])


@pytest.mark.parametrize("jumps", [0, 2])
def test_the_check_fails_without_the_ratio(draw, jumps: int) -> None:
    """Continuing the chains with the ratio dropped delivers ψ restricted to the class,
    not the prior: the same criterion refuses it (with or without independence jumps)."""
    b = draw.block
    start = ChainState(
        draw.seeds, draw.beta, draw.shape, block=_WithoutRatio(b.index, b.mean, b.chol),
        gamma=draw.gamma,
    )  # fmt: skip
    settings = ClassSamplerSettings(
        seed=12, population=2000, delivery="pcn", thin=20, block_jumps=jumps
    )
    wrong = sample_class(SPEC, measure, D, 4000, settings, start=start)
    s, _, _ = coordinates(wrong.saturation)
    assert stats.kstest(s, TAIL.cdf).statistic > 0.05
    # and the right ratio, continued the same way, stays exact
    start = ChainState(draw.seeds, draw.beta, draw.shape, block=b, gamma=draw.gamma)
    right = sample_class(SPEC, measure, D, 4000, settings, start=start)
    assert ks_all(*coordinates(right.saturation)) < 0.03
    if jumps:
        assert right.diagnostics["acceptance_jump_production"] > 0.1


def test_a_jump_draws_the_block_from_the_fitted_gaussian_and_the_rest_from_the_prior() -> None:
    ref, rng = _reference(), np.random.default_rng(3)
    u = np.full((200_000, 6), 7.0)  # the current states do not matter
    v = ref.jump(u, rng)
    np.testing.assert_allclose(v.mean(axis=0)[ref.index], ref.mean, atol=0.005)
    np.testing.assert_allclose(np.cov(v[:, ref.index].T), ref.chol @ ref.chol.T, atol=0.005)
    rest = v[:, ref.rest(6)]
    np.testing.assert_allclose(rest.mean(axis=0), 0.0, atol=0.01)
    np.testing.assert_allclose(np.cov(rest.T), np.eye(3), atol=0.01)


def test_plain_pcn_without_a_block() -> None:
    settings = ClassSamplerSettings(seed=11, population=2000, delivery="pcn", block_size=0)
    draw = sample_class(SPEC, measure, D, 4000, settings)
    assert draw.block is None and "block_size" not in draw.diagnostics
    assert draw.diagnostics["labels_per_member_production"] == pytest.approx(50.0)
