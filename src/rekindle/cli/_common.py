"""What every command shares: the typer app, options, error handling, progress bars."""

from __future__ import annotations

import errno
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
from rekindle.errors import RekindleError, UsageError
from rekindle.progress import Heartbeat, LineProgress, ProgressCallback

app = typer.Typer(
    name="rekindle",
    help="Generate kinetic models of metabolism with conditional GANs (REKINDLE).",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
_heartbeat: Heartbeat | None = None
_command: list[str] = []
"""The name of the command being run (set by the app's callback)."""
"""The running command's heartbeat (unattended runs only): every line printed resets it."""


def _touch_heartbeat(line: str = "") -> None:
    if _heartbeat is not None:
        _heartbeat.touch(line)


class _StampedConsole(Console):
    """A rich console whose every ``print`` resets the heartbeat."""

    def print(self, *objects: Any, **kwargs: Any) -> None:
        super().print(*objects, **kwargs)
        _touch_heartbeat(" ".join(str(o) for o in objects))


def _err_line(line: str) -> None:
    """One plain line on stderr (progress lines of unattended runs); resets the heartbeat."""
    typer.echo(line, err=True)
    _touch_heartbeat(line)


# plain text: no markup or highlighting (a path with "[/b]" prints as it is), no wrapping
console = _StampedConsole(stderr=True, markup=False, highlight=False, soft_wrap=True)
stdout = Console(markup=False, highlight=False, soft_wrap=True)

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
OutputFolderOpt = Annotated[Path, typer.Option("--output", "-o", help="Output folder.")]
DatasetOutputOpt = Annotated[
    Path, typer.Option("--output", "-o", help="Dataset file to write (.h5).")
]
SeedOpt = Annotated[int, typer.Option("--seed")]
ChunkSizeOpt = Annotated[int, typer.Option(help="Models per chunk.")]
WhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where",
        help="A class: 'max_eig < -30', '-40 < max_eig < -30', 'tau_min < 2', 'relevant "
        "and returns(n=10, tol=0.01)' (clauses joined by 'and').",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786): run the chunks on that cluster "
        "instead of local threads (needs rekindle[distributed] on every worker).",
    ),
]


_UserError = UsageError  # raised inside commands for bad input

# errors of the file system about a path the user named (a read-only folder, a name too
# long, a full disk): reported in one line, like a RekindleError
_USER_OS_ERRORS = frozenset(
    getattr(errno, name)
    for name in (
        "EACCES",
        "EPERM",
        "EROFS",
        "ENAMETOOLONG",
        "ENOSPC",
        "EDQUOT",
        "ENOTDIR",
        "EISDIR",
        "ELOOP",
        "EFBIG",
        "ENXIO",
    )
    if hasattr(errno, name)
)


def refuse_other_generator_options(
    generator: str,
    cgan_options: dict[str, object],
    flow_options: dict[str, object],
    context: str,
) -> None:
    """Refuse an unknown ``--generator`` and options given for the other generator.

    ``cgan_options``/``flow_options`` map option names to their values (None: not
    given); ``context`` ends the message (``"this is --generator flow"``), so none of
    them is silently ignored.
    """
    if generator not in ("cgan", "flow"):
        raise _UserError(f"--generator must be cgan or flow, got {generator!r}")
    other = cgan_options if generator == "flow" else flow_options
    given = [option for option, value in other.items() if value is not None]
    if given:
        raise _UserError(
            f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to "
            f"--generator {'cgan' if generator == 'flow' else 'flow'} ({context})"
        )


def _one_line(message: str) -> str:
    return " ".join(message.split("\n")).strip()


