"""Settings, states and results of the class sampler.

The dataclasses of :func:`~rekindle.classes.sampler.sample_class`:

- :class:`ClassSamplerSettings`: every knob of the levels, the route choice and the
  deliveries (recorded with the delivered members);
- :class:`ChainState`: what continues a class sampler without its levels;
- :class:`ClassDraw`: members of a class and how they were found;
- :class:`Reached`: where the sampler stands once the class is reached (the levels' or
  the start's members, the chosen route and its fit), handed to the deliveries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rekindle.classes.block import BlockReference
from rekindle.classes.proposal import GaussianProposal
from rekindle.classes.screen import ReturnScreen
from rekindle.classes.surrogate import Surrogate
from rekindle.config import Settings, check, check_choice, check_positive_int

__all__ = [
    "DELIVERIES",
    "PCN_BETA_CHECKED",
    "ChainState",
    "ClassDraw",
    "ClassSamplerSettings",
    "Reached",
]

#: Delivery routes of :class:`ClassSamplerSettings` (``auto`` picks among the others).
DELIVERIES = ("auto", "best", "filter", "pcn", "imh", "rejection")


#: The smallest adapted pCN step β at which plain pCN was checked against an independent
#: ORACLE reference and passed (E. coli fdp1, max_eig < −30: β = 0.099, C2ST 0.492 against
#: a floor of 0.491). At < −35 (β = 0.045) plain pCN failed at the defaults (C2ST 0.648
#: against 0.530); below this β the chains fit a class-fitted block (default
#: ``ClassSamplerSettings.block_below_beta``), which at −35 passed with burn-in 500 or
#: 1 000 and thin 100 (C2ST 0.510, 0.521) but not at the defaults (0.566), nor at burn-in
#: 200 or thin 50 alone (0.553, 0.552); with the block's independence jumps (default 2 per
#: step) burn-in 300 and thin 50 passed (C2ST 0.526, 0.531 for two seeds; at burn-in 200 one
#: seed missed the KS bar of max Re(λ), 0.054 against 0.05): docs/science/classes.md.
#: Below it a delivery records ``slow_mixing = True``.
PCN_BETA_CHECKED = 0.09


@dataclass(frozen=True)
class ClassSamplerSettings(Settings):
    """Settings of :func:`~rekindle.classes.sampler.sample_class` (recorded with the members).

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
    block_size
        pCN production chains (no screen, no return clause): after the first half of
        the burn-in, fit a Gaussian to the chains' states on the ``block_size``
        coordinates the class constrains most, and from then on alternate a generalised
        pCN move of that block (reversible with respect to the fitted Gaussian,
        corrected by its density ratio: exact) with a pCN move of the other
        coordinates (:mod:`rekindle.classes.block`); a step is both moves. 0: plain pCN.
    block_jumps
        With a block: independence moves per step before the block's and the other
        coordinates' moves — the block drawn from the fitted Gaussian, the other
        coordinates from the prior, accepted with the same density ratio in the class
        (:meth:`~rekindle.classes.block.BlockReference.jump`; exact). A jump whose ratio
        test fails is not labelled. 0: none.
    block_below_beta
        Fit the block only when the adapted pCN step β is below this (default
        :data:`PCN_BETA_CHECKED`: plain pCN was checked
        faithful at β ≥ 0.09; a block costs ~1.7 labels per step); 1: always.
    max_levels
        Refuse a class rarer than ``p0 ** max_levels``.
    delivery
        How members are delivered once the class is reached: ``"auto"`` (ORACLE + exact
        filter when ``P(class)·thin ≥ 1``, else pCN chains: no proposal is fitted),
        ``"best"`` (fit the proposal, then the cheapest route in labels per member by
        the estimates of :func:`~rekindle.classes.route.choose_delivery`), ``"filter"``
        (ORACLE + exact filter), ``"pcn"`` (pCN chains, one state every ``thin`` steps), ``"imh"``
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
    proposal_cost
        ``"best"``: the cost of one draw of the fitted proposal with its ratio ``p/q``, in
        labels (a fixed number, so that the same seed takes the same route on any
        machine; the fit rounds record the measured seconds of both). E. coli fdp1
        (d = 259): a draw with its ratio alone costs 0.05–0.07 labels, a draw within the
        rejection delivery ~0.28 (max_eig < −28: 11.8 ms per member for 35 labels of
        0.17 ms and 129 draws); docs/science/fitted-proposals.md.
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
        first stage with one that does not return (default; the same verdict as the full
        test, for fewer integrations: :class:`~rekindle.classes.generate.ReturnTest`).
        ``False`` integrates every perturbation of every candidate.
    """

    population: int = 4000
    p0: float = 0.1
    thin: int = 50
    chains: int = 1000
    beta: float = 0.5
    target_acceptance: float = 0.3
    adapt_steps: int = 10
    burn_steps: int = 200
    block_size: int = 40
    block_jumps: int = 2
    block_below_beta: float = PCN_BETA_CHECKED
    max_levels: int = 40
    delivery: str = "auto"
    fit_rounds: int = 4
    defensive: float = 0.1
    truncation: float = 1e-3
    duplicates: float = 0.02
    proposal_cost: float = 0.25
    delayed_acceptance: bool = False
    surrogate_floor: float = 0.02
    surrogate_history: int = 40_000
    seed: int = 0
    screen: bool = False
    screen_recall: float = 0.95
    screen_audit: float = 0.1
    screen_warmup: int = 200
    screen_l2: float = 10.0
    sequential_returns: bool = True

    def validate(self) -> None:
        check_positive_int(self, "population", "thin", "chains", "max_levels")
        check_positive_int(self, "adapt_steps", "burn_steps", "block_size", "block_jumps", "seed",
                           minimum=0)  # fmt: skip
        check(0 < self.p0 < 1, f"p0 must lie in (0, 1), got {self.p0}")
        check(self.population * self.p0 >= 2, "population × p0 must be at least 2")
        check(0 < self.beta <= 1, f"beta must lie in (0, 1], got {self.beta}")
        check(
            0 < self.block_below_beta <= 1,
            f"block_below_beta must lie in (0, 1], got {self.block_below_beta}",
        )
        check_choice(self, "delivery", DELIVERIES)
        check_positive_int(self, "fit_rounds")
        check(0 < self.defensive < 1, f"defensive must lie in (0, 1), got {self.defensive}")
        check(0 < self.truncation < 1, f"truncation must lie in (0, 1), got {self.truncation}")
        check(0 < self.duplicates < 1, f"duplicates must lie in (0, 1), got {self.duplicates}")
        check(self.proposal_cost >= 0, f"proposal_cost must be ≥ 0, got {self.proposal_cost}")
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
    block
        The class-fitted block of pCN chains (mode ``chains``; ``None``: plain pCN);
        ``beta`` is then the step of the other coordinates.
    gamma
        The block's generalised pCN step (NaN without a block).
    """

    seeds: np.ndarray
    beta: float
    shape: np.ndarray
    mode: str = "chains"
    proposal: GaussianProposal | None = None
    thin: int = 0
    log_bound: float = float("nan")
    surrogate: Surrogate | None = None
    block: BlockReference | None = None
    gamma: float = float("nan")


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
    block, gamma
        The class-fitted block of pCN chains and its step (see :class:`ChainState`).
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
    block: BlockReference | None = None
    gamma: float = float("nan")

    @property
    def state(self) -> ChainState:
        """The :class:`ChainState` to continue from."""
        shape = np.ones(self.seeds.shape[1]) if self.shape is None else self.shape
        return ChainState(
            self.seeds, self.beta, shape, self.mode, self.proposal, self.thin, self.log_bound,
            self.surrogate, self.block, self.gamma,
        )  # fmt: skip


