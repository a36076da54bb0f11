"""Command-line interface: a thin typer layer over the Python API.

Every command maps onto public functions (mostly the stages of :mod:`rekindle.stages`);
errors in the input are reported in one line naming the culprit, with exit status 2
and nothing written. The commands live by family:

- :mod:`rekindle.cli.data`: ``info``, ``sample``, ``label``, ``export``
- :mod:`rekindle.cli.gan`: ``train``, ``transfer``
- :mod:`rekindle.cli.generate`: ``generate``
- :mod:`rekindle.cli.analysis`: ``dynamics``, ``perturb``, ``interpret``
- :mod:`rekindle.cli.run`: ``run``, ``report``
- :mod:`rekindle.cli.models`: ``import-model``, ``build-model``, ``upgrade``
- :mod:`rekindle.cli.classes`: ``relabel``; ``--where`` of ``sample`` and ``generate``

:mod:`rekindle.cli._common` holds the app, the shared options, error handling and
progress bars.
"""

from __future__ import annotations

import importlib
import sys

from rekindle.cli._common import app, console, progress_bar

for _family in (
    "data",
    "gan",
    "generate",
    "analysis",
    "run",
    "models",
    "classes",
):  # registers the commands, in this order
    importlib.import_module(f"rekindle.cli.{_family}")

__all__ = ["app", "console", "main", "progress_bar"]


def main() -> None:  # pragma: no cover
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
