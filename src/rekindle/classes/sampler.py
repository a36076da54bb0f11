"""Members of a rare or costly class, exactly from ORACLE's prior restricted to the class.

ORACLE draws the saturation of every enzyme site independently and uniformly,
``σ ~ U(0, 1)^d``. Through ``u = Φ⁻¹(σ)`` that prior is the standard normal ``N(0, I_d)``.
A class ``C`` (:class:`~rekindle.classes.spec.ClassSpec`) is a set in that space, and the
wanted population is ``N(0, I_d)`` restricted to ``C``: ORACLE + exact filter, without
ORACLE's ``1/P(C)`` draws per member.

Method: *subset simulation* (Au & Beck, Probab. Eng. Mech. 16, 263 (2001)) with
preconditioned Crank–Nicolson moves (Cotter et al., Stat. Sci. 28, 424 (2013)):

1. Draw a population of ``population`` sets from the prior and label them exactly.
2. While fewer than a fraction ``p0`` are members, take the intermediate level
   ``b`` = the ``p0``-quantile of the violation ``v`` (how far max Re(λ) lies outside
   the class, :meth:`ClassSpec.violation`), and regrow the population from the
   ``p0·population`` sets with ``v < b`` by pCN chains restricted to ``{v < b}``.
3. From the members of the last population, run pCN chains restricted to ``C``
   ("production") and keep every ``thin``-th state of every chain.

The pCN proposal ``u' = √(1−β²) u + β z``, ``z ~ N(0, I)``, is reversible with respect
to ``N(0, I)``; accepting it iff ``u' ∈ C`` therefore leaves the prior restricted to ``C``
invariant: no importance weight, no density of a fitted model. Chains started from
members of the restricted prior stay exactly in it (up to the correlation of
successive states); the only approximations are the usual ones of MCMC:
dependence between kept states (reduced by ``thin``; repeated states are counted)
and the quantile-chosen intermediate levels (which bias the estimate of ``P(C)``
by ``O(1/population)``, not the members' law once the chains have mixed).

Fitted routes (``ClassSamplerSettings.delivery``: ``best``, ``imh``, ``rejection``): after
the levels, a :class:`~rekindle.classes.proposal.GaussianProposal` ``q`` with a known
density is fitted by cross-entropy rounds; members are then delivered by independence
Metropolis–Hastings chains (exact in law: ``p|C`` invariant, uniformly ergodic because the
defensive mixture bounds ``p/q ≤ 1/α``) or by rejection against a bound ``M`` (exact when
``M ≥ sup_C p/q``; the truncated mass is estimated and recorded otherwise). ``best`` takes
the route with the fewest estimated labels per member; the default ``auto`` keeps the
filter/pCN rule and fits nothing (on E. coli the fitted routes cost more labels per member
than filter or pCN: docs/science/classfit.md).

Delayed acceptance with a learned screen (``ClassSamplerSettings.delayed_acceptance``;
Christen & Fox, J. Comput. Graph. Stat. 14, 795 (2005)): a
:class:`~rekindle.classes.surrogate.Surrogate` score ``s(u) ∈ [ε, 1]``, fitted on the sets
the levels and the burn-in labelled, screens each pCN proposal: stage 1 passes ``u'``
with probability ``a₁ = min(1, s(u')/s(u))`` *without a label*; only survivors are
labelled, and stage 2 accepts iff ``u' ∈ C`` and ``U < a₂ = min(1, s(u)/s(u'))``.
Exact for any ``s > 0``: with ``q`` the pCN kernel, ``N(u) q(u, u') = N(u') q(u', u)``,
so the move density ``π(u) q(u, u') a₁ a₂ = N(u) q(u, u') 1_C(u) 1_C(u') min(s, s')/max(s, s')``
is symmetric in ``(u, u')``: detailed balance for ``π ∝ N(0, I) 1_C``. A poor ``s`` only
costs mixing. In fact the stage-1 probability may be any ``a₁(u, u') ∈ (0, 1]`` with
stage 2 ``a₂ = 1_C(u') min(1, a₁(u', u)/a₁(u, u'))`` (Christen & Fox's general form; the
move density is then ``N(u) q(u, u') 1_C 1_C' min(a₁(u, u'), a₁(u', u))``, symmetric); the
chains use ``a₁`` of :meth:`~rekindle.classes.surrogate.Surrogate.stage_one`, which scores
``u'`` by the exact label of ``u`` plus the regression's change ``f(u') − f(u)``, and
``a₁(u', u)`` needs only the new label. The screen is refitted once, at the end of the
burn-in, and then fixed.

For a class with a return clause (costly: integrations), acceptance is *delayed*
(Christen & Fox 2005): a proposal is integrated only when its eigenvalue part holds;
the return indicator is random (random perturbations), and keeping a state with its
realised indicator is the pseudo-marginal construction, exact for the prior times
``P(returns | θ)`` restricted to the eigenvalue class, which is what ORACLE + a
random-perturbation filter delivers.

Two ways to spend fewer integrations on such a class (ORACLE + filter mode): the
sequential return test (``sequential_returns``; exact, see
:class:`~rekindle.classes.generate.ReturnTest`) and a learned screen of the candidates
(``screen``; every delivered member verified, but candidates turned away change the
delivered population by the audited miss rate, see :mod:`rekindle.classes.screen`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.special import ndtr, ndtri

from rekindle.classes.proposal import (
    GaussianProposal,
    effective_sample_size,
    fit_proposal,
    independence_acceptance,
    independence_thin,
    truncated_mass,
)
from rekindle.classes.screen import ReturnScreen
from rekindle.classes.spec import ClassSpec
from rekindle.classes.surrogate import Surrogate, fit_surrogate, screen_accuracy
from rekindle.config import Settings, check, check_choice, check_positive_int
from rekindle.errors import GenerationError

__all__ = [
    "ChainState",
    "ClassDraw",
    "ClassSamplerSettings",
    "normal_of",
    "sample_class",
    "saturation_of",
]

#: Delivery routes of :class:`ClassSamplerSettings` (``auto`` picks among the others).
DELIVERIES = ("auto", "best", "filter", "pcn", "imh", "rejection")

#: σ is kept in [floor, 1 − floor] as ORACLE's sampler does.
SATURATION_FLOOR = 1e-12

Measure = Callable[[np.ndarray], np.ndarray]
"""σ ``(m, d)`` → max Re(λ) ``(m,)``, 1/h (NaN: not evaluable)."""
ReturnsTest = Callable[[np.ndarray], np.ndarray]
"""σ ``(m, d)`` → bool ``(m,)``: every perturbation returned."""


def saturation_of(u: np.ndarray) -> np.ndarray:
    """``σ = Φ(u)`` clipped to ORACLE's ``[floor, 1 − floor]``."""
    return np.clip(ndtr(u), SATURATION_FLOOR, 1.0 - SATURATION_FLOOR)


