"""Deliveries of a reached class that keep draws independent: ORACLE + exact filter, and
rejection against a fitted bound.

- :func:`deliver_filter` (mode ``"rejection"``): i.i.d. prior draws ``N(0, I_d)``, the
  members kept. Exact by construction. For a class with a return clause, only the
  eigenvalue members are integrated; with a learned screen
  (``ClassSamplerSettings.screen``) only the candidates it selects are: every delivered
  member is still verified, but candidates turned away change the delivered population
  by the audited miss rate (see :mod:`rekindle.classes.screen`). The sequential return
  test (``sequential_returns``; exact, see :class:`~rekindle.classes.generate.ReturnTest`)
  spends fewer integrations per candidate.
- :func:`deliver_proposal_rejection` (mode ``"proposal-rejection"``): draws of the fitted
  proposal ``q``, each member kept with probability ``min(1, r/M)``, ``r = p/q``: i.i.d.
  from ``p·min(1, M/r)`` on the class, exact when ``M ≥ sup_C p/q`` (the truncated mass is
  estimated from the labelled members of the delivery and recorded). The ``r/M`` test
  costs no label and comes first: only the draws that pass it are labelled.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from rekindle.classes.diagnostics import level_diagnostics
from rekindle.classes.labels import KeptMembers, LabelCounter, saturation_of
from rekindle.classes.proposal import effective_sample_size, truncated_mass_labelled
from rekindle.classes.screen import ReturnScreen
from rekindle.classes.settings import ClassDraw, ClassSamplerSettings, Reached
from rekindle.classes.spec import ClassSpec

__all__ = ["deliver_filter", "deliver_proposal_rejection"]


def deliver_filter(
    spec: ClassSpec,
    counter: LabelCounter,
    reached: Reached,
    d: int,
    n: int,
    settings: ClassSamplerSettings,
    rng: np.random.Generator,
    screen: ReturnScreen | None = None,
    progress: Callable[[int], None] | None = None,
) -> ClassDraw:
    """ORACLE + exact filter: i.i.d. prior draws, members kept (the first population's
    members included when they are prior draws: no start, no level). With a ``screen``
    (a class with a return clause), only the candidates it selects are integrated."""
    labels_levels, integrated_levels = counter.labels, counter.integrated
    iid = not reached.from_start and not reached.levels
    kept = KeptMembers(n, progress)
    if iid:
        kept.add(reached.seeds, reached.seed_lam, report=False)
    t1 = time.perf_counter()
    while kept.count < n:
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
        kept.add(u[ok], lam[ok])
    t_production = time.perf_counter() - t1
    u, lam = kept.arrays()
    diagnostics = {
        "method": "ORACLE + exact filter",
        "mode": "rejection",
        **reached.fit,
        "members_found": kept.count,  # ≥ n: the last batch's surplus is not delivered
        **level_diagnostics(settings, reached, counter, labels_levels, integrated_levels),
        "chains": 0,
        "beta": reached.beta,
        "acceptance_production": None,
        **_independent_draw_records(u, n, reached, t_production),
        "screen": None if screen is None else screen.diagnostics(),
    }
    return ClassDraw(
        saturation_of(u),
        lam,
        u[-min(n, settings.chains) :].copy(),
        reached.beta,
        diagnostics,
        "rejection",
        reached.shape,
    )


def deliver_proposal_rejection(
    spec: ClassSpec,
    counter: LabelCounter,
    reached: Reached,
    n: int,
    settings: ClassSamplerSettings,
    rng: np.random.Generator,
    progress: Callable[[int], None] | None = None,
) -> ClassDraw:
    """Draws of the fitted proposal, each member kept with probability ``min(1, r/M)``:
    i.i.d. from ``p·min(1, M/r)`` on the class (exact where ``r ≤ M``).

    The test ``U < r/M`` needs no label, so it comes first and only the draws that pass
    it are labelled (the label is a deterministic function of the draw: the kept members
    are those of labelling every draw, at a fraction of the labels). A draw with
    ``r < M`` is then labelled with probability ``π = r/M``, so the truncated mass
    ``E_{p|C}[(1 − M/r)₊] = Σ_C (r − M)₊ / Σ_C r`` over the class members among the
    draws is estimated by weighting each labelled member by ``1/π`` (Horvitz–Thompson):
    ``Σ (r − M)₊ / Σ max(r, M)`` over the labelled members.
    """
    proposal, log_bound = reached.proposal, reached.log_bound
    assert proposal is not None
    labels_levels, integrated_levels = counter.labels, counter.integrated
    kept = KeptMembers(n, progress)
    member_lr: list[np.ndarray] = []
    proposed = 0
    t1 = time.perf_counter()
    while kept.count < n:
        u = proposal.sample(settings.population, rng)
        log_r = proposal.log_ratio(u)
        proposed += u.shape[0]
        # the rng is drawn in the order of labelling every draw first: proposal, then U
        passed = np.flatnonzero(np.log(rng.random(u.shape[0])) < log_r - log_bound)
        lam = counter.measure(u[passed])
        member = spec.eig_member(lam)
        ok, lam = passed[member], lam[member]
        member_lr.append(log_r[ok])
        if spec.returns is not None:
            returned = counter.returns(u[ok])
            ok, lam = ok[returned], lam[returned]
        kept.add(u[ok], lam)
    t_production = time.perf_counter() - t1
    u, lam = kept.arrays()
    lr = np.concatenate(member_lr)
    labels_production = counter.labels - labels_levels
    diagnostics = {
        "method": "rejection from a fitted Gaussian proposal against a bound M",
        "mode": "proposal-rejection",
        **reached.fit,
        **level_diagnostics(settings, reached, counter, labels_levels, integrated_levels),
        "chains": 0,
        "beta": reached.beta,
        "bound": math.exp(log_bound),
        "truncated_mass_delivery": truncated_mass_labelled(lr, log_bound),
        "ess_delivery": (
            effective_sample_size(np.exp(np.maximum(lr, log_bound) - log_bound)) if lr.size else 0.0
        ),
        "members_labelled_delivery": int(lr.size),
        "proposals_delivery": proposed,
        "labels_delivery": labels_production,
        "labels_per_member_production": labels_production / n,
        "acceptance_production": n / max(labels_production, 1),
        **_independent_draw_records(u, n, reached, t_production),
    }
    return ClassDraw(
        saturation_of(u), lam, u[-min(n, settings.chains) :].copy(), reached.beta,
        diagnostics, "proposal-rejection", reached.shape, proposal, 0, log_bound,
    )  # fmt: skip


def _independent_draw_records(
    u: np.ndarray, n: int, reached: Reached, t_production: float
) -> dict[str, Any]:
    """The records both i.i.d. deliveries share: no chain, so no lag, no burn-in, ESS = n."""
    return {
        "duplicate_fraction": 1.0 - np.unique(u, axis=0).shape[0] / n,
        "lag1_correlation_max_eig": 0.0,
        "effective_sample_size": float(n),
        "seconds_levels": reached.t_levels,
        "seconds_burn_in": 0.0,
        "labels_burn_in": 0,
        "seconds_fit": reached.t_levels,
        "seconds_production": t_production,
        "members_per_second_production": n / t_production if t_production > 0 else None,
    }
