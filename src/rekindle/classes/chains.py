"""Production chains restricted to a reached class: pCN, delayed-acceptance pCN, and
independence Metropolis–Hastings.

From the members the levels reached (:mod:`rekindle.classes.levels`), :func:`run_chains`
runs chains restricted to the class ``C`` and keeps every ``thin``-th state of every chain.

*pCN* (mode ``"chains"``): the proposal ``u' = √(1−β²) u + β z``, ``z ~ N(0, I)``, is
reversible with respect to ``N(0, I)``; accepting it iff ``u' ∈ C`` therefore leaves the
prior restricted to ``C`` invariant: no importance weight, no density of a fitted model.
Chains started from members of the restricted prior stay exactly in it (up to the
correlation of successive states); the only approximations are the usual ones of MCMC:
dependence between kept states (reduced by ``thin``; repeated states are counted).

*Independence chains* (mode ``"imh"``): ``u' ~ q``, the fitted
:class:`~rekindle.classes.proposal.GaussianProposal`, accepted with
``min(1, r(u')/r(u))``, ``r = p/q``, when ``u' ∈ C``: exact in law (``p|C`` invariant),
uniformly ergodic because the defensive mixture bounds ``p/q ≤ 1/α``
(:mod:`rekindle.classes.route`).

*Delayed acceptance with a learned screen* (``ClassSamplerSettings.delayed_acceptance``;
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
burn-in (:func:`refit_screen`), and then fixed.

*A class with a return clause* (costly: integrations): acceptance is *delayed*
(Christen & Fox 2005): a proposal is integrated only when its eigenvalue part holds;
the return indicator is random (random perturbations), and keeping a state with its
realised indicator is the pseudo-marginal construction, exact for the prior times
``P(returns | θ)`` restricted to the eigenvalue class, which is what ORACLE + a
random-perturbation filter delivers.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rekindle.classes.block import BlockReference, fit_block, pool_states
from rekindle.classes.diagnostics import lag_one_correlation, level_diagnostics
from rekindle.classes.labels import KeptMembers, LabelCounter, saturation_of
from rekindle.classes.levels import adapt_beta, propose
from rekindle.classes.proposal import GaussianProposal
from rekindle.classes.screen import ReturnScreen
from rekindle.classes.settings import (
    PCN_BETA_CHECKED,
    ClassDraw,
    ClassSamplerSettings,
    Reached,
)
from rekindle.classes.spec import ClassSpec
from rekindle.classes.surrogate import Surrogate, fit_surrogate, screen_accuracy
from rekindle.flow.marginals import Whitening

__all__ = [
    "JUMPS_BURN_IN_CHECKED",
    "JUMPS_CHECKED",
    "JUMPS_THIN_CHECKED",
    "PCN_BETA_CHECKED",
    "SLOW_BURN_IN_CHECKED",
    "SLOW_THIN_CHECKED",
    "refit_screen",
    "run_chains",
]

#: Burn-in and thin at which a slow-mixing delivery (block fitted, no jumps) was checked
#: faithful (E. coli fdp1, max_eig < −35: C2ST 0.510 and 0.515 for two seeds, floor 0.530).
SLOW_BURN_IN_CHECKED, SLOW_THIN_CHECKED = 500, 100
#: Jumps per step, burn-in and thin at which a slow-mixing delivery with jumps was checked
#: faithful (the same class: C2ST 0.526 and 0.531 for two seeds, KS of max Re(λ) 0.027 and
#: 0.036; at burn-in 200 one seed missed the KS bar: 0.054 against 0.05).
JUMPS_CHECKED, JUMPS_BURN_IN_CHECKED, JUMPS_THIN_CHECKED = 2, 300, 50
#: Jumps accepted less often than this in the burn-in after the block's first fit are
#: dropped for the production (E. coli fdp1: 0.005–0.008 at max_eig < −35, where they
#: helped; 0.00024 at −40, where they only cost labels).
JUMP_MIN_ACCEPTANCE = 0.002


def _slow_mixing(imh: bool, beta: float, block: dict[str, Any]) -> bool:
    """Whether plain pCN's adapted step fell below :data:`PCN_BETA_CHECKED` (with a block
    fitted in this run: its step at the fit; a block continued from a start counts as
    slow, since it is fitted only then by default)."""
    if imh:
        return False
    if block:
        return bool(block.get("beta_at_block_fit", 0.0) < PCN_BETA_CHECKED)
    return bool(beta < PCN_BETA_CHECKED)


def run_chains(
    spec: ClassSpec,
    counter: LabelCounter,
    reached: Reached,
    n: int,
    settings: ClassSamplerSettings,
    rng: np.random.Generator,
    *,
    adapt_steps: int,
    burn_steps: int,
    given_surrogate: Surrogate | None = None,
    learn_screen: bool = False,
    screen: ReturnScreen | None = None,
    progress: Callable[[int], None] | None = None,
) -> ClassDraw:
    """Exactly ``n`` members from chains restricted to the class (modes ``"chains"``, pCN,
    and ``"imh"``, independence chains with ``reached.proposal``).

    Parameters
    ----------
    spec
        The class.
    counter
        Labels the proposals (and counts them).
    reached
        The members the chains start from (at most ``settings.chains`` of them, one per
        chain), the step, the mode and its proposal.
    n
        Members to deliver.
    settings
        :class:`~rekindle.classes.settings.ClassSamplerSettings`.
    rng
        The sampler's generator (continues its stream).
    adapt_steps
        Steps adapting β towards ``settings.target_acceptance`` (pCN), before any state
        is kept.
    burn_steps
        Further steps (β fixed) before the first kept state.
    given_surrogate
        The delayed-acceptance screen to use as given (pCN with
        ``settings.delayed_acceptance`` only; ``None``: every proposal is labelled,
        unless ``learn_screen``).
    learn_screen
        Fit the screen on the labelled sets before the chains, refit it at the end of
        the burn-in (:func:`refit_screen`), then keep it fixed.
    screen
        The return screen of the settings (recorded as unused: a screen would change the
        chains' target).
    progress
        Called with the number of members kept so far.

    Returns
    -------
    ClassDraw
        Kept states in step-major order (step, then chain), the chains' last states as
        seeds.

    Notes
    -----
    One loop over steps: every step (:func:`_step`) draws from ``rng`` in a fixed order
    (proposal, screen, MH uniforms) for all chains at once, and the phases (adaptation,
    burn-in, production) only change what is recorded, so the same seeds give the same
    draws whatever the phase lengths.
    """
    mode, proposal, thin_imh, log_bound = (
        reached.mode, reached.proposal, reached.thin_imh, reached.log_bound
    )  # fmt: skip
    seeds, beta, shape = reached.seeds, reached.beta, reached.shape
    labels_levels, integrated_levels = counter.labels, counter.integrated
    imh = mode == "imh"
    assert not imh or proposal is not None, "independence chains need their proposal"
    thin = thin_imh if imh else settings.thin
    m = min(settings.chains, seeds.shape[0])
    pick = rng.choice(seeds.shape[0], size=m, replace=False) if m < seeds.shape[0] else slice(None)
    kept = KeptMembers(n, progress)
    step = 0
    t1 = t_ready = time.perf_counter()
    labels_ready = counter.labels
    screen_record: dict[str, Any] = {}
    surrogate = _screen_at_start(spec, counter, settings, imh, learn_screen, given_surrogate,
                                 screen_record)  # fmt: skip
    independent = proposal if imh else None  # the independence chains' proposal
    chains = _Chains.start(seeds[pick], reached.seed_lam[pick], independent, surrogate)
    blocked = _Blocked.start(reached, settings, surrogate is None and not imh and
                             spec.returns is None, adapt_steps, burn_steps, chains.u)  # fmt: skip
    pairs: list[tuple[np.ndarray, ...]] = []  # the last burn-in steps' labelled moves
    counts = _Counts()
    while kept.count < n:
        if blocked.block is not None:  # the block's move (applied), then the others'
            move, block_ok, jumped = blocked.step(spec, counter, chains, beta, rng)
        else:
            move = _step(spec, counter, chains, independent, surrogate, beta, shape, rng)
            block_ok, jumped = None, 0
        if surrogate is not None and learn_screen and 1 <= adapt_steps + burn_steps - step <= 10:
            i = move.screened
            pairs.append((chains.u[i], chains.lam[i], move.u[i], move.lam[i]))
        chains.accept(move)
        step += 1
        beta = blocked.observe(step, chains.u, settings, shape, beta)
        if step <= adapt_steps:
            beta = adapt_beta(beta, float(move.ok.mean()), settings.target_acceptance)
            continue
        if step <= adapt_steps + burn_steps:
            if block_ok is not None:  # the block and the other coordinates adapt their steps
                blocked.gamma = adapt_beta(blocked.gamma, float(block_ok.mean()),
                                           settings.target_acceptance)  # fmt: skip
                beta = adapt_beta(beta, float(move.ok.mean()), settings.target_acceptance)
            if surrogate is not None and learn_screen and step == adapt_steps + burn_steps:
                surrogate = refit_screen(spec, counter, settings, surrogate, pairs, screen_record)
                chains.f = surrogate.predict(chains.u)
                pairs = []
            t_ready = time.perf_counter()
            labels_ready = counter.labels
            continue
        counts.add(move, block_ok, jumped, screened=surrogate is not None)
        if (step - adapt_steps - burn_steps) % thin == 0:
            kept.add(chains.u, chains.lam)
    t_production = time.perf_counter() - t1
    u, lam = kept.arrays()
    diagnostics = _chain_records(
        reached, settings, counter, u, kept.lams,
        imh=imh, thin=thin, chains=m, beta=beta, counts=counts,
        surrogate=surrogate, screen_record=screen_record,
        labels=(labels_levels, integrated_levels, labels_ready),
        seconds=(t_ready - t1, t_production), screen=screen,
        block=blocked.records(counts),
    )  # fmt: skip
    return ClassDraw(
        saturation_of(u), lam, chains.u.copy(), beta, diagnostics, mode, shape, proposal,
        thin_imh, log_bound, surrogate, blocked.block, blocked.gamma,
    )  # fmt: skip


def _screen_at_start(
    spec: ClassSpec,
    counter: LabelCounter,
    settings: ClassSamplerSettings,
    imh: bool,
    learn_screen: bool,
    given: Surrogate | None,
    record: dict[str, Any],
) -> Surrogate | None:
    """The delayed-acceptance screen the pCN chains start with (None without one)."""
    if imh or not settings.delayed_acceptance:
        return None
    return _first_screen(spec, counter, settings, record) if learn_screen else given


@dataclass
class _Counts:
    """Production counts: proposals of the pCN (or independence) move and those accepted,
    block moves accepted, and with a screen the proposals screened, passed and members."""

    accepted: int = 0
    proposed: int = 0
    block_accepted: int = 0
    jumps_accepted: int = 0
    screened: int = 0
    passed: int = 0
    members: int = 0

    def add(self, move: _Move, block_ok: np.ndarray | None, jumped: int, *, screened: bool) -> None:
        """Count one production step (``jumped``: its independence jumps accepted)."""
        self.jumps_accepted += jumped
        self.accepted += int(move.ok.sum())
        self.proposed += move.ok.size
        if block_ok is not None:
            self.block_accepted += int(block_ok.sum())
        if screened:
            self.screened += move.ok.size
            self.passed += move.screened.size
            self.members += move.n_members


@dataclass
class _Blocked:
    """The class-fitted block of pCN chains (:mod:`rekindle.classes.block`): given by a
    start, or fitted at ``fit_step`` on the states pooled over the steps after
    ``pool_after`` (``fit_step`` 0: no block will be fitted); then the block's step
    ``gamma``, the ratio ``ρ`` of the chains' current states ``rho`` ``(m,)`` (the other
    coordinates' move leaves it unchanged), the other coordinates ``rest`` and their step
    multipliers ``rest_shape``. With independence jumps the block is fitted again at
    ``refit_step`` (the end of the burn-in) on the states of the second half of the
    burn-in after the first fit (``refit_step`` 0: no refit), and the ``jumps`` per step
    are dropped for the production if they were accepted less often than
    :data:`JUMP_MIN_ACCEPTANCE` since the first fit (``jump_counts``: accepted, tried)."""

    block: BlockReference | None
    gamma: float
    fit_step: int
    pool_after: int
    refit_step: int = 0
    jumps: int = 0
    jump_counts: list[int] = field(default_factory=lambda: [0, 0])
    jump_acceptance_burn_in: float = math.nan
    moments: Whitening | None = None
    beta_at_fit: float = math.nan
    rho: np.ndarray = field(default_factory=lambda: np.empty(0))
    rest: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=np.int64))
    rest_shape: np.ndarray = field(default_factory=lambda: np.empty(0))

    @classmethod
    def start(
        cls,
        reached: Reached,
        settings: ClassSamplerSettings,
        allowed: bool,
        adapt_steps: int,
        burn_steps: int,
        u: np.ndarray,
    ) -> _Blocked:
        """The start's block (chains at ``u`` ``(m, d)``), or one to fit halfway through the
        burn-in (pooling its second quarter) when ``allowed`` (plain pCN),
        ``settings.block_size > 0`` and the burn-in has at least 4 steps, if β is then
        below ``settings.block_below_beta``."""
        if not allowed:
            return cls(None, math.nan, 0, 0)
        if reached.block is not None and settings.block_size > 0:
            self = cls(reached.block, reached.gamma, 0, 0, jumps=settings.block_jumps)
            self._begin(reached.shape, u)
            return self
        fit = settings.block_size > 0 and burn_steps >= 4
        fit_step = adapt_steps + burn_steps // 2 if fit else 0
        refit_step = adapt_steps + burn_steps if fit and settings.block_jumps else 0
        return cls(None, math.nan, fit_step, adapt_steps + burn_steps // 4, refit_step,
                   settings.block_jumps)  # fmt: skip

    def observe(
        self,
        step: int,
        u: np.ndarray,
        settings: ClassSamplerSettings,
        shape: np.ndarray,
        beta: float,
    ) -> float:
        """After ``step``: pool the states ``u`` ``(m, d)`` while pooling; at ``fit_step``
        fit the block if pCN's step ``beta`` is below ``settings.block_below_beta`` (the
        pool is dropped either way), at ``refit_step`` fit it again. Returns the step of
        the pCN move: ``settings.beta`` for the other coordinates once a block is fitted
        (both then adapt anew), else ``beta``."""
        if self.block is not None:
            refit_pool_after = (self.fit_step + self.refit_step) // 2
            if self.refit_step and refit_pool_after < step <= self.refit_step:
                self.moments = pool_states(self.moments, u)
                if step == self.refit_step:
                    self._refit(settings, shape, u)
            return beta
        if not self.pool_after < step <= self.fit_step:
            return beta
        moments = self.moments = pool_states(self.moments, u)
        if step < self.fit_step:
            return beta
        self.moments = None
        if beta >= settings.block_below_beta:
            return beta
        self.beta_at_fit = beta
        self.block = fit_block(moments, settings.block_size)
        self.gamma = settings.beta
        self._begin(shape, u)
        return settings.beta

    def _refit(self, settings: ClassSamplerSettings, shape: np.ndarray, u: np.ndarray) -> None:
        """Fit the block again on the pool (then dropped), for the chains at ``u``; keep the
        jumps only if accepted at least :data:`JUMP_MIN_ACCEPTANCE` since the first fit."""
        assert self.moments is not None
        self.block = fit_block(self.moments, settings.block_size)
        self.moments = None
        self._begin(shape, u)
        accepted, tried = self.jump_counts
        self.jump_acceptance_burn_in = accepted / max(tried, 1)
        if self.jump_acceptance_burn_in < JUMP_MIN_ACCEPTANCE:
            self.jumps = 0

    def _begin(self, shape: np.ndarray, u: np.ndarray) -> None:
        """The other coordinates, their step multipliers and the chains' ratios."""
        assert self.block is not None
        self.rest = self.block.rest(shape.size)
        s = shape[self.rest]
        self.rest_shape = s / s.max() if s.size else s
        self.rho = self.block.log_ratio(u)

    def step(
        self,
        spec: ClassSpec,
        counter: LabelCounter,
        chains: _Chains,
        beta: float,
        rng: np.random.Generator,
    ) -> tuple[_Move, np.ndarray, int]:
        """One step: ``self.jumps`` independence moves (:meth:`BlockReference.jump`), the block's
        generalised pCN move, both applied to ``chains`` (``rng`` draws each proposal,
        then the uniforms of its density-ratio test; only the proposals that pass it are
        labelled), then the pCN move of the other coordinates with step ``beta``
        (returned, not applied; no move when the block is every coordinate). Returns that
        move, which chains the block's move moved ``(m,)`` and the jumps accepted."""
        block = self.block
        assert block is not None
        jumped = 0
        for _ in range(self.jumps):
            jumped += int(self._ratio_move(spec, counter, chains, block.jump(chains.u, rng),
                                           rng).sum())  # fmt: skip
        self.jump_counts[0] += jumped
        self.jump_counts[1] += self.jumps * chains.u.shape[0]
        ok = self._ratio_move(spec, counter, chains, block.propose(chains.u, self.gamma, rng), rng)
        if not self.rest.size:
            return _Move.stay(chains), ok, jumped
        rest_move = _step(spec, counter, chains, None, None, beta, self.rest_shape, rng,
                          rest=self.rest)  # fmt: skip
        return rest_move, ok, jumped

    def _ratio_move(
        self,
        spec: ClassSpec,
        counter: LabelCounter,
        chains: _Chains,
        prop: np.ndarray,
        rng: np.random.Generator,
    ) -> np.ndarray:
        """Accept the proposals ``prop`` ``(m, d)`` with ``min(1, exp(ρ' − ρ))`` in the
        class (the ratio test first: only its survivors are labelled); applied to
        ``chains``. Returns which chains moved ``(m,)``."""
        assert self.block is not None
        m = chains.u.shape[0]
        rho = self.block.log_ratio(prop)
        screened = np.flatnonzero(np.log(rng.random(m)) < rho - self.rho)
        prop_lam = np.full(m, np.nan)
        prop_lam[screened] = counter.measure(prop[screened])
        ok = spec.eig_member(prop_lam)
        chains.accept(_Move(prop, prop_lam, None, None, ok, screened, 0))
        self.rho = np.where(ok, rho, self.rho)
        return ok

    def records(self, counts: _Counts) -> dict[str, Any]:
        """The block's diagnostics (empty without one) from the production ``counts``."""
        if self.block is None:
            return {}
        steps = max(counts.proposed, 1)  # chain-steps
        jumps = self.jumps
        jump_rate = {"acceptance_jump_production": counts.jumps_accepted / max(steps * jumps, 1)}
        burn_rate = self.jump_acceptance_burn_in
        return {
            "block_size": int(self.block.index.size),
            "block_coordinates": self.block.index.tolist(),
            "gamma": self.gamma,
            "acceptance_block_production": counts.block_accepted / steps,
            "block_jumps": jumps,
            **(jump_rate if jumps else {}),
            **({} if math.isnan(burn_rate) else {"acceptance_jump_burn_in": burn_rate}),
            **({} if math.isnan(self.beta_at_fit) else {"beta_at_block_fit": self.beta_at_fit}),
        }


