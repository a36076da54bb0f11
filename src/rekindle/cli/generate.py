"""The ``generate`` command: complete parameter sets from a trained generator, or with
``--where`` exactly N engine-verified members of a class (:mod:`rekindle.cli.classes`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rekindle.cli._common import (
    ChunkSizeOpt,
    DatasetOutputOpt,
    ModelOpt,
    PhysOpt,
    QuietOpt,
    SchedulerOpt,
    WhereOpt,
    _executor,
    _run,
    _UserError,
    app,
    console,
    progress_bar,
)
from rekindle.cli.classes import generate_where

GenerateGeneratorOpt = Annotated[
    Path | None,
    typer.Option("--generator", "-g", help="generator.pt (with --where: a class sampler)"),
]
GenerateNOpt = Annotated[int, typer.Option("--n", help="Number of models.")]
GenerateClsOpt = Annotated[str, typer.Option("--class", help="relevant or not_relevant.")]
GenerateSeedOpt = Annotated[int, typer.Option("--seed", help="Noise seed.")]
GenerateValidateOpt = Annotated[bool, typer.Option(help="Label every model with the engine.")]
GenerateOnlyValidOpt = Annotated[
    bool, typer.Option(help="Keep only models the engine confirms; collect exactly N.")
]
GenerateSkimpyOpt = Annotated[
    Path | None, typer.Option("--skimpy", help="Also write the SKiMpy layout here.")
]
GenerateDeviceOpt = Annotated[
    str | None, typer.Option(help="cpu, cuda, cuda:N, mps (default: cpu).")
]
GenerateForceOpt = Annotated[
    bool, typer.Option(help="Discard the OUTPUT.partial of an interrupted generation.")
]
GenerateGuidedOpt = Annotated[
    bool | None,
    typer.Option(
        "--guided/--unguided",
        help="Flow with a relevance guide: Bayes-rule generation (default) or the "
        "class-conditional flow alone.",
    ),
]
GeneratePowerOpt = Annotated[
    float | None,
    typer.Option(help="Guided flow: keep a draw with probability c^power (default 1)."),
]
GenerateSaveSamplerOpt = Annotated[
    Path | None, typer.Option(help="--where: also write the class sampler here (.pt).")
]
GeneratePopulationOpt = Annotated[int, typer.Option(help="--where: sets per level.")]
GenerateThinOpt = Annotated[int, typer.Option(help="--where: pCN steps between kept states.")]
GenerateBurnInOpt = Annotated[
    int,
    typer.Option(
        "--burn-in",
        help="--where: pCN steps before the first kept state (200 was checked faithful down "
        "to max_eig < -30; -35 needed 300 with the block's jumps, 500 and --thin 100 "
        "without).",
    ),
]
GenerateBlockOpt = Annotated[
    int,
    typer.Option(
        "--block",
        help="--where: pCN chains also move the N coordinates the class constrains most "
        "with a Gaussian fitted in the burn-in (exact; 0: plain pCN).",
    ),
]
GenerateBlockBelowOpt = Annotated[
    float,
    typer.Option(
        "--block-when-beta-below",
        help="--where: fit the block only when pCN's adapted step falls below this "
        "(0.09: plain pCN was checked faithful above it; 1: always).",
    ),
]
GenerateJumpsOpt = Annotated[
    int,
    typer.Option(
        "--jumps",
        help="--where: with the block, independence jumps per step (block from its Gaussian, "
        "the rest from the prior; exact; 0: none; 2 with --burn-in 300 was checked faithful at "
        "max_eig < -35).",
    ),
]
GenerateDeliveryOpt = Annotated[
    str,
    typer.Option(
        help="--where: auto (filter or pCN), best (fit a proposal, take the cheapest), "
        "filter, pcn, imh, rejection."
    ),
]
GenerateScreenOpt = Annotated[
    bool,
    typer.Option(
        "--screen",
        help="--where with returns(...): integrate only the candidates a learned screen "
        "finds likely to return (each member still verified; the misses are audited).",
    ),
]
GenerateScreenRecallOpt = Annotated[
    float | None,
    typer.Option(help="--screen: fraction of the members the cut keeps (default 0.95)."),
]
GenerateScreenAuditOpt = Annotated[
    float | None,
    typer.Option(help="--screen: fraction integrated whatever the score (default 0.1)."),
]
GenerateSequentialOpt = Annotated[
    bool | None,
    typer.Option(
        "--sequential/--no-sequential",
        help="--where with returns(...): integrate a set's perturbations in stages and "
        "stop at the first that does not return (default: the same verdicts for fewer "
        "integrations); --no-sequential integrates every perturbation.",
        show_default=False,
    ),
]


@app.command()
def generate(
    output: DatasetOutputOpt,
    generator: GenerateGeneratorOpt = None,
    n: GenerateNOpt = 10_000,
    cls: GenerateClsOpt = "relevant",
    seed: GenerateSeedOpt = 0,
    validate: GenerateValidateOpt = False,
    only_valid: GenerateOnlyValidOpt = False,
    skimpy: GenerateSkimpyOpt = None,
    chunk_size: ChunkSizeOpt = 50_000,
    device: GenerateDeviceOpt = None,
    force: GenerateForceOpt = False,
    guided: GenerateGuidedOpt = None,
    power: GeneratePowerOpt = None,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
    where: WhereOpt = None,
    model: ModelOpt = "ecoli",
    physiology: PhysOpt = None,
    save_sampler: GenerateSaveSamplerOpt = None,
    population: GeneratePopulationOpt = 4000,
    thin: GenerateThinOpt = 50,
    burn_in: GenerateBurnInOpt = 200,
    block: GenerateBlockOpt = 40,
    block_below: GenerateBlockBelowOpt = 0.09,
    jumps: GenerateJumpsOpt = 2,
    delivery: GenerateDeliveryOpt = "auto",
    screen: GenerateScreenOpt = False,
    screen_recall: GenerateScreenRecallOpt = None,
    screen_audit: GenerateScreenAuditOpt = None,
    sequential: GenerateSequentialOpt = None,
) -> None:
    """Generate complete parameter sets (K_M + back-calculated V_max) of one class.

    With --where, exactly N engine-verified members of that class, from the model alone
    (or a class sampler as --generator): ORACLE's prior restricted to the class.
    """
    if where is not None:
        screen_options = {
            "screen": screen, "screen_recall": screen_recall, "screen_audit": screen_audit,
            "sequential_returns": sequential,
        }  # fmt: skip
        return _run(
            lambda: generate_where(
                where, output, n, seed, model, physiology, generator, save_sampler,
                population, thin, force, quiet, delivery, screen_options, burn_in,
                (block, block_below, jumps),
            )
        )  # fmt: skip

    def go() -> None:
        _let_idle_threads_sleep()
        _refuse_where_only_options(screen, sequential, screen_recall, screen_audit, delivery)
        if generator is None:
            raise _UserError("--generator is required (or --where for a class)")
        _check_generate_options(
            output, generator, n, cls, seed, chunk_size, device, skimpy, guided, power, scheduler
        )
        gan = _load_guided_generator(generator, device, guided, power)
        res = _generate_file(
            gan, output, n, cls, seed, validate, only_valid, chunk_size, force, scheduler, quiet
        )
        _report_generated(res, validate or only_valid)
        if skimpy is not None:
            _write_skimpy_copy(output, skimpy)

    _run(go, quiet=quiet)


def _refuse_where_only_options(
    screen: bool,
    sequential: bool | None,
    screen_recall: float | None,
    screen_audit: float | None,
    delivery: str,
) -> None:
    """Refuse ``generate``'s --where options given without --where (they would choose nothing)."""
    if screen or sequential is not None or screen_recall is not None or screen_audit is not None:
        raise _UserError(
            "--screen, --screen-recall, --screen-audit, --[no-]sequential apply only with --where"
        )
    if delivery != "auto":
        raise _UserError("--delivery applies only with --where")


