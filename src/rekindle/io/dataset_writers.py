"""Writers of rekindle datasets (:mod:`rekindle.io.dataset` has the layout and the readers).

:class:`DatasetWriter` commits chunks one by one to the journal ``<path>.partial/`` and
assembles ``path`` only when all are there; an interrupted write can be resumed (verified
against the journal's content). :class:`DirectDatasetWriter` writes straight into the
final file under a temporary name, for outputs whose size is known and that are cheaper
to redo than to journal (generation). Neither leaves a file that reads as complete when
interrupted.
"""

from __future__ import annotations

import contextlib
import glob
import json
import sys
from collections.abc import Mapping
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Self

import h5py
import numpy as np

from rekindle import __version__
from rekindle.errors import DatasetError
from rekindle.io._hdf5 import STRING_DTYPE
from rekindle.io._journal import JOURNAL_FORMAT, ChunkJournal
from rekindle.io._unbuffered import ALIGNMENT, UnbufferedRange
from rekindle.io.atomic import atomic_path
from rekindle.io.model_bundle import CONTENT_KEYS

__all__ = [
    "DATASET_FORMAT",
    "DatasetWriter",
    "DirectDatasetWriter",
    "partial_path",
]

DATASET_FORMAT = "rekindle-dataset/2"
"""The format attribute of the datasets written (layout in :mod:`rekindle.io.dataset`)."""


