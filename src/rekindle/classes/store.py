"""Where a class is recorded: dataset attributes and class-sampler files.

A dataset records its class as the attributes ``class_spec`` (JSON of
:meth:`ClassSpec.to_dict`), ``class_where`` (the ``--where`` sentence) and, when it was
delivered by :func:`rekindle.classes.generate.generate_class`, ``class_rounds`` (JSON:
levels, labels, integrations, acceptance, ``P(class)``, repeated states, times).

A *class-sampler file* (``format = "rekindle-class-sampler/1"``, written with
:func:`torch.save`, loadable with ``weights_only=True``) holds what a later run needs
to continue without the levels: the class, the model and physiology (embedded), the
production chains' states (normal space) and the pCN step, and for the fitted routes
(modes ``imh``, ``proposal-rejection``) the proposal's arrays, ``thin`` and ``log_bound``;
for delayed-acceptance pCN chains the learned screen (``surrogate``); for pCN chains
with a class-fitted block its arrays (``block``) and step ``gamma``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from rekindle.classes.block import BlockReference
from rekindle.classes.grammar import format_where
from rekindle.classes.proposal import GaussianProposal
from rekindle.classes.settings import ChainState
from rekindle.classes.spec import ClassSpec
from rekindle.classes.surrogate import Surrogate
from rekindle.errors import DatasetError, GeneratorFileError
from rekindle.io.model_bundle import ModelBundle, bundle_of

__all__ = [
    "CLASS_SAMPLER_FORMAT",
    "class_attrs",
    "class_threshold",
    "load_class_sampler",
    "read_class",
    "save_class_sampler",
    "write_class",
]

CLASS_SAMPLER_FORMAT = "rekindle-class-sampler/1"


def class_attrs(spec: ClassSpec) -> dict[str, str]:
    """The dataset attributes recording ``spec``."""
    return {"class_spec": json.dumps(spec.to_dict()), "class_where": format_where(spec)}


def read_class(metadata: dict[str, Any], source: str = "dataset") -> ClassSpec | None:
    """The class recorded in a dataset's (or generator's) metadata, or ``None``.

    Raises
    ------
    DatasetError
        A recorded class that does not parse.
    """
    raw = metadata.get("class_spec")
    if raw is None:
        return None
    try:
        data = json.loads(raw) if isinstance(raw, str) else raw
        return ClassSpec.from_dict(data)
    except (ValueError, TypeError) as exc:
        raise DatasetError(f"{source}: damaged class record: {exc}") from None


def class_threshold(spec: ClassSpec) -> float:
    """The relevance ``threshold`` (1/h) recorded with data and generators of ``spec``.

    The upper end of the class's max Re(λ) interval; for a class with no upper end
    (``max_eig > X``), its lower end. Membership is always the whole interval
    (:func:`rekindle.io.dataset.relevance_interval`); the threshold only names one finite
    end of it, which scales the flow guide's auxiliary target ``asinh(λ / |threshold|)``
    (:func:`rekindle.flow.guide.stability_margin`) and marks the dynamics plots.
    """
    low, high = spec.eig_interval
    return float(high if np.isfinite(high) else low)


def write_class(path: str | Path, spec: ClassSpec, relevant: np.ndarray | None = None) -> None:
    """Record ``spec`` in an existing dataset file (and optionally its class labels).

    Parameters
    ----------
    path
        A finished rekindle dataset.
    spec
        The class.
    relevant
        Shape ``(n_models,)`` bool: the new membership, written to ``/relevant``
        (with ``incidence`` updated).
    """
    with h5py.File(path, "r+") as f:
        if relevant is not None:
            relevant = np.asarray(relevant, dtype=bool)
            if f["relevant"].shape != relevant.shape:
                raise DatasetError(
                    f"{path}: {relevant.shape[0]} labels for {f['relevant'].shape[0]} rows"
                )
            f["relevant"][...] = relevant
            f.attrs["incidence"] = float(relevant.mean()) if relevant.size else float("nan")
        for key, value in class_attrs(spec).items():
            f.attrs[key] = value
        if spec.returns is None:  # the generators learn this class (its interval)
            f.attrs["threshold"] = class_threshold(spec)


def save_class_sampler(
    path: str | Path,
    spec: ClassSpec,
    bundle: ModelBundle,
    state: ChainState,
    diagnostics: dict[str, Any],
) -> Path:
    """Write a class-sampler file (see the module docstring)."""
    import torch

    from rekindle.io.atomic import atomic_path

    meta = bundle.metadata()
    payload = {
        "format": CLASS_SAMPLER_FORMAT,
        "class_spec": json.dumps(spec.to_dict()),
        "class_where": format_where(spec),
        "metadata": json.dumps(meta, default=str),
        "seeds": torch.as_tensor(np.asarray(state.seeds, dtype=np.float64)),
        "beta": float(state.beta),
        "shape": torch.as_tensor(np.asarray(state.shape, dtype=np.float64)),
        "mode": str(state.mode),
        "diagnostics": json.dumps(diagnostics, default=str),
    }
    if state.proposal is not None:  # modes imh / proposal-rejection: the fitted density
        payload["proposal"] = {
            k: torch.as_tensor(np.asarray(v, dtype=np.float64))
            for k, v in state.proposal.to_arrays().items()
        }
        payload["thin"] = int(state.thin)
        payload["log_bound"] = float(state.log_bound)
    if state.block is not None:  # pCN with a class-fitted block
        payload["block"] = {k: torch.as_tensor(v) for k, v in state.block.to_arrays().items()}
        payload["gamma"] = float(state.gamma)
    if state.surrogate is not None:  # delayed-acceptance pCN: the learned screen
        payload["surrogate"] = {
            k: torch.as_tensor(v) for k, v in state.surrogate.to_arrays().items()
        }
    path = Path(path)
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
    return path


def is_class_sampler(path: str | Path) -> bool:
    """Whether ``path`` is a class-sampler file (False for anything else)."""
    import torch

    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except Exception:
        return False
    return isinstance(data, dict) and data.get("format") == CLASS_SAMPLER_FORMAT


def load_class_sampler(path: str | Path) -> tuple[ClassSpec, ModelBundle, ChainState]:
    """``(spec, bundle, state)`` of a class-sampler file.

    Raises
    ------
    GeneratorFileError
        Missing, damaged, or not a class-sampler file.
    """
    import torch

    path = Path(path)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise GeneratorFileError(path, "file not found") from None
    except Exception as exc:
        raise GeneratorFileError(path, f"cannot read it ({type(exc).__name__})") from None
    if not isinstance(data, dict) or data.get("format") != CLASS_SAMPLER_FORMAT:
        raise GeneratorFileError(path, f"not a {CLASS_SAMPLER_FORMAT} file")
    spec = read_class(data, str(path))
    assert spec is not None
    bundle = bundle_of(
        json.loads(data["metadata"]), str(path), error=lambda m: GeneratorFileError(path, m)
    )
    proposal = None
    if "proposal" in data:
        proposal = GaussianProposal.from_arrays({k: v.numpy() for k, v in data["proposal"].items()})
    state = ChainState(
        data["seeds"].numpy(),
        float(data["beta"]),
        data["shape"].numpy(),
        str(data["mode"]),
        proposal,
        int(data.get("thin", 0)),
        float(data.get("log_bound", float("nan"))),
        Surrogate.from_arrays({k: v.numpy() for k, v in data["surrogate"].items()})
        if "surrogate" in data
        else None,
        BlockReference.from_arrays({k: v.numpy() for k, v in data["block"].items()})
        if "block" in data
        else None,
        float(data.get("gamma", float("nan"))),
    )
    return spec, bundle, state
