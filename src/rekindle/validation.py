"""Argument checks run before any file is touched (and before heavy imports).

Each check raises :class:`~rekindle.errors.UsageError` with one line naming the option
and the value; none imports numpy-heavy or torch code, so a refusal is immediate.
"""

from __future__ import annotations

import math
import os
import re
import shutil
from pathlib import Path

from rekindle.errors import UsageError

MAX_SEED = 2**32 - 1
"""Largest accepted seed (numpy's and torch's seeding both take it; chunk seeds add to it
within 64 bits)."""

DISK_MARGIN = 1.1
"""Free space asked beyond the estimate of a dataset's size."""

_DEVICE = re.compile(r"^(cpu|mps|cuda(:\d+)?)$")


def require_positive(option: str, value: int) -> int:
    """``value ≥ 1`` (counts and sizes)."""
    if value < 1:
        raise UsageError(f"{option} must be at least 1, got {value}")
    return value


def require_finite(option: str, value: float) -> float:
    """A finite number (no NaN, no ±inf)."""
    if not math.isfinite(value):
        raise UsageError(f"{option} must be a finite number, got {value}")
    return value


def require_seed(value: int, option: str = "--seed") -> int:
    """``0 ≤ value ≤`` :data:`MAX_SEED`."""
    if not 0 <= value <= MAX_SEED:
        raise UsageError(f"{option} must be between 0 and {MAX_SEED}, got {value}")
    return value


def require_output_file(path: Path, option: str = "--output") -> Path:
    """An output file path: not a folder, in a folder that exists or can be created."""
    if path.is_dir():
        raise UsageError(f"{option} {path} is a folder; give a file name")
    parent = path.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{option} {path}: {parent} is not a folder")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: no permission to write in {parent}")
    return path


def require_output_folder(path: Path, option: str = "--output") -> Path:
    """An output folder path: not an existing file."""
    if path.exists() and not path.is_dir():
        raise UsageError(f"{option} {path} is a file; give a folder")
    return path


def require_disk_space(output: Path, n_models: int, n_parameters: int, option: str = "--n") -> int:
    """Refuse a dataset that cannot fit on the output's file system.

    A dataset of ``n`` models takes ``n × (8 n_parameters + 9)`` bytes, twice while it is
    assembled from its journal; the ceiling on ``n`` is what the free space allows.
    """
    per_model = 2 * (8 * n_parameters + 9)
    parent = output.parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    free = shutil.disk_usage(parent).free
    if n_models * per_model * DISK_MARGIN > free:
        ceiling = int(free / (per_model * DISK_MARGIN))
        raise UsageError(
            f"{option} {n_models} needs ~{_size(n_models * per_model)} while being written and "
            f"{parent} has {_size(free)} free: at most {ceiling} models fit"
        )
    return n_models


def require_device(device: str | None) -> str | None:
    """A torch device name (``cpu``, ``cuda``, ``cuda:N``, ``mps``); availability is
    checked where the generator is loaded."""
    if device is not None and not _DEVICE.match(device):
        raise UsageError(f"--device must be cpu, cuda, cuda:N or mps, got {device!r}")
    return device


def _size(n_bytes: float) -> str:
    for unit in ("B", "KB", "MB", "GB", "TB", "PB"):
        if n_bytes < 1000 or unit == "PB":
            return f"{n_bytes:.3g} {unit}"
        n_bytes /= 1000
    raise AssertionError  # pragma: no cover


def require_device_available(device: str | None) -> str | None:
    """:func:`require_device`, then that this machine has it (imports torch)."""
    if require_device(device) is None or device == "cpu":
        return device
    import torch

    assert device is not None
    if device.startswith("cuda"):
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        index = int(device.partition(":")[2] or 0)
        if index >= count:
            raise UsageError(
                f"--device {device}: this machine has {count} CUDA device(s) usable by "
                f"torch {torch.__version__}"
            )
    elif not torch.backends.mps.is_available():
        raise UsageError(f"--device {device}: MPS is not available on this machine")
    return device
