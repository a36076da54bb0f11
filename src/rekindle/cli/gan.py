"""Commands on generators: train, generate, transfer."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rekindle.analysis.transfer import TransferSettings
from rekindle.cli._common import (
    AllowNonSteadyOpt,
    QuietOpt,
    SchedulerOpt,
    _checked_dataset,
    _executor,
    _run,
    _UserError,
    app,
    console,
    progress_bar,
    stdout,
)
from rekindle.progress import no_progress
from rekindle.stages import TrainingPlan

_PLAN = TrainingPlan()
_TRANSFER = TransferSettings()


@app.command()
def train(
    data: Annotated[
        Path, typer.Option("--data", "-d", help="Labelled dataset (.h5) from `sample`.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs.")] = _PLAN.epochs,
    seed: Annotated[
        int, typer.Option("--seed", help="Seed (repeat r uses seed + r).")
    ] = _PLAN.seed,
    repeats: Annotated[
        int, typer.Option("--repeats", help="Independent trainings.")
    ] = _PLAN.repeats,
    batch_size: Annotated[int, typer.Option(help="Mini-batch size.")] = _PLAN.batch_size,
    learning_rate: Annotated[float, typer.Option(help="Adam learning rate.")] = _PLAN.learning_rate,
    eval_every: Annotated[int, typer.Option(help="Epochs between evaluations.")] = _PLAN.eval_every,
    n_eval: Annotated[int, typer.Option(help="Models generated per evaluation.")] = _PLAN.n_eval,
    scaling: Annotated[
        str,
        typer.Option(
            help="Feature map: saturation (2σ−1), ln-global-minmax (the authors' code: ln, one "
            "min/max over the whole matrix) or log10-minmax (min/max per feature)."
        ),
    ] = _PLAN.scaling,
    recipe: Annotated[
        str,
        typer.Option(
            help="Training step and networks: default, or paper (the authors' code: two "
            "discriminator updates on half a batch drawn with replacement + eval-mode fakes, "
            "generator on a fresh batch, scalar label, D dropout 0.4, BN momentum 0.2, the "
            "highest incidence kept); sizes stay the options'."
        ),
    ] = _PLAN.recipe,
    label_encoding: Annotated[
        str | None,
        typer.Option(help="Class label fed to the networks: onehot or scalar (±1) [the recipe's]."),
    ] = _PLAN.label_encoding,
    selection: Annotated[
        str | None,
        typer.Option(
            help="Kept generator: width-band (the highest incidence with spread and IQR ratio "
            "of ln K_M in 0.9–1.1) or incidence (the paper's rule) [the recipe's]."
        ),
    ] = _PLAN.selection,
    min_spread_ratio: Annotated[
        float,
        typer.Option(
            help="With --selection incidence: keep the best generator among those whose "
            "spread ratio (std of generated ln K_M / std of the data's, median) reaches this."
        ),
    ] = _PLAN.min_spread_ratio,
    allow_non_steady: AllowNonSteadyOpt = False,
    generator: Annotated[
        str, typer.Option("--generator", help="cgan (the paper's) or flow (rekindle.flow).")
    ] = "cgan",
    transforms: Annotated[
        int, typer.Option(help="flow: learnt coupling transforms (0: the Gaussian copula).")
    ] = 0,
    max_sets: Annotated[
        int | None, typer.Option(help="flow: use only the first N sets of the dataset.")
    ] = None,
    quiet: QuietOpt = False,
) -> None:
    """Train a generator on a labelled dataset → OUTPUT/generator.pt, metrics, figures.

    ``--generator cgan`` (default): the conditional GAN; interrupted trainings resume from
    OUTPUT/training/repeat_*/checkpoint.pt; the data must hold at least 100 sets and 10 of
    each class (rekindle.io.dataset). ``--generator flow``: the class-conditional flow,
    streamed from the dataset file chunk by chunk (any size).
    """

    def go() -> None:
        _check_train_options(
            output,
            generator,
            seed,
            learning_rate,
            min_spread_ratio,
            {
                "--epochs": epochs,
                "--repeats": repeats,
                "--batch-size": batch_size,
                "--eval-every": eval_every,
                "--n-eval": n_eval,
            },
        )
        if generator == "flow":
            _train_flow(data, output, transforms, max_sets, seed, quiet)
            return

        plan = TrainingPlan(
            epochs=epochs, seed=seed, repeats=repeats, batch_size=batch_size,
            learning_rate=learning_rate, eval_every=eval_every, n_eval=n_eval, scaling=scaling,
            recipe=recipe, label_encoding=label_encoding, selection=selection,
            min_spread_ratio=min_spread_ratio,
        )  # fmt: skip
        _train_cgan(data, output, plan, allow_non_steady, quiet)

    def interrupted() -> str:
        return f"checkpoints kept in {output / 'training'}; rerun the same command to resume"

    _run(go, interrupted)


def _check_train_options(
    output: Path,
    generator: str,
    seed: int,
    learning_rate: float,
    min_spread_ratio: float,
    counts: dict[str, int],
) -> None:
    """Refuse bad ``rekindle train`` options before any file is read or torch imported."""
    from rekindle import validation as check

    for option, value in counts.items():
        check.require_positive(option, value)
    check.require_seed(seed)
    if not check.require_finite("--learning-rate", learning_rate) > 0:
        raise _UserError(f"--learning-rate must be positive, got {learning_rate}")
    check.require_finite("--min-spread-ratio", min_spread_ratio)
    check.require_output_folder(output)
    if generator not in ("cgan", "flow"):
        raise _UserError(f"--generator must be cgan or flow, got {generator!r}")


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
    data: Path, output: Path, transforms: int, max_sets: int | None, seed: int, quiet: bool
) -> None:
    from rekindle.flow import FlowConfig
    from rekindle.flow.model import train_flow_file

    config = FlowConfig(transforms=transforms, max_sets=max_sets, seed=seed)
    flow = train_flow_file(data, output, config, log=(lambda _m: None) if quiet else console.print)
    s = flow.training_summary or {}
    console.print(
        f"wrote {output / 'generator.pt'}: flow on {s.get('n_train')} sets "
        f"({s.get('n_relevant_train')} relevant), held-out NLL "
        f"{s.get('validation_nll_best', float('nan')):.4f} nats/K_M, {s.get('seconds', 0):.1f} s"
    )


@app.command()
def generate(
    generator: Annotated[Path, typer.Option("--generator", "-g", help="generator.pt")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Dataset file to write (.h5).")],
    n: Annotated[int, typer.Option("--n", help="Number of models.")] = 10_000,
    cls: Annotated[str, typer.Option("--class", help="relevant or not_relevant.")] = "relevant",
    seed: Annotated[int, typer.Option("--seed", help="Noise seed.")] = 0,
    validate: Annotated[bool, typer.Option(help="Label every model with the engine.")] = False,
    only_valid: Annotated[
        bool, typer.Option(help="Keep only models the engine confirms; collect exactly N.")
    ] = False,
    skimpy: Annotated[
        Path | None, typer.Option("--skimpy", help="Also write the SKiMpy layout here.")
    ] = None,
    chunk_size: Annotated[int, typer.Option(help="Models per chunk.")] = 50_000,
    device: Annotated[
        str | None, typer.Option(help="cpu, cuda, cuda:N, mps (default: cpu).")
    ] = None,
    force: Annotated[
        bool, typer.Option(help="Discard the OUTPUT.partial of an interrupted generation.")
    ] = False,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Generate complete parameter sets (K_M + back-calculated V_max) of one class."""

    def go() -> None:
        from rekindle import validation as check

        check.require_positive("--n", n)
        check.require_positive("--chunk-size", chunk_size)
        check.require_seed(seed)
        if cls not in ("relevant", "not_relevant"):
            raise _UserError(f"--class must be relevant or not_relevant, got {cls!r}")
        check.require_device(device)
        check.require_output_file(output)
        if skimpy is not None:
            check.require_output_file(skimpy, "--skimpy")
        check.require_disk_space(output, n, 1)  # a lower bound, before anything heavy
        if not generator.is_file():
            raise _UserError(f"generator file not found: {generator}")
        check.require_device_available(device)  # imports torch: after every cheap check

        from rekindle.generation import generate_dataset, load_generator

        gan = load_generator(generator, device=device)
        from rekindle.io.model_bundle import generator_bundle

        n_parameters = generator_bundle(gan).model.n_parameters  # the model it carries
        check.require_disk_space(output, n, n_parameters)
        with _executor(scheduler) as ex, progress_bar("generating", n, quiet) as update:
            res = generate_dataset(
                gan,
                n,
                output,
                cls=cls,
                seed=seed,
                validate=validate,
                only_valid=only_valid,
                chunk_size=chunk_size,
                force=force,
                progress=update,
                executor=ex,
            )
        msg = f"wrote {res['path']}: {res['n_written']} models"
        if validate or only_valid:
            msg += (
                f"; engine-labelled incidence of relevant models {res['incidence']:.4f} "
                f"({res['n_generated']} generated)"
            )
        console.print(msg)
        if skimpy is not None:
            from rekindle.io.dataset import read_dataset
            from rekindle.io.skimpy_hdf5 import write_parameter_population

            ds = read_dataset(output)
            write_parameter_population(skimpy, ds.parameters, ds.parameter_names)
            console.print(f"wrote {skimpy} (SKiMpy layout)")

    _run(go)


