"""Command-line interface: a thin layer over the Python API.

Every command maps onto a public function; errors in the input are reported in one
line naming the culprit, with exit status 2 and nothing written.
"""

from __future__ import annotations

import csv
import io
import json
import sys
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from rekindle import __version__
from rekindle.gan.config import ArchitectureConfig, TrainingConfig

app = typer.Typer(
    name="rekindle",
    help="Generate kinetic models of metabolism with conditional GANs (REKINDLE).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console(stderr=True)

ModelOpt = Annotated[
    str, typer.Option("--model", "-m", help="Embedded model name (ecoli, toy) or a model file.")
]
PhysOpt = Annotated[
    str | None,
    typer.Option("--physiology", "-p", help="Physiology name (fdp1…fdp4 for ecoli) or a file."),
]
ThresholdOpt = Annotated[
    float, typer.Option("--threshold", help="Relevance threshold on max Re(λ), 1/h.")
]
# option defaults of `train` come from the GAN's settings dataclasses (one home)
_TRAIN, _ARCH = TrainingConfig(), ArchitectureConfig()
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786): run the chunks on that cluster "
        "instead of local threads (needs rekindle[distributed] on every worker).",
    ),
]


class _UserError(Exception):
    """Raised inside commands for bad input; printed without a traceback."""


def _user_errors() -> tuple[type[BaseException], ...]:
    from rekindle.io.dataset import DatasetError
    from rekindle.io.skimpy_hdf5 import ParameterFileError
    from rekindle.kinetics import ModelError, PhysiologyError

    errors: list[type[BaseException]] = [
        _UserError,
        ModelError,
        PhysiologyError,
        DatasetError,
        ParameterFileError,
        FileNotFoundError,
        KeyError,
        ValueError,
    ]
    try:
        from rekindle.gan.model import GeneratorFileError

        errors.append(GeneratorFileError)
    except ImportError:  # pragma: no cover - GAN extras absent
        pass
    return tuple(errors)


def _run(func: Callable[[], Any]) -> Any:
    try:
        return func()
    except _user_errors() as exc:
        msg = exc.args[0] if isinstance(exc, KeyError) and exc.args else str(exc)
        console.print(f"[bold red]Error:[/] {msg}", highlight=False)
        raise typer.Exit(2) from None


@contextmanager
def progress_bar(
    description: str, total: int | None, quiet: bool = False
) -> Iterator[Callable[[int], None]]:
    """A rich progress bar; yields ``update(completed)``."""
    if quiet:
        yield lambda _done: None
        return
    with Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        console=console,
        transient=False,
    ) as prog:
        task = prog.add_task(description, total=total)
        yield lambda done: prog.update(task, completed=done)


SCHEDULER_CONNECT_TIMEOUT_S = 20.0
"""Seconds to wait for a Dask scheduler before giving up."""


@contextmanager
def _executor(scheduler: str | None) -> Iterator[Any]:
    """``None`` (local threads) or an executor on the Dask cluster at ``scheduler``."""
    if scheduler is None:
        yield None
        return
    from rekindle.scale import dask_executor

    with ExitStack() as stack:
        try:  # only connecting is translated; errors of the work itself pass through
            ex = stack.enter_context(dask_executor(scheduler, timeout=SCHEDULER_CONNECT_TIMEOUT_S))
        except ImportError as exc:
            raise _UserError(str(exc)) from None
        except OSError as exc:
            raise _UserError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        yield ex


def _load(model: str, physiology: str | None):
    from rekindle.data import load_model, load_physiology

    m = load_model(model)
    if Path(model).is_file() and physiology is None:
        raise _UserError("a model file needs --physiology FILE")
    return m, load_physiology(model, physiology)


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"rekindle {__version__}")
        raise typer.Exit()


