"""The delivery route of a reached class, and the fitted proposal it may need.

``ClassSamplerSettings.delivery``: ``auto`` keeps the filter/pCN rule and fits nothing
(ORACLE + exact filter when ``P(class)·thin ≥ 1``, else pCN chains; on E. coli the fitted
routes cost more labels per member than filter or pCN: docs/science/fitted-proposals.md).
``filter`` and ``pcn`` are taken as asked. ``best``, ``imh`` and ``rejection`` first fit a
:class:`~rekindle.classes.proposal.GaussianProposal` ``q`` with a known density by
cross-entropy rounds (:func:`fit_rounds`); members are then delivered by independence
Metropolis–Hastings chains (exact in law: ``p|C`` invariant, uniformly ergodic because the
defensive mixture bounds ``p/q ≤ 1/α``) or by rejection against a bound ``M`` (exact when
``M ≥ sup_C p/q``; the truncated mass is estimated and recorded otherwise). ``best`` takes
the route with the fewest estimated labels per member (:func:`choose_delivery`).
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np

from rekindle.classes.labels import LabelCounter
from rekindle.classes.proposal import (
    GaussianProposal,
    effective_sample_size,
    fit_proposal,
    independence_acceptance,
    independence_thin,
    truncated_mass,
)
from rekindle.classes.settings import ClassSamplerSettings
from rekindle.classes.spec import ClassSpec
from rekindle.errors import GenerationError

__all__ = ["MODE_OF", "choose_delivery", "fit_rounds"]

#: The sampler mode of a fitted ``delivery`` asked for by name.
MODE_OF = {"imh": "imh", "rejection": "proposal-rejection"}


def fit_rounds(
    spec: ClassSpec,
    counter: LabelCounter,
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
        t0 = time.perf_counter()
        u = proposal.sample(settings.population, rng)
        log_r = proposal.log_ratio(u)
        t1 = time.perf_counter()
        member = spec.eig_member(counter.measure(u))
        t2 = time.perf_counter()
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
                "seconds_proposals": t1 - t0,
                "seconds_labels": t2 - t1,
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


def choose_delivery(
    spec: ClassSpec,
    counter: LabelCounter,
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
    ``thin_imh·(b + c)``, rejection ``(E_q[π] + c) / E_q[π 1_C]`` with ``π = min(1, r/M)``
    — a fitted route labels only the draws that pass its ratio test (``b``: the chance
    of passing from a chain state), and each draw of ``q`` costs ``c`` labels
    (``settings.proposal_cost``; the ratio measured in the fit rounds is recorded as
    ``proposal_cost_measured``).
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
    proposal, log_r, member, rounds = fit_rounds(spec, counter, settings, rng, seeds)
    r = np.exp(log_r)
    p_hat = float(np.mean(r * member))
    draw_cost = settings.proposal_cost  # a draw of q (sample + ratio), in labels
    # independence chains: P(two kept states are the same) = (1 − a)^thin ≤ duplicates;
    # only the draws that pass the ratio test (b) are labelled
    w_states, a_states, b_states = independence_acceptance(log_r, member)
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
    passed = np.minimum(r, math.exp(log_m)) / math.exp(log_m)  # P(U < r/M) of each draw
    accept = float(np.mean(passed * member))
    costs = {
        "rejection": 1.0 / max(p_hat, 10.0**log_p if math.isfinite(log_p) else 0.0, 1e-300),
        "chains": float(settings.thin),
        "imh": thin_imh * (float(w_states @ b_states) + draw_cost),
        "proposal-rejection": (
            (float(np.mean(passed)) + draw_cost) / accept if accept > 0 else math.inf
        ),
    }
    mode = min(costs, key=costs.__getitem__) if want == "best" else MODE_OF[want]
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
        "proposal_cost_measured": sum(x["seconds_proposals"] for x in rounds)
        / max(sum(x["seconds_labels"] for x in rounds), 1e-12),
        "defensive": settings.defensive,
    }
    return mode, fit
