"""Deliver exactly ``n`` engine-verified members of a class of one model, to a dataset.

:func:`class_engine` turns a model and physiology into the two callables
:func:`~rekindle.classes.sampler.sample_class` needs (the exact max Re(λ) of
saturations, and the return test of a return clause); :func:`generate_class` runs the
sampler and writes the members with the class, the rounds and the diagnostics.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from rekindle.classes.sampler import ChainState, ClassDraw, ClassSamplerSettings, sample_class
from rekindle.classes.spec import ClassSpec
from rekindle.classes.store import class_attrs, save_class_sampler
from rekindle.errors import GenerationError
from rekindle.io.dataset import DatasetWriter
from rekindle.io.model_bundle import bundle_from
from rekindle.kinetics.labelling import Labeller
from rekindle.kinetics.model import KineticModel
from rekindle.kinetics.physiology import Physiology
from rekindle.kinetics.system import KineticSystem
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H
from rekindle.sampling.oracle import km_from_saturation, km_reference_concentrations

__all__ = ["ReturnTest", "class_engine", "generate_class", "returned_all", "sequential_stages"]


def returned_all(
    system: KineticSystem,
    physiology: Physiology,
    parameters: np.ndarray,
    spec: ClassSpec,
    seed_offset: int = 0,
    n_jobs: int | None = None,
) -> np.ndarray:
    """Whether every perturbation of each set returns (the class's return clause), ``(n,)``."""
    from rekindle.analysis.perturbation import perturbation_analysis

    assert spec.returns is not None
    settings = spec.returns.perturbation_settings()
    if seed_offset:
        from dataclasses import replace

        settings = replace(settings, seed=settings.seed + seed_offset)
    result = perturbation_analysis(system, physiology, parameters, settings, n_jobs=n_jobs)
    return result.returned.all(axis=1)


def sequential_stages(n_perturbations: int) -> tuple[int, ...]:
    """Perturbations per stage of the sequential return test: 1, 1, 2, 4, … summing to
    ``n_perturbations`` (the last stage takes what is left)."""
    stages: list[int] = []
    size = 1
    while sum(stages) < n_perturbations:
        stages.append(min(size, n_perturbations - sum(stages)))
        size = 1 if len(stages) < 2 else 2 * size
    return tuple(stages)


class ReturnTest:
    """σ ``(m, n_km)`` → bool ``(m,)``: every perturbation of the class's return clause
    returns; counts the integrations it spends (:attr:`integrations`).

    ``sequential``: the ``n_perturbations`` perturbations are integrated in stages
    (:func:`sequential_stages`) and a set stops at its first stage with a perturbation that
    does not return (``perturbation_analysis(..., stages=...)``: the perturbations are
    the ones the full test draws, and a set's next stage joins the running batch as soon
    as its stage ends). Exact: the indicator "all return" is the same as the full test's
    for every set, with the same draws; only non-members are spared integrations. Every
    call draws fresh perturbations (another seed).
    """

    def __init__(
        self,
        system: KineticSystem,
        physiology: Physiology,
        km_reference: np.ndarray,
        spec: ClassSpec,
        *,
        sequential: bool = False,
        n_jobs: int | None = None,
    ) -> None:
        assert spec.returns is not None
        self.system, self.physiology, self.spec = system, physiology, spec
        self.km_reference = km_reference
        self.n_jobs = n_jobs
        n = spec.returns.n_perturbations
        self.stages = sequential_stages(n) if sequential else None
        self.integrations = 0
        self._calls = itertools.count()

    def __call__(self, sigma: np.ndarray) -> np.ndarray:
        from dataclasses import replace

        from rekindle.analysis.perturbation import perturbation_analysis

        assert self.spec.returns is not None
        params = self.system.complete_parameters(
            km_from_saturation(sigma, self.km_reference), self.physiology
        )
        base = self.spec.returns.perturbation_settings()
        settings = replace(base, seed=base.seed + next(self._calls) * 1_000_003)
        result = perturbation_analysis(
            self.system,
            self.physiology,
            params,
            settings,
            n_jobs=self.n_jobs,
            stages=self.stages,
        )
        self.integrations += result.n_integrations
        return result.returned.all(axis=1)


def class_engine(
    model: KineticModel,
    physiology: Physiology,
    spec: ClassSpec,
    *,
    n_jobs: int | None = None,
    sequential: bool = True,
) -> tuple[Callable[[np.ndarray], np.ndarray], ReturnTest | None, Labeller]:
    """``(measure, returns, labeller)`` for :func:`sample_class` on ``model``.

    ``measure``: σ ``(m, n_km)`` → max Re(λ) ``(m,)`` (ORACLE's K_M of the saturations,
    V_max back-calculated, exact eigenvalues). ``returns``: a :class:`ReturnTest`
    (``sequential``: stop at the first perturbation that does not return), or ``None``
    without a return clause; every call draws fresh perturbations.
    """
    system = KineticSystem(model)
    kwargs: dict[str, Any] = {} if n_jobs is None else {"n_jobs": n_jobs}
    labeller = Labeller(system, physiology, RELEVANCE_THRESHOLD_PER_H, **kwargs)
    x = km_reference_concentrations(model, physiology)

    def measure(sigma: np.ndarray) -> np.ndarray:
        return labeller.label_km(km_from_saturation(sigma, x))[1]

    if spec.returns is None:
        return measure, None, labeller
    return (
        measure,
        ReturnTest(system, physiology, x, spec, sequential=sequential, n_jobs=n_jobs),
        labeller,
    )


def generate_class(
    model: KineticModel,
    physiology: Physiology,
    spec: ClassSpec,
    n: int,
    output: str | Path,
    settings: ClassSamplerSettings | None = None,
    *,
    start: ChainState | None = None,
    save_sampler: str | Path | None = None,
    force: bool = False,
    n_jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> ClassDraw:
    """Write exactly ``n`` engine-verified members of ``spec`` to the dataset ``output``.

    Parameters
    ----------
    model, physiology
        The model and its reference state.
    spec
        The class.
    n
        Members to write.
    output
        Dataset file (.h5); ``relevant`` holds class membership (all ``True``) and the
        attributes ``class_spec``, ``class_where``, ``class_rounds`` record the class
        and how it was found.
    settings
        :class:`ClassSamplerSettings`.
    start
        :class:`ChainState` from a class-sampler file of the same class and model.
    save_sampler
        Also write a class-sampler file here (to continue later without the levels).
    force
        Discard the journal of an interrupted write.

    Returns
    -------
    ClassDraw
    """
    settings = settings or ClassSamplerSettings()
    bundle = bundle_from(model, physiology)
    measure, returns, labeller = class_engine(
        model, physiology, spec, n_jobs=n_jobs, sequential=settings.sequential_returns
    )
    draw = sample_class(
        spec,
        measure,
        len(model.km_names),
        n,
        settings,
        returns=returns,
        start=start,
        progress=progress,
    )
    x = km_reference_concentrations(model, physiology)
    params = labeller.system.complete_parameters(km_from_saturation(draw.saturation, x), physiology)
    lam = labeller.max_real_eigenvalues(params)  # re-verified from the written parameters
    member = spec.eig_member(lam)
    if not member.all():
        raise GenerationError(f"{int((~member).sum())} delivered sets failed re-verification")
    _low, high = spec.eig_interval
    md = {
        **bundle.metadata(),
        "threshold": high if np.isfinite(high) else RELEVANCE_THRESHOLD_PER_H,
        "source": "class",
        "seed": settings.seed,
        "labels": "engine (relevant = member of the class)",
        "settings": settings.to_dict(),
        **class_attrs(spec),
    }
    writer = DatasetWriter(output, model.parameter_names, md, force=force)
    try:
        writer.append(params, lam, member)
    except BaseException:
        writer.abort(discard=True)
        raise
    writer.close(extra_metadata={"class_rounds": draw.diagnostics})
    if save_sampler is not None:
        save_class_sampler(save_sampler, spec, bundle, draw.state, draw.diagnostics)
    return draw