@dataclass
class _Chains:
    """The current states of ``m`` chains: normal-space points ``u`` ``(m, d)``, their max
    Re(λ) ``lam`` (h⁻¹), log proposal ratios ``lr`` (independence chains) and screen
    predictions ``f`` (delayed acceptance), each ``(m,)`` or ``None``."""

    u: np.ndarray
    lam: np.ndarray
    lr: np.ndarray | None
    f: np.ndarray | None

    @classmethod
    def start(
        cls,
        u: np.ndarray,
        lam: np.ndarray,
        proposal: GaussianProposal | None,
        surrogate: Surrogate | None,
    ) -> _Chains:
        lr = proposal.log_ratio(u) if proposal is not None else None
        return cls(u, lam, lr, surrogate.predict(u) if surrogate is not None else None)

    def accept(self, move: _Move) -> None:
        """Move the chains whose proposal was accepted (``move.ok``)."""
        ok = move.ok
        self.u = np.where(ok[:, None], move.u, self.u)
        self.lam = np.where(ok, move.lam, self.lam)
        if self.lr is not None:
            self.lr = np.where(ok, move.lr, self.lr)
        if self.f is not None:
            self.f = np.where(ok, move.f, self.f)


@dataclass
class _Move:
    """One step's proposals (fields as :class:`_Chains`), which are accepted (``ok``,
    bool ``(m,)``), the proposals labelled after the screen (``screened``, indices) and
    the members among them (``n_members``)."""

    u: np.ndarray
    lam: np.ndarray
    lr: np.ndarray | None
    f: np.ndarray | None
    ok: np.ndarray
    screened: np.ndarray
    n_members: int

    @classmethod
    def stay(cls, chains: _Chains) -> _Move:
        """No move (nothing proposed, nothing labelled)."""
        m = chains.u.shape[0]
        return cls(chains.u, chains.lam, None, None, np.zeros(m, bool), np.empty(0, int), 0)


