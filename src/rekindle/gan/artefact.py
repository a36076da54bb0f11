"""The generator artefact ``generator.pt``: format, versioning, checksum, read and write.

:func:`write_generator` writes one file with ``torch.save`` of a plain dict
(loadable with ``torch.load(..., weights_only=True)``); :func:`read_generator`
checks it entry by entry and returns a :class:`GeneratorArtefact` with the
generator network rebuilt and its weights verified.

=====================  ==========================================================
key                    content
=====================  ==========================================================
``format``             ``"rekindle-generator"`` (:data:`FORMAT_NAME`)
``format_version``     ``2`` (:data:`FORMAT_VERSION`; version 1 is read too)
``architecture``       :meth:`ArchitectureConfig.to_dict`
``n_features``         int
``feature_names``      list of str (length ``n_features``)
``class_names``        ``["relevant", "not_relevant"]`` (class index order)
``state_dict``         generator ``state_dict`` (CPU tensors) of the kept epoch
``state_sha256``       SHA-256 over names, dtypes, shapes and bytes of the tensors
``scaler``             the scaler's ``to_dict`` (its ``kind`` names the feature map)
``metadata``           JSON-like dict (``model``, ``physiology``, ``threshold`` ...)
``training_config``    :meth:`TrainingConfig.to_dict` of the last training, or None
``training_summary``   :meth:`TrainingResult.summary`, or None
``versions``           ``{"rekindle": ..., "torch": ...}``
``payload_sha256``     since version 2: :func:`rekindle.io.digest.payload_sha256`
                       of every other entry (scaler, metadata … not only the weights)
=====================  ==========================================================

Version 1 files (weights checksum only) still load.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rekindle import __version__
from rekindle.errors import ConfigError, GeneratorFileError, MissingFileError
from rekindle.io.digest import DIGEST_KEY, digest_problem, payload_sha256

from .checkpoint import atomic_torch_save, resolve_device
from .config import ArchitectureConfig, TrainingConfig
from .modules import Generator
from .preprocessing import CLASS_NAMES, Scaler, scaler_from_dict

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "GeneratorArtefact",
    "jsonable",
    "read_generator",
    "state_digest",
    "write_generator",
]

FORMAT_NAME = "rekindle-generator"
FORMAT_VERSION = 2
#: versions :func:`read_generator` reads (1: no checksum of the whole payload)
READABLE_VERSIONS = (1, 2)
_REQUIRED = (
    "architecture",
    "n_features",
    "feature_names",
    "state_dict",
    "state_sha256",
    "scaler",
    "metadata",
)
#: TrainingConfig keys of earlier rekindle versions that no longer exist (dropped on read).
_OBSOLETE_TRAINING_KEYS = ("progress",)


def state_digest(state: Mapping[str, torch.Tensor]) -> str:
    """SHA-256 over the names, dtypes, shapes and bytes of a ``state_dict``'s tensors."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def jsonable(value: Any, where: str = "metadata") -> Any:
    """Convert numpy scalars/arrays and tuples to builtins; reject other objects (TypeError)."""
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, str):
        return str(value)  # plain str, also for subclasses such as TorchVersion
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, np.ndarray):
        return jsonable(value.tolist(), where)
    if isinstance(value, (list, tuple)):
        return [jsonable(v, where) for v in value]
    if isinstance(value, Mapping):
        out = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise TypeError(f"{where}: keys must be str, got {k!r}")
            out[k] = jsonable(v, f"{where}.{k}")
        return out
    raise TypeError(f"{where}: value of type {type(value).__name__} cannot be stored")


@dataclass
class GeneratorArtefact:
    """Everything a generator file holds, as objects.

    Attributes
    ----------
    architecture : ArchitectureConfig
        Network architecture.
    feature_names : list of str
        Name of each generated K_M, length ``n_features``.
    scaler : Scaler
        Feature map between K_M and the generator's output space
        (:mod:`rekindle.gan.preprocessing`).
    generator : Generator
        The network with the stored weights, in eval mode.
    metadata : dict
        JSON-like description (``model``, ``physiology``, ``threshold`` in 1/h ...).
    training_config : TrainingConfig or None
        Plan of the training that produced the weights.
    training_summary : dict or None
        :meth:`TrainingResult.summary` of that training.
    versions : dict
        ``{"rekindle": ..., "torch": ...}`` of the writer.
    """

    architecture: ArchitectureConfig
    feature_names: list[str]
    scaler: Scaler
    generator: Generator
    metadata: dict[str, Any]
    training_config: TrainingConfig | None = None
    training_summary: dict[str, Any] | None = None
    versions: dict[str, str] = field(default_factory=dict)


def write_generator(path: str | os.PathLike[str], artefact: GeneratorArtefact) -> Path:
    """Write a generator artefact atomically (see the module docstring for the layout).

    Parameters
    ----------
    path : path
        Target file, conventionally ``generator.pt``.
    artefact : GeneratorArtefact
        What to store; ``versions`` is filled in with this rekindle and torch.

    Returns
    -------
    pathlib.Path
        The written path.
    """
    state = {k: v.detach().cpu().clone() for k, v in artefact.generator.state_dict().items()}
    tc = artefact.training_config
    payload = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "architecture": artefact.architecture.to_dict(),
        "n_features": len(artefact.feature_names),
        "feature_names": list(artefact.feature_names),
        "class_names": list(CLASS_NAMES),
        "state_dict": state,
        "state_sha256": state_digest(state),
        "scaler": artefact.scaler.to_dict(),
        "metadata": jsonable(artefact.metadata),
        "training_config": None if tc is None else tc.to_dict(),
        "training_summary": artefact.training_summary,
        "versions": {"rekindle": __version__, "torch": str(torch.__version__)},
    }
    payload[DIGEST_KEY] = payload_sha256(payload)
    return atomic_torch_save(payload, path)


