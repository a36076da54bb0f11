"""The stages of the REKINDLE workflow, as verbs over objects.

Each stage takes the objects it works on (a compiled :class:`~rekindle.kinetics.KineticSystem`,
a :class:`~rekindle.kinetics.Physiology`, a :class:`~rekindle.gan.KineticGAN`, a
:class:`~rekindle.kinetics.labelling.Labeller`, a settings object), writes its files into
a folder and returns a small typed summary whose fields are the keys it contributes to a
run's ``summary.json``. The command line (``rekindle train``, ``dynamics``, ``perturb``,
``interpret``) calls them one at a time; :func:`rekindle.pipeline.run_pipeline` calls
them in order.

Stages and what they write (the summary they return in brackets):

- :func:`sample_data`: ``oracle.h5`` (the labelled dataset)
- :func:`train_generators`: ``training/repeat_<r>/``, ``generator.pt`` (:class:`TrainedGenerators`)
- :func:`plot_training`: Figs. 2a–c and the losses (:class:`TrainingCurves`)
- :func:`generate_validation`: ``generated.h5`` (the engine-labelled dataset)
- :func:`train_flow`: ``generator.pt``, ``flow_history.csv`` (the flow generator)
- :func:`measure_spread`: nothing (:class:`SpreadSummary`)
- :func:`measure_fidelity`: ``fig_fidelity.png`` (:class:`FidelityReport`)
- :func:`analyse_dynamics`: ``dynamics.csv``, Fig. 2d (a table per population)
- :func:`analyse_perturbations`: ``perturbation.json``, Fig. 2e (:class:`PerturbationSummary`)
- :func:`analyse_interpretability`: ``parameter_kl_ranking.csv``, Fig. 3
  (:class:`InterpretabilitySummary`)
- :func:`write_summary`: ``summary.json`` and ``report.html``
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rekindle import __version__
from rekindle.config import Settings, check_choice, check_positive_int
from rekindle.gan.config import ArchitectureConfig, TrainingConfig
from rekindle.io.atomic import write_csv, write_json
from rekindle.progress import LogFunction, ProgressFactory, no_log, no_progress
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H as DEFAULT_THRESHOLD

if TYPE_CHECKING:
    from rekindle.analysis.fidelity import FidelityReport
    from rekindle.analysis.perturbation import PerturbationResult, PerturbationSettings
    from rekindle.gan import KineticGAN, TrainingResult
    from rekindle.io.dataset import ParameterDataset
    from rekindle.kinetics import KineticSystem, Physiology
    from rekindle.kinetics.labelling import Labeller

__all__ = [
    "InterpretabilitySettings",
    "InterpretabilitySummary",
    "PerturbationSummary",
    "RepeatOutcome",
    "SpreadSummary",
    "TrainedGenerators",
    "TrainingCurves",
    "TrainingPlan",
    "analyse_dynamics",
    "analyse_interpretability",
    "analyse_perturbations",
    "generate_validation",
    "measure_fidelity",
    "measure_spread",
    "plot_training",
    "provenance",
    "sample_data",
    "train_flow",
    "train_generators",
    "versions",
    "write_summary",
]

SCALINGS = ("saturation", "ln-global-minmax", "log10-minmax", "log-minmax")
"""Feature maps of the GAN: ``2σ − 1`` at the reference state; the authors' natural log with
one global min–max; log10 with a min–max per feature (``"log-minmax"``: its earlier name)."""
RECIPES = ("default", "paper")
"""Training steps and networks: rekindle's defaults, or the authors' code's."""