def _step(
    spec: ClassSpec,
    counter: LabelCounter,
    chains: _Chains,
    proposal: GaussianProposal | None,
    surrogate: Surrogate | None,
    beta: float,
    shape: np.ndarray,
    rng: np.random.Generator,
    *,
    rest: np.ndarray | None = None,
) -> _Move:
    """Propose and decide one step of every chain: a pCN move (``proposal`` None; with
    ``rest``, of those coordinates only, ``shape`` theirs) or an
    independence draw accepted with ``min(1, r(u')/r(u))`` in the class (the ratio test
    first: only the draws that pass it are labelled, the others are left NaN); with a
    ``surrogate``, delayed acceptance (screen, then label the survivors); a returns clause
    integrates the candidates only. ``rng`` is drawn in this fixed order: proposal, screen,
    MH uniforms."""
    m = chains.u.shape[0]
    prop_lr = None
    if proposal is not None:  # independence MH: u' ~ q
        prop = proposal.sample(m, rng)
        prop_lr = proposal.log_ratio(prop)
    elif rest is not None:
        prop = chains.u.copy()
        prop[:, rest] = propose(chains.u[:, rest], beta, shape, rng)
    else:
        prop = propose(chains.u, beta, shape, rng)
    prop_f = None
    screened, n_members = np.arange(m), 0
    if surrogate is not None:  # delayed acceptance: screen, then label the survivors
        assert chains.f is not None
        prop_f, prop_lam, ok, screened, n_members = _two_stages(
            spec, counter, surrogate, chains.lam, chains.f, prop, rng
        )
    elif proposal is not None:  # the MH ratio needs no label: only its survivors are labelled
        assert chains.lr is not None and prop_lr is not None
        screened = np.flatnonzero(np.log(rng.random(m)) < prop_lr - chains.lr)
        prop_lam = np.full(m, np.nan)
        prop_lam[screened] = counter.measure(prop[screened])
        ok = spec.eig_member(prop_lam)
    else:
        prop_lam = counter.measure(prop)
        ok = spec.eig_member(prop_lam)
    if spec.returns is not None:  # delayed acceptance: integrate the candidates only
        idx = np.flatnonzero(ok)
        ok[idx] = counter.returns(prop[idx])
    return _Move(prop, prop_lam, prop_lr, prop_f, ok, screened, n_members)


