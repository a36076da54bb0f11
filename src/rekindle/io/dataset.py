"""rekindle datasets: labelled parameter populations in HDF5.

Layout (``format = "rekindle-dataset/1"``)::

    /parameters            (n_models, n_parameters) float64, model's canonical order
    /parameter_names       (n_parameters,) UTF-8 strings
    /max_real_eigenvalue   (n_models,) float64, h⁻¹ (NaN where not computed/finite)
    /relevant              (n_models,) bool
    attrs: format, model, physiology, threshold, seed, source, rekindle_version,
           created, settings (JSON), n_models

Datasets are written through :class:`DatasetWriter`, which streams chunks into
``<path>.partial`` and renames it onto ``path`` only when complete; an interrupted
write can be resumed (the completed chunk count is stored in the partial file).
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from rekindle import __version__
from rekindle.errors import DatasetError
from rekindle.io._hdf5 import STRING_DTYPE, open_for_reading, read_strings

DATASET_FORMAT = "rekindle-dataset/1"


@dataclass
class ParameterDataset:
    """A labelled population of parameter sets held in memory.

    Attributes
    ----------
    parameters
        Shape ``(n_models, n_parameters)``.
    parameter_names
        Column names, length ``n_parameters``.
    max_real_eigenvalue
        Shape ``(n_models,)``, h⁻¹.
    relevant
        Shape ``(n_models,)``, bool.
    metadata
        Model, physiology, threshold, seed, source, versions and settings.
    """

    parameters: np.ndarray
    parameter_names: list[str]
    max_real_eigenvalue: np.ndarray
    relevant: np.ndarray
    metadata: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n, p = np.shape(self.parameters)
        if len(self.parameter_names) != p:
            raise DatasetError(
                f"{p} parameter columns but {len(self.parameter_names)} parameter names"
            )
        for name, arr in (
            ("max_real_eigenvalue", self.max_real_eigenvalue),
            ("relevant", self.relevant),
        ):
            if np.shape(arr) != (n,):
                raise DatasetError(f"{name} must have shape ({n},), got {np.shape(arr)}")

    @property
    def n_models(self) -> int:
        """Number of parameter sets."""
        return int(self.parameters.shape[0])

    @property
    def incidence(self) -> float:
        """Fraction of relevant models."""
        return float(np.mean(self.relevant)) if self.n_models else float("nan")

    def columns(self, names: list[str]) -> np.ndarray:
        """The columns ``names`` as an array ``(n_models, len(names))``."""
        index = {n: i for i, n in enumerate(self.parameter_names)}
        missing = [n for n in names if n not in index]
        if missing:
            raise DatasetError(f"dataset has no parameter(s) {', '.join(missing[:5])}")
        return self.parameters[:, [index[n] for n in names]]


def _metadata_attrs(metadata: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metadata.items():
        if isinstance(value, str | int | float | bool | np.integer | np.floating):
            out[key] = value
        elif value is None:
            out[key] = "null"
        else:
            out[key] = json.dumps(value, default=str)
    return out


class DatasetWriter:
    """Stream chunks of labelled parameter sets into a dataset file.

    Parameters
    ----------
    path
        Final file path; data go to ``<path>.partial`` until :meth:`close`.
    parameter_names
        Column names.
    metadata
        Stored as attributes (nested values as JSON).
    resume
        Continue an existing ``.partial`` file written with the same names and
        metadata; :attr:`chunks_done` says how many chunks it already holds.

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
    ) -> None:
        self.path = Path(path)
        self.partial = self.path.with_name(self.path.name + ".partial")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._names = list(parameter_names)
        attrs = _metadata_attrs(
            {
                **metadata,
                "format": DATASET_FORMAT,
                "rekindle_version": __version__,
            }
        )
        self.chunks_done = 0
        if resume and self.partial.exists():
            self._file = h5py.File(self.partial, "a")
            stored = read_strings(self._file["parameter_names"])
            same = stored == self._names and all(
                str(self._file.attrs.get(k)) == str(v)
                for k, v in attrs.items()
                if k not in ("created", "rekindle_version")
            )
            if not same:
                self._file.close()
                raise DatasetError(
                    f"{self.partial} was written with other settings; delete it or drop --resume"
                )
            self.chunks_done = int(self._file.attrs.get("chunks_done", 0))
            return
        self.partial.unlink(missing_ok=True)
        self._file = h5py.File(self.partial, "w")
        f = self._file
        p = len(self._names)
        f.create_dataset(
            "parameter_names", data=np.array(self._names, dtype=object), dtype=STRING_DTYPE
        )
        f.create_dataset(
            "parameters",
            shape=(0, p),
            maxshape=(None, p),
            dtype="f8",
            chunks=(max(1, min(1024, 2**20 // max(p, 1))), p),
        )
        f.create_dataset(
            "max_real_eigenvalue", shape=(0,), maxshape=(None,), dtype="f8", chunks=(4096,)
        )
        f.create_dataset("relevant", shape=(0,), maxshape=(None,), dtype=bool, chunks=(4096,))
        for k, v in attrs.items():
            f.attrs[k] = v
        f.attrs["created"] = datetime.now(timezone.utc).isoformat()
        f.attrs["chunks_done"] = 0
        f.attrs["n_models"] = 0

    @property
    def n_models(self) -> int:
        """Number of rows written so far."""
        return int(self._file["parameters"].shape[0])

    def append(
        self, parameters: np.ndarray, max_real_eigenvalue: np.ndarray, relevant: np.ndarray
    ) -> None:
        """Append one chunk (flushed to disk, counted in :attr:`chunks_done`)."""
        parameters = np.asarray(parameters, dtype=float)
        m = parameters.shape[0]
        if parameters.ndim != 2 or parameters.shape[1] != len(self._names):
            raise DatasetError(
                f"chunk must have shape (n, {len(self._names)}), got {parameters.shape}"
            )
        f = self._file
        n = self.n_models
        for name, data in (
            ("parameters", parameters),
            ("max_real_eigenvalue", np.asarray(max_real_eigenvalue, dtype=float).reshape(m)),
            ("relevant", np.asarray(relevant, dtype=bool).reshape(m)),
        ):
            ds = f[name]
            ds.resize(n + m, axis=0)
            ds[n : n + m] = data
        self.chunks_done += 1
        f.attrs["chunks_done"] = self.chunks_done
        f.attrs["n_models"] = n + m
        f.flush()

    def close(self, *, extra_metadata: Mapping[str, Any] | None = None) -> Path:
        """Finish: store final metadata and rename the partial file onto ``path``."""
        if extra_metadata:
            for k, v in _metadata_attrs(extra_metadata).items():
                self._file.attrs[k] = v
        self._file.attrs["incidence"] = (
            float(np.mean(self._file["relevant"][()])) if self.n_models else float("nan")
        )
        self._file.close()
        os.replace(self.partial, self.path)
        return self.path

    def abort(self) -> None:
        """Close without finishing; the partial file stays for a later ``resume``."""
        if self._file.id.valid:
            self._file.close()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def write_dataset(path: str | Path, dataset: ParameterDataset) -> Path:
    """Write a whole in-memory dataset atomically."""
    with DatasetWriter(path, dataset.parameter_names, dataset.metadata) as w:
        w.append(dataset.parameters, dataset.max_real_eigenvalue, dataset.relevant)
    return Path(path)


def _decode_attr(value: Any) -> Any:
    if isinstance(value, bytes):
        value = value.decode()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, str) and value[:1] in "[{":
        try:
            return json.loads(value)
        except json.JSONDecodeError:
            return value
    if value == "null":
        return None
    return value


def read_dataset(path: str | Path, *, rows: slice | None = None) -> ParameterDataset:
    """Read a dataset file (optionally a slice of rows).

    Raises
    ------
    DatasetError
        If the file is missing, not HDF5, or not a rekindle dataset.
    """
    path = Path(path)
    with open_for_reading(path, DatasetError, "dataset") as f:
        if f.attrs.get("format") != DATASET_FORMAT:
            hint = (
                " (a SKiMpy parameter population? use `rekindle label`)"
                if any(k.startswith("parameter_set_") for k in f)
                else ""
            )
            raise DatasetError(f"{path}: not a rekindle dataset{hint}")
        sl = rows if rows is not None else slice(None)
        names = read_strings(f["parameter_names"])
        meta = {k: _decode_attr(v) for k, v in f.attrs.items()}
        return ParameterDataset(
            parameters=f["parameters"][sl],
            parameter_names=names,
            max_real_eigenvalue=f["max_real_eigenvalue"][sl],
            relevant=f["relevant"][sl].astype(bool),
            metadata=meta,
        )
