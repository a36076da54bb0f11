"""Command-line interface: a thin layer over the Python API.

Every command maps onto a public function; errors in the input are reported in one
line naming the culprit, with exit status 2 and nothing written.
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
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
QuietOpt = Annotated[bool, typer.Option("--quiet", "-q", help="No progress bars.")]


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
    quiet: QuietOpt = False,
) -> None:
    """Sample ORACLE parameter sets, label them and stream them to a dataset file."""

    def go() -> None:
        import time

        from rekindle.io.dataset import read_dataset
        from rekindle.sampling import sample_dataset

        m, p = _load(model, physiology)
        t0 = time.perf_counter()
        with progress_bar("sampling + labelling", n, quiet) as update:
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
        labeller = Labeller(KineticSystem(m), p, threshold)
        lam = np.empty(len(idx))
        with progress_bar("labelling", len(idx), quiet) as update:
            step = 10 * labeller.chunk_size
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
    output: Annotated[Path, typer.Option("--output", "-o", help="File to write.")],
    format: Annotated[str, typer.Option("--format", help="Output layout: skimpy.")] = "skimpy",
    only_relevant: Annotated[bool, typer.Option(help="Export relevant models only.")] = False,
) -> None:
    """Export a dataset's parameter sets (e.g. back to SKiMpy's HDF5 layout)."""

    def go() -> None:
        from rekindle.io.dataset import read_dataset
        from rekindle.io.skimpy_hdf5 import write_parameter_population

        if format != "skimpy":
            raise _UserError(f"unknown export format {format!r} (known: skimpy)")
        ds = read_dataset(dataset)
        keep = ds.relevant if only_relevant else np.ones(ds.n_models, bool)
        write_parameter_population(output, ds.parameters[keep], ds.parameter_names)
        console.print(f"wrote {output}: {int(keep.sum())} parameter sets in SKiMpy layout")

    _run(go)


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