@dataclass
class Reached:
    """Where the class sampler stands when delivery begins.

    Attributes
    ----------
    seeds
        Shape ``(m, d)``: class members in normal space ``u`` (the last level's, or the
        start's).
    seed_lam
        Shape ``(m,)``, 1/h: their exact max Re(λ).
    beta
        The pCN step reached by the levels (or the start's).
    shape
        Shape ``(d,)``: per-coordinate step multipliers.
    levels
        One record per subset-simulation level (empty from a start).
    log_p
        ``log10 P(class)`` estimated by the levels (NaN from a start).
    from_start
        The sampler continued an earlier :class:`ChainState` (no levels).
    t_levels
        Seconds spent before the delivery (levels, route fit).
    mode
        The delivery: ``"chains"``, ``"rejection"``, ``"imh"`` or ``"proposal-rejection"``.
    fit
        The route fit's records (JSON-ready; empty when nothing was fitted).
    proposal
        The fitted proposal (modes ``imh`` and ``proposal-rejection``).
    thin_imh
        Steps between kept states of an independence chain.
    log_bound
        ``log M`` of mode ``proposal-rejection``.
    block, gamma
        The start's class-fitted block and its step (``None``, NaN: fitted in the
        burn-in, if at all).
    """

    seeds: np.ndarray
    seed_lam: np.ndarray
    beta: float
    shape: np.ndarray
    levels: list[dict]
    log_p: float
    from_start: bool
    t_levels: float
    mode: str
    fit: dict[str, Any]
    proposal: GaussianProposal | None
    thin_imh: int
    log_bound: float
    block: BlockReference | None = None
    gamma: float = float("nan")