def normal_of(sigma: np.ndarray) -> np.ndarray:
    """``u = Φ⁻¹(σ)``, the inverse of :func:`saturation_of`."""
    return ndtri(np.clip(sigma, SATURATION_FLOOR, 1.0 - SATURATION_FLOOR))


@dataclass(frozen=True)
class ClassSamplerSettings(Settings):
    """Settings of :func:`sample_class` (recorded with the delivered members).

    Attributes
    ----------
    population
        Sets per subset-simulation level.
    p0
        Fraction of a level's population that seeds the next level.
    thin
        pCN steps between two kept states of a production chain (more: fewer repeated
        states, fewer members per labelled set).
    chains
        Production chains at most (each member of the last level seeds one).
    beta
        Initial pCN step (0 < β ≤ 1), adapted towards ``target_acceptance``.
    target_acceptance
        Acceptance rate the step adapts to.
    adapt_steps
        Production steps spent adapting β before any state is kept.
    burn_steps
        Further production steps (β fixed) before the first kept state: the chains
        move away from their seeds, which few level chains share.
    max_levels
        Refuse a class rarer than ``p0 ** max_levels``.
    delivery
        How members are delivered once the class is reached: ``"auto"`` (ORACLE + exact
        filter when ``P(class)·thin ≥ 1``, else pCN chains: no proposal is fitted),
        ``"best"`` (fit the proposal, then the cheapest route in labels per member by
        the estimates of :func:`_choose_delivery`), ``"filter"`` (ORACLE + exact
        filter), ``"pcn"`` (pCN chains, one state every ``thin`` steps), ``"imh"``
        (independence Metropolis–Hastings chains with a fitted proposal, one state every
        ``thin_imh`` steps) or ``"rejection"`` (draws of the fitted proposal kept with
        probability ``min(1, r/M)``).
    fit_rounds
        Cross-entropy rounds (``population`` labelled draws each) fitting the proposal.
    defensive
        Prior share ``α`` of the fitted proposal (bounds ``p/q ≤ 1/α``).
    truncation
        Rejection's bound ``M``: the smallest whose estimated truncated mass is at most
        this (never above the true bound ``1/α``).
    duplicates
        Independence chains: ``thin_imh`` is chosen so that two successive kept states of a
        chain are the same state with at most this probability.
    delayed_acceptance
        pCN production chains screen each proposal with a learned
        :class:`~rekindle.classes.surrogate.Surrogate` before labelling it (exact
        delayed acceptance: fewer labels per step, same invariant law).
    surrogate_floor
        The screen's floor ``ε``: a state the screen rejects is still labelled with
        probability ≥ ``ε`` (relative to the current state's score).
    surrogate_history
        Most labelled sets kept to fit the screen (the latest).
    seed
        Random seed.
    screen
        A class with a return clause, drawn from the prior and filtered (mode
        ``"rejection"``): integrate only the candidates a learned screen
        (:class:`~rekindle.classes.screen.ReturnScreen`) scores as likely members. Every
        delivered member is still verified; the screen's misses (members never
        integrated) are measured on an audit and reported in the diagnostics.
    screen_recall
        Fraction of the members the screen's cut is set to keep.
    screen_audit
        Fraction of the candidates integrated whatever their score (the audit).
    screen_warmup
        Candidates integrated (all, ORACLE + filter) before the screen's first fit.
    screen_l2
        The screen's logistic-regression penalty.
    sequential_returns
        Integrate a candidate's perturbations in stages (1, 1, 2, 4, …) and stop at its
        first stage with one that does not return (exact: the perturbations are
        independent; :class:`~rekindle.classes.generate.ReturnTest`).
    """

    population: int = 4000
    p0: float = 0.1
    thin: int = 50
    chains: int = 1000
    beta: float = 0.5
    target_acceptance: float = 0.3
    adapt_steps: int = 10
    burn_steps: int = 200
    max_levels: int = 40
    delivery: str = "auto"
    fit_rounds: int = 4
    defensive: float = 0.1
    truncation: float = 1e-3
    duplicates: float = 0.02
    delayed_acceptance: bool = False
    surrogate_floor: float = 0.02
    surrogate_history: int = 40_000
    seed: int = 0
    screen: bool = False
    screen_recall: float = 0.95
    screen_audit: float = 0.1
    screen_warmup: int = 200
    screen_l2: float = 10.0
    sequential_returns: bool = False

    def validate(self) -> None:
        check_positive_int(self, "population", "thin", "chains", "max_levels")
        check_positive_int(self, "adapt_steps", "burn_steps", "seed", minimum=0)
        check(0 < self.p0 < 1, f"p0 must lie in (0, 1), got {self.p0}")
        check(self.population * self.p0 >= 2, "population × p0 must be at least 2")
        check(0 < self.beta <= 1, f"beta must lie in (0, 1], got {self.beta}")
        check_choice(self, "delivery", DELIVERIES)
        check_positive_int(self, "fit_rounds")
        check(0 < self.defensive < 1, f"defensive must lie in (0, 1), got {self.defensive}")
        check(0 < self.truncation < 1, f"truncation must lie in (0, 1), got {self.truncation}")
        check(0 < self.duplicates < 1, f"duplicates must lie in (0, 1), got {self.duplicates}")
        check(
            0 < self.surrogate_floor <= 1,
            f"surrogate_floor must lie in (0, 1], got {self.surrogate_floor}",
        )
        check_positive_int(self, "surrogate_history")
        check(
            0 < self.target_acceptance < 1,
            f"target_acceptance must lie in (0, 1), got {self.target_acceptance}",
        )
        check(
            0 < self.screen_recall <= 1,
            f"screen_recall must lie in (0, 1], got {self.screen_recall}",
        )
        check(
            0 < self.screen_audit <= 1, f"screen_audit must lie in (0, 1], got {self.screen_audit}"
        )
        check_positive_int(self, "screen_warmup")
        check(self.screen_l2 >= 0, f"screen_l2 must be ≥ 0, got {self.screen_l2}")

    def make_screen(self) -> ReturnScreen:
        """The :class:`~rekindle.classes.screen.ReturnScreen` of these settings."""
        return ReturnScreen(
            recall=self.screen_recall,
            audit=self.screen_audit,
            warmup=self.screen_warmup,
            l2=self.screen_l2,
            refit_every=self.screen_warmup,
            seed=self.seed + 7_919,
        )