def _metadata_attrs(metadata: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if key in CONTENT_KEYS:
            continue  # stored as string datasets (may exceed an attribute's size)
        if isinstance(value, str | int | float | bool | np.integer | np.floating):
            out[key] = value
        elif value is None:
            out[key] = "null"
        else:
            out[key] = json.dumps(value, default=str)
    return out


_ASSEMBLY_SUFFIX = ".assembly"


def _json_scalar(value: Any) -> Any:
    return value.item() if isinstance(value, np.generic) else value


class _CommitOnSuccess:
    """``with writer:`` closes (commits) on success and aborts on any exception."""

    def close(self) -> None:
        raise NotImplementedError

    def abort(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


class DatasetWriter(_CommitOnSuccess):
    """Stream chunks of labelled parameter sets into a dataset file, crash-consistently.

    Chunks go to the journal ``<path>.partial/`` (one file per chunk, committed by one
    atomic rename, see :mod:`rekindle.io._journal`); :meth:`close` assembles them into
    ``path`` (temporary file, fsync, rename) and deletes the journal. A process killed at
    any moment leaves ``path`` untouched and a journal that ``resume=True`` continues
    after verifying it; a second writer of the same ``path`` is refused while the first
    runs.

    Parameters
    ----------
    path
        Final file path.
    parameter_names
        Column names.
    metadata
        Stored as attributes (nested values as JSON).
    resume
        Continue an existing journal written with the same names and metadata;
        :attr:`chunks_done` says how many chunks it already holds.
    force
        Discard an existing journal. Without ``resume`` or ``force`` an existing journal
        is refused.

    Examples
    --------
    >>> with DatasetWriter("d.h5", names, {"model": "ecoli"}) as w:   # doctest: +SKIP
    ...     w.append(params, max_eig, relevant)
    """

    def __init__(
        self,
        path: str | Path,
        parameter_names: list[str],
        metadata: Mapping[str, Any],
        *,
        resume: bool = False,
        force: bool = False,
    ) -> None:
        self.path = Path(path)
        self.partial = partial_path(self.path)
        if self.path.is_dir():
            raise DatasetError(f"output {self.path} is a folder, not a file")
        self._names = list(parameter_names)
        attrs = {k: _json_scalar(v) for k, v in _metadata_attrs(metadata).items()}
        manifest = {
            "journal": JOURNAL_FORMAT,
            "parameter_names": self._names,
            "attrs": {**attrs, "format": DATASET_FORMAT},
            "embedded": {k: metadata[k] for k in CONTENT_KEYS if k in metadata},
            "created": datetime.now(timezone.utc).isoformat(),
            "rekindle_version": __version__,
        }
        self._journal = ChunkJournal.open(
            self.partial, manifest, resume=resume, force=force, what=str(self.path)
        )
        # an assembly killed half-way (the journal is whole; this run assembles again)
        pattern = f".{glob.escape(self.path.name)}.*{_ASSEMBLY_SUFFIX}.tmp"
        for stray in self.path.parent.glob(pattern):
            stray.unlink(missing_ok=True)

    @property
    def chunks_done(self) -> int:
        """Chunks committed so far (those of an earlier run included)."""
        return self._journal.n_chunks

    @property
    def n_models(self) -> int:
        """Number of rows committed so far."""
        return self._journal.n_rows

    def append(
        self, parameters: np.ndarray, max_real_eigenvalue: np.ndarray, relevant: np.ndarray
    ) -> None:
        """Commit one chunk (durably, chunk and count in one atomic step)."""
        parameters = np.asarray(parameters, dtype=float)
        m = parameters.shape[0]
        if parameters.ndim != 2 or parameters.shape[1] != len(self._names):
            raise DatasetError(
                f"chunk must have shape (n, {len(self._names)}), got {parameters.shape}"
            )
        self._journal.commit(
            {
                "parameters": parameters,
                "max_real_eigenvalue": np.asarray(max_real_eigenvalue, dtype=float).reshape(m),
                "relevant": np.asarray(relevant, dtype=bool).reshape(m),
            }
        )

    def close(self, *, extra_metadata: Mapping[str, Any] | None = None) -> Path:
        """Assemble the committed chunks into ``path`` atomically; delete the journal."""
        journal = self._journal
        manifest = journal.manifest
        n, p = journal.n_rows, len(self._names)
        with atomic_path(self.path, suffix=_ASSEMBLY_SUFFIX) as tmp, h5py.File(tmp, "w") as f:
            f.create_dataset(
                "parameter_names", data=np.array(self._names, dtype=object), dtype=STRING_DTYPE
            )
            params = f.create_dataset(
                "parameters", shape=(n, p), dtype="f8", chunks=_row_chunks(n, p)
            )
            lam = f.create_dataset("max_real_eigenvalue", shape=(n,), dtype="f8")
            rel = f.create_dataset("relevant", shape=(n,), dtype=bool)
            row = n_relevant = 0
            for i in range(journal.n_chunks):
                chunk = journal.read(i)
                m = chunk["parameters"].shape[0]
                params[row : row + m] = chunk["parameters"]
                lam[row : row + m] = chunk["max_real_eigenvalue"]
                rel[row : row + m] = chunk["relevant"]
                n_relevant += int(chunk["relevant"].sum())
                row += m
            attrs = {**manifest["attrs"], **_metadata_attrs(extra_metadata or {})}
            attrs["rekindle_version"] = manifest["rekindle_version"]
            attrs["created"] = manifest["created"]
            attrs["n_models"] = n
            attrs["incidence"] = n_relevant / n if n else float("nan")
            for k, v in attrs.items():
                f.attrs[k] = v
            for key, content in manifest.get("embedded", {}).items():
                text = json.dumps(content, sort_keys=True)  # canonical: same after a resume
                f.create_dataset(key, data=text, dtype=STRING_DTYPE)
        journal.discard()
        return self.path

    def abort(self, *, discard: bool = False) -> None:
        """Stop without finishing; the journal stays for a later ``resume`` unless ``discard``."""
        if discard:
            self._journal.discard()
        else:
            self._journal.release()


_DIRECT_SUFFIX = ".direct"


class DirectDatasetWriter(_CommitOnSuccess):
    """Write a dataset of known size straight into its final HDF5 layout, atomically.

    The file is created under a temporary name beside ``path`` with its arrays
    preallocated (``parameters`` contiguous, no compression, starting on a page); each
    :meth:`append` writes its rows' bytes in place (no journal, no list of chunks, no
    final concatenation: every row is written once), around the page cache where the
    file system allows it (:class:`rekindle.io._unbuffered.UnbufferedRange`), and
    :meth:`close` writes the last partial block, sets the attributes,
    fsyncs and renames the file onto ``path`` (:func:`rekindle.io.atomic.atomic_path`).
    An exception, or :meth:`abort`, removes the temporary file; a process killed outright
    leaves only a hidden ``.<name>.*.direct.tmp``, which the next writer of ``path``
    removes. ``path`` itself is never seen half-written.

    Unlike :class:`DatasetWriter` it cannot resume: for outputs that are cheaper to
    redo than to journal (generation).

    Parameters
    ----------
    path
        Final file path.
    parameter_names
        Column names, length ``p``.
    metadata
        Stored as attributes (nested values as JSON), as by :class:`DatasetWriter`.
    n_rows
        Rows the file will hold; :meth:`close` refuses fewer.
    force
        Discard the ``<path>.partial`` journal of an interrupted :class:`DatasetWriter`
        run (refused otherwise, as there).
    direct
        ``False`` writes the rows through the page cache even where ``O_DIRECT`` works
        (the file is the same).
    """

    def __init__(
        self,
        path: str | Path,
        parameter_names: list[str],
        metadata: Mapping[str, Any],
        n_rows: int,
        *,
        force: bool = False,
        direct: bool = True,
    ) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise DatasetError(f"output {self.path} is a folder, not a file")
        partial = partial_path(self.path)
        if partial.exists():
            if not force:
                raise DatasetError(
                    f"{partial} holds an unfinished run: discard it with --force"
                )
            # through the journal: refused while another process holds it
            ChunkJournal.open(partial, {}, resume=False, force=True, what=str(self.path)).discard()
        pattern = f".{glob.escape(self.path.name)}.*{_DIRECT_SUFFIX}.tmp"
        for stray in self.path.parent.glob(pattern):  # of a writer killed outright
            stray.unlink(missing_ok=True)
        self._names = list(parameter_names)
        self.n_rows = int(n_rows)
        self._attrs = {
            **_metadata_attrs(metadata),
            "format": DATASET_FORMAT,
            "rekindle_version": __version__,
            "created": datetime.now(timezone.utc).isoformat(),
        }
        self._embedded = {k: metadata[k] for k in CONTENT_KEYS if k in metadata}
        self._row = self._n_relevant = 0
        self._rows: UnbufferedRange | None = None
        self._stack = contextlib.ExitStack()
        try:
            tmp = self._stack.enter_context(atomic_path(self.path, suffix=_DIRECT_SUFFIX))
            n, p = self.n_rows, len(self._names)
            # objects of ≥ 64 KiB start on a page: the parameters' bytes can be written
            # around the page cache (:mod:`rekindle.io._unbuffered`)
            self._file = h5py.File(
                tmp, "w", alignment_threshold=1 << 16, alignment_interval=ALIGNMENT
            )
            f = self._file
            f.create_dataset(
                "parameter_names", data=np.array(self._names, dtype=object), dtype=STRING_DTYPE
            )
            # contiguous, its space allocated now and never filled by HDF5: the rows are
            # written as raw bytes at the dataset's offset, each once
            dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
            dcpl.set_alloc_time(h5py.h5d.ALLOC_TIME_EARLY)
            dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
            self._params = f.create_dataset("parameters", shape=(n, p), dtype="<f8", dcpl=dcpl)
            self._lam = f.create_dataset("max_real_eigenvalue", shape=(n,), dtype="f8")
            self._rel = f.create_dataset("relevant", shape=(n,), dtype=bool)
            if n * p:
                offset = self._params.id.get_offset()
                self._rows = UnbufferedRange(tmp, offset, n * p * 8, direct=direct)
        except BaseException:
            self._stack.__exit__(*sys.exc_info())
            raise

    @property
    def n_models(self) -> int:
        """Rows written so far."""
        return self._row

    def append(
        self, parameters: np.ndarray, max_real_eigenvalue: np.ndarray, relevant: np.ndarray
    ) -> None:
        """Write the next ``m`` rows: parameters ``(m, p)``, max Re(λ) ``(m,)`` h⁻¹ and
        labels ``(m,)``."""
        parameters = np.asarray(parameters, dtype=np.float64)
        m = parameters.shape[0]
        if parameters.ndim != 2 or parameters.shape[1] != len(self._names):
            raise DatasetError(
                f"chunk must have shape (n, {len(self._names)}), got {parameters.shape}"
            )
        if self._row + m > self.n_rows:
            raise DatasetError(f"{self._row + m} rows for a file of {self.n_rows}")
        rel = np.asarray(relevant, dtype=bool).reshape(m)
        rows = slice(self._row, self._row + m)
        if self._rows is not None:
            # the next m rows' bytes, in order, as the file stores them
            self._rows.write(np.ascontiguousarray(parameters, dtype="<f8"))
        self._lam[rows] = np.asarray(max_real_eigenvalue, dtype=np.float64).reshape(m)
        self._rel[rows] = rel
        self._row += m
        self._n_relevant += int(np.count_nonzero(rel))

    def close(self, *, extra_metadata: Mapping[str, Any] | None = None) -> Path:
        """Set the attributes and rename the complete file onto ``path``."""
        if self._row != self.n_rows:
            self.abort()
            raise DatasetError(f"{self.path}: {self._row} of {self.n_rows} rows written")
        try:  # a failure here (a full disk, say) removes the temporary file too
            f = self._file
            if self._rows is not None:
                self._rows.close()
            attrs = {**self._attrs, **_metadata_attrs(extra_metadata or {})}
            attrs["n_models"] = self.n_rows
            attrs["incidence"] = self._n_relevant / self.n_rows if self.n_rows else float("nan")
            for k, v in attrs.items():
                f.attrs[k] = v
            for key, content in self._embedded.items():
                f.create_dataset(
                    key, data=json.dumps(content, sort_keys=True), dtype=STRING_DTYPE
                )
            f.close()
        except BaseException:
            self.abort()
            raise
        self._stack.close()  # fsync, rename, fsync the folder
        return self.path

    def abort(self) -> None:
        """Stop without finishing: the temporary file is removed, ``path`` untouched."""
        if self._rows is not None:
            self._rows.abort()
        with contextlib.suppress(Exception):
            self._file.close()
        try:
            raise DatasetError(f"{self.path}: writing aborted")
        except DatasetError:
            self._stack.__exit__(*sys.exc_info())  # removes the temporary file


def partial_path(path: str | Path) -> Path:
    """The journal folder ``<path>.partial`` of a dataset being written."""
    path = Path(path)
    return path.with_name(path.name + ".partial")


def _row_chunks(n: int, p: int) -> tuple[int, int] | None:
    if n == 0:
        return None
    return (max(1, min(n, 1024, 2**20 // max(p, 1))), p)
