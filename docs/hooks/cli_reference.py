"""MkDocs hook: the command-line reference, generated from the typer app at build time.

``reference/cli.md`` is not a file in the repository: this hook walks
:data:`rekindle.cli.app` (through click, which typer builds on) and writes, for every
command, its help text, its usage line and a table of its arguments and options with
their types and defaults. A new command or option appears without any edit here.
"""

from __future__ import annotations

import inspect
from typing import Any

from mkdocs.structure.files import File, Files

PAGE = "reference/cli.md"


def _text(text: str) -> str:
    """Prose for markdown: angle brackets escaped (``OUTPUT/<state>.yaml`` is no HTML tag)."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _cell(text: str) -> str:
    return _text(" ".join(str(text).split())).replace("|", "\\|")


def _row(param: Any, ctx: Any) -> str:
    """One table row: the option's names and type, its help with default and 'required'."""
    record = param.get_help_record(ctx)
    if record is None:  # an argument: typer shows it by name
        names, help_text = param.name.upper(), getattr(param, "help", "") or ""
    else:
        names, help_text = record
    if param.required and "required" not in help_text:
        help_text = f"{help_text} [required]".strip()
    names = " ".join(names.split()).replace("|", "\\|")
    return f"| `{names}` | {_cell(help_text)} |"


def command_markdown(name: str, command: Any) -> str:
    """Markdown section of one command."""
    import typer

    ctx = typer.Context(command, info_name=f"rekindle {name}")
    usage = " ".join(command.collect_usage_pieces(ctx))
    lines = [f"## `rekindle {name}` {{ #rekindle-{name} }}", ""]
    if command.help:
        lines += [_text(inspect.cleandoc(command.help)), ""]
    lines += ["```text", f"rekindle {name} {usage}", "```", ""]
    params = [p for p in command.params if p.name != "help" and not p.hidden]
    if params:
        lines += ["| argument / option | description |", "|---|---|"]
        lines += [_row(p, ctx) for p in params]
        lines.append("")
    return "\n".join(lines)


def cli_markdown() -> str:
    """The whole page: every command of ``rekindle``, in registration order."""
    import typer

    from rekindle.cli import app

    group: Any = typer.main.get_command(app)
    commands = group.commands  # name → click.Command, in registration order
    out = [
        "# Command line",
        "",
        "*Generated at build time from the typer app (`rekindle.cli.app`); "
        "`rekindle COMMAND --help` prints the same.*",
        "",
        inspect.cleandoc(group.help or ""),
        "",
        "Every command refuses bad input with one line naming the culprit (exit status 2) "
        "and writes nothing half-way.",
        "",
        "| command | what it does |",
        "|---|---|",
    ]
    for name, command in commands.items():
        first = (command.help or "").strip().split("\n")[0]
        anchor = "rekindle-" + name
        out.append(f"| [`{name}`](#{anchor}) | {_cell(first)} |")
    out.append("")
    out += [command_markdown(name, command) for name, command in commands.items()]
    return "\n".join(out)


def on_files(files: Files, config: Any) -> Files:
    """Add the generated page ``reference/cli.md``."""
    files.append(File.generated(config, PAGE, content=cli_markdown()))
    return files