# ----------------------------------------------------------------------------- ORACLE data
def sample_data(
    system: KineticSystem,
    physiology: Physiology,
    path: str | Path,
    n_sets: int,
    *,
    seed: int = 0,
    threshold: float = DEFAULT_THRESHOLD,
    progress: ProgressFactory = no_progress,
    executor: Executor | None = None,
) -> ParameterDataset:
    """ORACLE parameter sets, sampled and labelled into ``path`` (resumed; kept if done)."""
    from rekindle.io.dataset import read_dataset
    from rekindle.io.model_bundle import ModelBundle, check_same_model
    from rekindle.sampling import sample_dataset

    path = Path(path)
    if not path.exists():
        with progress("ORACLE sampling + labelling", n_sets) as update:
            sample_dataset(
                system.model,
                physiology,
                n_sets,
                path,
                seed,
                threshold=threshold,
                resume=True,
                progress=update,
                executor=executor,
            )
    data = read_dataset(path)
    # data kept from an earlier run must be of this model (a run folder holds one)
    check_same_model(ModelBundle(system.model, physiology), data.bundle(), "this run", str(path))
    return data


# ----------------------------------------------------------------------------- GAN training
# the GAN's defaults have one home: the settings dataclasses of rekindle.gan.config
_TRAIN, _ARCH = TrainingConfig(), ArchitectureConfig()


