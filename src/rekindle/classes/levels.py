"""Subset simulation up to a class, with diagonal pCN moves.

Method: *subset simulation* (Au & Beck, Probab. Eng. Mech. 16, 263 (2001)) with
preconditioned Crank–Nicolson moves (Cotter et al., Stat. Sci. 28, 424 (2013)), in the
normal space ``u = Φ⁻¹(σ)`` where ORACLE's prior is ``N(0, I_d)``:

1. Draw a population of ``population`` sets from the prior and label them exactly.
2. While fewer than a fraction ``p0`` are members, take the intermediate level
   ``b`` = the ``p0``-quantile of the violation ``v`` (how far max Re(λ) lies outside
   the class, :meth:`~rekindle.classes.spec.ClassSpec.violation`), and regrow the
   population from the ``p0·population`` sets with ``v < b`` by pCN chains restricted
   to ``{v < b}``.

The members of the last population seed the deliveries
(:mod:`rekindle.classes.chains`, :mod:`rekindle.classes.deliveries`).

The pCN proposal ``u' = √(1−β²) u + β z``, ``z ~ N(0, I)``, is reversible with respect
to ``N(0, I)`` (per coordinate too: :func:`propose` moves coordinate *j* by
``min(1, β·shape[j])``); accepting it iff ``u'`` lies in the level set therefore leaves
the prior restricted to that set invariant. The quantile-chosen intermediate levels
bias the estimate of ``P(C)`` by ``O(1/population)``, not the members' law once the
chains have mixed.
"""

from __future__ import annotations

import math

import numpy as np

from rekindle.classes.labels import LabelCounter
from rekindle.classes.settings import ClassSamplerSettings
from rekindle.classes.spec import ClassSpec
from rekindle.errors import GenerationError

__all__ = ["adapt_beta", "pcn_steps", "propose", "sensitivity_shape", "subset_levels"]


def pcn_steps(beta: float, shape: np.ndarray) -> np.ndarray:
    """Per-coordinate pCN steps ``min(1, β·shape)``, shape ``(d,)``."""
    return np.minimum(1.0, beta * shape)


def propose(u: np.ndarray, beta: float, shape: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Diagonal pCN: ``u'_j = √(1 − b_j²) u_j + b_j z_j``, reversible w.r.t. ``N(0, I)``."""
    b = pcn_steps(beta, shape)
    return np.sqrt(1.0 - b**2) * u + b * rng.standard_normal(u.shape)


def sensitivity_shape(u: np.ndarray, v: np.ndarray) -> np.ndarray:
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


def adapt_beta(beta: float, rate: float, target: float) -> float:
    """Robbins–Monro-like step on log β towards the target acceptance."""
    return float(np.clip(beta * math.exp(rate - target), 0.02, 1.0))


def subset_levels(
    spec: ClassSpec,
    counter: LabelCounter,
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
    shape = sensitivity_shape(u, v)
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
            prop = propose(cur_u, beta, shape, rng)
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
            beta = adapt_beta(beta, rate, settings.target_acceptance)
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
