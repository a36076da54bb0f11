"""Validation analyses of populations and generators: dynamics, perturb, interpret."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer
from rich.table import Table

from rekindle.analysis.perturbation import PerturbationSettings as _PERTURBATION
from rekindle.cli._common import (
    AllowNonSteadyOpt,
    OutputFolderOpt,
    QuietOpt,
    SchedulerOpt,
    SeedOpt,
    WhereOpt,
    _checked_dataset,
    _checked_stream,
    _engine_of,
    _executor,
    _run,
    _UserError,
    app,
    console,
    progress_bar,
    stdout,
)
from rekindle.cli.classes import (
    class_choice,
    class_members,
    class_record,
    eigenvalue_class,
    training_copy,
)
from rekindle.flow.config import GuideConfig
from rekindle.progress import no_progress
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H as DEFAULT_THRESHOLD
from rekindle.stages import InterpretabilitySettings

_INTERPRETABILITY = InterpretabilitySettings()
_GUIDE = GuideConfig()

LabelOpt = Annotated[
    list[str],
    typer.Option(
        "--label",
        help="Name of each dataset in tables and figures (repeat, one per dataset; "
        "default: file names, with their folders where two are equal).",
    ),
]


@app.command()
def dynamics(
    datasets: Annotated[list[Path], typer.Argument(help="Datasets (.h5) to compare.")],
    output: OutputFolderOpt,
    relevant_only: Annotated[bool, typer.Option(help="Only the relevant models of each.")] = False,
    threshold: Annotated[
        float | None,
        typer.Option(
            "--threshold",
            help=f"Relevance threshold on max Re(λ), 1/h (default {DEFAULT_THRESHOLD:g}).",
        ),
    ] = None,
    labels: LabelOpt = [],  # noqa: B006
    allow_non_steady: AllowNonSteadyOpt = False,
    where: WhereOpt = None,
) -> None:
    """Distributions of max Re(λ) and of the dominant time constant (paper Fig. 2d).

    Also the spread ratio of each dataset's K_M against the relevant models of the
    first dataset (std of ln K_M, median over the K_M; 1 = as wide, 0 = collapsed).
    With --where, only the members of that class (by stored max Re(λ)), against the
    first dataset's members; the class is written to dynamics.csv (class_where).
    """

    def go() -> None:
        from rekindle import validation as check
        from rekindle.analysis.populations import population_names
        from rekindle.stages import analyse_dynamics, measure_spread

        spec = class_choice(where, {"--relevant-only": relevant_only, "--threshold": threshold})
        eigenvalue_class(spec, str(where), "dynamics")
        cut = DEFAULT_THRESHOLD if threshold is None else threshold
        check.require_finite("--threshold", cut)
        if spec is not None and np.isfinite(spec.eig_interval[1]):
            cut = spec.eig_interval[1]  # the figure's line and fraction_relevant: its bound
        check.require_output_folder(output)
        names = population_names(datasets, labels)
        pops, spreads, km_reference, data = {}, {}, None, []
        for name, path in zip(names, datasets, strict=True):
            ds, system, _, _ = _checked_dataset(path, allow_non_steady)
            if spec is not None:
                chosen = class_members(spec, ds.max_real_eigenvalue, path)
            elif relevant_only:
                chosen = ds.relevant
            else:
                chosen = np.ones(ds.n_models, bool)
            lam = ds.max_real_eigenvalue[chosen]
            if np.isnan(lam).all():
                raise _UserError(f"{path} has no eigenvalues (generated without --validate?)")
            data.append(ds)
            _engine_of(data, same_physiology=False)  # the data carry one model
            pops[name] = lam
            km = system.km_of(ds.parameters[chosen])
            if km_reference is None:
                km_reference = system.km_of(
                    ds.parameters[chosen if spec is not None else ds.relevant]
                )
            spreads[name] = measure_spread(km, km_reference).spread_ratio_median
        dyn = analyse_dynamics(
            pops,
            output,
            threshold=cut,
            spread_ratio=spreads,
            class_where=None if spec is None else class_record(spec)["class_where"],
        )
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


PerturbDatasetsOpt = Annotated[
    list[Path], typer.Argument(help="Datasets (.h5); relevant models are used.")
]
_PERTURB_DEFAULT = {
    k: _PERTURBATION.default(k) for k in ("n_perturbations", "criterion", "followers", "t_end")
}
"""Defaults of ``perturb``'s options (the analysis settings' own)."""
PerturbModelsOpt = Annotated[int, typer.Option("--models", help="Models per dataset.")]
PerturbPerturbationsOpt = Annotated[int, typer.Option("--perturbations", help="Per model.")]
PerturbProtocolOpt = Annotated[
    str,
    typer.Option(
        help="paper (the authors' code: linear in 0.5–2×, every state in the box), "
        "fold (log-uniform 0.5–2×) or uniform (±50 %, Methods text)."
    ),
]
PerturbCriterionOpt = Annotated[
    str,
    typer.Option(
        help="Return criterion of the headline fraction: abs-l2 (‖X−X_ref‖/‖X_ref‖, "
        "Methods), rel-l2 (‖X/X_ref−1‖, the authors' code) or rel-max; all three "
        "are written to perturbation.json."
    ),
]
PerturbFollowersOpt = Annotated[
    str,
    typer.Option(help="States that keep the moiety totals: largest pools or link matrix."),
]
PerturbTEndOpt = Annotated[
    float, typer.Option("--t-end", help="Time of the return test, h (0.35 = 21 min).")
]


@app.command()
def perturb(
    datasets: PerturbDatasetsOpt,
    output: OutputFolderOpt,
    models: PerturbModelsOpt = 1000,
    perturbations: PerturbPerturbationsOpt = _PERTURB_DEFAULT["n_perturbations"],
    protocol: PerturbProtocolOpt = "fold",
    criterion: PerturbCriterionOpt = _PERTURB_DEFAULT["criterion"],
    followers: PerturbFollowersOpt = _PERTURB_DEFAULT["followers"],
    t_end: PerturbTEndOpt = _PERTURB_DEFAULT["t_end"],
    seed: SeedOpt = 0,
    labels: LabelOpt = [],  # noqa: B006
    allow_non_steady: AllowNonSteadyOpt = False,
    scheduler: SchedulerOpt = None,
    quiet: QuietOpt = False,
    where: WhereOpt = None,
) -> None:
    """Perturbation analysis: fraction of models returning to the steady state (Fig. 2e).

    Models whose reference state is not a steady state are refused (they cannot return
    to it); --allow-non-steady keeps them. With --where, the members of that class (by
    stored max Re(λ)) are perturbed instead of the relevant models; the class is
    written to perturbation.json.
    """

    def go() -> None:
        from rekindle import validation as check
        from rekindle.stages import analyse_perturbations

        _check_perturb_options(models, perturbations, t_end, seed, scheduler)
        spec = eigenvalue_class(class_choice(where, {}), str(where), "perturb")
        settings = _PERTURBATION(
            protocol=protocol,
            n_perturbations=perturbations,
            seed=seed,
            t_end=t_end,
            criterion=criterion,
            followers=followers,
        )
        check.require_output_folder(output)
        pops, data = _perturbed_populations(datasets, labels, spec, allow_non_steady)
        system, phys = _engine_of(data)  # one model and physiology, carried by the data
        with _executor(scheduler) as ex:
            res = analyse_perturbations(
                system,
                phys,
                pops,
                output,
                settings,
                n_models=models,
                progress=no_progress if quiet else progress_bar,
                log=console.print,
                executor=ex,
                record=None if spec is None else class_record(spec),
            )
        for name, r in res.results.items():
            fr = r.fractions_returned()
            console.print(
                f"{name}: returned ({settings.criterion}) {r.fraction_returned:.4f} of "
                f"{r.n_integrations:,}; abs-l2 {fr['abs-l2']:.4f}, rel-l2 {fr['rel-l2']:.4f}, "
                f"rel-max {fr['rel-max']:.4f}; blown up {r.n_blown_up}, failed {r.n_failed}"
            )
        console.print(f"wrote {output / 'perturbation.json'}")

    _run(go, quiet=quiet)


def _check_perturb_options(
    models: int, perturbations: int, t_end: float, seed: int, scheduler: str | None
) -> None:
    """Refuse bad ``perturb`` counts, time, seed and scheduler (one line)."""
    from rekindle import validation as check

    check.require_positive("--models", models)
    check.require_positive("--perturbations", perturbations)
    check.require_at_most("--perturbations", perturbations, check.MAX_PERTURBATIONS)
    if not check.require_finite("--t-end", t_end) > 0:
        raise _UserError(f"--t-end must be positive, got {t_end}")
    check.require_at_most("--t-end", t_end, check.MAX_T_END_H, "h; stiff integrations beyond fail")
    check.require_seed(seed)
    check.require_scheduler_address(scheduler)


def _perturbed_populations(
    datasets: list[Path], labels: list[str], spec: Any, allow_non_steady: bool
) -> tuple[dict[str, np.ndarray], list[Any]]:
    """The parameter sets ``perturb`` perturbs, by population name, and the datasets read.

    The class members of each dataset (``spec``), else its relevant models (refused in one
    line when it has none).
    """
    from rekindle.analysis.populations import population_names

    pops, data = {}, []
    for name, path in zip(population_names(datasets, labels), datasets, strict=True):
        ds, _, _, _ = _checked_dataset(path, allow_non_steady)
        if spec is not None:
            chosen = class_members(spec, ds.max_real_eigenvalue, path)
        elif not ds.relevant.any():
            raise _UserError(
                f"{path} has no relevant model to perturb ({ds.n_models} sets, none "
                "labelled relevant)"
            )
        else:
            chosen = ds.relevant
        data.append(ds)
        pops[name] = ds.parameters[chosen]
    return pops, data


@app.command()
def interpret(
    generator: Annotated[Path, typer.Option("--generator", "-g", help="generator.pt")],
    output: OutputFolderOpt,
    n_per_class: Annotated[
        int, typer.Option(help="Relevant and non-relevant models.")
    ] = _INTERPRETABILITY.n_per_class,
    n_subpopulation: Annotated[
        int, typer.Option(help="Relevant models split in deciles.")
    ] = _INTERPRETABILITY.n_subpopulation,
    seed: SeedOpt = _INTERPRETABILITY.seed,
    where: WhereOpt = None,
) -> None:
    """Rank the K_M by KL divergence between generated relevant and non-relevant models (Fig. 3).

    GENERATOR is either kind (the flow, the default, or the cGAN). With --where, the pair
    is the members and non-members of that class (engine-labelled) among the
    generator's relevant-class models; the class is written to interpretability.json.
    """

    def go() -> None:
        from rekindle import validation as check

        check.require_positive("--n-per-class", n_per_class)
        check.require_positive("--n-subpopulation", n_subpopulation)
        check.require_at_most("--n-per-class", n_per_class, check.MAX_EVAL_MODELS)
        check.require_at_most("--n-subpopulation", n_subpopulation, check.MAX_EVAL_MODELS)
        check.require_seed(seed)
        spec = eigenvalue_class(class_choice(where, {}), str(where), "interpret")
        check.require_output_folder(output)
        if not generator.exists():
            raise _UserError(f"generator file not found: {generator}")
        check.require_input_file(generator, "--generator")

        from rekindle.generation import labeller_for, load_generator
        from rekindle.io.atomic import write_json
        from rekindle.stages import analyse_interpretability

        settings = InterpretabilitySettings(n_per_class, n_subpopulation, seed)
        gan = load_generator(generator)  # the cGAN or the flow, by the file's format
        res = analyse_interpretability(
            gan, labeller_for(gan), output, settings, log=console.print, spec=spec
        ).summary()
        if spec is not None:
            res |= class_record(spec)
        write_json(output / "interpretability.json", res)
        table = Table(title="top parameters by KL(relevant ‖ not relevant)")
        table.add_column("rank", justify="right")
        table.add_column("parameter")
        table.add_column("KL (nats)", justify="right")
        for i, row in enumerate(res.get("top_parameters", []), 1):
            table.add_row(str(i), str(row["name"]), f"{row['kl']:.4f}")
        stdout.print(table)

    _run(go)


def _require_classes_per_size(data: Path, sizes: list[int]) -> None:
    """Each training size (the first N sets) holds enough sets of each class to train on."""
    from rekindle.io.dataset import open_dataset, require_class_counts

    with open_dataset(data) as f:
        relevant = np.asarray(f["relevant"][: max(sizes)], dtype=bool)
    for size in sizes:
        require_class_counts(size, int(relevant[:size].sum()), f"--sizes {size} ({data})")


DEFAULT_CURVE_SIZES = (20_000, 200_000, 2_000_000)
"""``learning-curve`` sizes when --sizes is not given."""


CurveDataOpt = Annotated[
    Path, typer.Option("--data", "-d", help="Large labelled dataset (.h5), read in chunks.")
]
CurveHeldoutOpt = Annotated[
    Path, typer.Option("--heldout", help="Independent ORACLE dataset (another seed).")
]
CurveSizesOpt = Annotated[
    list[int] | None, typer.Option("--sizes", help="Training-set sizes (repeat).")
]
CurveTransformsOpt = Annotated[
    int, typer.Option(help="Learnt coupling transforms of the flow (0: the copula).")
]
CurveEpochsOpt = Annotated[int, typer.Option(help="Passes of the learnt layers.")]
CurveGuideOpt = Annotated[
    bool, typer.Option("--guide/--no-guide", help="Train the relevance guide too.")
]
CurveGuideEpochsOpt = Annotated[
    float, typer.Option(help="Passes of the relevance guide over the data.")
]
CurveGuideMaxStepsOpt = Annotated[int, typer.Option(min=1, help="Cap on the guide's AdamW steps.")]
CurvePowersOpt = Annotated[
    list[float] | None,
    typer.Option("--power", help="Guided acceptance exponent(s) evaluated (repeat; 1)."),
]
CurveNEvalOpt = Annotated[int, typer.Option(help="Relevant-class models generated per size.")]


@app.command("learning-curve")
def learning_curve_command(
    data: CurveDataOpt,
    heldout: CurveHeldoutOpt,
    output: OutputFolderOpt,
    sizes: CurveSizesOpt = None,
    transforms: CurveTransformsOpt = 0,
    epochs: CurveEpochsOpt = 1,
    guide: CurveGuideOpt = True,
    guide_epochs: CurveGuideEpochsOpt = _GUIDE.epochs,
    guide_max_steps: CurveGuideMaxStepsOpt = _GUIDE.max_steps,
    powers: CurvePowersOpt = None,
    n_eval: CurveNEvalOpt = 3000,
    seed: SeedOpt = 7,
    where: WhereOpt = None,
) -> None:
    """Train the flow generator on the first N sets of DATA for each size; report incidence
    (engine-labelled), width and C2ST at each → learning_curve.csv/.json/.png. With the guide
    (default) both the copula alone and guided generation are evaluated.

    Sizes default to 20 000, 200 000 and 2 000 000 sets (DATA must hold as many).
    With --where (any eigenvalue class, as train takes: 'max_eig < X', a band
    'X < max_eig < Y', 'max_eig > X'), DATA and HELDOUT are relabelled by that class in
    copies in OUTPUT; incidences count its members and every row records the class.
    """

    def go() -> None:
        chosen = sorted(set(sizes or DEFAULT_CURVE_SIZES))
        _check_curve_options(
            output, data, heldout, chosen, transforms, epochs, guide, guide_epochs,
            guide_max_steps, powers, n_eval, seed,
        )  # fmt: skip
        spec = class_choice(where, {})

        from rekindle.analysis.learning_curve import learning_curve
        from rekindle.flow import FlowConfig, GuideConfig
        from rekindle.stages.learning_curve import write_learning_curve

        train_data, heldout_data = _checked_curve_data(data, heldout, output, chosen, spec, where)
        rows = learning_curve(
            train_data,
            heldout_data,
            chosen,
            FlowConfig(transforms=transforms, epochs=epochs),
            guide_config=(
                GuideConfig(epochs=guide_epochs, max_steps=guide_max_steps) if guide else None
            ),
            powers=powers or [1.0],
            n_eval=n_eval,
            seed=seed,
            log=console.print,
        )
        if spec is not None:
            rows = [{**row, **class_record(spec)} for row in rows]
        paths = write_learning_curve(rows, output)
        _print_curve_table(rows)
        console.print(f"wrote {paths['csv']}, {paths['figure']}")

    _run(go)


def _check_curve_options(
    output: Path,
    data: Path,
    heldout: Path,
    sizes: list[int],
    transforms: int,
    epochs: int,
    guide: bool,
    guide_epochs: float,
    guide_max_steps: int,
    powers: list[float] | None,
    n_eval: int,
    seed: int,
) -> None:
    """Refuse bad ``learning-curve`` options (one line) before any data is read."""
    from rekindle import validation as check

    for size in sizes:
        check.require_positive("--sizes", size)
    if not 0 <= transforms <= check.MAX_TRANSFORMS:
        raise _UserError(f"--transforms must be in 0…{check.MAX_TRANSFORMS}, got {transforms}")
    check.require_positive("--epochs", epochs)
    check.require_at_most("--epochs", epochs, check.MAX_EPOCHS)
    if not check.require_finite("--guide-epochs", guide_epochs) > 0:
        raise _UserError(f"--guide-epochs must be positive, got {guide_epochs}")
    check.require_at_most("--guide-epochs", guide_epochs, check.MAX_GUIDE_EPOCHS)
    check.require_at_most("--guide-max-steps", guide_max_steps, check.MAX_GUIDE_STEPS)
    for p in powers or []:
        if not check.require_finite("--power", p) > 0:
            raise _UserError(f"--power must be positive, got {p}")
    if powers and not guide:
        raise _UserError("--power applies only with the guide (drop --no-guide)")
    check.require_positive("--n-eval", n_eval)
    check.require_at_most("--n-eval", n_eval, check.MAX_EVAL_MODELS)
    check.require_seed(seed)
    check.require_output_folder(output)
    check.require_distinct(
        heldout, "--heldout", ("--data", data), reason="the held-out data must be independent"
    )


def _checked_curve_data(
    data: Path, heldout: Path, output: Path, sizes: list[int], spec: Any, where: str | None
) -> tuple[Path, Path]:
    """The training and held-out files of ``learning-curve``, checked as ``train`` checks.

    With a class (``spec``), relabelled copies in ``output`` (removed again if the data are
    refused); otherwise ``data`` and ``heldout`` themselves.
    """
    from rekindle import validation as check
    from rekindle.io.dataset import read_dataset

    for option, path in (("--data", data), ("--heldout", heldout)):
        if path.exists():
            check.require_input_file(path, option)
    eigenvalue_class(spec, str(where), "learning-curve")
    n_data = read_dataset(data, rows=slice(0, 0)).metadata.get("n_models")
    too_large = [s for s in sizes if n_data is not None and s > int(n_data)]
    if too_large:
        raise _UserError(
            f"--sizes {', '.join(map(str, too_large))}: {data} has only {n_data} sets "
            "(each size trains on the first N sets)"
        )
    train_data, heldout_data = data, heldout
    copies: list[Path] = []
    try:
        if spec is not None:  # relabelled copies; removed again if the data are refused
            for path, name in ((data, "data_where.h5"), (heldout, "heldout_where.h5")):
                copies.append(training_copy(path, str(where), output, name, "learning-curve"))
            train_data, heldout_data = copies
        # the data as `train` checks them (steady states, flags consistent with λ) up to
        # the largest size, each size with enough sets of each class; the held-out data
        # whole
        _require_classes_per_size(train_data, sizes)
        _checked_stream(train_data, max_sets=max(sizes))
        _checked_dataset(heldout_data)
    except BaseException:
        for copy in copies:
            copy.unlink(missing_ok=True)
        raise
    return train_data, heldout_data


def _print_curve_table(rows: list[dict[str, Any]]) -> None:
    """Every learning-curve row (generator, size, incidence, width, C2ST, KS λ) on stdout."""
    table = Table(title="flow generator vs training-set size (relevant class)")
    columns = ("generator", "sets", "incidence", "std ratio", "IQR ratio", "C2ST", "floor")
    for col in (*columns, "KS λ"):
        table.add_column(col, justify="right")
    for r in rows:
        table.add_row(
            r["generator"],
            f"{r['n_sets']:,}",
            f"{r['incidence']:.3f}",
            f"{r['spread_ratio_generated']:.3f}",
            f"{r['iqr_ratio_generated']:.3f}",
            f"{r['c2st_generated']:.3f}",
            f"{r['c2st_noise_floor']:.3f}",
            f"{r['ks_max_eig']:.3f}",
        )
    stdout.print(table)