@app.command()
def transfer(
    generator: Annotated[Path, typer.Option("--generator", "-g", help="Source generator.pt")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    targets: Annotated[
        list[str],
        typer.Option("--target", help="Target physiology file, or embedded name (repeat)."),
    ] = list(_TRANSFER.targets),  # noqa: B006
    n_sets: Annotated[
        list[int], typer.Option("--n-sets", help="Target set counts (repeat).")
    ] = list(_TRANSFER.n_sets),  # noqa: B006
    repeats: Annotated[int, typer.Option(help="Repeats per case.")] = _TRANSFER.repeats,
    epochs: Annotated[
        int, typer.Option(help="Fine-tuning epochs (paper 300).")
    ] = _TRANSFER.epochs_transfer,
    scratch_epochs: Annotated[
        int, typer.Option(help="From-scratch epochs (paper 1000).")
    ] = _TRANSFER.epochs_scratch,
    no_scratch: Annotated[
        bool, typer.Option(help="Skip the from-scratch comparison.")
    ] = not _TRANSFER.scratch,
    freeze: Annotated[
        list[str], typer.Option(help="Generator layer to freeze (repeat).")
    ] = list(_TRANSFER.freeze),  # noqa: B006
    validation_models: Annotated[
        int, typer.Option(help="Relevant models per generator perturbed for Fig. 4c (0: none).")
    ] = _TRANSFER.n_validation_models,
    seed: Annotated[int, typer.Option("--seed")] = _TRANSFER.seed,
) -> None:
    """Transfer learning: fine-tune a generator on few sets of other physiologies (Fig. 4)."""

    def go() -> None:
        from rekindle import validation as check

        for option, value in (
            ("--repeats", repeats),
            ("--epochs", epochs),
            ("--scratch-epochs", scratch_epochs),
            *(("--n-sets", k) for k in n_sets),
        ):
            check.require_positive(option, value)
        check.require_seed(seed)
        check.require_output_folder(output)
        if not generator.is_file():
            raise _UserError(f"generator file not found: {generator}")

        from rekindle.analysis.transfer import run_transfer_experiment

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
        )
        rows = run_transfer_experiment(generator, output, st, log=console.print)
        table = Table(title="incidence of relevant models (engine-labelled, target physiology)")
        for col in ("target", "n sets", "mode", "repeat", "incidence"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r["target"], str(r["n_sets"]), r["mode"], str(r["repeat"]), f"{r['incidence']:.3f}"
            )
        stdout.print(table)

    _run(go)