@app.command()
def info(model: ModelOpt = "ecoli", physiology: PhysOpt = None) -> None:
    """Summarise a model and check a physiology against it."""

    def go() -> None:
        from rekindle.data import available_physiologies
        from rekindle.kinetics import KineticSystem

        m, p = _load(model, physiology)
        system = KineticSystem(m)
        table = Table(title=f"model {m.name}, physiology {p.name}")
        table.add_column("quantity")
        table.add_column("value", justify="right")
        for k, v in m.summary().items():
            table.add_row(k.replace("_", " "), str(v))
        table.add_row("conserved moieties", str(len(system.conservation.dependent)))
        table.add_row("reduced Jacobian size", str(system.conservation.rank))
        if not Path(model).is_file():
            table.add_row("physiologies", ", ".join(available_physiologies(model)))
        Console().print(table)

    _run(go)


@app.command()
def sample(
    output: Annotated[Path, typer.Option("--output", "-o", help="Dataset file to write (.h5).")],
    n: Annotated[int, typer.Option("--n", help="Number of parameter sets.")] = 10_000,
    seed: Annotated[int, typer.Option("--seed", help="Random seed.")] = 0,
    model: ModelOpt = "ecoli",
    physiology: PhysOpt = None,
    threshold: ThresholdOpt = -9.0,
    chunk_size: Annotated[int, typer.Option(help="Models per chunk.")] = 1000,
    jobs: Annotated[int | None, typer.Option("--jobs", "-j", help="Worker threads.")] = None,
    resume: Annotated[bool, typer.Option(help="Continue an interrupted run.")] = False,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Sample ORACLE parameter sets, label them and stream them to a dataset file."""

    def go() -> None:
        import time

        from rekindle.io.dataset import read_dataset
        from rekindle.sampling import sample_dataset

        m, p = _load(model, physiology)
        t0 = time.perf_counter()
        with _executor(scheduler) as ex, progress_bar("sampling + labelling", n, quiet) as update:
            path = sample_dataset(
                m,
                p,
                n,
                output,
                seed,
                threshold=threshold,
                chunk_size=chunk_size,
                n_jobs=jobs,
                resume=resume,
                progress=update,
                executor=ex,
            )
        dt = time.perf_counter() - t0
        ds = read_dataset(path, rows=slice(0, 0))
        inc = ds.metadata.get("incidence")
        console.print(
            f"wrote {path}: {n} models of {m.name}/{p.name}, incidence of relevant models "
            f"{inc:.4f}, {n / dt:,.0f} models/s"
        )

    _run(go)


@app.command()
def label(
    parameters: Annotated[
        Path, typer.Option("--parameters", help="SKiMpy-style parameter file (.h5).")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="CSV to write.")],
    parameter_names: Annotated[
        Path | None, typer.Option("--parameter-names", help="Names file, one per line.")
    ] = None,
    model: ModelOpt = "ecoli",
    physiology: PhysOpt = None,
    threshold: ThresholdOpt = -9.0,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Label a parameter population: max Re(λ) of the reduced Jacobian and relevance."""

    def go() -> None:
        from rekindle.io._atomic import atomic_write_text
        from rekindle.io.skimpy_hdf5 import (
            align_to_model,
            read_parameter_names,
            read_parameter_population,
        )
        from rekindle.kinetics import KineticSystem
        from rekindle.kinetics.labelling import Labeller

        m, p = _load(model, physiology)
        names = read_parameter_names(parameter_names) if parameter_names else None
        idx, values, names = read_parameter_population(parameters, names)
        aligned = align_to_model(values, names, m, source=str(parameters))
        lam = np.empty(len(idx))
        with _executor(scheduler) as ex, progress_bar("labelling", len(idx), quiet) as update:
            labeller = Labeller(KineticSystem(m), p, threshold, executor=ex)
            # progress granularity; on a cluster, enough chunks per call to keep it busy
            step = (10 if ex is None else 64) * labeller.chunk_size
            for start in range(0, len(idx), step):
                lam[start : start + step] = labeller.max_real_eigenvalues(
                    aligned[start : start + step]
                )
                update(min(start + step, len(idx)))
        buf = io.StringIO()
        w = csv.writer(buf, lineterminator="\n")
        w.writerow(["parameter_set", "max_real_eigenvalue", "relevant"])
        for i, v in zip(idx, lam, strict=True):
            w.writerow([int(i), repr(float(v)), bool(np.isfinite(v) and v < threshold)])
        atomic_write_text(output, buf.getvalue())
        rel = np.isfinite(lam) & (lam < threshold)
        console.print(
            f"wrote {output}: {len(idx)} sets, {int(rel.sum())} relevant "
            f"({rel.mean():.4f}), {int((~np.isfinite(lam)).sum())} not evaluable"
        )

    _run(go)


@app.command()
def export(
    dataset: Annotated[Path, typer.Argument(help="rekindle dataset (.h5).")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="File (skimpy) or folder (sbml) to write.")
    ],
    format: Annotated[str, typer.Option("--format", help="Output layout: skimpy or sbml.")] = (
        "skimpy"
    ),
    only_relevant: Annotated[bool, typer.Option(help="Export relevant models only.")] = False,
    first: Annotated[
        int | None, typer.Option("--first", help="sbml: export only the first K sets.")
    ] = None,
) -> None:
    """Export a dataset's parameter sets: SKiMpy's HDF5 layout, or one SBML file per set."""

    def go() -> None:
        from rekindle.io.dataset import read_dataset
        from rekindle.io.skimpy_hdf5 import write_parameter_population
        from rekindle.validation import require_output_folder, require_positive

        if format not in ("skimpy", "sbml"):
            raise _UserError(f"unknown export format {format!r} (known: skimpy, sbml)")
        if first is not None and format != "sbml":
            raise _UserError("--first applies to --format sbml only")
        if first is not None:
            require_positive("--first", first)
        if format == "sbml":
            require_output_folder(output)
        ds = read_dataset(dataset)
        if format == "sbml":
            _export_sbml(ds, dataset, output, first, only_relevant)
            return
        keep = ds.relevant if only_relevant else np.ones(ds.n_models, bool)
        write_parameter_population(output, ds.parameters[keep], ds.parameter_names)
        console.print(f"wrote {output}: {int(keep.sum())} parameter sets in SKiMpy layout")

    _run(go)


