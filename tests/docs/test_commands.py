"""Every ``rekindle`` command written in the docs and the README exists, with its options.

Command lines are read from the code of the Markdown sources (fenced blocks and inline
code, continuation lines joined; ``$R`` stands for the CLI), and each is checked against
the typer app: the command is registered and every ``--option`` it names is one of that command's.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import typer

from rekindle.cli import app

ROOT = Path(__file__).resolve().parents[2]
SOURCES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
COMMAND = re.compile(r"(?:^|[`\s(])(?:rekindle|\$R)\s+([a-z][a-z-]*)((?:[^`\n]|\\\n)*)", re.M)


def code_of(markdown: str) -> str:
    """The code of a Markdown text: fenced blocks, then inline code spans, one a line."""
    fenced = re.findall(r"^```[^\n]*\n(.*?)^```", markdown, re.M | re.S)
    prose = re.sub(r"^```[^\n]*\n.*?^```", "", markdown, flags=re.M | re.S)
    inline = [" ".join(span.split()) for span in re.findall(r"`([^`]+)`", prose)]
    return "\n".join([*fenced, *inline])


def command_lines(text: str) -> list[tuple[str, str]]:
    """``(command, rest of the line)`` of every rekindle command line in ``text``'s code."""
    code = re.sub(r"\\\n\s*", " ", code_of(text))  # shell continuation lines
    return [(m.group(1), m.group(2)) for m in COMMAND.finditer(code)]


def options_of(rest: str) -> set[str]:
    rest = rest.split("#")[0]  # a shell comment ends the command
    return {o.split("=")[0] for o in re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", rest)}


def _known() -> dict[str, set[str]]:
    group = typer.main.get_command(app)
    known = {}
    for name, command in group.commands.items():
        opts = {"--help"}
        for param in command.params:
            opts |= {o for o in [*param.opts, *getattr(param, "secondary_opts", [])]}
        known[name] = opts
    return known


KNOWN = _known()


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_commands_exist_with_their_options(path: Path) -> None:
    found = 0
    for name, rest in command_lines(path.read_text()):
        assert name in KNOWN, f"{path.name}: rekindle {name} is no command"
        found += 1
        unknown = options_of(rest) - KNOWN[name]
        assert not unknown, f"{path.name}: rekindle {name} has no option {sorted(unknown)}"
    if path.name == "README.md":
        assert found


def test_the_reader_finds_commands_and_options() -> None:
    text = (
        "Run `rekindle sample --n 10\n--resume` or\n\n"
        "```bash\n$R dynamics a.h5 \\\n  --label A  # --x\n```\n"
    )
    lines = command_lines(text)
    assert [name for name, _ in lines] == ["dynamics", "sample"]
    assert options_of(lines[0][1]) == {"--label"}
    assert options_of(lines[1][1]) == {"--n", "--resume"}


@pytest.mark.parametrize("path", SOURCES, ids=lambda p: str(p.relative_to(ROOT)))
def test_scripts_named_exist(path: Path) -> None:
    """Every ``python some/script.py`` and ``make TARGET`` in the code exists."""
    code = code_of(path.read_text())
    for script in re.findall(r"python\s+((?:benchmarks|tools|examples|docs)/\S+\.py)", code):
        assert (ROOT / script).is_file(), f"{path.name}: {script}"
    targets = set(re.findall(r"^([a-z-]+):", (ROOT / "Makefile").read_text(), re.M))
    for target in re.findall(r"(?:^|\s)make\s+([a-z-]+)", code):
        assert target in targets, f"{path.name}: make {target}"