def _run(
    func: Callable[[], Any],
    interrupted: Callable[[], str] | None = None,
    *,
    quiet: bool = False,
) -> Any:
    """Run a command body: a :class:`RekindleError` becomes one plain line and exit 2.

    Anything else is a bug and keeps its traceback. Ctrl-C prints one line (what was
    kept, how to resume: ``interrupted()``) and exits with 130. When stderr is not a
    terminal and ``--quiet`` is not given, a :class:`~rekindle.progress.Heartbeat`
    prints a line whenever :data:`~rekindle.progress.PROGRESS_LINE_INTERVAL_S` seconds
    pass without one (checks and counting passes included).
    """
    try:
        with _unattended_heartbeat(quiet):
            return func()
    except RekindleError as exc:
        typer.echo(f"Error: {_one_line(str(exc))}", err=True)
        raise typer.Exit(2) from None
    except OSError as exc:
        if exc.errno not in _USER_OS_ERRORS or exc.filename is None:
            raise  # not about a path the user gave: a bug, keep the traceback
        typer.echo(f"Error: {exc.filename}: {_one_line(exc.strerror or str(exc))}", err=True)
        raise typer.Exit(2) from None
    except KeyboardInterrupt:
        what = interrupted() if interrupted else "no output was written"
        typer.echo(f"Interrupted: {_one_line(what)}", err=True)
        raise typer.Exit(130) from None


@contextmanager
def _unattended_heartbeat(quiet: bool) -> Iterator[None]:
    """A heartbeat for the running command when nobody watches a terminal."""
    global _heartbeat
    if quiet or console.is_terminal or _heartbeat is not None:
        yield
        return
    name = f"rekindle {_command[0]}" if _command else "rekindle"
    with Heartbeat(name, lambda line: typer.echo(line, err=True)) as beat:
        _heartbeat = beat
        try:
            yield
        finally:
            _heartbeat = None


@contextmanager
def progress_bar(
    description: str, total: int | None, quiet: bool = False
) -> Iterator[ProgressCallback]:
    """A rich progress bar; yields ``update(completed)``.

    When stderr is not a terminal (CI, nohup, batch jobs) a bar shows nothing until the
    end: a plain line is printed instead at least every
    :data:`~rekindle.progress.PROGRESS_LINE_INTERVAL_S` seconds.
    """
    if quiet:
        yield lambda _done: None
        return
    if not console.is_terminal:
        yield LineProgress(description, total, _err_line)
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
    from rekindle.validation import require_scheduler_address

    scheduler = require_scheduler_address(scheduler)
    with ExitStack() as stack:
        try:  # only connecting is translated; errors of the work itself pass through
            ex = stack.enter_context(dask_executor(scheduler, timeout=SCHEDULER_CONNECT_TIMEOUT_S))
        except ImportError as exc:
            raise _UserError(str(exc)) from None
        except OSError as exc:
            raise _UserError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None
        yield ex


def _load(model: str, physiology: str | None):
    """The model and physiology named by --model/--physiology (embedded names or files)."""
    from rekindle.io.model_bundle import load_bundle

    bundle = load_bundle(model, physiology)
    return bundle.model, bundle.physiology


AllowNonSteadyOpt = Annotated[
    bool,
    typer.Option(
        "--allow-non-steady",
        help="Keep parameter sets whose reference state is not a steady state (or with a "
        "non-positive K_M, V_max, K_eq), marked, instead of refusing them.",
    ),
]


def _checked_dataset(path: Path, allow_non_steady: bool = False) -> tuple[Any, Any, Any, Any]:
    """Read a complete dataset and check its sets are steady states of its physiology.

    Returns
    -------
    dataset, system, physiology, steady (bool per set)
    """
    from rekindle.io.dataset import read_dataset, require_consistent_labels
    from rekindle.kinetics.steady_state import require_steady_state

    ds = read_dataset(path)
    system, phys = _engine_of([ds])
    if ds.parameter_names != system.model.parameter_names:
        raise UsageError(f"{path} is not a parameter set of model {system.model.name!r}")
    check = require_steady_state(
        system, phys, ds.parameters, source=str(path), allow_non_steady=allow_non_steady
    )
    require_consistent_labels(
        ds.relevant, ds.max_real_eigenvalue, _threshold_of(ds.metadata), str(path),
        steady=check.steady, **_label_rule(ds.metadata, str(path)),
    )  # fmt: skip
    if check.n_failed:
        console.print(
            f"{path}: {check.n_failed} of {ds.n_models} sets are not a steady state "
            "(kept: --allow-non-steady)"
        )
    return ds, system, phys, check.steady


