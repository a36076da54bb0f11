"""rekindle datasets: labelled parameter populations in HDF5.

Layout (``format = "rekindle-dataset/2"``)::

    /parameters            (n_models, n_parameters) float64, model's canonical order
    /parameter_names       (n_parameters,) UTF-8 strings
    /max_real_eigenvalue   (n_models,) float64, h⁻¹ (NaN where not computed/finite)
    /relevant              (n_models,) bool
    /model_content, /physiology_content
                           JSON text: the model and physiology the data were made from
                           (see :mod:`rekindle.io.model_bundle`)
    attrs: format, model, physiology, model_sha256, physiology_sha256, threshold, seed,
           source, rekindle_version, created, settings (JSON), n_models

Format ``rekindle-dataset/1`` (without the embedded model) is still read.

Datasets are written (:mod:`rekindle.io.dataset_writers`, re-exported here) through
:class:`DatasetWriter`, which commits chunks one by one
to the journal ``<path>.partial/`` and assembles ``path`` only when all are there; an
interrupted write can be resumed (verified against the journal's content); or, when the
size is known and redoing is cheaper than journalling (generation), through
:class:`DirectDatasetWriter`, straight into the final file under a temporary name. Readers
refuse incomplete files: a ``.partial``, a file whose ``n_models`` disagrees with its
arrays or that was never finished (no ``incidence``), a damaged HDF5 file.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from rekindle.errors import DatasetError
from rekindle.io._hdf5 import open_for_reading, read_strings
from rekindle.io.dataset_writers import (  # re-exported: the writers of this layout
    DATASET_FORMAT as DATASET_FORMAT,
)
from rekindle.io.dataset_writers import DatasetWriter as DatasetWriter
from rekindle.io.dataset_writers import DirectDatasetWriter as DirectDatasetWriter
from rekindle.io.dataset_writers import partial_path as partial_path
from rekindle.io.model_bundle import CONTENT_KEYS, ModelBundle, bundle_of

READABLE_FORMATS = ("rekindle-dataset/1", DATASET_FORMAT)

CLASS_METADATA_KEYS = ("class_spec", "class_where")
"""Attributes recording a dataset's class (written by :mod:`rekindle.classes.store`);
a generator trained on the dataset copies them into its metadata."""


def relevance_interval(metadata: Mapping[str, Any], source: str = "dataset") -> tuple[float, float]:
    """``(lower, upper)``, h⁻¹: what "relevant" means for data or a generator.

    Relevant is ``lower < max Re(λ) < upper``: the eigenvalue interval of the recorded
    class (``class_spec``, :mod:`rekindle.classes`) when there is one without a returns
    clause; otherwise ``(-inf, threshold)`` (the ``threshold`` recorded, default
    :data:`~rekindle.reference_values.RELEVANCE_THRESHOLD_PER_H`), as before classes. A
    class with a returns clause is not decided by max Re(λ): its files keep being labelled
    by their threshold.

    Raises
    ------
    DatasetError
        A recorded class that does not read (not JSON, not a mapping, a bound not a number).
    """
    from rekindle.kinetics.stability import eigenvalue_interval
    from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H

    raw = metadata.get("class_spec")
    if raw is not None:
        try:
            spec = json.loads(raw) if isinstance(raw, str) else raw
            if not isinstance(spec, Mapping):
                raise TypeError(f"a mapping was expected, got {type(spec).__name__}")
            if spec.get("returns") is None:
                bounds = ("eig_below", "eig_above", "tau_below", "tau_above")
                return eigenvalue_interval(*(spec.get(b) for b in bounds))
        except (ValueError, TypeError) as exc:
            raise DatasetError(f"{source}: damaged class record: {exc}") from None
    return -np.inf, float(metadata.get("threshold", RELEVANCE_THRESHOLD_PER_H))


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
    path: Path | None = field(default=None, compare=False)

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

    def bundle(self) -> ModelBundle:
        """The model and physiology these data were made from (:mod:`rekindle.io.model_bundle`).

        Raises
        ------
        DatasetError
            If the embedded model is damaged, or an old file names a model that is
            not embedded in rekindle.
        """
        bundle = bundle_of(self.metadata, str(self.path or "dataset"))
        if bundle.model.parameter_names != self.parameter_names:
            raise DatasetError(
                f"{self.path or 'dataset'}: columns are not the parameters of model "
                f"{bundle.model.name!r}"
            )
        return bundle

    def columns(self, names: list[str]) -> np.ndarray:
        """The columns ``names`` as an array ``(n_models, len(names))``."""
        index = {n: i for i, n in enumerate(self.parameter_names)}
        missing = [n for n in names if n not in index]
        if missing:
            raise DatasetError(f"dataset has no parameter(s) {', '.join(missing[:5])}")
        return self.parameters[:, [index[n] for n in names]]


MIN_TRAINING_SETS = 100
"""Fewest parameter sets a generator is trained on from scratch: with the default 10 %
held out and batches of 128, fewer sets make no full batch, and a GAN trained on a handful
of sets reports a meaningless incidence (measured: 0.99 "best incidence" on 5 sets)."""

MIN_SETS_PER_CLASS = 10
"""Fewest sets of each class (relevant, not relevant) in training data."""


def require_training_data(dataset: ParameterDataset, source: str) -> None:
    """Refuse data a conditional generator cannot learn from.

    Raises
    ------
    DatasetError
        Fewer than :data:`MIN_TRAINING_SETS` sets, or fewer than
        :data:`MIN_SETS_PER_CLASS` of either class.
    """
    require_class_counts(dataset.n_models, int(np.count_nonzero(dataset.relevant)), source)


def require_class_counts(n: int, n_relevant: int, source: str) -> None:
    """:func:`require_training_data` from counts (data read chunk by chunk).

    Parameters
    ----------
    n, n_relevant
        Parameter sets, and relevant ones among them.
    source
        Names the data in the message (a file path).
    """
    if n < MIN_TRAINING_SETS:
        raise DatasetError(
            f"{source}: {n} parameter sets; training needs at least {MIN_TRAINING_SETS}"
        )
    n_rel = n_relevant
    for cls, count in (("relevant", n_rel), ("not relevant", n - n_rel)):
        if count < MIN_SETS_PER_CLASS:
            raise DatasetError(
                f"{source}: {count} {cls} parameter sets of {n}; training a conditional "
                f"generator needs at least {MIN_SETS_PER_CLASS} of each class"
            )


def require_consistent_labels(
    relevant: np.ndarray,
    max_real_eigenvalue: np.ndarray,
    threshold: float,
    source: str,
    *,
    row_offset: int = 0,
    steady: np.ndarray | None = None,
    member: Callable[[np.ndarray], np.ndarray] | None = None,
    rule: str | None = None,
    exact: bool = True,
) -> None:
    """Refuse relevance flags that contradict the stored eigenvalues.

    A set is relevant exactly when its max Re(λ) is finite and below the threshold
    (``rekindle sample``, ``label`` and ``generate --validate`` write it so). Sets
    without an eigenvalue (NaN: generated without ``--validate``) and sets that are no
    steady state (``steady`` False: labelled not relevant whatever their λ) are not
    checked.

    Parameters
    ----------
    relevant : numpy.ndarray of bool, shape (n,)
    max_real_eigenvalue : numpy.ndarray, shape (n,)
        h⁻¹.
    threshold : float
        The dataset's relevance threshold, h⁻¹.
    source : str
        Names the data in the message.
    row_offset : int
        Row number of the first set (data read chunk by chunk).
    steady : numpy.ndarray of bool, shape (n,), optional
    member : callable, optional
        For a dataset labelled by a class (``rekindle relabel``, ``--where``): max Re(λ)
        ``(n,)`` → whether the eigenvalue part of the class holds, used instead of
        ``λ < threshold``; ``rule`` names the class in the message.
    exact : bool
        ``False`` when the class has a part the eigenvalue does not decide (a return
        clause): only flags set where ``member`` fails are contradictions.

    Raises
    ------
    DatasetError
        Naming the count and the first contradicting row.
    """
    lam = np.asarray(max_real_eigenvalue, dtype=float)
    rel = np.asarray(relevant, dtype=bool)
    with np.errstate(invalid="ignore"):
        expected = np.isfinite(lam) & (lam < threshold if member is None else member(lam))
    bad = ((rel != expected) if exact else (rel & ~expected)) & ~np.isnan(lam)
    if steady is not None:
        bad &= np.asarray(steady, dtype=bool)
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise DatasetError(
            f"{source}: {int(bad.sum())} of {rel.size} sets have a relevant flag that "
            "contradicts their stored max Re(λ) and "
            + (f"the threshold {threshold:g} 1/h" if rule is None else f"the class {rule!r}")
            + " (first: "
            f"row {row_offset + i}, max Re(λ) = {lam[i]:.4g}, relevant = {bool(rel[i])}); "
            + ("relabel the data with `rekindle label`" if rule is None else
               "give the data its class again with `rekindle relabel`")
        )  # fmt: skip


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


_ARRAYS = ("parameters", "max_real_eigenvalue", "relevant")


@contextlib.contextmanager
def open_dataset(path: str | Path) -> Iterator[h5py.File]:
    """Open a complete rekindle dataset read-only (for streaming readers).

    Raises
    ------
    DatasetError
        If the file is missing, not HDF5, not a rekindle dataset, or incomplete: a
        ``.partial`` journal, a file never finished by its writer, arrays of unequal
        lengths or a length other than the recorded ``n_models``.
    """
    path = Path(path)
    if path.name.endswith(".partial") or path.is_dir():
        raise DatasetError(
            f"{path} is an unfinished dataset (a .partial journal); finish it by rerunning "
            "its command with --resume"
        )
    with open_for_reading(path, DatasetError, "dataset") as f:
        if f.attrs.get("format") not in READABLE_FORMATS:
            hint = (
                " (a SKiMpy parameter population? use `rekindle label`)"
                if any(k.startswith("parameter_set_") for k in f)
                else ""
            )
            raise DatasetError(f"{path}: not a rekindle dataset{hint}")
        _require_complete(f, path)
        yield f


def _require_complete(f: h5py.File, path: Path) -> None:
    try:
        lengths = {name: f[name].shape[0] for name in (*_ARRAYS, "parameter_names")}
        lengths["parameter columns"] = lengths.pop("parameter_names")
        columns = f["parameters"].shape[1]
    except (KeyError, OSError, IndexError) as exc:
        raise DatasetError(f"{path}: damaged or incomplete dataset ({exc})") from None
    recorded = f.attrs.get("n_models")
    if "incidence" not in f.attrs or recorded is None:
        raise DatasetError(f"{path}: incomplete dataset (its writer never finished it)")
    rows = {lengths[name] for name in _ARRAYS}
    if rows != {int(recorded)} or lengths["parameter columns"] != columns:
        raise DatasetError(
            f"{path}: incomplete dataset ({', '.join(f'{k} {v}' for k, v in lengths.items())}"
            f" rows, n_models {int(recorded)})"
        )


def read_dataset(
    path: str | Path, *, rows: slice | None = None, parameters: bool = True
) -> ParameterDataset:
    """Read a complete dataset file (optionally a slice of rows).

    Parameters
    ----------
    rows
        A slice of rows (default: all).
    parameters
        False: the labels, eigenvalues and metadata only, without the parameter matrix
        (``parameters`` of shape ``(n, 0)``, no names): for callers that stream the matrix
        (:func:`read_columns`, :class:`DatasetRows`) instead of holding it.

    Raises
    ------
    DatasetError
        See :func:`open_dataset`.
    """
    path = Path(path)
    sl = rows if rows is not None else slice(None)
    with open_dataset(path) as f:
        try:
            names = read_strings(f["parameter_names"]) if parameters else []
            meta = read_metadata(f)
            arrays = {name: f[name][sl] for name in _ARRAYS if parameters or name != "parameters"}
            if not parameters:
                n = arrays["relevant"].shape[0]
                arrays["parameters"] = np.empty((n, 0))
        except OSError as exc:
            raise DatasetError(f"{path}: damaged dataset ({exc})") from None
    return ParameterDataset(
        parameters=arrays["parameters"],
        parameter_names=names,
        max_real_eigenvalue=arrays["max_real_eigenvalue"],
        relevant=arrays["relevant"].astype(bool),
        metadata=meta,
        path=path,
    )


#: rows per read of :func:`read_columns` (~50 MB of a 411-column float64 matrix)
_READ_ROWS = 16_384


def read_columns(
    path: str | Path,
    columns: np.ndarray,
    rows: np.ndarray | None = None,
    *,
    dtype: type[np.floating] = np.float64,
) -> np.ndarray:
    """Some columns of a dataset's parameter matrix, read in blocks of rows.

    Only the result is held (never the whole matrix): ``(m, len(columns))`` for the
    ``m`` rows selected.

    Parameters
    ----------
    columns
        Column indices, shape (c,).
    rows
        Boolean mask of the rows to keep, shape (n_models,) (default: all).
    dtype
        dtype of the result (values are read as stored, float64, and cast).

    Raises
    ------
    DatasetError
        See :func:`open_dataset`.
    """
    columns = np.asarray(columns, dtype=np.int64)
    with open_dataset(path) as f:
        data = f["parameters"]
        n = data.shape[0]
        keep = np.ones(n, dtype=bool) if rows is None else np.asarray(rows, dtype=bool)
        if keep.shape != (n,):
            raise ValueError(f"rows must be a mask of shape ({n},), got {keep.shape}")
        out = np.empty((int(np.count_nonzero(keep)), columns.size), dtype=dtype)
        at = 0
        for a in range(0, n, _READ_ROWS):
            sel = keep[a : a + _READ_ROWS]
            m = int(np.count_nonzero(sel))
            if m:
                out[at : at + m] = data[a : a + _READ_ROWS][sel][:, columns]
                at += m
    return out


class DatasetRows:
    """Rows of a dataset file's parameter matrix, read when indexed (not held).

    Stands in for a parameter array ``(m, n_parameters)`` where only a few rows are
    ever used (e.g. the models a perturbation analysis draws from a population).

    Parameters
    ----------
    path
        A complete dataset file.
    rows
        Boolean mask of the rows that make up the population, shape (n_models,).
    """

    def __init__(self, path: str | Path, rows: np.ndarray) -> None:
        self.path = Path(path)
        self.index = np.flatnonzero(np.asarray(rows, dtype=bool))
        with open_dataset(self.path) as f:
            self.shape = (int(self.index.size), int(f["parameters"].shape[1]))
        self.ndim = 2

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, i: Any) -> np.ndarray:
        """Rows ``i`` of the population (an index array, a slice or an int)."""
        picked = self.index[i]
        scalar = np.ndim(picked) == 0
        picked = np.atleast_1d(picked)
        order = np.argsort(picked, kind="stable")
        with open_dataset(self.path) as f:
            block = f["parameters"][np.asarray(picked[order])] if picked.size else None
        out = np.empty((picked.size, self.shape[1]))
        if block is not None:
            out[order] = block
        return out[0] if scalar else out


def read_metadata(f: h5py.File) -> dict[str, Any]:
    """A dataset file's metadata: its attributes and the embedded model content."""
    meta = {k: _decode_attr(v) for k, v in f.attrs.items()}
    for key in CONTENT_KEYS:
        if key in f:
            raw = f[key][()]
            meta[key] = json.loads(raw.decode() if isinstance(raw, bytes) else raw)
    return meta
