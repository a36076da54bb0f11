"""Stages' end: provenance, versions, ``summary.json`` and ``report.html``."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rekindle import __version__
from rekindle.io.atomic import write_json

if TYPE_CHECKING:
    pass


def provenance(command: str, model: str, physiology: str, seed: int) -> dict[str, Any]:
    """What made an output: command, model, physiology, seed, UTC time, versions."""
    import time

    return {
        "model": model,
        "physiology": physiology,
        "seed": seed,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "versions": versions(),
        "command": command,
    }


def versions() -> dict[str, str]:
    """Versions of rekindle, Python and the numerical libraries it ran with."""
    import platform

    import h5py
    import scipy
    import torch

    return {
        "rekindle": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "torch": torch.__version__,
        "h5py": h5py.__version__,
    }


def write_summary(out: str | Path, summary: Mapping[str, Any], *, report: bool = True) -> Path:
    """``summary.json`` (strict JSON: NaN → null) and, by default, ``report.html``."""
    out = Path(out)
    path = write_json(out / "summary.json", dict(summary))
    if report:
        from rekindle.report.html import build_report

        build_report(out)
    return path