def _load_payload(path: Path) -> dict[str, Any]:
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated zip, bad pickle, CRC errors, ...
        detail = (str(exc).strip().splitlines() or [""])[0][:300]
        raise GeneratorFileError(
            path, f"file is corrupted or truncated ({type(exc).__name__}: {detail})"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
        raise GeneratorFileError(path, f"not a {FORMAT_NAME} artefact")
    version = payload.get("format_version")
    if version not in READABLE_VERSIONS:
        raise GeneratorFileError(
            path,
            f"unsupported format version {version!r} (this rekindle reads versions "
            f"{', '.join(map(str, READABLE_VERSIONS))})",
        )
    if version >= 2 and (problem := digest_problem(payload)) is not None:
        raise GeneratorFileError(path, problem)
    missing = [k for k in _REQUIRED if k not in payload]
    if missing:
        raise GeneratorFileError(path, f"missing entries {missing}")
    return payload


def _read_header(path: Path, payload: dict[str, Any]) -> tuple[ArchitectureConfig, list, Scaler]:
    """Architecture, feature names and scaler, checked against each other."""
    try:
        arch = ArchitectureConfig.from_dict(payload["architecture"])
    except (ConfigError, TypeError) as exc:
        raise GeneratorFileError(path, f"invalid architecture ({exc})") from exc
    n_features = payload["n_features"]
    names = payload["feature_names"]
    if not isinstance(n_features, int) or not isinstance(names, list) or len(names) != n_features:
        raise GeneratorFileError(
            path,
            f"{len(names) if isinstance(names, list) else '?'} feature names for "
            f"n_features={n_features!r}",
        )
    try:
        scaler = scaler_from_dict(payload["scaler"])
    except ValueError as exc:
        raise GeneratorFileError(path, f"invalid scaler ({exc})") from exc
    if scaler.n_features != n_features:
        raise GeneratorFileError(
            path, f"scaler has {scaler.n_features} features, artefact declares {n_features}"
        )
    return arch, names, scaler


def _read_network(path: Path, payload: dict[str, Any], arch: ArchitectureConfig) -> Generator:
    """The generator with the stored weights, after key, shape and checksum checks."""
    state = payload["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise GeneratorFileError(path, "state_dict is not a mapping of tensors")
    generator = Generator(payload["n_features"], arch)
    expected = generator.state_dict()
    missing_keys = sorted(set(expected) - set(state))
    unexpected = sorted(set(state) - set(expected))
    if missing_keys or unexpected:
        raise GeneratorFileError(
            path,
            f"state_dict keys do not match the architecture (missing {missing_keys}, "
            f"unexpected {unexpected})",
        )
    bad = [
        f"{k}: file {tuple(state[k].shape)} vs expected {tuple(v.shape)}"
        for k, v in expected.items()
        if tuple(state[k].shape) != tuple(v.shape)
    ]
    if bad:
        raise GeneratorFileError(path, "tensor shapes do not match: " + "; ".join(bad))
    if state_digest(state) != payload["state_sha256"]:
        raise GeneratorFileError(path, "checksum mismatch: the network weights are corrupted")
    generator.load_state_dict(state)
    return generator


def _training_config(entry: Any) -> TrainingConfig | None:
    if entry is None:
        return None
    try:
        kept = {k: v for k, v in dict(entry).items() if k not in _OBSOLETE_TRAINING_KEYS}
        return TrainingConfig.from_dict(kept)
    except (ConfigError, TypeError, ValueError):
        return None  # written by another rekindle version: informative only


def read_generator(
    path: str | os.PathLike[str], device: str | torch.device | None = None
) -> GeneratorArtefact:
    """Read and verify a generator artefact.

    Parameters
    ----------
    path : path
        The ``generator.pt`` file.
    device : str or torch.device, optional
        Where to put the generator (``"cpu"``, ``"cuda"``, ``"auto"``); default CPU.

    Returns
    -------
    GeneratorArtefact
        With the generator in eval mode on ``device``.

    Raises
    ------
    FileNotFoundError
        If the file does not exist.
    GeneratorFileError
        If the file is truncated or corrupted, has another format or version, or
        its contents are inconsistent (shapes, sizes, checksum); the message
        names the file and the problem.
    """
    path = Path(path)
    if path.exists() and not path.is_file():  # a folder, or a named pipe that would block
        raise GeneratorFileError(path, "not a regular file")
    if not path.is_file():
        raise MissingFileError(f"generator file not found: {path}")
    dev = resolve_device(device) if device is not None else torch.device("cpu")
    payload = _load_payload(path)
    arch, names, scaler = _read_header(path, payload)
    generator = _read_network(path, payload, arch).to(dev).eval()
    return GeneratorArtefact(
        architecture=arch,
        feature_names=[str(n) for n in names],
        scaler=scaler,
        generator=generator,
        metadata=dict(payload["metadata"]),
        training_config=_training_config(payload.get("training_config")),
        training_summary=payload.get("training_summary"),
        versions=dict(payload.get("versions", {})),
    )
