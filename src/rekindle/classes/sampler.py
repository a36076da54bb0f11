"""Members of a rare or costly class, exactly from ORACLE's prior restricted to the class.

ORACLE draws the saturation of every enzyme site independently and uniformly,
``σ ~ U(0, 1)^d``. Through ``u = Φ⁻¹(σ)`` that prior is the standard normal ``N(0, I_d)``
(:mod:`rekindle.classes.labels`). A class ``C`` (:class:`~rekindle.classes.spec.ClassSpec`)
is a set in that space, and the wanted population is ``N(0, I_d)`` restricted to ``C``:
ORACLE + exact filter, without ORACLE's ``1/P(C)`` draws per member.

:func:`sample_class` drives the algorithms, one module each (their exactness notes are in
their module docstrings):

1. reach the class by subset simulation with pCN moves (:mod:`rekindle.classes.levels`),
   or continue an earlier draw's :class:`ChainState` (``start=``);
2. choose the delivery route, fitting a proposal with a known density when the route
   needs one (:mod:`rekindle.classes.route`);
3. deliver: ORACLE + exact filter, or rejection against the fitted bound
   (:mod:`rekindle.classes.deliveries`); pCN, delayed-acceptance pCN or independence
   chains restricted to the class (:mod:`rekindle.classes.chains`);
4. record the diagnostics (:mod:`rekindle.classes.diagnostics`) with the members
   (:class:`ClassDraw`; settings in :mod:`rekindle.classes.settings`).

For a class with a return clause (costly: integrations), only the eigenvalue members are
integrated, in every route; the filter route can spend fewer integrations with the
sequential return test (exact) or a learned screen of the candidates (audited).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rekindle.classes.chains import run_chains
from rekindle.classes.deliveries import deliver_filter, deliver_proposal_rejection
from rekindle.classes.labels import SATURATION_FLOOR as SATURATION_FLOOR
from rekindle.classes.labels import LabelCounter, Measure, ReturnsTest, normal_of, saturation_of
from rekindle.classes.levels import subset_levels
from rekindle.classes.route import choose_delivery
from rekindle.classes.screen import ReturnScreen
from rekindle.classes.settings import DELIVERIES as DELIVERIES
from rekindle.classes.settings import ChainState, ClassDraw, ClassSamplerSettings, Reached
from rekindle.classes.spec import ClassSpec
from rekindle.classes.surrogate import Surrogate
from rekindle.errors import GenerationError

__all__ = [
    "ChainState",
    "ClassDraw",
    "ClassSamplerSettings",
    "normal_of",
    "sample_class",
    "saturation_of",
]


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
    counter = LabelCounter(measure, returns, settings.surrogate_history if chains_da else 0)
    screen = settings.make_screen() if settings.screen and spec.returns is not None else None
    t0 = time.perf_counter()
    if start is None:
        reached = _reach_by_levels(spec, counter, d, settings, rng, screen)
    else:
        reached = _reach_from_start(spec, counter, d, start)
    reached.t_levels = time.perf_counter() - t0
    if reached.mode == "proposal-rejection":
        return deliver_proposal_rejection(spec, counter, reached, n, settings, rng, progress)
    if reached.mode == "rejection":
        return deliver_filter(spec, counter, reached, d, n, settings, rng, screen, progress)
    if start is not None:
        adapt_steps = burn_steps = 0
    elif reached.mode == "imh":  # seeds ~ the class already: one duplicate horizon
        adapt_steps, burn_steps = 0, reached.thin_imh
    else:
        adapt_steps, burn_steps = settings.adapt_steps, settings.burn_steps
    given = fixed_surrogate if fixed_surrogate is not None or start is None else start.surrogate
    return run_chains(
        spec, counter, reached, n, settings, rng, adapt_steps=adapt_steps,
        burn_steps=burn_steps, given_surrogate=given,
        learn_screen=start is None and fixed_surrogate is None, screen=screen,
        progress=progress,
    )  # fmt: skip


def _reach_by_levels(
    spec: ClassSpec,
    counter: LabelCounter,
    d: int,
    settings: ClassSamplerSettings,
    rng: np.random.Generator,
    screen: ReturnScreen | None,
) -> Reached:
    """Subset simulation up to the class (the return clause tested on its eigenvalue
    members, which seed the return screen), then the delivery route and its fit."""
    seeds, seed_lam, beta, shape, levels, log_p = subset_levels(spec, counter, d, settings, rng)
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
    mode, fit = choose_delivery(spec, counter, d, settings, rng, seeds, levels, log_p)
    proposal = fit.pop("proposal", None)
    return Reached(
        seeds, seed_lam, beta, shape, levels, log_p, False, math.nan, mode, fit, proposal,
        fit.get("thin_imh", 0), fit.get("log_bound", float("nan")),
    )  # fmt: skip


def _reach_from_start(spec: ClassSpec, counter: LabelCounter, d: int, start: ChainState) -> Reached:
    """An earlier draw's state, its seeds relabelled (they must be class members)."""
    seeds, beta = np.asarray(start.seeds, dtype=float), float(start.beta)
    shape = np.asarray(start.shape, dtype=float)
    if seeds.ndim != 2 or seeds.shape[1] != d:
        raise ValueError(f"start seeds must have shape (m, {d}), got {seeds.shape}")
    seed_lam = counter.measure(seeds)
    if not spec.eig_member(seed_lam).all():
        raise GenerationError("the starting states are not members of this class")
    mode, proposal = start.mode, start.proposal
    if mode in ("imh", "proposal-rejection") and proposal is None:
        raise GenerationError(f"a {mode} class sampler without its proposal")
    fit: dict[str, Any] = {}
    return Reached(
        seeds, seed_lam, beta, shape, [], float("nan"), True, math.nan, mode, fit, proposal,
        int(start.thin), float(start.log_bound), start.block, float(start.gamma),
    )  # fmt: skip
