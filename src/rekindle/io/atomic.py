"""Atomic output: every file rekindle writes goes through here.

Each writer writes to a temporary file beside the target, flushes and fsyncs it, then
renames it onto the target (:func:`os.replace`), so a reader sees either the old file
or the complete new one, never half of it. The writers cover every format rekindle
produces: text, bytes, JSON (:func:`write_json`, with :func:`jsonable` turning NaN into
``null`` and numpy scalars into Python numbers), CSV tables (:func:`write_csv`),
PyTorch files (:func:`torch_save`) and matplotlib figures (:func:`save_figure`).
HDF5 files, written by h5py in place, use :func:`atomic_path` directly.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import math
import os
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import IO, Any

__all__ = [
    "atomic_path",
    "atomic_write_bytes",
    "atomic_write_text",
    "fsync_path",
    "jsonable",
    "save_figure",
    "torch_save",
    "write_csv",
    "write_json",
]


def fsync_path(path: str | Path) -> None:
    """fsync a file, or a folder (making a new entry or a rename in it durable)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = "") -> Iterator[Path]:
    """Yield a temporary path in the target's folder; rename it onto ``path`` on success.

    The temporary file is fsynced before the rename, the folder after it. On an
    exception the temporary file is removed and ``path`` is left untouched, so a reader
    never sees a half-written output.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix + ".tmp", dir=path.parent)
    os.close(fd)
    tmp_path = Path(tmp)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp_path, 0o666 & ~umask)  # mkstemp creates 0600; give the usual mode
    try:
        yield tmp_path
        fsync_path(tmp_path)
        os.replace(tmp_path, path)
        fsync_path(path.parent)
    except BaseException:
        tmp_path.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _atomic_open(path: str | Path, mode: str, **kwargs: Any) -> Iterator[IO[Any]]:
    with atomic_path(path) as tmp, open(tmp, mode, **kwargs) as fh:
        yield fh


def atomic_write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) to ``path`` atomically and return the path."""
    with _atomic_open(path, "w", encoding="utf-8", newline="") as fh:
        fh.write(text)
    return Path(path)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically and return the path."""
    with _atomic_open(path, "wb") as fh:
        fh.write(data)
    return Path(path)


def jsonable(x: Any) -> Any:
    """``x`` with JSON-safe leaves: NaN/±inf → ``None``, numpy → Python, paths → str.

    Mappings get string keys; tuples, lists and arrays become lists.
    """
    import numpy as np

    if isinstance(x, dict):
        return {str(k): jsonable(v) for k, v in x.items()}
    if isinstance(x, list | tuple):
        return [jsonable(v) for v in x]
    if isinstance(x, np.ndarray):
        return jsonable(x.tolist())
    if isinstance(x, np.generic):
        return jsonable(x.item())
    if isinstance(x, Path):
        return str(x)
    if isinstance(x, float) and not math.isfinite(x):
        return None
    return x


def write_json(path: str | Path, obj: Any, *, indent: int | None = 2) -> Path:
    """Write ``obj`` as strict JSON (through :func:`jsonable`) atomically."""
    text = json.dumps(jsonable(obj), indent=indent, allow_nan=False)
    return atomic_write_text(path, text + "\n")


def write_csv(
    path: str | Path,
    rows: Iterable[Sequence[Any]],
    header: Sequence[str] | None = None,
) -> Path:
    """Write a CSV table atomically (``\\n`` line ends; floats with ``repr`` precision).

    Parameters
    ----------
    rows
        Rows of cells; a float is written as ``repr(float)`` (``nan``, ``inf`` included),
        anything else with ``str``.
    header
        Column names written first.
    """
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    if header is not None:
        writer.writerow(header)
    for row in rows:
        writer.writerow([repr(float(v)) if isinstance(v, float) else v for v in row])
    return atomic_write_text(path, buf.getvalue())


def torch_save(obj: Any, path: str | Path) -> Path:
    """``torch.save(obj)`` to ``path`` atomically and return the path."""
    import torch

    with _atomic_open(path, "wb") as fh:
        torch.save(obj, fh)
    return Path(path)


def save_figure(fig: Any, path: str | Path, *, dpi: int, format: str = "png") -> Path:
    """Save a matplotlib figure to ``path`` atomically and return the path."""
    with _atomic_open(path, "wb") as fh:
        fig.savefig(fh, dpi=dpi, format=format)
    return Path(path)
