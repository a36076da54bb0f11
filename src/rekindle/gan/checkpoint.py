"""Training checkpoints of the GAN: the loop's state, networks, optimisers and RNG streams.

A checkpoint (``checkpoint.pt``) is a plain dict written with ``torch.save``
(readable with ``weights_only=True``). Beside the networks and optimisers it holds
the :class:`TrainingState` of the loop, every random stream (global torch RNG,
the trainer's sampler, numpy's global state) and what identifies the run (training
config, architecture, context, data fingerprint, threshold), so that a resumed run
is bit-identical to an uninterrupted one on the same device and thread count, and
a checkpoint of another run is refused with a :class:`CheckpointError` that names
what differs.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from rekindle.errors import CheckpointError

__all__ = [
    "CHECKPOINT_FORMAT",
    "CHECKPOINT_NAME",
    "CHECKPOINT_VERSION",
    "RESUMABLE_FIELDS",
    "TrainingState",
    "atomic_torch_save",
    "read_checkpoint",
    "resolve_device",
    "restore_modules",
    "write_checkpoint",
]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "rekindle-gan-checkpoint"
CHECKPOINT_VERSION = 1
#: Training-config fields that may change between a checkpoint and its resumption
#: (``progress`` is an obsolete field of earlier versions).
RESUMABLE_FIELDS = frozenset(
    {"epochs", "checkpoint_every", "progress", "num_threads", "device", "stop_on_failure"}
)


@dataclass
class TrainingState:
    """What the training loop carries from epoch to epoch (and a checkpoint stores).

    Attributes
    ----------
    epoch : int
        Epochs completed.
    metrics : list of dict
        One record per evaluation (see :class:`~rekindle.gan.training.TrainingResult`).
    history : list of dict
        One record per epoch.
    best_state : dict or None
        Generator ``state_dict`` (CPU) of the kept evaluation; None before the first.
    best_epoch : int
        Epoch of the kept evaluation (0 before the first).
    best_incidence, best_kl : float
        Incidence and KL(generated ‖ train) of the kept evaluation.
    failure_epoch : int or None
        First epoch at which the failure criterion was met.
    elapsed : float
        Seconds of training steps and evaluations, summed over sessions.
    """

    epoch: int = 0
    metrics: list[dict[str, float]] = field(default_factory=list)
    history: list[dict[str, float]] = field(default_factory=list)
    best_state: dict[str, torch.Tensor] | None = None
    best_epoch: int = 0
    best_incidence: float = math.nan
    best_kl: float = math.inf
    failure_epoch: int | None = None
    elapsed: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        """Field name -> value (the checkpoint's entries of the loop state)."""
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_checkpoint(cls, ck: Mapping[str, Any]) -> TrainingState:
        """Rebuild from a checkpoint's entries."""
        return cls(
            epoch=int(ck["epoch"]),
            metrics=list(ck["metrics"]),
            history=list(ck["history"]),
            best_state=ck["best_state"],
            best_epoch=int(ck["best_epoch"]),
            best_incidence=float(ck["best_incidence"]),
            best_kl=float(ck["best_kl"]),
            failure_epoch=ck["failure_epoch"],
            elapsed=float(ck["elapsed"]),
        )


def resolve_device(spec: str | torch.device | None) -> torch.device:
    """Turn ``"auto"``/``None``/a device string into a :class:`torch.device`.

    ``"auto"`` and ``None`` select ``cuda`` when available, else ``cpu``.
    """
    if spec is None or (isinstance(spec, str) and spec == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(spec)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {spec!r} requested but CUDA is not available")
    return dev


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` atomically (:func:`rekindle.io.atomic.torch_save`: temporary file,
    fsync, ``os.replace``): a reader sees the old file or the complete new one."""
    from rekindle.io.atomic import torch_save

    return torch_save(obj, Path(path))


def _numpy_rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]  # noqa: NPY002
    return {
        "name": str(name),
        "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def _set_numpy_rng_state(state: Mapping[str, Any]) -> None:
    keys = np.asarray(state["keys"].numpy(), dtype=np.uint32)
    np.random.set_state(  # noqa: NPY002 - the global state a labeller may use
        (
            state["name"],
            keys,
            int(state["pos"]),
            int(state["has_gauss"]),
            float(state["cached_gaussian"]),
        )
    )


def clone_state(module: nn.Module) -> dict[str, torch.Tensor]:
    """A detached CPU copy of a module's ``state_dict``."""
    return {k: v.detach().clone().cpu() for k, v in module.state_dict().items()}


def write_checkpoint(
    path: Path,
    state: TrainingState,
    modules: Mapping[str, Any],
    sampler: torch.Generator,
    device: torch.device,
    identity: Mapping[str, Any],
) -> Path:
    """Write a checkpoint atomically.

    Parameters
    ----------
    path : pathlib.Path
        Target file.
    state : TrainingState
        The loop's state.
    modules : mapping
        ``generator``, ``discriminator`` (modules), ``g_optimizer``,
        ``d_optimizer`` (optimisers).
    sampler : torch.Generator
        The trainer's random stream of permutations and noise.
    device : torch.device
        Training device (its CUDA RNG is stored too).
    identity : mapping
        ``config``, ``architecture``, ``context``, ``data_fingerprint``,
        ``threshold`` (and ``lower``, a class's lower end): what a resumption must match.
    """
    rng: dict[str, Any] = {
        "torch_cpu": torch.get_rng_state(),
        "sampler": sampler.get_state(),
        "numpy": _numpy_rng_state(),
    }
    if device.type == "cuda":
        rng["torch_cuda"] = torch.cuda.get_rng_state(device)
    payload = {
        "format": CHECKPOINT_FORMAT,
        "format_version": CHECKPOINT_VERSION,
        "generator": clone_state(modules["generator"]),
        "discriminator": clone_state(modules["discriminator"]),
        "g_optimizer": modules["g_optimizer"].state_dict(),
        "d_optimizer": modules["d_optimizer"].state_dict(),
        "rng": rng,
        **state.to_dict(),
        **identity,
    }
    return atomic_torch_save(payload, path)


def _check_identity(path: Path, ck: Mapping[str, Any], identity: Mapping[str, Any]) -> None:
    mine, theirs = dict(identity["config"]), dict(ck["config"])
    diff = sorted(
        k
        for k in set(mine) | set(theirs)
        if k not in RESUMABLE_FIELDS and mine.get(k) != theirs.get(k)
    )
    if diff:
        detail = ", ".join(f"{k}: checkpoint={theirs.get(k)!r} now={mine.get(k)!r}" for k in diff)
        raise CheckpointError(f"{path}: training config differs from the checkpoint ({detail})")
    if ck["architecture"] != identity["architecture"]:
        raise CheckpointError(f"{path}: architecture differs from the checkpoint")
    if ck["data_fingerprint"] != identity["data_fingerprint"]:
        raise CheckpointError(f"{path}: training data differ from those of the checkpoint")
    if ck["context"] != identity["context"]:
        raise CheckpointError(
            f"{path}: run context differs (checkpoint {ck['context']!r}, "
            f"now {identity['context']!r})"
        )
    if float(ck["threshold"]) != float(identity["threshold"]):
        raise CheckpointError(f"{path}: relevance threshold differs from the checkpoint")
    # a class's lower end (rekindle.classes); checkpoints written before it have none
    if float(ck.get("lower", -math.inf)) != float(identity.get("lower", -math.inf)):
        raise CheckpointError(f"{path}: relevant class differs from the checkpoint")


def read_checkpoint(path: Path, identity: Mapping[str, Any]) -> dict[str, Any]:
    """Read a checkpoint and check that it belongs to this run.

    Parameters
    ----------
    path : pathlib.Path
        The ``checkpoint.pt`` file.
    identity : mapping
        As in :func:`write_checkpoint`; the training config may differ only in
        :data:`RESUMABLE_FIELDS`.

    Returns
    -------
    dict
        The checkpoint's entries (pass them to :func:`restore_modules` and
        :meth:`TrainingState.from_checkpoint`).

    Raises
    ------
    CheckpointError
        Unreadable, of another format or version, or of another run.
    """
    try:
        ck = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for damaged files
        raise CheckpointError(f"{path}: cannot read checkpoint ({exc})") from exc
    if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a rekindle GAN checkpoint")
    if ck.get("format_version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"{path}: checkpoint format version {ck.get('format_version')!r}, "
            f"expected {CHECKPOINT_VERSION}"
        )
    _check_identity(path, ck, identity)
    return ck


def restore_modules(
    path: Path,
    ck: Mapping[str, Any],
    modules: Mapping[str, Any],
    sampler: torch.Generator,
    device: torch.device,
) -> None:
    """Load networks, optimisers and every random stream from checkpoint entries."""
    try:
        for key in ("generator", "discriminator", "g_optimizer", "d_optimizer"):
            modules[key].load_state_dict(ck[key])
    except (RuntimeError, ValueError, KeyError) as exc:
        raise CheckpointError(f"{path}: network/optimiser state does not fit ({exc})") from exc
    rng = ck["rng"]
    torch.set_rng_state(rng["torch_cpu"])
    sampler.set_state(rng["sampler"])
    _set_numpy_rng_state(rng["numpy"])
    if device.type == "cuda" and "torch_cuda" in rng:
        torch.cuda.set_rng_state(rng["torch_cuda"], device)
