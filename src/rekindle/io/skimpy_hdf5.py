"""SKiMpy-style HDF5 parameter populations.

Layout: one dataset ``parameter_set_<i>`` of shape ``(n_parameters,)`` per set; the
names in a ``parameter_names`` dataset (or a separate text file, one name per line);
``num_parameters_sets`` (scalar) on export. Keys sort as text in HDF5
(``parameter_set_0, _1, _10, …``), so sets are read by index, never by key order.
"""

from __future__ import annotations

import re
from pathlib import Path

import h5py
import numpy as np

from rekindle.errors import ParameterFileError
from rekindle.io._hdf5 import STRING_DTYPE, open_for_reading, read_strings
from rekindle.io.atomic import atomic_path
from rekindle.kinetics.model import KineticModel

_SET = re.compile(r"^parameter_set_(\d+)$")

# Parameters a population may omit: filled with the model's defaults.
_OPTIONAL_PREFIXES = ("volume_", "cell_volume_", "hill_coefficient_")


def read_parameter_names(path: str | Path) -> list[str]:
    """Read a names file: one parameter name per line (blank lines ignored)."""
    from rekindle.validation import read_text_input

    text = read_text_input(Path(path), "--parameter-names")
    return [ln.strip() for ln in text.splitlines() if ln.strip()]


def read_parameter_population(
    path: str | Path, parameter_names: list[str] | None = None
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Read a SKiMpy-style population.

    Parameters
    ----------
    path
        HDF5 file with ``parameter_set_<i>`` datasets.
    parameter_names
        Column names; default: the file's ``parameter_names`` dataset.

    Returns
    -------
    indices
        Set numbers ``i``, increasing, shape ``(n_sets,)``.
    values
        Shape ``(n_sets, n_parameters)``, row k = ``parameter_set_<indices[k]>``.
    names
        Column names.
    """
    path = Path(path)
    with open_for_reading(path, ParameterFileError, "parameter file") as f:
        sets = sorted((int(m.group(1)), k) for k in f if (m := _SET.match(k)))
        if not sets:
            raise ParameterFileError(f"{path}: no parameter_set_<i> datasets")
        if parameter_names is None:
            if "parameter_names" not in f:
                raise ParameterFileError(
                    f"{path}: no parameter_names dataset; pass a names file (--parameter-names)"
                )
            parameter_names = read_strings(f["parameter_names"])
        width = len(parameter_names)
        values = np.empty((len(sets), width))
        for row, (_, key) in enumerate(sets):
            v = np.asarray(f[key][()], dtype=float).ravel()
            if v.shape != (width,):
                raise ParameterFileError(
                    f"{path}: {key} has {v.size} values but there are {width} parameter names"
                )
            values[row] = v
    return np.array([i for i, _ in sets]), values, list(parameter_names)


def align_to_model(
    values: np.ndarray, names: list[str], model: KineticModel, *, source: str = "parameters"
) -> np.ndarray:
    """Reorder population columns into the model's canonical parameter order.

    Volumes and Hill coefficients the file lacks are filled with the model's values
    (volumes from the compartments, Hill coefficients 1); any other missing parameter,
    a duplicate name, or a non-finite value is an error naming it.

    Returns
    -------
    numpy.ndarray
        Shape ``(n_sets, model.n_parameters)``.
    """
    index: dict[str, int] = {}
    for j, n in enumerate(names):
        if n in index:
            raise ParameterFileError(f"{source}: duplicate parameter name {n!r}")
        index[n] = j
    out = np.empty((values.shape[0], model.n_parameters))
    volumes = {}
    for c in model.compartments:
        volumes[f"volume_{c.id}"] = volumes[f"cell_volume_{c.id}"] = c.volume
    missing = []
    for k, name in enumerate(model.parameter_names):
        if name in index:
            out[:, k] = values[:, index[name]]
        elif name.startswith(_OPTIONAL_PREFIXES):
            out[:, k] = volumes.get(name, 1.0)
        else:
            missing.append(name)
    if missing:
        raise ParameterFileError(
            f"{source}: missing {len(missing)} parameter(s) of model {model.name!r}: "
            f"{', '.join(missing[:8])}{' …' if len(missing) > 8 else ''}"
        )
    bad = ~np.isfinite(out)
    if bad.any():
        i, k = np.argwhere(bad)[0]
        raise ParameterFileError(
            f"{source}: parameter set {i} has a non-finite {model.parameter_names[k]} "
            f"({out[i, k]!r}); {int(bad.any(axis=1).sum())} set(s) affected"
        )
    return out


def write_parameter_population(
    path: str | Path, values: np.ndarray, names: list[str], indices: np.ndarray | None = None
) -> Path:
    """Write a population in SKiMpy's layout, atomically.

    Writes ``parameter_set_<i>`` per row, ``parameter_names`` and
    ``num_parameters_sets``.
    """
    values = np.asarray(values, dtype=float)
    if values.ndim != 2 or values.shape[1] != len(names):
        raise ParameterFileError(
            f"values must have shape (n_sets, {len(names)}), got {values.shape}"
        )
    idx = np.arange(values.shape[0]) if indices is None else np.asarray(indices)
    with atomic_path(path, ".h5") as tmp, h5py.File(tmp, "w") as f:
        for i, row in zip(idx, values, strict=True):
            f.create_dataset(f"parameter_set_{int(i)}", data=row)
        f.create_dataset("parameter_names", data=np.array(names, dtype=object), dtype=STRING_DTYPE)
        f.create_dataset("num_parameters_sets", data=values.shape[0])
    return Path(path)