def _check_generate_options(
    output: Path,
    generator: Path,
    n: int,
    cls: str,
    seed: int,
    chunk_size: int,
    device: str | None,
    skimpy: Path | None,
    guided: bool | None,
    power: float | None,
    scheduler: str | None,
) -> None:
    """Refuse bad ``generate`` options (one line) before the generator is read."""
    from rekindle import validation as check

    check.require_positive("--n", n)
    check.require_chunk_size(chunk_size, bound=check.MAX_CHUNK_SIZE)
    check.require_seed(seed)
    if cls not in ("relevant", "not_relevant"):
        raise _UserError(f"--class must be relevant or not_relevant, got {cls!r}")
    check.require_device(device)
    check.require_output_file(output)
    check.require_distinct(output, "--output", ("--generator", generator))
    if skimpy is not None:
        check.require_output_file(skimpy, "--skimpy")
        check.require_distinct(skimpy, "--skimpy", ("--output", output), ("--generator", generator))
    _check_guidance(guided, power)
    check.require_disk_space(output, n, 1)  # a lower bound, before anything heavy
    if not generator.exists():
        raise _UserError(f"generator file not found: {generator}")
    check.require_input_file(generator, "--generator")
    check.require_scheduler_address(scheduler)
    check.require_device_available(device)  # imports torch: after every cheap check


