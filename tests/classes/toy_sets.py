"""Toy-model ORACLE datasets written through the CLI, shared by the class tests."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from rekindle.cli import app

TOY = ["--model", "toy", "--physiology", "ref"]


def sample_toy_sets(root: Path, sets: tuple[tuple[str, int, int], ...]) -> None:
    """``rekindle sample`` of the toy model into ``root``: one file per ``(name, seed, n)``."""
    runner = CliRunner()
    for name, seed, n in sets:
        args = ["sample", *TOY, "--n", str(n), "--seed", str(seed), "-o", str(root / name), "-q"]
        res = runner.invoke(app, args)
        assert res.exit_code == 0, res.output
