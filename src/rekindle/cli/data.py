"""Commands on models and parameter data: info, sample, label, export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from rekindle.cli._common import (
    AllowNonSteadyOpt,
    ChunkSizeOpt,
    DatasetOutputOpt,
    ModelOpt,
    PhysOpt,
    QuietOpt,
    SchedulerOpt,
    ThresholdOpt,
    WhereOpt,
    _checked_dataset,
    _executor,
    _load,
    _run,
    _UserError,
    app,
    console,
    progress_bar,
    stdout,
)
from rekindle.cli.classes import label_stored, parse_class
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H as DEFAULT_THRESHOLD


@app.command()
def info(model: ModelOpt = "ecoli", physiology: PhysOpt = None) -> None:
    """Summarise a model and check a physiology against it."""

    def go() -> None:
        from rekindle.data import available_models, available_physiologies
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
        if model in available_models():
            table.add_row("physiologies", ", ".join(available_physiologies(model)))
        stdout.print(table)

    _run(go)


SampleNOpt = Annotated[int, typer.Option("--n", help="Number of parameter sets.")]
SampleSeedOpt = Annotated[int, typer.Option("--seed", help="Random seed.")]
SampleJobsOpt = Annotated[int | None, typer.Option("--jobs", "-j", help="Worker threads.")]
SampleResumeOpt = Annotated[
    bool, typer.Option(help="Continue an interrupted run from OUTPUT.partial.")
]
SampleForceOpt = Annotated[
    bool, typer.Option(help="Discard the OUTPUT.partial of an interrupted run.")
]


@app.command()
def sample(
    output: DatasetOutputOpt,
    n: SampleNOpt = 10_000,
    seed: SampleSeedOpt = 0,
    model: ModelOpt = "ecoli",
    physiology: PhysOpt = None,
    threshold: ThresholdOpt = DEFAULT_THRESHOLD,
    chunk_size: ChunkSizeOpt = 1000,
    jobs: SampleJobsOpt = None,
    resume: SampleResumeOpt = False,
    force: SampleForceOpt = False,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
    where: WhereOpt = None,
) -> None:
    """Sample ORACLE parameter sets, label them and stream them to a dataset file.

    With --where, ``relevant`` marks the members of that class (recorded in the file).

    Chunks are committed to OUTPUT.partial/ as they are done; an interrupted run (Ctrl-C,
    a crash, a killed job) continues with --resume and gives the same file.
    """
    done = [0]

    def go() -> None:
        import time

        from rekindle import validation as check
        from rekindle.sampling import sample_dataset

        spec = _check_sample_options(
            output, n, chunk_size, jobs, seed, threshold, where, resume, force, scheduler
        )
        m, p = _load(model, physiology)
        check.require_disk_space(output, n, m.n_parameters)
        t0 = time.perf_counter()

        def update_done(count: int) -> None:
            done[0] = count
            update(count)

        with _executor(scheduler) as ex, progress_bar("sampling + labelling", n, quiet) as update:
            path = sample_dataset(
                m, p, n, output, seed, threshold=threshold, chunk_size=chunk_size, n_jobs=jobs,
                resume=resume, force=force, progress=update_done, executor=ex,
            )  # fmt: skip
        dt = time.perf_counter() - t0
        if spec is not None:
            label_stored(path, spec)
        _report_sampled(path, f"{n} models of {m.name}/{p.name}", where, n / dt)

    def interrupted() -> str:
        from rekindle.io.dataset import partial_path

        journal = partial_path(output)
        if not journal.is_dir():
            return "no output was written"
        return (
            f"{done[0]} of {n} models kept in {journal}; rerun the same command with "
            "--resume to continue"
        )

    _run(go, interrupted, quiet=quiet)


def _check_sample_options(
    output: Path,
    n: int,
    chunk_size: int,
    jobs: int | None,
    seed: int,
    threshold: float,
    where: str | None,
    resume: bool,
    force: bool,
    scheduler: str | None,
) -> Any:
    """Refuse bad ``sample`` options (one line); the class of --where (None without it)."""
    from rekindle import validation as check

    check.require_positive("--n", n)
    check.require_chunk_size(chunk_size, bound=check.MAX_CHUNK_SIZE)
    check.require_jobs(jobs)
    check.require_seed(seed)
    check.require_finite("--threshold", threshold)
    check.require_output_file(output)
    spec = parse_class(where) if where is not None else None
    if resume and force:
        raise _UserError("--resume and --force exclude each other")
    check.require_scheduler_address(scheduler)
    return spec


def _report_sampled(path: Path, what: str, where: str | None, rate: float) -> None:
    """``sample``'s closing line: what was written, its incidence and models per second."""
    from rekindle.io.dataset import read_dataset

    inc = read_dataset(path, rows=slice(0, 0)).metadata.get("incidence")
    console.print(
        f"wrote {path}: {what}, incidence of "
        f"{'class ' + repr(where) if where else 'relevant models'} "
        f"{inc:.4f}, {rate:,.0f} models/s"
    )


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
    threshold: ThresholdOpt = DEFAULT_THRESHOLD,
    allow_non_steady: AllowNonSteadyOpt = False,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
    where: WhereOpt = None,
) -> None:
    """Label a parameter population: max Re(λ) of the reduced Jacobian and relevance.

    With --where, the ``relevant`` column marks the members of that class instead.

    Sets whose reference state (the physiology) is not a steady state are refused; with
    --allow-non-steady they are labelled not relevant and marked (steady_state column).
    """

    def go() -> None:
        from rekindle import validation as check

        check.require_finite("--threshold", threshold)
        check.require_output_file(output)
        check.require_input_file(parameters, "--parameters")
        if parameter_names is not None:
            check.require_input_file(parameter_names, "--parameter-names", text=True)
        check.require_distinct(
            output, "--output", ("--parameters", parameters), ("--parameter-names", parameter_names)
        )
        check.require_scheduler_address(scheduler)
        spec = parse_class(where) if where is not None else None
        if spec is not None and spec.returns is not None:
            raise _UserError("--where: label takes eigenvalue classes (no returns clause)")

        from rekindle.io.skimpy_hdf5 import (
            align_to_model,
            read_parameter_names,
            read_parameter_population,
        )
        from rekindle.kinetics import KineticSystem
        from rekindle.kinetics.steady_state import require_steady_state

        m, p = _load(model, physiology)
        names = read_parameter_names(parameter_names) if parameter_names else None
        idx, values, names = read_parameter_population(parameters, names)
        aligned = align_to_model(values, names, m, source=str(parameters))
        system = KineticSystem(m)
        steady = require_steady_state(
            system,
            p,
            aligned,
            source=str(parameters),
            set_names=[f"parameter_set_{i}" for i in idx],
            allow_non_steady=allow_non_steady,
        ).steady
        lam = _max_real_eigenvalues(system, p, aligned, threshold, scheduler, quiet)
        if spec is not None:
            rel = spec.evaluate(lam) & steady
        else:
            rel = np.isfinite(lam) & (lam < threshold) & steady
        _write_labels(output, idx, lam, rel, steady if allow_non_steady else None)

    _run(go, quiet=quiet)


