"""Stages: generator training (the GAN's repeats, their figures, the flow generator)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rekindle import __version__
from rekindle.gan.config import TrainingPlan
from rekindle.progress import LogFunction, ProgressFactory, no_log, no_progress
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H as DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from rekindle.gan import KineticGAN, TrainingResult
    from rekindle.io.dataset import ParameterDataset
    from rekindle.kinetics import KineticSystem, Physiology
    from rekindle.kinetics.labelling import Labeller


@dataclass(frozen=True)
class RepeatOutcome:
    """One training repeat: its index, its result and its generator."""

    repeat: int
    result: TrainingResult
    gan: KineticGAN


@dataclass(frozen=True)
class TrainedGenerators:
    """The repeats of :func:`train_generators` and the generator kept."""

    repeats: list[RepeatOutcome]
    best_repeat: int

    @property
    def best(self) -> RepeatOutcome:
        """The kept repeat (by the rule of the plan's ``selection``)."""
        return self.repeats[self.best_repeat]

    def summary(self) -> dict[str, Any]:
        """``best_repeat``, ``best_epoch``, ``incidence_monitor_best``, ``repeat_results``."""
        best = self.best.result
        return {
            "best_repeat": self.best_repeat,
            "best_epoch": best.best_epoch,
            "incidence_monitor_best": best.best_incidence,
            "repeat_results": [
                {
                    "repeat": rep.repeat,
                    "best_epoch": rep.result.best_epoch,
                    "best_incidence": rep.result.best_incidence,
                    "best_spread_ratio": rep.result.best_spread_ratio,
                    "best_iqr_ratio": rep.result.best_iqr_ratio,
                    "failed": rep.result.failed,
                    "samples_per_second": rep.result.samples_per_second,
                }
                for rep in self.repeats
            ],
        }


def make_scaler(scaling: str, system: KineticSystem, physiology: Physiology) -> Any:
    """The GAN's feature map by name (:data:`SCALINGS`)."""
    from rekindle.gan import GlobalLogMinMaxScaler, LogMinMaxScaler, SaturationScaler
    from rekindle.sampling import km_reference_concentrations

    if scaling == "saturation":
        return SaturationScaler(km_reference_concentrations(system.model, physiology))
    if scaling == "ln-global-minmax":
        return GlobalLogMinMaxScaler()
    return LogMinMaxScaler()


def train_generators(
    dataset: ParameterDataset,
    system: KineticSystem,
    physiology: Physiology,
    output: str | Path,
    plan: TrainingPlan,
    *,
    monitor: Labeller | None = None,
    progress: ProgressFactory = no_progress,
    log: LogFunction = no_log,
) -> TrainedGenerators:
    """Train ``plan.repeats`` GANs on a labelled dataset; keep the best generator.

    Parameters
    ----------
    dataset
        ORACLE data of ``system``'s model, labelled at ``physiology``.
    output
        Folder: ``training/repeat_<r>/`` per repeat and ``generator.pt`` (the repeat
        kept by the plan's selection rule).
    monitor
        Labeller of K_M sets (default: the engine at ``physiology``, one thread).
    progress
        One bar per repeat, counting epochs.
    """
    from rekindle.gan import KineticGAN
    from rekindle.gan.selection import is_better
    from rekindle.io.dataset import CLASS_METADATA_KEYS, relevance_interval
    from rekindle.io.model_bundle import ModelBundle
    from rekindle.kinetics.labelling import Labeller

    model = system.model
    if dataset.parameter_names != model.parameter_names:
        raise ValueError(f"dataset columns are not the parameters of model {model.name!r}")
    threshold = float(dataset.metadata.get("threshold", DEFAULT_THRESHOLD))
    # the data's class, or below the threshold
    interval = relevance_interval(dataset.metadata)
    monitor = monitor or Labeller.of_interval(system, physiology, interval, n_jobs=1)
    km = system.km_of(dataset.parameters)
    meta = {
        **ModelBundle(model, physiology).metadata(),  # the generator carries its model
        "threshold": threshold,
        "units": "uM",
        "scaling": plan.scaling,
        "recipe": plan.recipe,
        "rekindle_version": __version__,
        # the class the data were labelled with (rekindle.classes), when one is recorded
        **{k: dataset.metadata[k] for k in CLASS_METADATA_KEYS if k in dataset.metadata},
    }
    repeats: list[RepeatOutcome] = []
    kept: dict[str, float] | None = None
    best_repeat = 0
    for r in range(plan.repeats):
        gan = KineticGAN(
            km,
            dataset.relevant,
            model.km_names,
            meta,
            scaler=make_scaler(plan.scaling, system, physiology),
            architecture=plan.architecture(),
        )
        tcfg = plan.training_config(r)
        with progress(f"GAN repeat {r}", plan.epochs) as update:
            result = gan.train(
                monitor, tcfg, Path(output) / "training" / f"repeat_{r}", progress=update
            )
        repeats.append(RepeatOutcome(r, result, gan))
        # over repeats, the rule that keeps the generator within a repeat
        evaluation = result.best_evaluation
        if r == 0 or (evaluation and is_better(evaluation, kept, tcfg, by_incidence=True)):
            best_repeat, kept = r, evaluation
        log(
            f"repeat {r}: kept incidence {result.best_incidence:.3f} (width: spread ratio "
            f"{result.best_spread_ratio:.2f}, IQR ratio {result.best_iqr_ratio:.2f}) at epoch "
            f"{result.best_epoch}, {result.samples_per_second:,.0f} samples/s"
        )
    trained = TrainedGenerators(repeats, best_repeat)
    trained.best.gan.save(Path(output) / "generator.pt")
    return trained


@dataclass(frozen=True)
class TrainingCurves:
    """How the monitored incidence and KL moved during training (paper Fig. 2c)."""

    spearman_incidence_kl: float
    kl_train_first: float
    kl_train_last: float
    kl_test_last: float | None
    kl_decreased: bool


def plot_training(output: str | Path, trained: TrainedGenerators) -> TrainingCurves:
    """Figures 2a–c and the losses/accuracy plot of the kept repeat."""
    from rekindle.gan.monitoring import spearman
    from rekindle.plots.training import plot_incidence_vs_kl, plot_losses, plot_training_curves

    out = Path(output)
    runs = [rep.result.metrics for rep in trained.repeats]
    plot_training_curves(runs, out / "fig2ab_training_curves.png")
    plot_incidence_vs_kl(runs, out / "fig2c_incidence_vs_kl.png")
    plot_losses(trained.best.result.history, out / "losses_accuracy.png")
    inc = np.concatenate([[m["incidence"] for m in r] for r in runs])
    kl = np.concatenate([[m["kl_train"] for m in r] for r in runs])
    rho, _ = spearman(inc, kl)
    first, last = runs[trained.best_repeat][0], runs[trained.best_repeat][-1]
    return TrainingCurves(
        spearman_incidence_kl=rho,
        kl_train_first=first["kl_train"],
        kl_train_last=last["kl_train"],
        kl_test_last=last.get("kl_test"),
        kl_decreased=bool(last["kl_train"] < first["kl_train"]),
    )


def train_flow(
    dataset: ParameterDataset,
    system: KineticSystem,
    physiology: Physiology,
    output: str | Path,
    config: Any = None,
    *,
    guide_config: Any = None,
    log: LogFunction = no_log,
) -> Any:
    """Fit the flow generator (with a relevance guide if ``guide_config``) on a labelled
    dataset → ``generator.pt``, ``flow_history.csv``; returns the KineticFlow.

    Only the K_M columns are held (:func:`km_columns`): read from the file block by block
    when ``dataset`` was loaded without its parameter matrix."""
    from rekindle.flow.model import fit_flow_generator
    from rekindle.io.dataset import CLASS_METADATA_KEYS
    from rekindle.io.model_bundle import bundle_from

    return fit_flow_generator(
        bundle_from(system.model, physiology),
        output,
        config,
        threshold=float(dataset.metadata.get("threshold", DEFAULT_THRESHOLD)),
        km=km_columns(dataset, system),
        relevant=dataset.relevant,
        max_eig=dataset.max_real_eigenvalue,
        guide_config=guide_config,
        log=log,
        # the class the data were labelled with (rekindle.classes), when one is recorded
        metadata={k: dataset.metadata[k] for k in CLASS_METADATA_KEYS if k in dataset.metadata},
    )


def km_columns(dataset: ParameterDataset, system: KineticSystem) -> np.ndarray:
    """The K_M columns ``(n, n_km)`` µM of a dataset: taken from its parameter matrix, or,
    for a dataset loaded without one (``read_dataset(parameters=False)``), read from its
    file block by block (the full matrix is never held).

    Raises
    ------
    ValueError
        If the columns are not the parameters of ``system``'s model.
    """
    from rekindle.io.dataset import read_columns

    if dataset.parameters.shape[1] == 0 and dataset.path is not None:
        columns = np.array([system.model.parameter_index[k] for k in system.model.km_names])
        return read_columns(dataset.path, columns)
    if dataset.parameter_names != system.model.parameter_names:
        raise ValueError(f"dataset columns are not the parameters of model {system.model.name!r}")
    return system.km_of(dataset.parameters)