def _export_sbml(ds: Any, path: Path, output: Path, first: int | None, relevant: bool) -> None:
    from rekindle.data import load_model, load_physiology
    from rekindle.io.sbml import export_dataset_sbml

    model = load_model(str(ds.metadata.get("model")))
    phys = load_physiology(model.name, str(ds.metadata.get("physiology")))
    files = export_dataset_sbml(
        ds, output, model, phys, first=first, only_relevant=relevant, source=path.name
    )
    console.print(f"wrote {len(files)} SBML files to {output}/ (parameter_set_<i>.xml)")


@app.command()
def train(
    data: Annotated[
        Path, typer.Option("--data", "-d", help="Labelled dataset (.h5) from `sample`.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    epochs: Annotated[int, typer.Option("--epochs", help="Training epochs.")] = _TRAIN.epochs,
    seed: Annotated[int, typer.Option("--seed", help="Seed (repeat r uses seed + r).")] = 0,
    repeats: Annotated[int, typer.Option("--repeats", help="Independent trainings.")] = 1,
    batch_size: Annotated[int, typer.Option(help="Mini-batch size.")] = _TRAIN.batch_size,
    learning_rate: Annotated[
        float, typer.Option(help="Adam learning rate.")
    ] = _TRAIN.learning_rate,
    eval_every: Annotated[
        int, typer.Option(help="Epochs between evaluations.")
    ] = _TRAIN.eval_every,
    n_eval: Annotated[int, typer.Option(help="Models generated per evaluation.")] = _TRAIN.n_eval,
    scaling: Annotated[
        str, typer.Option(help="Feature map: saturation (2σ−1) or log-minmax (paper).")
    ] = "saturation",
    label_encoding: Annotated[
        str, typer.Option(help="Class label fed to the networks: onehot or scalar (±1).")
    ] = _ARCH.label_encoding,
    min_spread_ratio: Annotated[
        float,
        typer.Option(
            help="Keep the best generator among those whose spread ratio (std of generated "
            "ln K_M / std of the data's, median) reaches this; 0: highest incidence (paper)."
        ),
    ] = _TRAIN.min_spread_ratio,
    quiet: QuietOpt = False,
) -> None:
    """Train the conditional GAN on a labelled dataset → OUTPUT/generator.pt, metrics, figures.

    Interrupted trainings resume from OUTPUT/training/repeat_*/checkpoint.pt.
    """

    def go() -> None:
        from rekindle.io.dataset import read_dataset
        from rekindle.pipeline import RunConfig, train_generators, training_figures

        ds = read_dataset(data)
        cfg = RunConfig(
            epochs=epochs,
            seed=seed,
            repeats=repeats,
            batch_size=batch_size,
            learning_rate=learning_rate,
            eval_every=eval_every,
            n_eval=n_eval,
            scaling=scaling,
            label_encoding=label_encoding,
            min_spread_ratio=min_spread_ratio,
        )
        bars = None if quiet else progress_bar
        _, reps, best = train_generators(ds, output, cfg, progress=bars, log=console.print)
        numbers = training_figures(output, reps, best[1])
        spread = reps[best[1]]["result"].best_spread_ratio
        console.print(
            f"wrote {output / 'generator.pt'}: best incidence {best[0]:.4f} (repeat {best[1]}, "
            f"spread ratio {spread:.2f}), "
            f"KL(train) {numbers['kl_train_first']:.3f} → {numbers['kl_train_last']:.3f}, "
            f"Spearman ρ(incidence, KL) = {numbers['spearman_incidence_kl']:.3f}"
        )

    _run(go)


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
    device: Annotated[str | None, typer.Option(help="cpu, cuda, … (default: cpu).")] = None,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Generate complete parameter sets (K_M + back-calculated V_max) of one class."""

    def go() -> None:
        from rekindle.gan import KineticGAN
        from rekindle.generation import generate_dataset

        if cls not in ("relevant", "not_relevant"):
            raise _UserError(f"--class must be relevant or not_relevant, got {cls!r}")
        gan = KineticGAN.load(generator, device=device)
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
def dynamics(
    datasets: Annotated[list[Path], typer.Argument(help="Datasets (.h5) to compare.")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    relevant_only: Annotated[bool, typer.Option(help="Only the relevant models of each.")] = False,
    threshold: ThresholdOpt = -9.0,
) -> None:
    """Distributions of max Re(λ) and of the dominant time constant (paper Fig. 2d).

    Also the spread ratio of each dataset's K_M against the relevant models of the
    first dataset (std of ln K_M, median over the K_M; 1 = as wide, 0 = collapsed).
    """

    def go() -> None:
        from rekindle.data import load_model
        from rekindle.gan.monitoring import spread_ratio
        from rekindle.io.dataset import read_dataset
        from rekindle.kinetics import KineticSystem
        from rekindle.pipeline import analyse_dynamics

        pops, spreads, system, ref = {}, {}, None, None
        for path in datasets:
            ds = read_dataset(path)
            lam = ds.max_real_eigenvalue[ds.relevant] if relevant_only else ds.max_real_eigenvalue
            if np.isnan(lam).all():
                raise _UserError(f"{path} has no eigenvalues (generated without --validate?)")
            pops[path.stem] = lam
            if system is None:
                system = KineticSystem(load_model(str(ds.metadata.get("model"))))
            if ds.parameter_names != system.model.parameter_names:
                raise _UserError(f"{path} is not a parameter set of model {system.model.name!r}")
            km = system.km_of(ds.parameters[ds.relevant] if relevant_only else ds.parameters)
            if ref is None:
                ref = np.std(np.log(system.km_of(ds.parameters[ds.relevant])), axis=0)
            spreads[path.stem] = spread_ratio(km, ref)
        dyn = analyse_dynamics(pops, output, threshold=threshold, spread_ratio=spreads)
        for name, rec in dyn.items():
            console.print(
                f"{name}: n={rec['n']}, relevant {rec['fraction_relevant']:.4f}, "
                f"median τ {rec.get('tau_median_min', float('nan')):.3g} min, "
                f"max Re(λ) quartiles {rec['max_eig_q25_per_h']:.1f} / "
                f"{rec['max_eig_median_per_h']:.1f} / {rec['max_eig_q75_per_h']:.1f} 1/h, "
                f"spread ratio {rec['spread_ratio']:.2f}"
            )
        console.print(f"wrote {output / 'dynamics.csv'} and {output / 'fig2d_dynamics.png'}")

    _run(go)


@app.command()
def perturb(
    datasets: Annotated[
        list[Path], typer.Argument(help="Datasets (.h5); relevant models are used.")
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    models: Annotated[int, typer.Option("--models", help="Models per dataset.")] = 1000,
    perturbations: Annotated[int, typer.Option("--perturbations", help="Per model.")] = 10,
    protocol: Annotated[
        str, typer.Option(help="fold (0.5–2×, Results) or uniform (±50 %, Methods).")
    ] = "fold",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """Perturbation analysis: fraction of models returning to the steady state (Fig. 2e)."""

    def go() -> None:
        from rekindle.data import load_model, load_physiology
        from rekindle.io.dataset import read_dataset
        from rekindle.kinetics import KineticSystem
        from rekindle.pipeline import analyse_perturbations

        pops, context = {}, None
        for path in datasets:
            ds = read_dataset(path)
            key = (ds.metadata.get("model"), ds.metadata.get("physiology"))
            if context is not None and key != context:
                raise _UserError(f"{path} is {key}, the others are {context}")
            context = key
            pops[path.stem] = ds.parameters[ds.relevant]
        model = load_model(str(context[0]))
        phys = load_physiology(model.name, str(context[1]))
        with _executor(scheduler) as ex:
            res = analyse_perturbations(
                KineticSystem(model),
                phys,
                pops,
                output,
                n_models=models,
                n_perturbations=perturbations,
                protocol=protocol,
                seed=seed,
                progress=None if quiet else progress_bar,
                log=console.print,
                executor=ex,
            )
        console.print(
            f"wrote {output / 'perturbation.json'}: "
            + ", ".join(f"{k} {v:.4f}" for k, v in res.items() if k.startswith("returned"))
        )

    _run(go)


@app.command()
def interpret(
    generator: Annotated[Path, typer.Option("--generator", "-g", help="generator.pt")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    n_per_class: Annotated[int, typer.Option(help="Relevant and non-relevant models.")] = 2000,
    n_subpopulation: Annotated[
        int, typer.Option(help="Relevant models split in deciles.")
    ] = 50_000,
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Rank the K_M by KL divergence between generated relevant and non-relevant models (Fig. 3)."""

    def go() -> None:
        from rekindle.gan import KineticGAN
        from rekindle.io._atomic import atomic_write_text
        from rekindle.pipeline import _jsonable, analyse_interpretability

        gan = KineticGAN.load(generator)
        res = analyse_interpretability(
            gan,
            output,
            n_per_class=n_per_class,
            n_subpopulation=n_subpopulation,
            seed=seed,
            log=console.print,
        )
        atomic_write_text(output / "interpretability.json", json.dumps(_jsonable(res), indent=2))
        table = Table(title="top parameters by KL(relevant ‖ not relevant)")
        table.add_column("rank", justify="right")
        table.add_column("parameter")
        table.add_column("KL (nats)", justify="right")
        for i, row in enumerate(res.get("top_parameters", []), 1):
            table.add_row(str(i), str(row["name"]), f"{row['kl']:.4f}")
        Console().print(table)

    _run(go)


@app.command()
def transfer(
    generator: Annotated[Path, typer.Option("--generator", "-g", help="Source generator.pt")],
    output: Annotated[Path, typer.Option("--output", "-o", help="Output folder.")],
    targets: Annotated[list[str], typer.Option("--target", help="Target physiology (repeat).")] = [  # noqa: B006
        "fdp2",
        "fdp3",
        "fdp4",
    ],
    n_sets: Annotated[list[int], typer.Option("--n-sets", help="Target set counts (repeat).")] = [  # noqa: B006
        10,
        50,
    ],
    repeats: Annotated[int, typer.Option(help="Repeats per case.")] = 1,
    epochs: Annotated[int, typer.Option(help="Fine-tuning epochs (paper 300).")] = 300,
    scratch_epochs: Annotated[int, typer.Option(help="From-scratch epochs (paper 1000).")] = 1000,
    no_scratch: Annotated[bool, typer.Option(help="Skip the from-scratch comparison.")] = False,
    freeze: Annotated[list[str], typer.Option(help="Generator layer to freeze (repeat).")] = [],  # noqa: B006
    seed: Annotated[int, typer.Option("--seed")] = 0,
) -> None:
    """Transfer learning: fine-tune a generator on few sets of other physiologies (Fig. 4)."""

    def go() -> None:
        from rekindle.analysis.transfer import TransferSettings, run_transfer_experiment

        st = TransferSettings(
            targets=tuple(targets),
            n_sets=tuple(n_sets),
            repeats=repeats,
            epochs_transfer=epochs,
            epochs_scratch=scratch_epochs,
            scratch=not no_scratch,
            freeze=tuple(freeze),
            seed=seed,
        )
        rows = run_transfer_experiment(generator, output, st, log=console.print)
        table = Table(title="incidence of relevant models (engine-labelled, target physiology)")
        for col in ("target", "n sets", "mode", "repeat", "incidence"):
            table.add_column(col)
        for r in rows:
            table.add_row(
                r["target"], str(r["n_sets"]), r["mode"], str(r["repeat"]), f"{r['incidence']:.3f}"
            )
        Console().print(table)

    _run(go)


@app.command()
def run(
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder.")] = Path(
        "runs/default"
    ),
    profile: Annotated[
        str, typer.Option(help="default (≤15 min, 2 cores), paper, smoke.")
    ] = "default",
    model: ModelOpt = "ecoli",
    physiology: Annotated[str, typer.Option("--physiology", "-p")] = "fdp1",
    seed: Annotated[int, typer.Option("--seed")] = 0,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Override the profile.")] = None,
    n_sets: Annotated[int | None, typer.Option("--n-sets", help="Override the profile.")] = None,
    repeats: Annotated[int | None, typer.Option("--repeats", help="Override the profile.")] = None,
    min_spread_ratio: Annotated[
        float | None,
        typer.Option(help="Override the profile: keep only generators this wide (see train)."),
    ] = None,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The main job: sample ORACLE data, train, generate, validate, analyse, report."""

    def go() -> None:
        from rekindle.pipeline import RunConfig, run_pipeline

        cfg = RunConfig.from_profile(
            profile,
            model=model,
            physiology=physiology,
            seed=seed,
            epochs=epochs,
            n_sets=n_sets,
            repeats=repeats,
            min_spread_ratio=min_spread_ratio,
        )
        with _executor(scheduler) as ex:
            summary = run_pipeline(
                output,
                cfg,
                progress=None if quiet else progress_bar,
                log=console.print,
                executor=ex,
            )
        table = Table(title=f"rekindle run ({profile}): {cfg.model}/{cfg.physiology}")
        table.add_column("result")
        table.add_column("value", justify="right")
        for key in (
            "incidence_training",
            "incidence_generated",
            "returned_fraction_training",
            "returned_fraction_generated",
            "spread_ratio_median",
            "kl_train_first",
            "kl_train_last",
            "seconds",
        ):
            v = summary.get(key)
            table.add_row(key, "—" if v is None else f"{v:.4g}")
        top = summary.get("top_parameters") or []
        if top:
            table.add_row("top parameter (KL)", str(top[0]["name"]))
        Console().print(table)
        console.print(f"run folder: {output}  (open {output / 'report.html'})")

    _run(go)


@app.command()
def report(
    run_dir: Annotated[Path, typer.Argument(help="Run folder with summary.json.")],
    output: Annotated[Path | None, typer.Option("--output", "-o")] = None,
) -> None:
    """Assemble a run folder's numbers and figures into one self-contained HTML page."""

    def go() -> None:
        from rekindle.report.html import build_report

        if not (run_dir / "summary.json").exists():
            raise _UserError(f"{run_dir} has no summary.json (not a run folder?)")
        console.print(f"wrote {build_report(run_dir, output)}")

    _run(go)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