def _max_real_eigenvalues(
    system: Any,
    physiology: Any,
    parameters: np.ndarray,
    threshold: float,
    scheduler: str | None,
    quiet: bool,
) -> np.ndarray:
    """Max Re(λ) (h⁻¹, shape ``(n,)``) of every set of ``parameters`` ``(n, n_parameters)``."""
    from rekindle.kinetics.labelling import Labeller

    n = parameters.shape[0]
    lam = np.empty(n)
    with _executor(scheduler) as ex, progress_bar("labelling", n, quiet) as update:
        labeller = Labeller(system, physiology, threshold, executor=ex)
        # progress granularity; on a cluster, enough chunks per call to keep it busy
        step = (10 if ex is None else 64) * labeller.chunk_size
        for start in range(0, n, step):
            lam[start : start + step] = labeller.max_real_eigenvalues(
                parameters[start : start + step]
            )
            update(min(start + step, n))
    return lam


def _write_labels(
    output: Path, idx: np.ndarray, lam: np.ndarray, rel: np.ndarray, steady: np.ndarray | None
) -> None:
    """Write ``label``'s CSV (``steady``: the steady_state column, with --allow-non-steady)."""
    from rekindle.io.atomic import write_csv

    header = ("parameter_set", "max_real_eigenvalue", "relevant")
    columns = [idx.astype(int).tolist(), lam.tolist(), rel.tolist()]
    if steady is not None:  # the marked sets; the default layout has no such column
        header += ("steady_state",)
        columns.append(steady.tolist())
    write_csv(output, zip(*columns, strict=True), header=header)
    console.print(
        f"wrote {output}: {len(idx)} sets, {int(rel.sum())} relevant "
        f"({rel.mean():.4f}), {int((~np.isfinite(lam)).sum())} not evaluable"
        + (f", {int((~steady).sum())} not a steady state" if steady is not None else "")
    )


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
    allow_non_steady: AllowNonSteadyOpt = False,
) -> None:
    """Export a dataset's parameter sets: SKiMpy's HDF5 layout, or one SBML file per set."""

    def go() -> None:
        from rekindle import validation as check

        if format not in ("skimpy", "sbml"):
            raise _UserError(f"unknown export format {format!r} (known: skimpy, sbml)")
        if first is not None and format != "sbml":
            raise _UserError("--first applies to --format sbml only")
        if first is not None:
            check.require_positive("--first", first)
        if format == "sbml":
            check.require_output_folder(output)
        else:
            check.require_output_file(output)
        check.require_distinct(output, "--output", ("DATASET", dataset))

        from rekindle.io.skimpy_hdf5 import write_parameter_population

        ds, _, _, _ = _checked_dataset(dataset, allow_non_steady)
        if format == "sbml":
            _export_sbml(ds, dataset, output, first, only_relevant)
            return
        keep = ds.relevant if only_relevant else np.ones(ds.n_models, bool)
        write_parameter_population(output, ds.parameters[keep], ds.parameter_names)
        console.print(f"wrote {output}: {int(keep.sum())} parameter sets in SKiMpy layout")

    _run(go)


def _export_sbml(ds: Any, path: Path, output: Path, first: int | None, relevant: bool) -> None:
    from rekindle.io.sbml import export_dataset_sbml

    bundle = ds.bundle()  # the model the data were made from
    files = export_dataset_sbml(
        ds,
        output,
        bundle.model,
        bundle.physiology,
        first=first,
        only_relevant=relevant,
        source=path.name,
    )
    console.print(f"wrote {len(files)} SBML files to {output}/ (parameter_set_<i>.xml)")
