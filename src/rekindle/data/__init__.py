"""Embedded models and physiologies.

``ecoli``: the E. coli central-carbon model of the REKINDLE paper with physiologies
``fdp1``–``fdp4``. ``toy``: a four-reaction model with one conserved moiety for fast
tests and analytic checks (physiology ``ref``).
"""

from __future__ import annotations

from functools import cache
from importlib.resources import files
from pathlib import Path

from rekindle.errors import UnknownNameError
from rekindle.io.model_yaml import read_model, read_physiology
from rekindle.kinetics.model import KineticModel
from rekindle.kinetics.physiology import Physiology

DEFAULT_MODEL = "ecoli"
DEFAULT_PHYSIOLOGY = {"ecoli": "fdp1", "toy": "ref"}


def _folder(model: str) -> Path:
    root = Path(str(files("rekindle.data")))
    folder = root / model
    if not (folder / "model.yaml").exists():
        raise UnknownNameError(
            f"unknown embedded model {model!r}; available: {', '.join(available_models())}"
        )
    return folder


def available_models() -> list[str]:
    """Names of the embedded models."""
    root = Path(str(files("rekindle.data")))
    return sorted(p.name for p in root.iterdir() if (p / "model.yaml").exists())


def available_physiologies(model: str) -> list[str]:
    """Names of the embedded physiologies of a model."""
    return sorted(p.stem for p in _folder(model).glob("*.yaml") if p.stem != "model")


@cache
def load_model(name: str = DEFAULT_MODEL) -> KineticModel:
    """Load an embedded model, or a model file if ``name`` is a path to one."""
    if name.endswith((".yaml", ".yml")) or Path(name).is_file():
        return read_model(name)
    return read_model(_folder(name) / "model.yaml")


@cache
def load_physiology(model: str = DEFAULT_MODEL, name: str | None = None) -> Physiology:
    """Load an embedded physiology (default: the model's first), or a physiology file."""
    if name is not None and (name.endswith((".yaml", ".yml")) or Path(name).is_file()):
        return read_physiology(name)
    if name is None:
        name = DEFAULT_PHYSIOLOGY.get(model) or available_physiologies(model)[0]
    path = _folder(model) / f"{name}.yaml"
    if not path.exists():
        raise UnknownNameError(
            f"model {model!r} has no physiology {name!r}; available: "
            f"{', '.join(available_physiologies(model))}"
        )
    return read_physiology(path)