@dataclass
class ChainState:
    """What continues a class sampler without its levels.

    Attributes
    ----------
    seeds
        Shape ``(m, d)``: class members in normal space ``u``.
    beta
        Global pCN step.
    shape
        Shape ``(d,)``, ≥ 1: per-coordinate step multipliers; coordinate *j* moves by
        ``min(1, beta · shape[j])`` (coordinates the class barely depends on move
        further; every such diagonal pCN is reversible with respect to ``N(0, I)``).
    mode
        ``"chains"`` (pCN), ``"rejection"`` (ORACLE + filter), ``"imh"`` (independence
        chains with ``proposal``) or ``"proposal-rejection"`` (draws of ``proposal`` kept
        with probability ``min(1, r/M)``).
    proposal
        The fitted proposal (modes ``imh`` and ``proposal-rejection``).
    thin
        Steps between kept states of an independence chain (mode ``imh``).
    log_bound
        ``log M`` of mode ``proposal-rejection``.
    surrogate
        The screen of delayed-acceptance pCN chains (mode ``chains``; ``None``: every
        proposal is labelled).
    """

    seeds: np.ndarray
    beta: float
    shape: np.ndarray
    mode: str = "chains"
    proposal: GaussianProposal | None = None
    thin: int = 0
    log_bound: float = float("nan")
    surrogate: Surrogate | None = None


@dataclass
class ClassDraw:
    """Members of a class and how they were found.

    Attributes
    ----------
    saturation
        Shape ``(n, d)``: the members' saturations σ.
    max_real_eigenvalue
        Shape ``(n,)``, 1/h: exact label of every member.
    seeds
        Shape ``(m, d)``: the production chains' last states (normal space ``u``);
        a later call continues from them without the levels (``start=``).
    beta
        The production pCN step.
    mode
        ``"chains"`` (pCN chains restricted to the class), ``"rejection"`` (ORACLE
        draws + exact filter), ``"imh"`` (independence chains with a fitted proposal) or
        ``"proposal-rejection"`` (see :class:`ChainState`).
    diagnostics
        Levels, labels and integrations spent, acceptance, ``P(C)`` estimate, times,
        repeated-state fraction (plain builtins, JSON-ready); with delayed acceptance
        the screen's records (stage-1 pass rate, stage-2 acceptance, held-out accuracy).
    surrogate
        The screen of delayed-acceptance pCN chains (``None`` without one).
    """

    saturation: np.ndarray
    max_real_eigenvalue: np.ndarray
    seeds: np.ndarray
    beta: float
    diagnostics: dict[str, Any] = field(default_factory=dict)
    mode: str = "chains"
    shape: np.ndarray | None = None
    proposal: GaussianProposal | None = None
    thin: int = 0
    log_bound: float = float("nan")
    surrogate: Surrogate | None = None

    @property
    def state(self) -> ChainState:
        """The :class:`ChainState` to continue from."""
        shape = np.ones(self.seeds.shape[1]) if self.shape is None else self.shape
        return ChainState(
            self.seeds, self.beta, shape, self.mode, self.proposal, self.thin, self.log_bound,
            self.surrogate,
        )  # fmt: skip


class _Counter:
    """Labels and integrations spent (with their time)."""

    def __init__(self, measure: Measure, returns: ReturnsTest | None, history: int = 0) -> None:
        self._measure, self._returns = measure, returns
        self.labels = self.integrated = 0
        self._history = history
        self._kept_u: list[np.ndarray] = []
        self._kept_lam: list[np.ndarray] = []
        self._n_kept = 0

    @property
    def returns_test(self) -> ReturnsTest | None:
        """The return test (None without a return clause)."""
        return self._returns

    def measure(self, u: np.ndarray) -> np.ndarray:
        self.labels += u.shape[0]
        lam = np.asarray(self._measure(saturation_of(u)), dtype=float)
        if self._history and u.shape[0]:  # the latest labelled sets (to fit a screen)
            self._kept_u.append(u.copy())
            self._kept_lam.append(lam.copy())
            self._n_kept += u.shape[0]
            while self._n_kept - self._kept_u[0].shape[0] >= self._history:
                self._n_kept -= self._kept_u.pop(0).shape[0]
                self._kept_lam.pop(0)
        return lam

    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """The latest labelled sets ``(u (m, d), max Re(λ) (m,))`` (at most ``history``)."""
        if not self._kept_u:
            return np.empty((0, 0)), np.empty(0)
        u, lam = np.concatenate(self._kept_u), np.concatenate(self._kept_lam)
        return u[-self._history :], lam[-self._history :]

    def returns(self, u: np.ndarray) -> np.ndarray:
        if self._returns is None or u.shape[0] == 0:
            return np.ones(u.shape[0], bool)
        self.integrated += u.shape[0]
        return np.asarray(self._returns(saturation_of(u)), dtype=bool)


def _step(beta: float, shape: np.ndarray) -> np.ndarray:
    """Per-coordinate pCN steps ``min(1, β·shape)``, shape ``(d,)``."""
    return np.minimum(1.0, beta * shape)


