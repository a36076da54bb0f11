"""The main job and its report: run, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from rekindle.cli._common import (
    ModelOpt,
    QuietOpt,
    SchedulerOpt,
    _executor,
    _run,
    _UserError,
    app,
    console,
    progress_bar,
    stdout,
)
from rekindle.pipeline import PROFILES, RunConfig

_DEFAULT = PROFILES["default"]


@app.command()
def run(
    output: Annotated[Path, typer.Option("--output", "-o", help="Run folder.")] = Path(
        "runs/default"
    ),
    profile: Annotated[
        str, typer.Option(help="default (≤15 min, 2 cores), paper, smoke.")
    ] = "default",
    model: ModelOpt = _DEFAULT.model,
    physiology: Annotated[str, typer.Option("--physiology", "-p")] = _DEFAULT.physiology,
    seed: Annotated[int, typer.Option("--seed")] = _DEFAULT.seed,
    epochs: Annotated[int | None, typer.Option("--epochs", help="Override the profile.")] = None,
    n_sets: Annotated[int | None, typer.Option("--n-sets", help="Override the profile.")] = None,
    repeats: Annotated[int | None, typer.Option("--repeats", help="Override the profile.")] = None,
    min_spread_ratio: Annotated[
        float | None,
        typer.Option(help="Override the profile: keep only generators this wide (see train)."),
    ] = None,
    generator: Annotated[
        str | None,
        typer.Option(
            "--generator", help="Override the profile: flow (default profile) or cgan (paper)."
        ),
    ] = None,
    guide: Annotated[
        bool | None,
        typer.Option(
            "--guide/--no-guide",
            help="Override the profile: the flow's relevance guide (default profile: on).",
        ),
    ] = None,
    power: Annotated[
        float | None,
        typer.Option(help="Override the profile: guided acceptance exponent (default 1)."),
    ] = None,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
) -> None:
    """The main job: sample ORACLE data, train, generate, validate, analyse, report."""

    def go() -> None:
        from rekindle import validation as check

        for option, value in (("--epochs", epochs), ("--n-sets", n_sets), ("--repeats", repeats)):
            if value is not None:
                check.require_positive(option, value)
        check.require_seed(seed)
        if power is not None and not check.require_finite("--power", power) > 0:
            raise _UserError(f"--power must be positive, got {power}")
        check.require_output_folder(output)

        from rekindle.pipeline import run_pipeline

        cfg = RunConfig.from_profile(
            profile,
            model=model,
            physiology=physiology,
            seed=seed,
            epochs=epochs,
            n_sets=n_sets,
            repeats=repeats,
            min_spread_ratio=min_spread_ratio,
            generator=generator,
            flow_guide=guide,
            flow_guide_power=power,
        )
        with _executor(scheduler) as ex:
            summary = run_pipeline(
                output,
                cfg,
                progress=None if quiet else progress_bar,
                log=console.print,
                executor=ex,
            )
        title = f"rekindle run ({profile}): {summary['model']}/{summary['physiology']}"
        table = Table(title=title)
        table.add_column("result")
        table.add_column("value", justify="right")
        for key in (
            "incidence_training",
            "incidence_generated",
            "returned_fraction_training",
            "returned_fraction_generated",
            "spread_ratio_generated",
            "iqr_ratio_generated",
            "c2st_generated",
            "c2st_noise_floor",
            "kl_train_first",
            "kl_train_last",
            "seconds",
        ):
            v = summary.get(key)
            table.add_row(key, "—" if v is None else f"{v:.4g}")
        top = summary.get("top_parameters") or []
        if top:
            table.add_row("top parameter (KL)", str(top[0]["name"]))
        stdout.print(table)
        console.print(f"run folder: {output}  (open {output / 'report.html'})")

    _run(go, quiet=quiet)


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
