"""The main job and its report: run, report."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from rekindle.cli._common import (
    ModelOpt,
    QuietOpt,
    SchedulerOpt,
    SeedOpt,
    _executor,
    _run,
    _UserError,
    app,
    console,
    progress_bar,
    refuse_other_generator_options,
    stdout,
)
from rekindle.pipeline import PROFILES, RunConfig

_DEFAULT = PROFILES["default"]


RunOutputOpt = Annotated[Path, typer.Option("--output", "-o", help="Run folder.")]
RunProfileOpt = Annotated[str, typer.Option(help="default (≤15 min, 2 cores), paper, smoke.")]
RunPhysiologyOpt = Annotated[str, typer.Option("--physiology", "-p")]
RunEpochsOpt = Annotated[int | None, typer.Option("--epochs", help="Override the profile.")]
RunNSetsOpt = Annotated[int | None, typer.Option("--n-sets", help="Override the profile.")]
RunRepeatsOpt = Annotated[int | None, typer.Option("--repeats", help="Override the profile.")]
RunMinSpreadRatioOpt = Annotated[
    float | None,
    typer.Option(help="Override the profile: keep only generators this wide (see train)."),
]
RunGeneratorOpt = Annotated[
    str | None,
    typer.Option(
        "--generator", help="Override the profile: flow (default profile) or cgan (paper)."
    ),
]
RunGuideOpt = Annotated[
    bool | None,
    typer.Option(
        "--guide/--no-guide",
        help="Override the profile: the flow's relevance guide (default profile: on).",
    ),
]
RunPowerOpt = Annotated[
    float | None,
    typer.Option(help="Override the profile: guided acceptance exponent (default 1)."),
]
RunThresholdOpt = Annotated[
    float | None,
    typer.Option(
        "--threshold",
        help="Override the profile: relevance threshold on max Re(λ), 1/h (default "
        f"{_DEFAULT.threshold:g}, E. coli's doubling time; a larger network whose "
        "slowest mode never falls below it needs its own).",
    ),
]
RunWhereOpt = Annotated[
    str | None,
    typer.Option(
        "--where",
        help="The class the run learns, instead of --threshold: any eigenvalue class "
        "('max_eig < -20', '-30 < max_eig < -9', 'max_eig > -5', 'tau_min < 3', "
        "'relevant'); recorded in every output.",
    ),
]


@app.command()
def run(
    output: RunOutputOpt = Path("runs/default"),
    profile: RunProfileOpt = "default",
    model: ModelOpt = _DEFAULT.model,
    physiology: RunPhysiologyOpt = _DEFAULT.physiology,
    seed: SeedOpt = _DEFAULT.seed,
    epochs: RunEpochsOpt = None,
    n_sets: RunNSetsOpt = None,
    repeats: RunRepeatsOpt = None,
    min_spread_ratio: RunMinSpreadRatioOpt = None,
    generator: RunGeneratorOpt = None,
    guide: RunGuideOpt = None,
    power: RunPowerOpt = None,
    threshold: RunThresholdOpt = None,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
    where: RunWhereOpt = None,
) -> None:
    """The main job: sample ORACLE data, train, generate, validate, analyse, report."""

    def go() -> None:
        _check_run_options(
            output, profile, seed, epochs, n_sets, repeats, min_spread_ratio, generator,
            guide, power, threshold, scheduler, where,
        )  # fmt: skip
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
            threshold=threshold,
            where=where,
        )
        _require_run_fits(output, cfg)
        with _executor(scheduler) as ex:
            summary = run_pipeline(
                output,
                cfg,
                progress=None if quiet else progress_bar,
                log=console.print,
                executor=ex,
            )
        _print_run_summary(summary, profile, output)

    _run(go, quiet=quiet)


def _check_run_options(
    output: Path,
    profile: str,
    seed: int,
    epochs: int | None,
    n_sets: int | None,
    repeats: int | None,
    min_spread_ratio: float | None,
    generator: str | None,
    guide: bool | None,
    power: float | None,
    threshold: float | None,
    scheduler: str | None,
    where: str | None,
) -> None:
    """Refuse bad ``run`` options (one line) before anything is read or written."""
    from rekindle import validation as check

    for option, value in (("--epochs", epochs), ("--n-sets", n_sets), ("--repeats", repeats)):
        if value is not None:
            check.require_positive(option, value)
    if epochs is not None:
        check.require_at_most("--epochs", epochs, check.MAX_EPOCHS)
    if repeats is not None:
        check.require_at_most("--repeats", repeats, check.MAX_REPEATS)
    check.require_seed(seed)
    if power is not None and not check.require_finite("--power", power) > 0:
        raise _UserError(f"--power must be positive, got {power}")
    if min_spread_ratio is not None:
        check.require_finite("--min-spread-ratio", min_spread_ratio)
    if threshold is not None:
        check.require_finite("--threshold", threshold)
    from rekindle.cli.classes import class_choice, eigenvalue_class

    eigenvalue_class(class_choice(where, {"--threshold": threshold}), str(where), "run")
    if profile not in PROFILES:
        raise _UserError(f"unknown profile {profile!r} (known: {', '.join(PROFILES)})")
    _refuse_ignored_options(
        generator or PROFILES[profile].generator,
        profile,
        {"--epochs": epochs, "--repeats": repeats, "--min-spread-ratio": min_spread_ratio},
        {"--guide/--no-guide": guide, "--power": power},
    )
    if power is not None and guide is False:
        raise _UserError("--power applies only with the guide (drop --no-guide)")
    check.require_output_folder(output)
    check.require_scheduler_address(scheduler)


_SUMMARY_ROWS = (
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
)
"""The summary.json figures ``run`` prints, in order."""


def _print_run_summary(summary: dict[str, Any], profile: str, output: Path) -> None:
    """The run's headline figures as a table on stdout, and where its report is."""
    title = f"rekindle run ({profile}): {summary['model']}/{summary['physiology']}"
    table = Table(title=title)
    table.add_column("result")
    table.add_column("value", justify="right")
    for key in _SUMMARY_ROWS:
        v = summary.get(key)
        table.add_row(key, "—" if v is None else f"{v:.4g}")
    top = summary.get("top_parameters") or []
    if top:
        table.add_row("top parameter (KL)", str(top[0]["name"]))
    stdout.print(table)
    console.print(f"run folder: {output}  (open {output / 'report.html'})")


def _refuse_ignored_options(
    generator: str,
    profile: str,
    cgan_options: dict[str, object],
    flow_options: dict[str, object],
) -> None:
    """Refuse options that the run's generator would ignore (cGAN-only with the flow,
    flow-only with the cGAN)."""
    refuse_other_generator_options(
        generator,
        cgan_options,
        flow_options,
        f"this run: --generator {generator}, profile {profile}",
    )


def _require_run_fits(output: Path, cfg: RunConfig) -> None:
    """Refuse a run whose ORACLE data cannot fit on the output's disk (as ``sample``)."""
    from rekindle import validation as check
    from rekindle.io.model_bundle import load_bundle

    model = load_bundle(cfg.model, cfg.physiology).model
    check.require_disk_space(
        output / "oracle.h5", cfg.sample_size_for(model.n_parameters), model.n_parameters,
        "--n-sets",
    )  # fmt: skip


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
