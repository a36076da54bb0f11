"""Incidence and fidelity of a generator, and how both grow with the training data.

:func:`evaluate_generator` generates fresh relevant-class models, labels each with the
engine (exact max Re(λ)) and compares them with relevant ORACLE models
(:mod:`rekindle.analysis.fidelity`). :func:`learning_curve` fits the flow generator on the
first ``n`` sets of one dataset file for several ``n`` (streaming, so ``n`` can reach
10⁶–10⁷) and evaluates each against held-out ORACLE data: the class-conditional copula
alone and, when the flow has a relevance guide, guided generation at each ``power``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from rekindle.analysis.fidelity import fidelity_report
from rekindle.kinetics.labelling import Labeller
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H

__all__ = ["LEARNING_CURVE_FIELDS", "Generator", "evaluate_generator", "learning_curve"]

LEARNING_CURVE_FIELDS = (
    "generator",
    "n_sets",
    "n_relevant_train",
    "incidence",
    "spread_ratio_generated",
    "iqr_ratio_generated",
    "c2st_generated",
    "c2st_noise_floor",
    "ks_max_eig",
    "kl_marginals",
    "kl_means",
    "steps",
    "fit_seconds",
)


class Generator(Protocol):
    """What the evaluation needs of a generator (KineticGAN and KineticFlow have it)."""

    def generate(self, n: int, cls: str | int = "relevant", seed: int = 0) -> np.ndarray: ...


class _FlowMode:
    """A flow generating in one mode (unguided, or guided at one power)."""

    def __init__(self, flow: Any, guided: bool, power: float | None = None) -> None:
        self.flow, self.guided, self.power = flow, guided, power

    @property
    def label(self) -> str:
        return f"guided flow (power {self.power:g})" if self.guided else "copula flow"

    def generate(self, n: int, cls: str | int = "relevant", seed: int = 0) -> np.ndarray:
        return self.flow.generate(n, cls, seed, guided=self.guided, power=self.power)


def evaluate_generator(
    generator: Generator,
    labeller: Labeller,
    reference_km: np.ndarray,
    heldout_km: np.ndarray,
    reference_max_eig: np.ndarray | None = None,
    *,
    n: int = 3000,
    seed: int = 7,
) -> dict[str, Any]:
    """Incidence (engine-labelled) and fidelity of ``n`` fresh relevant-class models.

    Parameters
    ----------
    generator
        Trained generator.
    labeller : Labeller
        The engine at the generator's physiology.
    reference_km : numpy.ndarray, shape (m, d)
        K_M (µM) of the relevant training sets (width and KL reference).
    heldout_km : numpy.ndarray, shape (h, d)
        K_M of relevant ORACLE sets not used in training (C2ST reference).
    reference_max_eig : numpy.ndarray, optional
        max Re(λ) (1/h) of relevant ORACLE models (KS reference).
    n : int
        Models generated.
    seed : int
        Generation and C2ST seed.

    Returns
    -------
    dict
        ``incidence`` and every field of :class:`~rekindle.analysis.fidelity.FidelityReport`.
    """
    km = generator.generate(n, "relevant", seed=seed)
    params = labeller.system.complete_parameters(km, labeller.physiology)
    max_eig, relevant = labeller.label(params)
    report = fidelity_report(
        km,
        reference_km,
        heldout_km,
        generated_max_eig=max_eig,
        reference_max_eig=reference_max_eig,
        seed=seed,
    )
    return {"incidence": float(np.mean(relevant)), **report.to_dict()}


def learning_curve(
    data: str | Path,
    heldout: str | Path,
    sizes: Sequence[int],
    config: Any = None,
    *,
    guide_config: Any = None,
    powers: Sequence[float] = (1.0,),
    n_eval: int = 3000,
    seed: int = 7,
    log: Callable[[str], None] = lambda _msg: None,
) -> list[dict[str, Any]]:
    """Fit the flow generator on the first ``n`` sets of ``data`` for each ``n`` in ``sizes``.

    Parameters
    ----------
    data : path
        A dataset file (``rekindle sample``) with at least ``max(sizes)`` sets, read chunk by
        chunk.
    heldout : path
        An independent ORACLE dataset of the same model and physiology (another seed): its
        relevant sets are the C2ST and KS reference.
    sizes : sequence of int
        Training-set sizes (sets of both classes, before the validation split).
    config : FlowConfig, optional
        Flow settings (``max_sets`` is set to each size).
    guide_config : GuideConfig, optional
        Train a relevance guide with each flow and evaluate guided generation too.
    powers : sequence of float
        Acceptance exponents of the guided generation evaluated (1: Bayes' rule).
    n_eval : int
        Relevant-class models generated per size.
    seed : int
        Evaluation seed.
    log : callable
        Progress lines.

    Returns
    -------
    list of dict
        One record per size and generation mode with the keys of
        :data:`LEARNING_CURVE_FIELDS`.
    """
    from rekindle.flow import FlowConfig, KineticFlow
    from rekindle.io.dataset import CLASS_METADATA_KEYS, read_dataset, relevance_interval
    from rekindle.kinetics import KineticSystem
    from rekindle.sampling import km_reference_concentrations

    held = read_dataset(heldout)
    bundle = held.bundle()  # the model the data carry (never reloaded by name)
    model, phys = bundle.model, bundle.physiology
    system = KineticSystem(model)
    threshold = float(held.metadata.get("threshold", RELEVANCE_THRESHOLD_PER_H))
    # the data's class, or below the threshold
    labeller = Labeller.of_interval(system, phys, relevance_interval(held.metadata))
    # the flows record the data's threshold (the guide's scale) and class
    recorded = {k: held.metadata[k] for k in CLASS_METADATA_KEYS if k in held.metadata}
    held_km = system.km_of(held.parameters[held.relevant])
    held_eig = held.max_real_eigenvalue[held.relevant]
    km_columns = np.array([model.parameter_index[k] for k in model.km_names])
    config = config or FlowConfig()
    rows = []
    for size in sorted(int(s) for s in sizes):
        t0 = time.perf_counter()
        flow = KineticFlow(
            km_reference_concentrations(model, phys),
            model.km_names,
            {"model": model.name, "physiology": phys.name, "threshold": threshold, **recorded},
            replace(config, max_sets=size),
            guide_config,
        )
        summary = flow.fit(path=data, km_columns=km_columns, log=log)
        fit_seconds = time.perf_counter() - t0
        # width reference: relevant training sets (a bounded sample of them)
        train = read_dataset(data, rows=slice(0, min(size, 200_000)))
        train_km = system.km_of(train.parameters[train.relevant])
        modes = [_FlowMode(flow, guided=False)]
        if flow.guide is not None:
            modes += [_FlowMode(flow, guided=True, power=float(p)) for p in powers]
        for mode in modes:
            row = evaluate_generator(
                mode, labeller, train_km, held_km, held_eig, n=n_eval, seed=seed
            )
            row.update(
                generator=mode.label,
                power=mode.power,
                n_sets=size,
                n_relevant_train=summary["n_relevant_train"],
                steps=summary["steps"],
                fit_seconds=fit_seconds,
                guide=summary.get("guide"),
            )
            log(
                f"n = {size}, {mode.label}: incidence {row['incidence']:.3f}, "
                f"spread {row['spread_ratio_generated']:.3f}, "
                f"C2ST {row['c2st_generated']:.3f} (floor {row['c2st_noise_floor']:.3f})"
            )
            rows.append(row)
    return rows