def _propose(u: np.ndarray, beta: float, shape: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Diagonal pCN: ``u'_j = √(1 − b_j²) u_j + b_j z_j``, reversible w.r.t. ``N(0, I)``."""
    b = _step(beta, shape)
    return np.sqrt(1.0 - b**2) * u + b * rng.standard_normal(u.shape)


def _sensitivity_shape(u: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Step multipliers from prior draws: ``s_max / max(s_j, noise)`` with ``s_j`` the
    absolute rank correlation of ``u_j`` with the violation ``v`` (NaN/∞ ranked last)."""
    from scipy.stats import rankdata

    n = u.shape[0]
    r = rankdata(np.where(np.isfinite(v), v, np.inf))
    ru = np.apply_along_axis(rankdata, 0, u)
    r = (r - r.mean()) / (r.std() or 1.0)
    ru = (ru - ru.mean(axis=0)) / ru.std(axis=0)
    s = np.abs((ru * r[:, None]).mean(axis=0))
    floor = 3.0 / math.sqrt(n)
    return s.max() / np.maximum(s, floor) if s.max() > floor else np.ones(u.shape[1])


def _adapt(beta: float, rate: float, target: float) -> float:
    """Robbins–Monro-like step on log β towards the target acceptance."""
    return float(np.clip(beta * math.exp(rate - target), 0.02, 1.0))


def _levels(
    spec: ClassSpec,
    counter: _Counter,
    d: int,
    settings: ClassSamplerSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, float, np.ndarray, list[dict], float]:
    """Subset simulation up to the class: member states, their λ, β, shape, levels, log10 P."""
    n, p0 = settings.population, settings.p0
    n_seed = max(2, round(n * p0))
    chain_length = -(-n // n_seed)
    u = rng.standard_normal((n, d))
    lam = counter.measure(u)
    v = spec.violation(lam)
    beta = settings.beta
    shape = _sensitivity_shape(u, v)
    levels: list[dict] = []
    log_p = 0.0
    while np.count_nonzero(v < 0) < n_seed:
        if len(levels) >= settings.max_levels:
            raise GenerationError(
                f"class not reached in {settings.max_levels} levels (P(class) < "
                f"{p0**settings.max_levels:.1e}); is it empty for this model?"
            )
        order = np.argsort(v, kind="stable")
        level = 0.5 * (v[order[n_seed - 1]] + v[order[n_seed]])
        if not np.isfinite(level):
            raise GenerationError("no labelled set is evaluable: the class cannot be reached")
        keep = order[:n_seed]
        cur_u, cur_lam, cur_v = u[keep], lam[keep], v[keep]
        states_u, states_lam, states_v = [cur_u], [cur_lam], [cur_v]
        accepted = proposed = 0
        for _ in range(chain_length - 1):
            prop = _propose(cur_u, beta, shape, rng)
            prop_lam = counter.measure(prop)
            prop_v = spec.violation(prop_lam)
            ok = prop_v < level
            cur_u = np.where(ok[:, None], prop, cur_u)
            cur_lam = np.where(ok, prop_lam, cur_lam)
            cur_v = np.where(ok, prop_v, cur_v)
            states_u.append(cur_u)
            states_lam.append(cur_lam)
            states_v.append(cur_v)
            rate = float(ok.mean())
            accepted += int(ok.sum())
            proposed += ok.size
            beta = _adapt(beta, rate, settings.target_acceptance)
        log_p += math.log10(n_seed / n)
        # level-major order, then chains: keep the first n states
        u = np.concatenate(states_u)[:n]
        lam = np.concatenate(states_lam)[:n]
        v = np.concatenate(states_v)[:n]
        levels.append(
            {
                "level_violation": float(level),
                "acceptance": accepted / max(proposed, 1),
                "beta": beta,
                "labels_so_far": counter.labels,
            }
        )
    member = v < 0
    log_p += math.log10(np.count_nonzero(member) / n)
    return u[member], lam[member], beta, shape, levels, log_p


def _fit_rounds(
    spec: ClassSpec,
    counter: _Counter,
    settings: ClassSamplerSettings,
    rng: np.random.Generator,
    seeds: np.ndarray,
) -> tuple[GaussianProposal, np.ndarray, np.ndarray, list[dict]]:
    """Cross-entropy fit of a :class:`GaussianProposal` to the class.

    Start: the mean of the level members (dependent chain states: taken as
    ``p0·population/4`` independent ones, mean only). Each round draws ``population``
    sets from the current proposal, labels them, and refits to all members drawn so far,
    weighted by ``p/q`` of the proposal that drew them (each weight is unbiased for the
    prior restricted to the class): resolved means, and per-coordinate variances that
    are only inflated, never shrunk below the prior's 1 (a shrunk variance makes ``r``
    grow without bound in the class's far tail: measured on the half-space toy, 20
    labels per member against 8.5 with variances ≥ 1). Returns the last proposal, the
    last round's ``log r`` and membership (draws of that proposal: its evaluation),
    and per-round records.
    """
    n_eff0 = max(2.0, settings.p0 * settings.population / 4)
    proposal = fit_proposal(seeds, n_eff=n_eff0, max_rank=0, z_mean=4.0).with_defensive(
        settings.defensive
    )
    pool_u: list[np.ndarray] = []
    pool_lr: list[np.ndarray] = []
    rounds: list[dict] = []
    for k in range(settings.fit_rounds):
        u = proposal.sample(settings.population, rng)
        log_r = proposal.log_ratio(u)
        member = spec.eig_member(counter.measure(u))
        r = np.exp(log_r)
        rounds.append(
            {
                "in_class": float(member.mean()),
                "p_class": float(np.mean(r * member)),
                "ess": effective_sample_size(r[member]),
                "members": int(member.sum()),
                "sd_log_r": float(log_r[member].std()) if member.sum() > 1 else None,
                "fitted_directions": int(proposal.basis.shape[1]),
                "shifted_coordinates": int(np.count_nonzero(proposal.mean)),
            }
        )
        if k == settings.fit_rounds - 1:
            return proposal, log_r, member, rounds
        pool_u.append(u[member])
        pool_lr.append(log_r[member])
        all_u, all_lr = np.concatenate(pool_u), np.concatenate(pool_lr)
        if all_u.shape[0] < 2:
            continue
        proposal = fit_proposal(
            all_u, np.exp(all_lr - all_lr.max()), diagonal=True, min_variance=1.0
        ).with_defensive(settings.defensive)
    raise AssertionError("unreachable")


def _choose_delivery(
    spec: ClassSpec,
    counter: _Counter,
    d: int,
    settings: ClassSamplerSettings,
    rng: np.random.Generator,
    seeds: np.ndarray,
    levels: list[dict],
    log_p: float,
) -> tuple[str, dict[str, Any]]:
    """The delivery mode, and the fit's records (with ``proposal`` when one was fitted).

    ``auto``: ORACLE + filter when ``P·thin ≥ 1`` (``P`` from the levels), else pCN.
    ``best``: a class reached without a level is filtered (at most ``1/p0`` labels per
    member); otherwise the proposal is fitted and the route with the fewest expected
    labels per member is taken: filter ``1/P``, pCN ``thin``, independence chains
    ``thin_imh``, rejection ``M / E_q[min(r, M) 1_C]``.
    """
    want = settings.delivery
    if want == "auto":
        return ("rejection" if 10**log_p * settings.thin >= 1.0 else "chains"), {}
    if want == "filter" or (want == "best" and not levels):
        return "rejection", {}
    if want == "pcn":
        return "chains", {}
    t = time.perf_counter()
    labels = counter.labels
    proposal, log_r, member, rounds = _fit_rounds(spec, counter, settings, rng, seeds)
    r = np.exp(log_r)
    p_hat = float(np.mean(r * member))
    # independence chains: P(two kept states are the same) = (1 − a)^thin ≤ duplicates
    w_states, a_states = independence_acceptance(log_r, member)
    a = float(w_states @ a_states)
    thin_imh = independence_thin(w_states, a_states, settings.duplicates)
    # rejection: the smallest M whose truncated mass is at most `truncation`, ≤ 1/α
    top = -math.log(settings.defensive)
    lr_c = np.sort(log_r[member])
    log_m = top
    for x in lr_c:
        if x >= top or truncated_mass(lr_c, float(x)) <= settings.truncation:
            log_m = min(float(x), top)
            break
    accept = float(np.mean(np.minimum(r, math.exp(log_m)) * member)) / math.exp(log_m)
    costs = {
        "rejection": 1.0 / max(p_hat, 10.0**log_p if math.isfinite(log_p) else 0.0, 1e-300),
        "chains": float(settings.thin),
        "imh": float(thin_imh),
        "proposal-rejection": 1.0 / accept if accept > 0 else math.inf,
    }
    mode = min(costs, key=costs.__getitem__) if want == "best" else _MODE_OF[want]
    if not np.isfinite(costs[mode]) or (mode == "imh" and a <= 0):
        raise GenerationError(
            f"the fitted proposal found {int(member.sum())} members in its last round: "
            "the --delivery imh/rejection route cannot deliver; use auto or best"
        )
    fit = {
        "proposal": proposal,
        "fit_rounds": rounds,
        "labels_fit": counter.labels - labels,
        "seconds_fit_proposal": time.perf_counter() - t,
        "p_class_importance": p_hat,
        "ess_fit": effective_sample_size(r[member]),
        "imh_acceptance_estimate": a,
        "thin_imh": thin_imh,
        "log_bound": log_m,
        "bound": math.exp(log_m),
        "bound_is_exact": bool(log_m >= top),
        "truncated_mass_fit": truncated_mass(lr_c, log_m) if lr_c.size else None,
        "labels_per_member_estimate": costs,
        "defensive": settings.defensive,
    }
    return mode, fit


_MODE_OF = {"imh": "imh", "rejection": "proposal-rejection"}


def _proposal_rejection(
    spec: ClassSpec,
    counter: _Counter,
    n: int,
    settings: ClassSamplerSettings,
    rng: np.random.Generator,
    proposal: GaussianProposal,
    log_bound: float,
    seeds: np.ndarray,
    beta: float,
    shape: np.ndarray,
    levels: list[dict],
    log_p: float,
    from_start: bool,
    t_levels: float,
    fit: dict[str, Any],
    progress: Callable[[int], None] | None,
) -> ClassDraw:
    """Draws of the fitted proposal, each member kept with probability ``min(1, r/M)``:
    i.i.d. from ``p·min(1, M/r)`` on the class (exact where ``r ≤ M``); the truncated
    mass is estimated from every labelled member of the delivery."""
    labels_levels, integrated_levels = counter.labels, counter.integrated
    kept_u: list[np.ndarray] = []
    kept_lam: list[np.ndarray] = []
    member_lr: list[np.ndarray] = []
    n_kept = 0
    t1 = time.perf_counter()
    while n_kept < n:
        u = proposal.sample(settings.population, rng)
        log_r = proposal.log_ratio(u)
        lam = counter.measure(u)
        member = spec.eig_member(lam)
        member_lr.append(log_r[member])
        ok = member & (np.log(rng.random(u.shape[0])) < log_r - log_bound)
        if spec.returns is not None:
            idx = np.flatnonzero(ok)
            ok[idx] = counter.returns(u[idx])
        kept_u.append(u[ok])
        kept_lam.append(lam[ok])
        n_kept += int(ok.sum())
        if progress:
            progress(min(n_kept, n))
    t_production = time.perf_counter() - t1
    u = np.concatenate(kept_u)[:n]
    lam = np.concatenate(kept_lam)[:n]
    lr = np.concatenate(member_lr)
    diagnostics = {
        "method": "rejection from a fitted Gaussian proposal against a bound M",
        "mode": "proposal-rejection",
        **fit,
        **_level_diagnostics(
            settings, from_start, levels, log_p, counter, labels_levels, integrated_levels
        ),
        "chains": 0,
        "beta": beta,
        "bound": math.exp(log_bound),
        "truncated_mass_delivery": truncated_mass(lr, log_bound),
        "ess_delivery": effective_sample_size(np.exp(lr - lr.max())) if lr.size else 0.0,
        "members_labelled_delivery": int(lr.size),
        "acceptance_production": n / max(counter.labels - labels_levels, 1),
        "duplicate_fraction": 1.0 - np.unique(u, axis=0).shape[0] / n,
        "lag1_correlation_max_eig": 0.0,
        "effective_sample_size": float(n),
        "seconds_levels": t_levels,
        "seconds_burn_in": 0.0,
        "labels_burn_in": 0,
        "seconds_fit": t_levels,
        "seconds_production": t_production,
        "members_per_second_production": n / t_production if t_production > 0 else None,
    }
    return ClassDraw(
        saturation_of(u), lam, u[-min(n, settings.chains) :].copy(), beta, diagnostics,
        "proposal-rejection", shape, proposal, 0, log_bound,
    )  # fmt: skip


def _lag_one_correlation(kept: list[np.ndarray]) -> float:
    """Correlation of max Re(λ) between successive kept states of the same chain."""
    if len(kept) < 2:
        return float("nan")
    a = np.concatenate(kept[:-1])
    b = np.concatenate(kept[1:])
    ok = np.isfinite(a) & np.isfinite(b)
    if ok.sum() < 3 or np.std(a[ok]) == 0 or np.std(b[ok]) == 0:
        return float("nan")
    return float(np.corrcoef(a[ok], b[ok])[0, 1])


def sample_class(
    spec: ClassSpec,
    measure: Measure,
    d: int,
    n: int,
    settings: ClassSamplerSettings | None = None,
    *,
    returns: ReturnsTest | None = None,
    start: ChainState | None = None,
    fixed_surrogate: Surrogate | None = None,
    progress: Callable[[int], None] | None = None,
) -> ClassDraw:
    """Exactly ``n`` members of ``spec`` from the uniform prior restricted to it.

    Parameters
    ----------
    spec
        The class.
    measure
        σ ``(m, d)`` → max Re(λ) ``(m,)``, 1/h: the exact engine.
    d
        Number of saturations (K_M) per set.
    n
        Members to deliver.
    settings
        :class:`ClassSamplerSettings` (default: its defaults).
    returns
        σ ``(m, d)`` → bool ``(m,)``, the return test; required iff ``spec`` has a
        return clause.
    start
        :attr:`ClassDraw.state` of an earlier draw of the same class and model: skip
        the levels and continue its chains (seeds are class members), or draw from the
        prior and filter when its mode is ``"rejection"``.
    fixed_surrogate
        A fixed screen for delayed-acceptance pCN chains (used as given, never refitted;
        only with ``settings.delayed_acceptance``). Default: the one of ``start``, else
        one learned from the labelled sets.
    progress
        Called with the number of members kept so far.

    Returns
    -------
    ClassDraw
    """
    settings = settings or ClassSamplerSettings()
    if (returns is None) != (spec.returns is None):
        raise ValueError("returns= must be given exactly when the class has a return clause")
    if n < 1:
        raise ValueError(f"n must be ≥ 1, got {n}")
    rng = np.random.default_rng(settings.seed)
    chains_da = settings.delayed_acceptance and (start is None or start.mode == "chains")
    counter = _Counter(measure, returns, settings.surrogate_history if chains_da else 0)
    screen = settings.make_screen() if settings.screen and spec.returns is not None else None
    t0 = time.perf_counter()
    levels: list[dict] = []
    log_p = float("nan")
    if start is None:
        seeds, seed_lam, beta, shape, levels, log_p = _levels(spec, counter, d, settings, rng)
        if spec.returns is not None:  # the costly part, on the eigenvalue members only
            ok = counter.returns(seeds)
            if screen is not None:  # all integrated: the screen's first examples
                feats = screen.features(saturation_of(seeds), seed_lam)
                _go, free, score = screen.select(feats)
                screen.update(feats, ok, free, score)
            if not ok.any():
                raise GenerationError(
                    f"none of the {seeds.shape[0]} members of the eigenvalue class returned "
                    "after perturbation: raise --population or loosen the returns clause"
                )
            log_p += math.log10(ok.mean())
            seeds, seed_lam = seeds[ok], seed_lam[ok]
        adapt_steps, burn_steps = settings.adapt_steps, settings.burn_steps
    else:
        seeds, beta = np.asarray(start.seeds, dtype=float), float(start.beta)
        shape = np.asarray(start.shape, dtype=float)
        if seeds.ndim != 2 or seeds.shape[1] != d:
            raise ValueError(f"start seeds must have shape (m, {d}), got {seeds.shape}")
        seed_lam = counter.measure(seeds)
        if not spec.eig_member(seed_lam).all():
            raise GenerationError("the starting states are not members of this class")
        adapt_steps = burn_steps = 0
    fit: dict[str, Any] = {}
    if start is None:
        mode, fit = _choose_delivery(spec, counter, d, settings, rng, seeds, levels, log_p)
        proposal, thin_imh, log_bound = (
            fit.pop("proposal", None),
            fit.get("thin_imh", 0),
            fit.get("log_bound", float("nan")),
        )
        if mode == "imh":
            burn_steps = thin_imh  # seeds ~ the class already: one duplicate horizon
    else:
        mode, proposal = start.mode, start.proposal
        thin_imh, log_bound = int(start.thin), float(start.log_bound)
        if mode in ("imh", "proposal-rejection") and proposal is None:
            raise GenerationError(f"a {mode} class sampler without its proposal")
    t_levels = time.perf_counter() - t0
    labels_levels, integrated_levels = counter.labels, counter.integrated
    if mode == "proposal-rejection":
        assert proposal is not None
        return _proposal_rejection(
            spec, counter, n, settings, rng, proposal, log_bound, seeds, beta, shape,
            levels, log_p, start is not None, t_levels, fit, progress,
        )  # fmt: skip
    if mode == "rejection":
        return _rejection(
            spec,
            counter,
            d,
            n,
            settings,
            rng,
            seeds,
            seed_lam,
            beta,
            shape,
            levels,
            log_p,
            start is not None,
            t_levels,
            progress,
            fit,
            screen,
        )
    imh = mode == "imh"
    thin = thin_imh if imh else settings.thin
    if imh:
        adapt_steps = 0
    m = min(settings.chains, seeds.shape[0])
    pick = rng.choice(seeds.shape[0], size=m, replace=False) if m < seeds.shape[0] else slice(None)
    cur_u, cur_lam = seeds[pick], seed_lam[pick]
    cur_lr = proposal.log_ratio(cur_u) if imh and proposal is not None else None
    kept_u: list[np.ndarray] = []
    kept_lam: list[np.ndarray] = []
    n_kept = 0
    accepted = proposed = 0
    step = 0
    t1 = t_ready = time.perf_counter()
    labels_ready = counter.labels
    surrogate: Surrogate | None = None
    screen_record: dict[str, Any] = {}
    if not imh and settings.delayed_acceptance:
        if fixed_surrogate is not None or start is not None:
            surrogate = fixed_surrogate if fixed_surrogate is not None else start.surrogate  # type: ignore[union-attr]
        else:
            t = time.perf_counter()
            surrogate = fit_surrogate(
                *counter.history(), spec, floor=settings.surrogate_floor
            )  # fmt: skip
            screen_record["seconds_fit_screen"] = time.perf_counter() - t
            screen_record["screen_sets_levels"] = int(counter.history()[1].size)
    cur_f = surrogate.predict(cur_u) if surrogate is not None else None
    pairs: list[tuple[np.ndarray, ...]] = []  # the last burn-in steps' labelled moves
    n_screened = n_passed = n_members = 0
    while n_kept < n:
        if imh:  # independence MH: u' ~ q, accepted with min(1, r(u')/r(u)) in the class
            assert proposal is not None and cur_lr is not None
            prop = proposal.sample(m, rng)
            prop_lr = proposal.log_ratio(prop)
        else:
            prop = _propose(cur_u, beta, shape, rng)
        if surrogate is not None:  # delayed acceptance: screen, then label the survivors
            assert cur_f is not None
            prop_f = surrogate.predict(prop)
            a1 = surrogate.stage_one(cur_lam, cur_f, prop_f)
            idx = np.flatnonzero(rng.random(m) < a1)
            prop_lam = np.full(m, np.nan)
            prop_lam[idx] = counter.measure(prop[idx])
            ok = spec.eig_member(prop_lam)
            n_members_step = int(ok.sum())
            j = np.flatnonzero(ok)
            a1_back = surrogate.stage_one(prop_lam[j], prop_f[j], cur_f[j])
            ok[j] = rng.random(j.size) < a1_back / a1[j]
            if (
                start is None
                and fixed_surrogate is None
                and 1 <= adapt_steps + burn_steps - step <= 10
            ):
                pairs.append((cur_u[idx], cur_lam[idx], prop[idx], prop_lam[idx]))
        else:
            prop_lam = counter.measure(prop)
            ok = spec.eig_member(prop_lam)
        if imh:
            ok &= np.log(rng.random(m)) < prop_lr - cur_lr
        if spec.returns is not None:  # delayed acceptance: integrate the candidates only
            idx = np.flatnonzero(ok)
            ok[idx] = counter.returns(prop[idx])
        cur_u = np.where(ok[:, None], prop, cur_u)
        cur_lam = np.where(ok, prop_lam, cur_lam)
        if imh:
            cur_lr = np.where(ok, prop_lr, cur_lr)
        if surrogate is not None:
            cur_f = np.where(ok, prop_f, cur_f)
        step += 1
        if step <= adapt_steps:
            beta = _adapt(beta, float(ok.mean()), settings.target_acceptance)
            continue
        if step <= adapt_steps + burn_steps:
            if (
                surrogate is not None
                and fixed_surrogate is None
                and step == adapt_steps + burn_steps
            ):
                surrogate = _refit_screen(spec, counter, settings, surrogate, pairs, screen_record)
                cur_f = surrogate.predict(cur_u)
                pairs = []
            t_ready = time.perf_counter()
            labels_ready = counter.labels
            continue
        accepted += int(ok.sum())
        proposed += ok.size
        if surrogate is not None:
            n_screened += m
            n_passed += idx.size
            n_members += n_members_step
        if (step - adapt_steps - burn_steps) % thin == 0:
            kept_u.append(cur_u)
            kept_lam.append(cur_lam)
            n_kept += m
            if progress:
                progress(min(n_kept, n))
    t_production = time.perf_counter() - t1
    u = np.concatenate(kept_u)[:n]
    lam = np.concatenate(kept_lam)[:n]
    sigma = saturation_of(u)
    n_unique = np.unique(u, axis=0).shape[0]
    rho = _lag_one_correlation(kept_lam)
    diagnostics = {
        "method": (
            "subset simulation + independence Metropolis–Hastings with a fitted Gaussian "
            "proposal (cross-entropy fit, defensive mixture)"
            if imh
            else "subset simulation + pCN (Au & Beck 2001)"
        ),
        "mode": mode,
        "thin": thin,
        **fit,
        **_level_diagnostics(
            settings, start is not None, levels, log_p, counter, labels_levels, integrated_levels
        ),
        "chains": m,
        "beta": beta,
        "acceptance_production": accepted / max(proposed, 1),
        "duplicate_fraction": 1.0 - n_unique / n,
        "lag1_correlation_max_eig": rho,
        "effective_sample_size": n * (1 - rho) / (1 + rho) if math.isfinite(rho) else None,
        "delayed_acceptance": surrogate is not None,
        **screen_record,
        **(
            {
                "stage1_pass_rate": n_passed / max(n_screened, 1),
                "stage2_member_rate": n_members / max(n_passed, 1),
                "stage2_acceptance": accepted / max(n_passed, 1),
                "screen_tau": surrogate.tau,
            }
            if surrogate is not None
            else {}
        ),
        "labels_per_member_production": (counter.labels - labels_ready) / n,
        "seconds_levels": t_levels,
        "seconds_burn_in": t_ready - t1,
        "labels_burn_in": labels_ready - labels_levels,
        "seconds_fit": t_levels + (t_ready - t1),
        "seconds_production": t_production - (t_ready - t1),
        "members_per_second_production": n / (t_production - (t_ready - t1)),
        "screen": None
        if screen is None
        else {
            "used": False,
            "reason": "chains mode: a screen would change the chains' target; every "
            "candidate was integrated",
        },
    }
    return ClassDraw(
        sigma, lam, cur_u.copy(), beta, diagnostics, mode, shape, proposal, thin_imh, log_bound,
        surrogate,
    )  # fmt: skip


def _refit_screen(
    spec: ClassSpec,
    counter: _Counter,
    settings: ClassSamplerSettings,
    surrogate: Surrogate,
    pairs: list[tuple[np.ndarray, ...]],
    record: dict[str, Any],
) -> Surrogate:
    """Refit the screen at the end of the burn-in.

    The regression is refitted on the labelled sets (levels, adaptation, burn-in) except
    the moves of the last burn-in steps (``pairs``: start, its label, end, its label).
    Of those held-out moves, even ones set ``τ`` (rms error of the local prediction
    ``λ(u) + f(u') − f(u)`` on the half of them nearest the bound) and odd ones measure
    the old and the new screen (they are stage-1 survivors of the old screen, not a
    sample of all proposals): ``screen_accuracy`` (local, as the chains use it),
    ``screen_accuracy_global`` (``f(u')`` alone), ``screen_accuracy_levels_fit``.
    """
    u, lam = counter.history()
    if pairs:
        fu, flam, tu, tlam = (np.concatenate(c) for c in zip(*pairs, strict=True))
    else:
        fu = tu = np.empty((0, u.shape[1]))
        flam = tlam = np.empty(0)
    n_held = min(tlam.size, max(lam.size - 10, 0))
    t = time.perf_counter()
    new = fit_surrogate(u[: lam.size - n_held], lam[: lam.size - n_held], spec,
                        floor=settings.surrogate_floor)  # fmt: skip
    record["screen_sets"] = int(lam.size - n_held)
    ok = np.isfinite(tlam)
    if ok.sum() >= 20:
        fu, flam, tu, tlam = fu[ok], flam[ok], tu[ok], tlam[ok]
        pred = flam + new.predict(tu) - new.predict(fu)
        cal = np.arange(tlam.size) % 2 == 0
        v = np.abs(spec.violation(tlam[cal]))
        near = v <= np.median(v)
        err = (tlam[cal] - pred[cal])[near]
        new = new.with_tau(float(max(np.sqrt(np.mean(err**2)), 1e-6)))
        test, member = ~cal, spec.eig_member(tlam[~cal])
        old = flam[test] + surrogate.predict(tu[test]) - surrogate.predict(fu[test])
        record["screen_accuracy_levels_fit"] = screen_accuracy(surrogate.class_score(old), member)
        record["screen_accuracy"] = screen_accuracy(new.class_score(pred[test]), member)
        record["screen_accuracy_global"] = screen_accuracy(new.score(tu[test]), member)
        record["screen_rmse_local"] = float(np.sqrt(np.mean((tlam[test] - pred[test]) ** 2)))
        record["screen_rmse_global"] = float(
            np.sqrt(np.mean((tlam[test] - new.predict(tu[test])) ** 2))
        )
    record["seconds_fit_screen"] = record.get("seconds_fit_screen", 0.0) + time.perf_counter() - t
    return new


def _level_diagnostics(
    settings: ClassSamplerSettings,
    from_start: bool,
    levels: list[dict],
    log_p: float,
    counter: _Counter,
    labels_levels: int,
    integrated_levels: int,
) -> dict[str, Any]:
    """The diagnostics both modes share: settings, levels, P(class), labels and integrations
    spent on the levels and in production (``counter`` at the end of production)."""
    return {
        "settings": settings.to_dict(),
        "from_start": from_start,
        "levels": levels,
        "n_levels": len(levels),
        "log10_p_class": log_p,
        "p_class": 10**log_p if math.isfinite(log_p) else None,
        "labels_levels": labels_levels,
        "integrations_levels": integrated_levels,
        "labels_production": counter.labels - labels_levels,
        "integrations_production": counter.integrated - integrated_levels,
        # integrations spent (models × perturbations integrated), when the test counts them
        "perturbation_integrations": getattr(counter.returns_test, "integrations", None),
    }


def _rejection(
    spec: ClassSpec,
    counter: _Counter,
    d: int,
    n: int,
    settings: ClassSamplerSettings,
    rng: np.random.Generator,
    seeds: np.ndarray,
    seed_lam: np.ndarray,
    beta: float,
    shape: np.ndarray,
    levels: list[dict],
    log_p: float,
    from_start: bool,
    t_levels: float,
    progress: Callable[[int], None] | None,
    fit: dict[str, Any] | None = None,
    screen: ReturnScreen | None = None,
) -> ClassDraw:
    """ORACLE + exact filter: i.i.d. prior draws, members kept (the first population's
    members included when they are prior draws: no start, no level). With a ``screen``
    (a class with a return clause), only the candidates it selects are integrated."""
    labels_levels, integrated_levels = counter.labels, counter.integrated
    iid = not from_start and not levels
    kept_u = [seeds] if iid else []
    kept_lam = [seed_lam] if iid else []
    n_kept = sum(k.shape[0] for k in kept_u)
    t1 = time.perf_counter()
    while n_kept < n:
        u = rng.standard_normal((settings.population, d))
        lam = counter.measure(u)
        ok = spec.eig_member(lam)
        if spec.returns is not None:
            idx = np.flatnonzero(ok)
            if screen is None:
                ok[idx] = counter.returns(u[idx])
            else:  # integrate the likely members and the audit; the rest is turned away
                feats = screen.features(saturation_of(u[idx]), lam[idx])
                go, free, score = screen.select(feats)
                verified = np.zeros(idx.size, bool)
                verified[go] = counter.returns(u[idx[go]])
                screen.update(feats[go], verified[go], free[go], score[go])
                ok[idx] = verified
        kept_u.append(u[ok])
        kept_lam.append(lam[ok])
        n_kept += int(ok.sum())
        if progress:
            progress(min(n_kept, n))
    t_production = time.perf_counter() - t1
    u = np.concatenate(kept_u)[:n]
    lam = np.concatenate(kept_lam)[:n]
    diagnostics = {
        "method": "ORACLE + exact filter",
        "mode": "rejection",
        **(fit or {}),
        "members_found": int(n_kept),  # ≥ n: the last batch's surplus is not delivered
        **_level_diagnostics(
            settings, from_start, levels, log_p, counter, labels_levels, integrated_levels
        ),
        "chains": 0,
        "beta": beta,
        "acceptance_production": None,
        "duplicate_fraction": 1.0 - np.unique(u, axis=0).shape[0] / n,
        "lag1_correlation_max_eig": 0.0,
        "effective_sample_size": float(n),
        "seconds_levels": t_levels,
        "seconds_burn_in": 0.0,
        "labels_burn_in": 0,
        "seconds_fit": t_levels,
        "seconds_production": t_production,
        "members_per_second_production": n / t_production if t_production > 0 else None,
        "screen": None if screen is None else screen.diagnostics(),
    }
    return ClassDraw(
        saturation_of(u),
        lam,
        u[-min(n, settings.chains) :].copy(),
        beta,
        diagnostics,
        "rejection",
        shape,
    )