@dataclass(frozen=True)
class TrainingPlan(Settings):
    """How ``rekindle train`` and ``rekindle run`` train their generators.

    Attributes
    ----------
    epochs, batch_size, learning_rate, eval_every, n_eval
        GAN training of each repeat (paper: 1000 epochs, batch 128, lr 2e-4, every
        10 epochs 300 models).
    repeats
        Independent trainings (seeds ``seed + r``); the best generator is kept.
    scaling
        Feature map: ``"saturation"`` (``2σ − 1`` at the reference state),
        ``"ln-global-minmax"`` (the authors' code: natural log, one min/max over the
        whole training matrix) or ``"log10-minmax"`` (log10, min/max per feature).
    recipe
        Training step and networks: ``"default"`` (:class:`rekindle.gan.TrainingConfig`,
        :class:`rekindle.gan.ArchitectureConfig`) or ``"paper"`` (the authors' code:
        ``TrainingConfig.paper()``, ``ArchitectureConfig.paper()``); the sizes above
        stay the plan's.
    label_encoding, fake_labels, selection
        Class conditioning and the rule that keeps the generator (within a repeat and
        over repeats, :mod:`rekindle.gan.selection`); None: the recipe's.
    min_spread_ratio
        With ``selection="incidence"``: keep only generators whose spread ratio (std
        of generated ln K_M over that of the relevant training data, median over the
        K_M) reaches this; 0: the paper's highest-incidence rule.
    seed
        Repeat ``r`` trains with seed ``seed + r`` on the train/test split of ``seed``.
    num_threads
        PyTorch threads (default: PyTorch's choice).
    """

    epochs: int = _TRAIN.epochs
    repeats: int = 1
    batch_size: int = _TRAIN.batch_size
    learning_rate: float = _TRAIN.learning_rate
    eval_every: int = _TRAIN.eval_every
    n_eval: int = _TRAIN.n_eval
    scaling: str = "saturation"
    recipe: str = "default"
    label_encoding: str | None = None
    fake_labels: str | None = None
    selection: str | None = None
    min_spread_ratio: float = _TRAIN.min_spread_ratio
    seed: int = 0
    num_threads: int | None = None

    def validate(self) -> None:
        check_choice(self, "scaling", SCALINGS)
        check_choice(self, "recipe", RECIPES)

    def architecture(self) -> ArchitectureConfig:
        """The networks of this plan."""
        base = ArchitectureConfig.paper() if self.recipe == "paper" else ArchitectureConfig()
        return (
            base
            if self.label_encoding is None
            else base.replace(label_encoding=self.label_encoding)
        )

    def training_config(self, repeat: int) -> TrainingConfig:
        """The training plan of repeat ``repeat``: the recipe's step with this plan's sizes."""
        base = TrainingConfig.paper() if self.recipe == "paper" else TrainingConfig()
        chosen = {"fake_labels": self.fake_labels, "selection": self.selection}
        return base.replace(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            eval_every=self.eval_every,
            n_eval=self.n_eval,
            seed=self.seed + repeat,
            split_seed=self.seed,
            min_spread_ratio=self.min_spread_ratio,
            num_threads=self.num_threads,
            **{k: v for k, v in chosen.items() if v is not None},
        )


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
    from rekindle.io.model_bundle import ModelBundle
    from rekindle.kinetics.labelling import Labeller

    model = system.model
    if dataset.parameter_names != model.parameter_names:
        raise ValueError(f"dataset columns are not the parameters of model {model.name!r}")
    threshold = float(dataset.metadata.get("threshold", DEFAULT_THRESHOLD))
    monitor = monitor or Labeller(system, physiology, threshold, n_jobs=1)
    km = system.km_of(dataset.parameters)
    meta = {
        **ModelBundle(model, physiology).metadata(),  # the generator carries its model
        "threshold": threshold,
        "units": "uM",
        "scaling": plan.scaling,
        "recipe": plan.recipe,
        "rekindle_version": __version__,
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


# ----------------------------------------------------------------------------- validation
def generate_validation(
    gan: KineticGAN,
    labeller: Labeller,
    path: str | Path,
    n: int,
    *,
    seed: int,
    generator_file: str = "generator.pt",
) -> ParameterDataset:
    """``n`` relevant-class models of ``gan``, engine-labelled, into ``path`` (kept if done)."""
    from rekindle.generation import generate_labelled
    from rekindle.io.dataset import ParameterDataset, read_dataset, write_dataset

    path = Path(path)
    if not path.exists():
        params, lam, rel = generate_labelled(gan, labeller, n, "relevant", seed)
        meta = {
            **gan.metadata,
            "source": "generated",
            "class": "relevant",
            "seed": seed,
            "generator": generator_file,
        }
        names = labeller.system.model.parameter_names
        write_dataset(path, ParameterDataset(params, names, lam, rel, meta))
    return read_dataset(path)


@dataclass(frozen=True)
class SpreadSummary:
    """How much of a reference's spread in ln K_M a population keeps (collapse check).

    Attributes
    ----------
    spread_ratio_median
        Median over the K_M of std(ln K_M population) / std(ln K_M reference).
    spread_ratio_quartiles
        Its 25 % and 75 % quantiles.
    """

    spread_ratio_median: float
    spread_ratio_quartiles: list[float]


def measure_spread(km: np.ndarray, km_reference: np.ndarray) -> SpreadSummary:
    """Spread of K_M sets ``(n, n_km)`` against reference sets ``(m, n_km)`` (µM)."""
    from rekindle.gan.monitoring import spread_ratios

    ratio = spread_ratios(km, np.std(np.log(km_reference), axis=0))
    return SpreadSummary(
        spread_ratio_median=float(np.nanmedian(ratio)),
        spread_ratio_quartiles=[
            float(np.nanquantile(ratio, 0.25)),
            float(np.nanquantile(ratio, 0.75)),
        ],
    )


def measure_fidelity(
    generated: ParameterDataset,
    oracle: ParameterDataset,
    labeller: Labeller,
    out: str | Path,
    *,
    seed: int,
    n_heldout: int = 10_000,
) -> FidelityReport:
    """Fidelity of generated relevant-class models → ``fig_fidelity.png``.

    ``n_heldout`` fresh ORACLE sets (seed ``seed``) give the held-out relevant models of the
    C2ST; the relevant sets of ``oracle`` (the training data) are the width, KL and KS
    reference.
    """
    from rekindle.analysis.fidelity import fidelity_report
    from rekindle.plots.fidelity import plot_fidelity_panel
    from rekindle.sampling import sample_parameters

    system, phys = labeller.system, labeller.physiology
    held, _, held_rel = sample_parameters(
        system.model, phys, n_heldout, seed=seed, threshold=labeller.threshold
    )
    report = fidelity_report(
        system.km_of(generated.parameters),
        system.km_of(oracle.parameters[oracle.relevant]),
        system.km_of(held[held_rel]),
        generated_max_eig=generated.max_real_eigenvalue,
        reference_max_eig=oracle.max_real_eigenvalue[oracle.relevant],
        seed=seed,
    )
    plot_fidelity_panel(
        {**report.to_dict(), "incidence": generated.incidence}, Path(out) / "fig_fidelity.png"
    )
    return report


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
    dataset in memory → ``generator.pt``, ``flow_history.csv``; returns the KineticFlow."""
    from rekindle.flow.model import fit_flow_generator
    from rekindle.io.model_bundle import bundle_from

    if dataset.parameter_names != system.model.parameter_names:
        raise ValueError(f"dataset columns are not the parameters of model {system.model.name!r}")
    return fit_flow_generator(
        bundle_from(system.model, physiology),
        output,
        config,
        threshold=float(dataset.metadata.get("threshold", DEFAULT_THRESHOLD)),
        km=system.km_of(dataset.parameters),
        relevant=dataset.relevant,
        max_eig=dataset.max_real_eigenvalue,
        guide_config=guide_config,
        log=log,
    )


# ----------------------------------------------------------------------------- dynamics
def analyse_dynamics(
    populations: Mapping[str, np.ndarray],
    out: str | Path,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    plotted: Sequence[str] | None = None,
    spread_ratio: Mapping[str, float] | None = None,
) -> dict[str, dict[str, Any]]:
    """Distributions of max Re(λ) and τ per population → ``dynamics.csv``, Fig. 2d.

    Parameters
    ----------
    populations
        ``{name: max Re(λ) (n,) in 1/h}``.
    plotted
        Names drawn in the figure (default: all).
    spread_ratio
        ``{name: spread ratio}`` of the populations' K_M against a reference
        (:func:`rekindle.gan.spread_ratio`), added as a ``spread_ratio`` column.

    Returns
    -------
    dict
        ``{name: record}``, the columns of ``dynamics.csv``
        (:data:`rekindle.analysis.dynamics.SUMMARY_FIELDS`).
    """
    from rekindle.analysis.dynamics import SUMMARY_FIELDS, summarize_dynamics, write_dynamics_csv
    from rekindle.plots.dynamics import plot_dynamics

    out = Path(out)
    dyn = summarize_dynamics(dict(populations), threshold=threshold)
    columns: tuple[str, ...] = tuple(SUMMARY_FIELDS)
    if spread_ratio is not None:
        for name, rec in dyn.items():
            rec["spread_ratio"] = spread_ratio.get(name, float("nan"))
        columns += ("spread_ratio",)
    write_dynamics_csv(dyn, out / "dynamics.csv", columns)
    names = list(plotted) if plotted else list(populations)
    plot_dynamics(
        {k: populations[k] for k in names}, out / "fig2d_dynamics.png", threshold=threshold
    )
    return dyn


# ----------------------------------------------------------------------------- perturbation
SUMMARY_ALIASES = {"ORACLE": "training", "REKINDLE": "generated"}
"""Population names of a run and the suffix of their ``returned_fraction_*`` key."""


@dataclass(frozen=True)
class PerturbationSummary:
    """Perturbation analyses of several populations (paper Fig. 2e)."""

    results: dict[str, PerturbationResult]

    @property
    def returned_fraction(self) -> dict[str, float]:
        """``{population: fraction of perturbations that returned}``."""
        return {name: r.fraction_returned for name, r in self.results.items()}

    @property
    def rows(self) -> dict[str, dict[str, Any]]:
        """``{population: summary record}`` (the content of ``perturbation.json``)."""
        return {name: r.summary() for name, r in self.results.items()}

    def summary(self) -> dict[str, Any]:
        """``perturbation`` and ``returned_fraction_<population>`` (ORACLE → training,
        REKINDLE → generated)."""
        numbers: dict[str, Any] = {"perturbation": self.rows}
        for name, fraction in self.returned_fraction.items():
            numbers[f"returned_fraction_{SUMMARY_ALIASES.get(name, name)}"] = fraction
        return numbers


def analyse_perturbations(
    system: KineticSystem,
    physiology: Physiology,
    populations: Mapping[str, np.ndarray],
    out: str | Path,
    settings: PerturbationSettings | None = None,
    *,
    n_models: int = 1000,
    progress: ProgressFactory = no_progress,
    log: LogFunction = no_log,
    executor: Executor | None = None,
) -> PerturbationSummary:
    """Perturbation analysis of several populations → ``perturbation.json``, Fig. 2e.

    Parameters
    ----------
    populations
        ``{name: parameter sets (n, n_parameters)}``; ``n_models`` of each are drawn
        at random (seeded by ``settings.seed``).
    settings
        Protocol, criterion, perturbations per model, seed, … (default: the
        :class:`~rekindle.analysis.perturbation.PerturbationSettings` defaults).
    executor
        Map the integrations over this :class:`concurrent.futures.Executor` (e.g. a
        Dask cluster) instead of local threads.
    """
    from rekindle.analysis.perturbation import PerturbationSettings, perturbation_analysis
    from rekindle.analysis.trajectories import pca_trajectories
    from rekindle.integrate import Status
    from rekindle.plots.perturbation import plot_pca_trajectories, plot_returned_fraction

    out = Path(out)
    settings = settings or PerturbationSettings()
    rng = np.random.default_rng(settings.seed)
    res = {}
    for name, params in populations.items():
        m = min(n_models, params.shape[0])
        if m == 0:
            continue
        pick = params[np.sort(rng.choice(params.shape[0], m, replace=False))]
        # the bar counts models: perturbation_analysis reports models done so far
        with progress(f"perturbation analysis ({name}, models)", m) as set_done:
            res[name] = perturbation_analysis(
                system, physiology, pick, settings, progress=set_done, executor=executor
            )
        log(f"perturbation {name}: {res[name].fraction_returned:.4f} returned")
    # blow-ups and numerical failures count as not returned (only draws without an
    # admissible initial state are left out)
    counts = {k: r.returned[r.status != Status.NO_INITIAL_STATE] for k, r in res.items()}
    plot_returned_fraction(counts, out / "fig2e_returned_fraction.png")
    traj, returned = res[list(res)[-1]].stored_trajectories()
    if traj.size:
        # every stored trajectory, and a panel of the returned ones in their own PCA
        view = pca_trajectories(traj[returned]) if returned.any() else None
        plot_pca_trajectories(
            pca_trajectories(traj), returned, out / "fig2e_pca_trajectories.png",
            returned_view=view,
        )
    summary = PerturbationSummary(res)
    write_json(out / "perturbation.json", summary.rows)
    return summary


# ----------------------------------------------------------------------------- interpretability
@dataclass(frozen=True)
class InterpretabilitySummary:
    """KL ranking of the K_M (Fig. 3a) and deciles of the top one (Fig. 3b).

    Attributes
    ----------
    top_parameters
        The 10 K_M that separate relevant from non-relevant models most
        (``{"name", "kl"}`` records); empty when too few non-relevant models came out.
    interpretability_n_generated
        Models generated to collect both classes.
    interpretability_complete
        Whether both classes reached their quota.
    deciles_top_parameter
        ``parameter``, ``spearman_rho_bin_vs_mean_eig`` and the per-decile ``rows``.
    """

    top_parameters: list[dict[str, Any]]
    interpretability_n_generated: int | None = None
    interpretability_complete: bool = False
    deciles_top_parameter: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """The fields that were measured (the ranking's, when it ran)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class InterpretabilitySettings(Settings):
    """How :func:`analyse_interpretability` collects its populations.

    Attributes
    ----------
    n_per_class
        Generated relevant and non-relevant models ranked by KL (paper: 2000).
    n_subpopulation
        Relevant-class models split into deciles of the top parameter (paper: 50 000).
    seed
        Generation seeds: ``seed + 20 000`` (classes), ``seed + 30 000`` (deciles).
    """

    n_per_class: int = 2000
    n_subpopulation: int = 50_000
    seed: int = 0

    def validate(self) -> None:
        check_positive_int(self, "n_per_class", "n_subpopulation")
        check_positive_int(self, "seed", minimum=0)


def analyse_interpretability(
    gan: KineticGAN,
    labeller: Labeller,
    out: str | Path,
    settings: InterpretabilitySettings | None = None,
    *,
    log: LogFunction = no_log,
) -> InterpretabilitySummary:
    """Per-parameter KL ranking (Fig. 3a) and deciles of the top parameter (Fig. 3b).

    Relevant and non-relevant populations are collected as in the paper: generate with
    the *relevant* label and sort by the engine's label (``labeller``, at the
    generator's physiology) until each has ``settings.n_per_class`` models.
    """
    st = settings or InterpretabilitySettings()
    n_per_class, n_subpopulation, seed = st.n_per_class, st.n_subpopulation, st.seed
    from rekindle.analysis.interpretability import collect_class_populations, rank_parameters
    from rekindle.analysis.subpopulations import quantile_bin_stats
    from rekindle.plots.interpretability import plot_decile_eigenvalues, plot_top_parameters

    out = Path(out)
    km_names = labeller.system.model.km_names
    threshold = gan.threshold

    def max_real_eigenvalue(km: np.ndarray) -> np.ndarray:
        return labeller.label_km(km, check=False)[1]

    pops = collect_class_populations(
        lambda n, s: gan.generate(n, "relevant", seed=s),
        max_real_eigenvalue,
        n_per_class,
        threshold=threshold,
        seed=seed + 20_000,
    )
    if pops.not_relevant.shape[0] < 10:
        log("interpretability: the generator produced too few non-relevant models")
        return InterpretabilitySummary(top_parameters=[])
    ranking = rank_parameters(pops.relevant, pops.not_relevant, km_names)
    kl_by_name = dict(zip(ranking.names, ranking.kl, strict=True))
    plot_top_parameters(
        pops.relevant,
        pops.not_relevant,
        km_names,
        np.array([kl_by_name[n] for n in km_names]),
        out / "fig3a_top_parameters.png",
    )
    rows = [(n, float(v)) for n, v in zip(ranking.names, ranking.kl, strict=True)]
    write_csv(out / "parameter_kl_ranking.csv", rows, header=("parameter", "kl_divergence"))
    # Fig. 3b: relevant generated models split into deciles of the top parameter
    top = ranking.names[0]
    col = km_names.index(top)
    km_sub = gan.generate(n_subpopulation, "relevant", seed=seed + 30_000)
    lam_sub = max_real_eigenvalue(km_sub)
    keep = np.isfinite(lam_sub) & (lam_sub < threshold)
    stats = quantile_bin_stats(km_sub[keep, col], lam_sub[keep])
    plot_decile_eigenvalues(
        km_sub[keep, col],
        lam_sub[keep],
        out / "fig3b_deciles.png",
        parameter_label=top,
        parameter_unit="µM",
    )
    log(f"interpretability: top parameter {top}")
    return InterpretabilitySummary(
        top_parameters=ranking.top(10),
        interpretability_complete=pops.complete,
        interpretability_n_generated=pops.n_generated,
        deciles_top_parameter={
            "parameter": top,
            "spearman_rho_bin_vs_mean_eig": stats.spearman_rho,
            "rows": stats.as_rows(),
        },
    )


# ----------------------------------------------------------------------------- summary, report
def provenance(command: str, model: str, physiology: str, seed: int) -> dict[str, Any]:
    """What made an output: command, model, physiology, seed, UTC time, versions."""
    import time

    return {
        "model": model,
        "physiology": physiology,
        "seed": seed,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions(),
        "command": command,
    }


def versions() -> dict[str, str]:
    """Versions of rekindle, Python and the numerical libraries it ran with."""
    import platform

    import h5py
    import scipy
    import torch

    return {
        "rekindle": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "h5py": h5py.__version__,
    }


def write_summary(out: str | Path, summary: Mapping[str, Any], *, report: bool = True) -> Path:
    """``summary.json`` (strict JSON: NaN → null) and, by default, ``report.html``."""
    out = Path(out)
    path = write_json(out / "summary.json", dict(summary))
    if report:
        from rekindle.report.html import build_report

        build_report(out)
    return path
