"""Commands that bring a model in or move data between versions: import-model, build-model,
upgrade (see README, "Your own model")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from rekindle.cli._common import _run, app, console


def _report_model_files(paths: list[Path], model: Any) -> None:
    counts = model.summary()
    console.print(
        f"wrote {paths[0]} ({counts['reactions']} reactions, {counts['states']} states, "
        f"{counts['michaelis_constants']} K_M) and " + ", ".join(str(p) for p in paths[1:])
    )


@app.command("import-model")
def import_model(
    skimpy: Annotated[Path, typer.Option("--skimpy", help="SKiMpy model file (.yml).")],
    steady_states: Annotated[
        list[Path],
        typer.Option("--steady-state", help="pyTFA-style steady-state CSV (repeat)."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write.")],
    extra: Annotated[
        Path | None,
        typer.Option("--extra", help="Reactions, metabolites, mechanism overrides (YAML)."),
    ] = None,
) -> None:
    """Import a SKiMpy model and its steady states → OUTPUT/model.yaml + one physiology each."""

    def go() -> None:
        from rekindle import validation as check

        check.require_output_folder(output)
        check.require_input_file(skimpy, "--skimpy", text=True)
        for state in steady_states:
            check.require_input_file(state, "--steady-state", text=True)
        if extra is not None:
            check.require_input_file(extra, "--extra", text=True)
        from rekindle.io.skimpy_import import import_skimpy

        imported = import_skimpy(skimpy, steady_states, extra)
        _report_model_files(imported.write(output), imported.model)

    _run(go)


@app.command("build-model")
def build_model(
    sbml: Annotated[Path, typer.Option("--sbml", help="Constraint-based model (SBML + FBC).")],
    steady_state: Annotated[
        Path,
        typer.Option("--steady-state", help="Reference state CSV (kind,id,value,unit)."),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Folder to write.")],
    mechanisms: Annotated[
        Path | None,
        typer.Option("--mechanisms", help="YAML mapping reaction id: mechanism (overrides)."),
    ] = None,
    name: Annotated[str | None, typer.Option("--name", help="Model name.")] = None,
) -> None:
    """Build a kinetic model from a COBRA network → OUTPUT/model.yaml + OUTPUT/<state>.yaml."""

    def go() -> None:
        from rekindle import validation as check

        check.require_output_folder(output)
        check.require_input_file(sbml, "--sbml", text=True)
        check.require_input_file(steady_state, "--steady-state", text=True)
        if mechanisms is not None:
            check.require_input_file(mechanisms, "--mechanisms", text=True)
        from rekindle.io.cobra_import import build_model as build
        from rekindle.io.cobra_import import read_mechanism_map

        built = build(sbml, steady_state, read_mechanism_map(mechanisms), name=name)
        _report_model_files(built.write(output), built.model)
        console.print(built.left_out_summary())

    _run(go)


@app.command()
def upgrade(
    files: Annotated[list[Path], typer.Argument(help="Old datasets (.h5) or generator.pt.")],
    model: Annotated[
        str, typer.Option("--model", "-m", help="The model file they were made from.")
    ],
    physiology: Annotated[
        str | None, typer.Option("--physiology", "-p", help="Their physiology file.")
    ] = None,
) -> None:
    """Embed the model and physiology into data files written by an older rekindle."""

    def go() -> None:
        from rekindle import validation as check
        from rekindle.io.model_bundle import load_bundle
        from rekindle.upgrade import upgrade_data_file

        for path in files:
            check.require_input_file(path, "FILE")
        bundle = load_bundle(model, physiology)
        for path in files:
            kind = upgrade_data_file(path, bundle)
            console.print(f"upgraded {path} ({kind}): embeds model {bundle.model.name!r}")

    _run(go)
