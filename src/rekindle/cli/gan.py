"""Commands on generators: train, transfer (``generate``: :mod:`rekindle.cli.generate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rekindle.cli._common import (
    AllowNonSteadyOpt,
    OutputFolderOpt,
    QuietOpt,
    SeedOpt,
    WhereOpt,
    _checked_dataset,
    _checked_stream,
    _run,
    _UserError,
    app,
    console,
    progress_bar,
    refuse_other_generator_options,
    stdout,
)
from rekindle.cli.classes import training_copy
from rekindle.flow.config import GuideConfig
from rekindle.progress import no_progress
from rekindle.stages import TrainingPlan
from rekindle.stages.transfer import TransferSettings

_GUIDE = GuideConfig()
_PLAN = TrainingPlan()
_TRANSFER = TransferSettings()


def _cgan(text: str, default: object) -> str:
    """Help text of a cGAN-only option of ``rekindle train`` (its default in words)."""
    return f"cgan only: {text.rstrip('.')} (default: {default})."


# cGAN-only options of `rekindle train`: None = not given (the plan's default applies)
EpochsOpt = Annotated[
    int | None, typer.Option("--epochs", help=_cgan("training epochs.", _PLAN.epochs))
]
RepeatsOpt = Annotated[
    int | None, typer.Option("--repeats", help=_cgan("independent trainings.", _PLAN.repeats))
]
BatchSizeOpt = Annotated[int | None, typer.Option(help=_cgan("mini-batch size.", _PLAN.batch_size))]
LearningRateOpt = Annotated[
    float | None, typer.Option(help=_cgan("Adam learning rate.", _PLAN.learning_rate))
]
EvalEveryOpt = Annotated[
    int | None, typer.Option(help=_cgan("epochs between evaluations.", _PLAN.eval_every))
]
NEvalOpt = Annotated[
    int | None, typer.Option(help=_cgan("models generated per evaluation.", _PLAN.n_eval))
]
ScalingOpt = Annotated[
    str | None,
    typer.Option(
        help=_cgan(
            "feature map: saturation (2σ−1), ln-global-minmax (the authors' code: ln, one "
            "min/max over the whole matrix) or log10-minmax (min/max per feature).",
            _PLAN.scaling,
        )
    ),
]
RecipeOpt = Annotated[
    str | None,
    typer.Option(
        help=_cgan(
            "training step and networks: default, or paper (the authors' code: two "
            "discriminator updates on half a batch drawn with replacement + eval-mode "
            "fakes, generator on a fresh batch, scalar label, D dropout 0.4, BN momentum "
            "0.2, the highest incidence kept); sizes stay the options'.",
            _PLAN.recipe,
        )
    ),
]
LabelEncodingOpt = Annotated[
    str | None,
    typer.Option(
        help=_cgan("class label fed to the networks: onehot or scalar (±1).", "the recipe's")
    ),
]
SelectionOpt = Annotated[
    str | None,
    typer.Option(
        help=_cgan(
            "kept generator: width-band (the highest incidence with spread and IQR ratio "
            "of ln K_M in 0.9–1.1) or incidence (the paper's rule).",
            "the recipe's",
        )
    ),
]
MinSpreadRatioOpt = Annotated[
    float | None,
    typer.Option(
        help=_cgan(
            "with --selection incidence, keep the best generator among those whose "
            "spread ratio (std of generated ln K_M / std of the data's, median) reaches this.",
            _PLAN.min_spread_ratio,
        )
    ),
]


TrainDataOpt = Annotated[
    Path, typer.Option("--data", "-d", help="Labelled dataset (.h5) from `sample`.")
]
TrainGeneratorOpt = Annotated[
    str,
    typer.Option("--generator", help="flow (rekindle.flow, the default) or cgan (the paper's)."),
]
TrainSeedOpt = Annotated[int, typer.Option("--seed", help="Seed (cgan: repeat r uses seed + r).")]
TrainTransformsOpt = Annotated[
    int | None,
    typer.Option(help="flow only: learnt coupling transforms (default 0: a Gaussian copula)."),
]
TrainMaxSetsOpt = Annotated[
    int | None, typer.Option(help="flow only: use only the first N sets of the dataset.")
]
TrainGuideOpt = Annotated[
    bool | None,
    typer.Option(
        "--guide/--no-guide",
        help="flow only: train the relevance guide (default: yes; generation of a class "
        "by Bayes' rule, rekindle.flow.guide).",
    ),
]
TrainGuideEpochsOpt = Annotated[
    float | None,
    typer.Option(
        help=f"flow only: passes of the guide over the data (default {_GUIDE.epochs:g}, "
        f"at most {_GUIDE.max_steps} steps)."
    ),
]
TrainGuideMaxStepsOpt = Annotated[
    int | None,
    typer.Option(
        help=f"flow only: cap on the guide's AdamW steps (default {_GUIDE.max_steps}; "
        "raise it for 10⁶ sets and more)."
    ),
]
TrainPowerOpt = Annotated[
    float | None,
    typer.Option(
        help="flow only: guided generation keeps a draw with probability c^power "
        "(default 1: Bayes' rule, the class as wide as in the data)."
    ),
]


@app.command()
def train(
    data: TrainDataOpt,
    output: OutputFolderOpt,
    generator: TrainGeneratorOpt = "flow",
    seed: TrainSeedOpt = _PLAN.seed,
    transforms: TrainTransformsOpt = None,
    max_sets: TrainMaxSetsOpt = None,
    guide: TrainGuideOpt = None,
    guide_epochs: TrainGuideEpochsOpt = None,
    guide_max_steps: TrainGuideMaxStepsOpt = None,
    power: TrainPowerOpt = None,
    epochs: EpochsOpt = None,
    repeats: RepeatsOpt = None,
    batch_size: BatchSizeOpt = None,
    learning_rate: LearningRateOpt = None,
    eval_every: EvalEveryOpt = None,
    n_eval: NEvalOpt = None,
    scaling: ScalingOpt = None,
    recipe: RecipeOpt = None,
    label_encoding: LabelEncodingOpt = None,
    selection: SelectionOpt = None,
    min_spread_ratio: MinSpreadRatioOpt = None,
    allow_non_steady: AllowNonSteadyOpt = False,
    quiet: QuietOpt = False,
    where: WhereOpt = None,
) -> None:
    """Train a generator on a labelled dataset → OUTPUT/generator.pt, metrics, figures.

    With --where, the generator learns that class (any eigenvalue class: 'max_eig < X', a
    band 'X < max_eig < Y', 'max_eig > X', 'tau_min < T'; the data relabelled in a copy,
    OUTPUT/data_where.h5); the generator records it and generate --validate labels by it.

    ``--generator flow`` (default): the class-conditional flow, streamed from the dataset
    file chunk by chunk (any size). ``--generator cgan``: the paper's conditional GAN;
    interrupted trainings resume from OUTPUT/training/repeat_*/checkpoint.pt. Both first
    check the data: steady states, at least 100 sets and 10 of each class
    (rekindle.io.dataset; the flow's chunk by chunk). An option of the other generator
    is refused.
    """
    cgan_options = {
        "--epochs": epochs, "--repeats": repeats, "--batch-size": batch_size,
        "--learning-rate": learning_rate, "--eval-every": eval_every, "--n-eval": n_eval,
        "--scaling": scaling, "--recipe": recipe, "--label-encoding": label_encoding,
        "--selection": selection, "--min-spread-ratio": min_spread_ratio,
    }  # fmt: skip

    def go() -> None:
        flow_options = {
            "--transforms": transforms, "--max-sets": max_sets, "--guide/--no-guide": guide,
            "--guide-epochs": guide_epochs, "--guide-max-steps": guide_max_steps,
            "--power": power,
        }  # fmt: skip
        _check_train_options(output, generator, seed, cgan_options, flow_options)
        data_file = training_copy(data, where, output) if where is not None else data
        if generator == "flow":
            _checked_stream(data_file, allow_non_steady, max_sets)
            guide_config = _guide_config(guide, seed, guide_epochs, guide_max_steps, power)
            _train_flow(data_file, output, transforms or 0, max_sets, seed, guide_config, quiet)
            return
        # --batch-size → TrainingPlan.batch_size …; an option not given keeps the plan's
        given = {o[2:].replace("-", "_"): v for o, v in cgan_options.items() if v is not None}
        _train_cgan(data_file, output, TrainingPlan(seed=seed, **given), allow_non_steady, quiet)

    def interrupted() -> str:
        return f"checkpoints kept in {output / 'training'}; rerun the same command to resume"

    _run(go, interrupted, quiet=quiet)


def _guide_config(
    guide: bool | None,
    seed: int,
    guide_epochs: float | None,
    guide_max_steps: int | None,
    power: float | None,
) -> GuideConfig | None:
    """The flow's guide settings from ``train``'s options (None: --no-guide)."""
    if guide is False:
        return None
    given = {"epochs": guide_epochs, "max_steps": guide_max_steps, "power": power}
    return _GUIDE.replace(seed=seed, **{k: v for k, v in given.items() if v is not None})


def _check_train_options(
    output: Path,
    generator: str,
    seed: int,
    cgan_options: dict[str, object],
    flow_options: dict[str, object],
) -> None:
    """Refuse bad ``rekindle train`` options before any file is read or torch imported.

    Options given (not None) for the other generator are refused, so none is silently
    ignored.
    """
    from rekindle import validation as check

    refuse_other_generator_options(
        generator, cgan_options, flow_options, f"this is --generator {generator}"
    )
    counts = ("--epochs", "--repeats", "--batch-size", "--eval-every", "--n-eval", "--max-sets")
    for option, value in {**cgan_options, **flow_options}.items():
        if value is not None and option in counts:
            check.require_positive(option, value)  # type: ignore[arg-type]
    check.require_seed(seed)
    learning_rate = cgan_options["--learning-rate"]
    if learning_rate is not None and not check.require_finite("--learning-rate", learning_rate) > 0:
        raise _UserError(f"--learning-rate must be positive, got {learning_rate}")
    if cgan_options["--min-spread-ratio"] is not None:
        check.require_finite("--min-spread-ratio", cgan_options["--min-spread-ratio"])
    if flow_options["--transforms"] is not None and flow_options["--transforms"] < 0:
        raise _UserError(f"--transforms must be 0 or more, got {flow_options['--transforms']}")
    for option in ("--power", "--guide-epochs"):
        value = flow_options[option]
        if value is not None and not check.require_finite(option, value) > 0:  # type: ignore[arg-type]
            raise _UserError(f"{option} must be positive, got {value}")
    max_steps = flow_options["--guide-max-steps"]
    if max_steps is not None and max_steps < 1:  # type: ignore[operator]
        raise _UserError(f"--guide-max-steps must be 1 or more, got {max_steps}")
    power = flow_options["--power"]
    if power is not None and flow_options["--guide/--no-guide"] is False:
        raise _UserError("--power applies only with the guide (drop --no-guide)")
    for option, bound in (
        ("--transforms", check.MAX_TRANSFORMS),
        ("--guide-max-steps", check.MAX_GUIDE_STEPS),
        ("--guide-epochs", check.MAX_GUIDE_EPOCHS),
        ("--epochs", check.MAX_EPOCHS),
        ("--repeats", check.MAX_REPEATS),
        ("--n-eval", check.MAX_EVAL_MODELS),
        ("--batch-size", check.MAX_CHUNK_SIZE),
    ):
        value = {**cgan_options, **flow_options}[option]
        if value is not None:
            check.require_at_most(option, value, bound)  # type: ignore[arg-type]
    check.require_output_folder(output)


def _train_cgan(
    data: Path, output: Path, plan: TrainingPlan, allow_non_steady: bool, quiet: bool
) -> None:
    from rekindle.io.dataset import require_training_data
    from rekindle.stages import plot_training, train_generators

    ds, system, phys, _ = _checked_dataset(data, allow_non_steady)
    require_training_data(ds, str(data))
    bars = no_progress if quiet else progress_bar
    trained = train_generators(ds, system, phys, output, plan, progress=bars, log=console.print)
    curves = plot_training(output, trained)
    best = trained.best.result
    console.print(
        f"wrote {output / 'generator.pt'}: kept incidence {best.best_incidence:.4f} "
        f"(repeat {trained.best_repeat}, spread ratio {best.best_spread_ratio:.2f}, "
        f"IQR ratio {best.best_iqr_ratio:.2f}), "
        f"KL(train) {curves.kl_train_first:.3f} → {curves.kl_train_last:.3f}, "
        f"Spearman ρ(incidence, KL) = {curves.spearman_incidence_kl:.3f}"
    )


def _train_flow(
    data: Path,
    output: Path,
    transforms: int,
    max_sets: int | None,
    seed: int,
    guide_config: GuideConfig | None,
    quiet: bool,
) -> None:
    from rekindle.flow import FlowConfig
    from rekindle.flow.model import train_flow_file

    config = FlowConfig(transforms=transforms, max_sets=max_sets, seed=seed)
    log = (lambda _m: None) if quiet else console.print
    flow = train_flow_file(data, output, config, guide_config=guide_config, log=log)
    s = flow.training_summary or {}
    msg = (
        f"wrote {output / 'generator.pt'}: flow on {s.get('n_train')} sets "
        f"({s.get('n_relevant_train')} relevant), held-out NLL "
        f"{s.get('validation_nll_best', float('nan')):.4f} nats/K_M"
    )
    if "guide" in s:
        g = s["guide"]
        msg += (
            f"; guide held-out accuracy {g['validation_accuracy']:.4f}, expected incidence "
            f"{g['expected_incidence']:.4f}"
        )
    console.print(msg)


TransferGeneratorOpt = Annotated[
    Path, typer.Option("--generator", "-g", help="Source generator.pt")
]
TransferTargetsOpt = Annotated[
    list[str],
    typer.Option("--target", help="Target physiology file, or embedded name (repeat)."),
]
TransferNSetsOpt = Annotated[
    list[int], typer.Option("--n-sets", help="Target set counts (repeat).")
]
TransferRepeatsOpt = Annotated[int, typer.Option(help="Repeats per case.")]
TransferEpochsOpt = Annotated[int, typer.Option(help="cgan only: fine-tuning epochs (paper 300).")]
TransferScratchEpochsOpt = Annotated[
    int, typer.Option(help="cgan only: from-scratch epochs (paper 1000).")
]
TransferNoScratchOpt = Annotated[bool, typer.Option(help="Skip the from-scratch comparison.")]
TransferFreezeOpt = Annotated[
    list[str], typer.Option(help="cgan only: generator layer to freeze (repeat).")
]
TransferPriorSetsOpt = Annotated[
    float,
    typer.Option(help="flow only: weight of the source's marginals, in sets per class."),
]
TransferCopulaPriorSetsOpt = Annotated[
    float,
    typer.Option(help="flow only: weight of the source's dependence structure, in sets per class."),
]
TransferNEvalOpt = Annotated[
    int, typer.Option(help="Relevant-class models labelled per evaluation (paper 1000).")
]
TransferNReferenceOpt = Annotated[
    int,
    typer.Option(
        help="Independent ORACLE sets per target for the width and C2ST of every "
        "generator (0: none)."
    ),
]
TransferValidationModelsOpt = Annotated[
    int, typer.Option(help="Relevant models per generator perturbed for Fig. 4c (0: none).")
]


@app.command()
def transfer(
    generator: TransferGeneratorOpt,
    output: OutputFolderOpt,
    targets: TransferTargetsOpt = list(_TRANSFER.targets),  # noqa: B006
    n_sets: TransferNSetsOpt = list(_TRANSFER.n_sets),  # noqa: B006
    repeats: TransferRepeatsOpt = _TRANSFER.repeats,
    epochs: TransferEpochsOpt = _TRANSFER.epochs_transfer,
    scratch_epochs: TransferScratchEpochsOpt = _TRANSFER.epochs_scratch,
    no_scratch: TransferNoScratchOpt = not _TRANSFER.scratch,
    freeze: TransferFreezeOpt = list(_TRANSFER.freeze),  # noqa: B006
    prior_sets: TransferPriorSetsOpt = _TRANSFER.prior_sets,
    copula_prior_sets: TransferCopulaPriorSetsOpt = _TRANSFER.copula_prior_sets,
    n_eval: TransferNEvalOpt = _TRANSFER.n_eval,
    n_reference: TransferNReferenceOpt = _TRANSFER.n_reference,
    validation_models: TransferValidationModelsOpt = _TRANSFER.n_validation_models,
    seed: SeedOpt = _TRANSFER.seed,
) -> None:
    """Transfer learning: adapt a generator to few sets of other physiologies (Fig. 4).

    Either generator: the cGAN is fine-tuned (and trained from scratch); the flow's marginals
    are re-fitted to the target with the source's as the prior and its dependence kept from
    the source (from scratch: the same with a flat prior; rekindle.flow.transfer).
    """

    def go() -> None:
        _check_transfer_options(
            output, generator, n_sets, repeats, epochs, scratch_epochs, n_eval,
            validation_models, seed, prior_sets, copula_prior_sets, n_reference,
        )  # fmt: skip
        from rekindle.stages.transfer import run_transfer_experiment

        st = TransferSettings(
            targets=tuple(targets),
            n_sets=tuple(n_sets),
            repeats=repeats,
            epochs_transfer=epochs,
            epochs_scratch=scratch_epochs,
            scratch=not no_scratch,
            freeze=tuple(freeze),
            seed=seed,
            n_validation_models=validation_models,
            n_eval=n_eval,
            prior_sets=prior_sets,
            copula_prior_sets=copula_prior_sets,
            n_reference=n_reference,
        )
        rows = run_transfer_experiment(generator, output, st, log=console.print)
        _print_transfer_table(rows, with_reference=bool(n_reference))

    _run(go)


def _check_transfer_options(
    output: Path,
    generator: Path,
    n_sets: list[int],
    repeats: int,
    epochs: int,
    scratch_epochs: int,
    n_eval: int,
    validation_models: int,
    seed: int,
    prior_sets: float,
    copula_prior_sets: float,
    n_reference: int,
) -> None:
    """Refuse bad ``transfer`` options (one line) before the generator is read."""
    from rekindle import validation as check

    for option, value in (
        ("--repeats", repeats),
        ("--epochs", epochs),
        ("--scratch-epochs", scratch_epochs),
        ("--n-eval", n_eval),
        *(("--n-sets", k) for k in n_sets),
    ):
        check.require_positive(option, value)
    for k in n_sets:
        check.require_at_most("--n-sets", k, check.MAX_EVAL_MODELS)
    check.require_at_most("--repeats", repeats, check.MAX_REPEATS)
    check.require_at_most("--epochs", epochs, check.MAX_EPOCHS)
    check.require_at_most("--scratch-epochs", scratch_epochs, check.MAX_EPOCHS)
    if validation_models < 0:
        raise _UserError(f"--validation-models must be 0 or more, got {validation_models}")
    check.require_at_most("--validation-models", validation_models, check.MAX_EVAL_MODELS)
    check.require_seed(seed)
    check.require_finite("--prior-sets", prior_sets)
    check.require_finite("--copula-prior-sets", copula_prior_sets)
    if prior_sets <= 0:
        raise _UserError(f"--prior-sets must be positive, got {prior_sets}")
    if copula_prior_sets < 2:
        raise _UserError(f"--copula-prior-sets must be 2 or more, got {copula_prior_sets}")
    if n_reference != 0 and n_reference < 10:
        raise _UserError(f"--n-reference must be 0 or at least 10, got {n_reference}")
    check.require_output_folder(output)
    if not generator.exists():
        raise _UserError(f"generator file not found: {generator}")
    check.require_input_file(generator, "--generator")


def _print_transfer_table(rows: list[dict[str, Any]], with_reference: bool) -> None:
    """The incidence of every transfer case (and width, C2ST against ORACLE sets) on stdout."""
    table = Table(title="incidence of relevant models (engine-labelled, target physiology)")
    reference = ("width", "C2ST") if with_reference else ()  # against independent ORACLE sets
    for col in ("target", "n sets", "mode", "repeat", "incidence", *reference):
        table.add_column(col)
    for r in rows:
        fidelity = (r["spread_ratio_reference"], r["c2st_reference"]) if with_reference else ()
        table.add_row(
            r["target"],
            str(r["n_sets"]),
            r["mode"],
            str(r["repeat"]),
            f"{r['incidence']:.3f}",
            *(f"{v:.3f}" for v in fidelity),
        )
    stdout.print(table)
