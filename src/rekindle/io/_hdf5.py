"""Shared HDF5 helpers: opening with clear errors, reading string datasets."""

from __future__ import annotations

from pathlib import Path

import h5py

STRING_DTYPE = h5py.string_dtype("utf-8")


def open_for_reading(path: str | Path, error: type[Exception], what: str) -> h5py.File:
    """Open an HDF5 file read-only; raise ``error`` naming the file if it cannot be read.

    Parameters
    ----------
    error
        Exception class raised for a missing or unreadable file.
    what
        Description for the message (``"dataset"``, ``"parameter file"``).
    """
    path = Path(path)
    if not path.exists():
        raise error(f"{what} not found: {path}")
    import stat

    if not stat.S_ISREG(path.stat().st_mode):  # a folder, a named pipe (would block), a device
        raise error(f"{path}: not a regular file (a {what} is an HDF5 file)")
    try:
        return h5py.File(path, "r")
    except OSError as exc:
        raise error(f"{path}: not a readable HDF5 file ({exc})") from exc


def read_strings(dataset: h5py.Dataset) -> list[str]:
    """A 1-D string dataset as a list of ``str`` (bytes decoded as UTF-8)."""
    return [s.decode() if isinstance(s, bytes) else str(s) for s in dataset[()]]
