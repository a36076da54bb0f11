"""What every command shares: the typer app, options, error handling, progress bars."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Annotated, Any

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


def _engine_of(dataset: Any) -> tuple[Any, Any]:
    """The compiled model and the physiology a dataset's metadata names."""
    from rekindle.data import load_model, load_physiology
    from rekindle.kinetics import KineticSystem

    meta = dataset.metadata  # datasets without these names: the default model
    model = load_model(str(meta.get("model", "ecoli")))
    return KineticSystem(model), load_physiology(model.name, str(meta.get("physiology", "fdp1")))


@app.callback(invoke_without_command=True)
def _main(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    if version:
        typer.echo(f"rekindle {__version__}")
        raise typer.Exit()