def _chain_records(
    reached: Reached,
    settings: ClassSamplerSettings,
    counter: LabelCounter,
    u: np.ndarray,
    lams: list[np.ndarray],
    *,
    imh: bool,
    thin: int,
    chains: int,
    beta: float,
    counts: _Counts,
    surrogate: Surrogate | None,
    screen_record: dict[str, Any],
    labels: tuple[int, int, int],
    seconds: tuple[float, float],
    screen: ReturnScreen | None,
    block: dict[str, Any],
) -> dict[str, Any]:
    """The chains' ``class_rounds`` records: the route, the levels, acceptance, duplicates,
    lag-1 correlation and ESS of the kept states ``u`` (n, d) (``lams``: max Re(λ) per kept
    step), the delayed-acceptance stages, labels and seconds per phase. ``labels``: counts
    after the levels (labels, integrations) and after the burn-in; ``seconds``: burn-in,
    whole run; ``counts``: the production counts; ``block``: the class-fitted block's
    records (empty without one)."""
    n = u.shape[0]
    mode = reached.mode
    labels_levels, integrated_levels, labels_ready = labels
    t_burn, t_production = seconds
    rho = lag_one_correlation(lams)
    return {
        "method": (
            "subset simulation + independence Metropolis–Hastings with a fitted Gaussian "
            "proposal (cross-entropy fit, defensive mixture)"
            if imh
            else "subset simulation + pCN (Au & Beck 2001) with a class-fitted block "
            "(generalised pCN, Rudolf & Sprungk 2018)"
            if block
            else "subset simulation + pCN (Au & Beck 2001)"
        ),
        "mode": mode,
        "thin": thin,
        **reached.fit,
        **level_diagnostics(settings, reached, counter, labels_levels, integrated_levels),
        "chains": chains,
        "beta": beta,
        "slow_mixing": _slow_mixing(imh, beta, block),
        **block,
        "acceptance_production": counts.accepted / max(counts.proposed, 1),
        "duplicate_fraction": 1.0 - np.unique(u, axis=0).shape[0] / n,
        "lag1_correlation_max_eig": rho,
        "effective_sample_size": n * (1 - rho) / (1 + rho) if math.isfinite(rho) else None,
        "delayed_acceptance": surrogate is not None,
        **screen_record,
        **({} if surrogate is None else _stage_records(surrogate, counts)),
        "labels_per_member_production": (counter.labels - labels_ready) / n,
        "seconds_levels": reached.t_levels,
        "seconds_burn_in": t_burn,
        "labels_burn_in": labels_ready - labels_levels,
        "seconds_fit": reached.t_levels + t_burn,
        "seconds_production": t_production - t_burn,
        "members_per_second_production": n / (t_production - t_burn),
        "screen": None if screen is None else _UNUSED_SCREEN,
    }


