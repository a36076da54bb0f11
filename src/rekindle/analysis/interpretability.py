"""Interpretability: which kinetic parameters separate relevant from non-relevant models.

REKINDLE (Methods, "Generation of biologically irrelevant kinetic models"): generate
models with the *relevant* label until 2 000 of them turn out relevant and 2 000 turn
out not relevant (the generator's small error rate supplies the latter), then rank the
parameters by the KL divergence between the two populations' distributions.

Any class-conditional generator serves (:class:`Generator`: the cGAN
:class:`rekindle.gan.KineticGAN` and the flow :class:`rekindle.flow.KineticFlow` alike);
:func:`interpret_generator` collects its populations and ranks its parameters.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol, runtime_checkable

import numpy as np

from rekindle.gan.monitoring import kl_divergence_per_feature
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H


@runtime_checkable
class Generator(Protocol):
    """What interpretability needs of a generator (KineticGAN and KineticFlow have it).

    Attributes
    ----------
    feature_names
        The K_M names, in the order of the generated columns.
    threshold
        Relevance threshold on max Re(λ), h⁻¹.
    """

    feature_names: list[str]

    @property
    def threshold(self) -> float: ...

    def generate(self, n: int, cls: str | int = "relevant", seed: int = 0) -> np.ndarray:
        """``n`` K_M sets of class ``cls`` (µM), shape ``(n, len(feature_names))``."""
        ...


@dataclass(frozen=True)
class ClassPopulations:
    """Generated models split by their engine label.

    Attributes
    ----------
    relevant, not_relevant
        K_M arrays, shapes ``(n_rel, n_km)`` and ``(n_not, n_km)``, µM.
    max_eig_relevant, max_eig_not_relevant
        Their max Re(λ), h⁻¹.
    n_generated
        Models generated in total to collect them.
    complete
        Whether both quotas were met within the budget.
    """

    relevant: np.ndarray
    not_relevant: np.ndarray
    max_eig_relevant: np.ndarray
    max_eig_not_relevant: np.ndarray
    n_generated: int
    complete: bool


def collect_class_populations(
    generate: Callable[[int, int], np.ndarray],
    max_real_eigenvalue: Callable[[np.ndarray], np.ndarray],
    n_per_class: int = 2000,
    *,
    threshold: float = RELEVANCE_THRESHOLD_PER_H,
    batch_size: int = 20_000,
    max_generated: int = 2_000_000,
    seed: int = 0,
) -> ClassPopulations:
    """Generate with the relevant label until both classes have ``n_per_class`` models.

    Parameters
    ----------
    generate
        ``generate(n, seed) -> K_M (n, n_km)`` with the *relevant* label.
    max_real_eigenvalue
        Engine labeller ``K_M (n, n_km) -> max Re(λ) (n,)``.
    max_generated
        Budget; when it is exhausted the populations are returned incomplete.
    """
    rel: list[np.ndarray] = []
    nrel: list[np.ndarray] = []
    lam_rel: list[np.ndarray] = []
    lam_nrel: list[np.ndarray] = []
    n_rel = n_nrel = generated = 0
    batch = 0
    while (n_rel < n_per_class or n_nrel < n_per_class) and generated < max_generated:
        km = generate(batch_size, seed + batch)
        lam = max_real_eigenvalue(km)
        ok = np.isfinite(lam) & (lam < threshold)
        if n_rel < n_per_class:
            rel.append(km[ok][: n_per_class - n_rel])
            lam_rel.append(lam[ok][: n_per_class - n_rel])
            n_rel += rel[-1].shape[0]
        bad = np.isfinite(lam) & ~ok
        if n_nrel < n_per_class:
            nrel.append(km[bad][: n_per_class - n_nrel])
            lam_nrel.append(lam[bad][: n_per_class - n_nrel])
            n_nrel += nrel[-1].shape[0]
        generated += batch_size
        batch += 1
    d = rel[0].shape[1] if rel else 0
    return ClassPopulations(
        np.concatenate(rel) if rel else np.empty((0, d)),
        np.concatenate(nrel) if nrel else np.empty((0, d)),
        np.concatenate(lam_rel) if lam_rel else np.empty(0),
        np.concatenate(lam_nrel) if lam_nrel else np.empty(0),
        generated,
        n_rel >= n_per_class and n_nrel >= n_per_class,
    )


@dataclass(frozen=True)
class ParameterRanking:
    """Parameters ranked by KL divergence between two populations.

    Attributes
    ----------
    names
        Parameter names, most divergent first.
    kl
        KL(relevant ‖ not relevant) of each, nats, same order.
    """

    names: list[str]
    kl: np.ndarray

    def top(self, k: int = 10) -> list[dict[str, float | str]]:
        """The ``k`` first as ``[{"name": ..., "kl": ...}]``."""
        return [
            {"name": n, "kl": float(v)} for n, v in zip(self.names[:k], self.kl[:k], strict=True)
        ]


def rank_parameters(
    relevant: np.ndarray,
    not_relevant: np.ndarray,
    names: list[str],
    *,
    n_bins: int = 30,
) -> ParameterRanking:
    """Rank parameters by the per-parameter KL divergence of their log10 distributions.

    Parameters
    ----------
    relevant, not_relevant
        Positive parameter values (e.g. K_M in µM), shapes ``(n1, d)`` and ``(n2, d)``.
    names
        ``d`` parameter names.
    n_bins
        Histogram bins of the KL estimator (shared range of both samples).

    Returns
    -------
    ParameterRanking
    """
    a = np.log10(np.asarray(relevant, dtype=float))
    b = np.log10(np.asarray(not_relevant, dtype=float))
    if a.shape[1] != len(names) or b.shape[1] != len(names):
        raise ValueError(f"populations must have {len(names)} columns")
    kl = np.asarray(kl_divergence_per_feature(a, b, n_bins=n_bins), dtype=float)
    order = np.argsort(-kl, kind="stable")
    return ParameterRanking([names[i] for i in order], kl[order])


def interpret_generator(
    generator: Generator,
    max_real_eigenvalue: Callable[[np.ndarray], np.ndarray],
    n_per_class: int = 2000,
    *,
    seed: int = 0,
    n_bins: int = 30,
    min_per_class: int = 10,
    threshold: float | None = None,
    **collect_kwargs: int,
) -> tuple[ClassPopulations, ParameterRanking | None]:
    """Collect a generator's relevant and not-relevant populations and rank its K_M.

    Parameters
    ----------
    generator
        Any :class:`Generator` (cGAN or flow); its relevant class is generated.
    max_real_eigenvalue
        Engine labeller ``K_M (n, n_km) -> max Re(λ) (n,)`` h⁻¹, at the generator's
        physiology.
    n_per_class
        Models of each engine class to collect (paper: 2000).
    seed
        Seed of the first generated batch (batch ``i`` uses ``seed + i``).
    n_bins
        Histogram bins of the KL estimator.
    min_per_class
        Rank only when both classes have at least this many models.
    threshold
        Split the engine's values at this one (default: the generator's threshold).
    **collect_kwargs
        ``batch_size``, ``max_generated`` of :func:`collect_class_populations`.

    Returns
    -------
    populations, ranking
        The ranking is None when a class has fewer than ``min_per_class`` models (a
        generator that never errs has nothing to contrast).
    """
    pops = collect_class_populations(
        lambda n, s: generator.generate(n, "relevant", seed=s),
        max_real_eigenvalue,
        n_per_class,
        threshold=generator.threshold if threshold is None else threshold,
        seed=seed,
        **collect_kwargs,
    )
    if min(pops.relevant.shape[0], pops.not_relevant.shape[0]) < min_per_class:
        return pops, None
    ranking = rank_parameters(
        pops.relevant, pops.not_relevant, list(generator.feature_names), n_bins=n_bins
    )
    return pops, ranking