STREAM_CHECK_ROWS = 100_000
"""Rows read at a time by :func:`_checked_stream`."""


def _checked_stream(
    path: Path, allow_non_steady: bool = False, max_sets: int | None = None
) -> None:
    """:func:`_checked_dataset` for data trained on chunk by chunk (the flow).

    Reads the first ``max_sets`` rows (all by default) :data:`STREAM_CHECK_ROWS` at a
    time, so a file larger than memory is checked too: every set must be a steady state
    of the physiology (unless ``allow_non_steady``), and each class must be counted
    often enough to train on (:func:`rekindle.io.dataset.require_class_counts`).
    """
    from rekindle.io.dataset import (
        read_dataset,
        require_class_counts,
        require_consistent_labels,
    )
    from rekindle.kinetics.steady_state import require_steady_state

    head = read_dataset(path, rows=slice(0, 0))
    system, phys = _engine_of([head])
    n = int(head.metadata["n_models"])
    n = n if max_sets is None else min(n, max_sets)
    n_relevant = n_failed = 0
    for start in range(0, n, STREAM_CHECK_ROWS):
        stop = min(start + STREAM_CHECK_ROWS, n)
        chunk = read_dataset(path, rows=slice(start, stop))
        check = require_steady_state(
            system, phys, chunk.parameters, source=str(path),
            set_names=[f"row {i}" for i in range(start, stop)],
            allow_non_steady=allow_non_steady,
        )  # fmt: skip
        require_consistent_labels(
            chunk.relevant, chunk.max_real_eigenvalue, _threshold_of(head.metadata), str(path),
            row_offset=start, steady=check.steady, **_label_rule(head.metadata, str(path)),
        )  # fmt: skip
        n_failed += check.n_failed
        n_relevant += int(chunk.relevant.sum())
    require_class_counts(n, n_relevant, str(path))
    if n_failed:
        console.print(
            f"{path}: {n_failed} of {n} sets are not a steady state (kept: --allow-non-steady)"
        )


def _label_rule(metadata: dict[str, Any], source: str) -> dict[str, Any]:
    """How a dataset's ``relevant`` flags were set: by its recorded class (``relabel``,
    ``--where``) when it has one — keyword arguments of
    :func:`rekindle.io.dataset.require_consistent_labels` — else by its threshold (``{}``)."""
    from rekindle.classes.grammar import format_where
    from rekindle.classes.store import read_class

    spec = read_class(metadata, source)
    if spec is None:
        return {}
    return {"member": spec.eig_member, "rule": format_where(spec), "exact": spec.returns is None}


def _threshold_of(metadata: dict[str, Any]) -> float:
    """The relevance threshold a dataset was labelled with (h⁻¹)."""
    from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H

    value = metadata.get("threshold")
    return RELEVANCE_THRESHOLD_PER_H if value is None else float(value)


def _engine_of(datasets: list[Any], *, same_physiology: bool = True) -> tuple[Any, Any]:
    """The compiled model and the physiology the datasets carry (one model for all).

    Refuses datasets made from different models (and physiologies, unless
    ``same_physiology`` is false) and datasets whose columns are not the model's.
    """
    from rekindle.io.model_bundle import common_bundle
    from rekindle.kinetics import KineticSystem

    bundle = common_bundle(
        [(str(ds.path), ds.metadata) for ds in datasets], same_physiology=same_physiology
    )
    for ds in datasets:
        if ds.parameter_names != bundle.model.parameter_names:
            raise UsageError(f"{ds.path} is not a parameter set of model {bundle.model.name!r}")
    return KineticSystem(bundle.model), bundle.physiology


@app.callback(invoke_without_command=True)
def _main(
    ctx: typer.Context,
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    _command[:] = [ctx.invoked_subcommand] if ctx.invoked_subcommand else []
    if version:
        typer.echo(f"rekindle {__version__}")
        raise typer.Exit()