def _let_idle_threads_sleep() -> None:
    """Ask torch's OpenMP threads to sleep when idle (``OMP_WAIT_POLICY=PASSIVE``) unless
    the user chose a policy; only before torch is loaded, where OpenMP reads it.

    By default an idle OpenMP thread spins for a while after each parallel torch
    operation. While ``generate`` draws, a second thread completes and writes the
    previous chunk on the same cores, and the spinning takes its CPU. On 2 cores,
    ``generate --n 1000000`` (guided flow) took 19.0 / 18.3 / 18.0 s and 29.6 / 28.3 /
    27.6 CPU s with sleeping threads, against 21.8 / 20.3 / 18.0 s and 40.2 / 37.0 /
    33.2 CPU s spinning (``python benchmarks/bench_generate.py --generator G --repeats 3
    --no-breakdown``, then the same with ``OMP_WAIT_POLICY=ACTIVE``).
    """
    import os
    import sys

    if "torch" not in sys.modules:
        os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")


def _load_guided_generator(
    generator: Path, device: str | None, guided: bool | None, power: float | None
) -> Any:
    """The generator of ``generator``, its guidance set by --guided/--unguided/--power."""
    from rekindle.generation import load_generator, retain_freed_memory

    retain_freed_memory()  # this process only generates: reuse its large temporaries
    gan = load_generator(generator, device=device)
    if guided is not None or power is not None:
        if getattr(gan, "guide", None) is None:
            raise _UserError(f"--guided/--unguided/--power need a guided flow: {generator}")
        gan.set_guidance(guided, power)
    return gan


def _generate_file(
    gan: Any,
    output: Path,
    n: int,
    cls: str,
    seed: int,
    validate: bool,
    only_valid: bool,
    chunk_size: int,
    force: bool,
    scheduler: str | None,
    quiet: bool,
) -> dict[str, Any]:
    """Stream ``n`` generated models into ``output`` (``generation.generate_dataset``)."""
    from rekindle import validation as check
    from rekindle.generation import generate_dataset
    from rekindle.io.model_bundle import generator_bundle

    n_parameters = generator_bundle(gan).model.n_parameters  # the model it carries
    check.require_disk_space(output, n, n_parameters)
    with _executor(scheduler) as ex, progress_bar("generating", n, quiet) as update:
        return generate_dataset(
            gan, n, output, cls=cls, seed=seed, validate=validate, only_valid=only_valid,
            chunk_size=chunk_size, force=force, progress=update, executor=ex,
        )  # fmt: skip


def _report_generated(res: dict[str, Any], labelled: bool) -> None:
    """``generate``'s closing line: models written (and the engine-labelled incidence)."""
    msg = f"wrote {res['path']}: {res['n_written']} models"
    if labelled:
        msg += (
            f"; engine-labelled incidence of relevant models {res['incidence']:.4f} "
            f"({res['n_generated']} generated)"
        )
    console.print(msg)


def _write_skimpy_copy(output: Path, skimpy: Path) -> None:
    """Write the generated dataset ``output`` again in the SKiMpy layout at ``skimpy``."""
    from rekindle.io.dataset import read_dataset
    from rekindle.io.skimpy_hdf5 import write_parameter_population

    ds = read_dataset(output)
    write_parameter_population(skimpy, ds.parameters, ds.parameter_names)
    console.print(f"wrote {skimpy} (SKiMpy layout)")


def _check_guidance(guided: bool | None, power: float | None) -> None:
    """``generate``'s --guided/--unguided and --power, before anything is read."""
    from rekindle import validation as check

    if power is not None and not check.require_finite("--power", power) > 0:
        raise _UserError(f"--power must be positive, got {power}")
    if power is not None and guided is False:
        raise _UserError("--power applies only to guided generation (drop --unguided)")
