"""Classes written as ``--where`` sentences: the shared option, ``relabel``, and the
class generation behind ``generate --where`` (:mod:`rekindle.classes`)."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Annotated, Any

import typer

from rekindle.cli._common import (
    _run,
    _UserError,
    app,
    console,
    progress_bar,
)


def parse_class(where: str) -> Any:
    """The :class:`~rekindle.classes.ClassSpec` of a ``--where`` sentence (one-line refusal)."""
    from rekindle.classes.grammar import parse_where

    return parse_where(where)


def class_choice(where: str | None, others: dict[str, object]) -> Any:
    """The class of ``--where`` (None without it), refusing other options that choose the
    class too (``others``: option name → value, None/False when not given): one line."""
    if where is None:
        return None
    given = [name for name, value in others.items() if value not in (None, False)]
    if given:
        raise _UserError(f"--where and {', '.join(given)} both choose the class: give one of them")
    return parse_class(where)


def eigenvalue_class(spec: Any, where: str, command: str) -> Any:
    """``spec``, refused (one line) when it has a returns clause: ``command`` classifies
    models by their max Re(λ) alone."""
    if spec is not None and spec.returns is not None:
        raise _UserError(
            f"--where {where!r}: {command} classifies models by their max Re(λ) alone; a returns "
            "clause needs integrations (draw its members with 'rekindle generate --where')"
        )
    return spec


def class_members(spec: Any, max_real_eigenvalue: Any, source: object) -> Any:
    """Bool ``(n,)``: the sets of ``source`` in the eigenvalue class ``spec``; refuses data
    holding none (one line)."""
    from rekindle.classes.grammar import format_where

    member = spec.eig_member(max_real_eigenvalue)
    if not member.any():
        raise _UserError(
            f"{source} has no member of the class {format_where(spec)!r} ({member.size} sets)"
        )
    return member


def class_record(spec: Any) -> dict[str, Any]:
    """``{"class_where", "class_spec"}`` (a sentence and a mapping) for JSON outputs."""
    from rekindle.classes.grammar import format_where

    return {"class_where": format_where(spec), "class_spec": spec.to_dict()}


def label_stored(path: Path, spec: Any) -> tuple[int, int]:
    """Relabel the dataset ``path`` in place by ``spec`` from its stored max Re(λ).

    Returns ``(members, rows)``.
    """
    from rekindle.classes.store import write_class
    from rekindle.io.dataset import read_dataset

    if spec.returns is not None:
        raise _UserError(
            "--where: a returns clause needs integrations, not stored eigenvalues; "
            "use 'rekindle generate --where' to draw members of it"
        )
    ds = read_dataset(path)
    member = spec.evaluate(ds.max_real_eigenvalue)
    write_class(path, spec, member)
    return int(member.sum()), ds.n_models


def training_copy(
    data: Path, where: str, output: Path, name: str = "data_where.h5", command: str = "train"
) -> Path:
    """``train --where``: a copy of ``data`` in ``output`` (as ``name``) labelled by the class.

    Any eigenvalue class (``max_eig < X``, a band ``X < max_eig < Y``, ``max_eig > X``,
    ``tau_min < T``, conjunctions) is taken; the copy records it (the generators learn it
    and label by it, :func:`rekindle.io.dataset.relevance_interval`) and its threshold
    (:func:`~rekindle.classes.store.class_threshold`). A returns clause is refused (one
    line naming ``command``): it needs integrations.
    """
    spec = eigenvalue_class(parse_class(where), where, command)
    if not data.is_file():
        raise _UserError(f"dataset not found: {data}")
    output.mkdir(parents=True, exist_ok=True)
    copy = output / name
    shutil.copyfile(data, copy)
    label_stored(copy, spec)
    return copy


@app.command()
def relabel(
    dataset: Annotated[Path, typer.Argument(help="rekindle dataset (.h5).")],
    where: Annotated[str, typer.Option("--where", help="The new class (see generate --where).")],
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write here (default: in place).")
    ] = None,
) -> None:
    """Give a dataset a new class from its stored max Re(λ), without re-sampling."""

    def go() -> None:
        from rekindle import validation as check

        spec = parse_class(where)
        if not dataset.is_file():
            raise _UserError(f"dataset not found: {dataset}")
        target = dataset
        if output is not None:
            check.require_output_file(output)
            shutil.copyfile(dataset, output)
            target = output
        members, rows = label_stored(target, spec)
        console.print(
            f"wrote {target}: class {where!r}, {members} members of {rows} "
            f"({members / max(rows, 1):.4g})"
        )

    _run(go)


#: The settings of ``generate_where``'s ``block`` triple, in order.
BLOCK_SETTINGS = ("block_size", "block_below_beta", "block_jumps")


def generate_where(
    where: str,
    output: Path,
    n: int,
    seed: int,
    model: str,
    physiology: str | None,
    generator: Path | None,
    save_sampler: Path | None,
    population: int,
    thin: int,
    force: bool,
    quiet: bool,
    delivery: str = "auto",
    screen: dict[str, Any] | None = None,
    burn_in: int = 200,
    block: tuple[int, float, int] | None = None,
) -> None:
    """``generate --where``: exactly ``n`` verified members of a class (see
    :func:`rekindle.classes.generate.generate_class`), from the model alone or from a
    class-sampler file given as ``--generator``. ``screen``: ``{"screen": bool,
    "screen_recall": float | None, "screen_audit": float | None, "sequential_returns":
    bool | None}`` (None: not given), the learned screen (:mod:`rekindle.classes.screen`)
    and the sequential return test of a class with a return clause
    (:class:`~rekindle.classes.ClassSamplerSettings`);
    ``block``: ``(block_size, block_below_beta, block_jumps)`` of the pCN chains (None:
    the settings' defaults)."""
    spec = parse_class(where)
    screen_options = _screen_options(spec, where, screen)
    _check_where_counts(output, n, seed, population, thin, save_sampler)
    if burn_in < 0:
        raise _UserError(f"--burn-in must be ≥ 0, got {burn_in}")
    if block is not None and block[0] < 0:
        raise _UserError(f"--block must be ≥ 0, got {block[0]}")
    bundle, start = _class_source(spec, generator, model, physiology)
    settings = _sampler_settings(population, thin, seed, delivery, screen_options, burn_in, block)

    from rekindle.classes.generate import generate_class

    with progress_bar("class members", n, quiet) as update:
        draw = generate_class(
            bundle.model,
            bundle.physiology,
            spec,
            n,
            output,
            settings,
            start=start,
            save_sampler=save_sampler,
            force=force,
            progress=update,
        )
    console.print(_class_draw_line(output, n, where, spec, bundle, draw))
    caution = slow_mixing_caution(draw.diagnostics, burn_in, thin, continued=start is not None)
    if caution:
        console.print(caution)


def slow_mixing_caution(
    diagnostics: dict[str, Any], burn_in: int, thin: int, *, continued: bool
) -> str | None:
    """The one-line caution of a chains delivery whose plain pCN step fell below the
    smallest checked faithful (``slow_mixing``), unless the burn-in (not for a
    ``continued`` sampler, whose chains were burnt in) and the thin are already at least
    those checked faithful at max_eig < −35 — with the block's jumps
    (``diagnostics["block_jumps"]``) at least as many as checked, or without them; else
    None."""
    from rekindle.classes.chains import (
        JUMPS_BURN_IN_CHECKED,
        JUMPS_CHECKED,
        JUMPS_THIN_CHECKED,
        PCN_BETA_CHECKED,
        SLOW_BURN_IN_CHECKED,
        SLOW_THIN_CHECKED,
    )

    jumps = diagnostics.get("block_jumps", 0) >= JUMPS_CHECKED
    burn_checked, thin_checked = (
        (JUMPS_BURN_IN_CHECKED, JUMPS_THIN_CHECKED)
        if jumps
        else (SLOW_BURN_IN_CHECKED, SLOW_THIN_CHECKED)
    )
    short = (not continued and burn_in < burn_checked) or thin < thin_checked
    if not (diagnostics.get("slow_mixing") and short):
        return None
    beta = diagnostics.get("beta_at_block_fit", diagnostics["beta"])
    return (
        f"caution: pCN's step fell to β = {beta:.3f}, below the smallest checked faithful "
        f"({PCN_BETA_CHECKED}); at max_eig < -35 the class-fitted block needed --jumps "
        f"{JUMPS_CHECKED} --burn-in {JUMPS_BURN_IN_CHECKED} --thin {JUMPS_THIN_CHECKED}, "
        f"or without jumps --burn-in {SLOW_BURN_IN_CHECKED} --thin {SLOW_THIN_CHECKED}, to "
        "give ORACLE's class (docs/science/classes.md)"
    )


def _screen_options(spec: Any, where: str, screen: dict[str, Any] | None) -> dict[str, Any]:
    """The screen options given (not None/False); refused (one line) where they cannot apply."""
    # given: not None, and --screen only when on (--no-sequential is a choice too)
    screen_options = {
        k: v
        for k, v in (screen or {}).items()
        if v is not None and not (k == "screen" and v is False)
    }
    if screen_options and spec.returns is None:
        given = (
            "--[no-]sequential" if list(screen_options) == ["sequential_returns"] else "--screen"
        )
        raise _UserError(
            f"{given} applies to a class with a returns clause; {where!r} has none "
            "(its members cost no integration)"
        )
    if {"screen_recall", "screen_audit"} & set(screen_options) and "screen" not in screen_options:
        raise _UserError("--screen-recall and --screen-audit apply only with --screen")
    return screen_options


def _check_where_counts(
    output: Path, n: int, seed: int, population: int, thin: int, save_sampler: Path | None
) -> None:
    """Refuse bad ``generate --where`` counts, seed and output files (one line)."""
    from rekindle import validation as check

    check.require_positive("--n", n)
    check.require_seed(seed)
    check.require_positive("--population", population)
    check.require_positive("--thin", thin)
    check.require_output_file(output)
    if save_sampler is not None:
        check.require_output_file(save_sampler, "--save-sampler")


def _class_source(
    spec: Any, generator: Path | None, model: str, physiology: str | None
) -> tuple[Any, Any]:
    """``(bundle, start)``: the model and physiology to draw from, and a saved sampler's
    state (None without ``generator``); a sampler of another class is refused."""
    from rekindle.classes.store import load_class_sampler
    from rekindle.io.model_bundle import load_bundle

    if generator is None:
        return load_bundle(model, physiology), None
    if not generator.is_file():
        raise _UserError(f"generator file not found: {generator}")
    saved, bundle, start = load_class_sampler(generator)
    if saved != spec:
        raise _UserError(f"{generator} samples another class; drop --where or give the same class")
    return bundle, start


def _sampler_settings(
    population: int,
    thin: int,
    seed: int,
    delivery: str,
    screen_options: dict[str, Any],
    burn_in: int = 200,
    block: tuple[int, float, int] | None = None,
) -> Any:
    """The :class:`~rekindle.classes.ClassSamplerSettings`; a bad value refused in one line."""
    from rekindle.classes.sampler import ClassSamplerSettings

    try:
        return ClassSamplerSettings(
            population=population,
            thin=thin,
            seed=seed,
            delivery=delivery,
            burn_steps=burn_in,
            **({} if block is None else dict(zip(BLOCK_SETTINGS, block, strict=True))),
            **screen_options,
        )
    except ValueError as exc:
        raise _UserError(str(exc)) from None


def _class_draw_line(output: Path, n: int, where: str, spec: Any, bundle: Any, draw: Any) -> str:
    """``generate --where``'s closing line: members, levels, labels, integrations, delivery."""
    d = draw.diagnostics
    p = d.get("p_class")
    return (
        f"wrote {output}: {n} verified members of {where!r} ({bundle.model.name}/"
        f"{bundle.physiology.name}); {d['n_levels']} levels, "
        f"{d['labels_levels'] + d['labels_production']} sets labelled"
        + (
            f", {d['integrations_levels'] + d['integrations_production']} models perturbed "
            f"({d.get('perturbation_integrations')} integrations)"
            if spec.returns is not None
            else ""
        )
        + (f", P(class) ≈ {p:.3g}" if p else "")
        + f", repeated states {d['duplicate_fraction']:.3f}"
        + f"; delivery {draw.mode}"
        + (
            f" (truncated mass ≈ {d['truncated_mass_delivery']:.2g})"
            if d.get("truncated_mass_delivery") is not None
            else ""
        )
        + _screen_line(d.get("screen"))
    )


def _screen_line(screen: dict[str, Any] | None) -> str:
    """The screen's figures for the closing line ('' without a screen)."""
    if not screen:
        return ""
    if not screen.get("used"):
        return f"; screen not used ({screen.get('reason', '')})"
    miss = screen.get("miss_rate")
    auc = screen.get("auc_out_of_fold")
    return (
        f"; screen: {screen['turned_away']} candidates turned away, audit miss rate "
        + ("n/a" if miss is None else f"{miss:.3f}")
        + f" (target {1 - screen['recall_target']:.3f}), out-of-fold AUC "
        + ("n/a" if auc is None else f"{auc:.3f}")
    )