#: The diagnostics of a return screen asked for in chains mode.
_UNUSED_SCREEN = {
    "used": False,
    "reason": "chains mode: a screen would change the chains' target; every "
    "candidate was integrated",
}


def _first_screen(
    spec: ClassSpec,
    counter: LabelCounter,
    settings: ClassSamplerSettings,
    record: dict[str, Any],
) -> Surrogate:
    """The screen fitted on the sets labelled so far (levels, route fit), before the chains."""
    t = time.perf_counter()
    surrogate = fit_surrogate(*counter.history(), spec, floor=settings.surrogate_floor)
    record["seconds_fit_screen"] = time.perf_counter() - t
    record["screen_sets_levels"] = int(counter.history()[1].size)
    return surrogate


def _two_stages(
    spec: ClassSpec,
    counter: LabelCounter,
    surrogate: Surrogate,
    cur_lam: np.ndarray,
    cur_f: np.ndarray,
    prop: np.ndarray,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, int]:
    """One delayed-acceptance step of ``m`` chains: stage 1 passes proposal ``i`` with
    probability ``a₁ = stage_one(λ(u), f(u), f(u'))`` without a label; the survivors are
    labelled and stage 2 accepts a member with probability ``min(1, a₁(u', u)/a₁(u, u'))``.

    Returns ``f(u')`` ``(m,)``, the proposals' labels ``(m,)`` (NaN: not labelled), the
    accepted ones ``(m,)`` bool, the indices of the labelled ones, and how many of
    those were members.
    """
    m = prop.shape[0]
    prop_f = surrogate.predict(prop)
    a1 = surrogate.stage_one(cur_lam, cur_f, prop_f)
    idx = np.flatnonzero(rng.random(m) < a1)
    prop_lam = np.full(m, np.nan)
    prop_lam[idx] = counter.measure(prop[idx])
    ok = spec.eig_member(prop_lam)
    n_members = int(ok.sum())
    j = np.flatnonzero(ok)
    a1_back = surrogate.stage_one(prop_lam[j], prop_f[j], cur_f[j])
    ok[j] = rng.random(j.size) < a1_back / a1[j]
    return prop_f, prop_lam, ok, idx, n_members


def _stage_records(surrogate: Surrogate, counts: _Counts) -> dict[str, Any]:
    """Delayed acceptance's rates over the production steps."""
    return {
        "stage1_pass_rate": counts.passed / max(counts.screened, 1),
        "stage2_member_rate": counts.members / max(counts.passed, 1),
        "stage2_acceptance": counts.accepted / max(counts.passed, 1),
        "screen_tau": surrogate.tau,
    }


def refit_screen(
    spec: ClassSpec,
    counter: LabelCounter,
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
