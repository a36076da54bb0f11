"""SKiMpy-style parameter populations and rekindle datasets."""

from __future__ import annotations

import h5py
import numpy as np
import pytest

from rekindle.io.dataset import (
    DATASET_FORMAT,
    DatasetError,
    DatasetWriter,
    ParameterDataset,
    read_dataset,
    write_dataset,
)
from rekindle.io.skimpy_hdf5 import (
    ParameterFileError,
    align_to_model,
    read_parameter_population,
    write_parameter_population,
)
from rekindle.sampling import sample_parameters


def test_population_round_trip_keeps_set_numbers(tmp_path, toy, toy_ref):
    p, _, _ = sample_parameters(toy, toy_ref, 12, seed=0)
    path = write_parameter_population(tmp_path / "p.h5", p, toy.parameter_names)
    with h5py.File(path) as f:
        assert int(f["num_parameters_sets"][()]) == 12
        np.testing.assert_array_equal(f["parameter_set_10"][()], p[10])
    idx, values, names = read_parameter_population(path)
    np.testing.assert_array_equal(idx, np.arange(12))
    np.testing.assert_array_equal(values, p)
    np.testing.assert_array_equal(align_to_model(values, names, toy), p)


def test_wrong_number_of_columns_is_named(tmp_path, toy):
    path = tmp_path / "p.h5"
    with h5py.File(path, "w") as f:
        f["parameter_set_0"] = np.ones(toy.n_parameters)
        f["parameter_set_1"] = np.ones(toy.n_parameters - 1)
    with pytest.raises(ParameterFileError, match="parameter_set_1 has 22 values but there are 23"):
        read_parameter_population(path, toy.parameter_names)


def test_nan_parameter_is_named(toy, toy_ref):
    p, _, _ = sample_parameters(toy, toy_ref, 3, seed=0)
    p[2, 4] = np.nan
    with pytest.raises(
        ParameterFileError, match=f"parameter set 2 has a non-finite {toy.parameter_names[4]}"
    ):
        align_to_model(p, toy.parameter_names, toy)


def test_missing_parameter_is_named(toy):
    names = [n for n in toy.parameter_names if n != "km_substrate_EXP"]
    with pytest.raises(ParameterFileError, match="km_substrate_EXP"):
        align_to_model(np.ones((1, len(names))), names, toy)


def test_dataset_round_trip_and_metadata(tmp_path, toy, toy_ref):
    p, lam, rel = sample_parameters(toy, toy_ref, 10, seed=0)
    ds = ParameterDataset(p, toy.parameter_names, lam, rel, {"model": "toy", "settings": {"a": 1}})
    path = write_dataset(tmp_path / "d.h5", ds)
    back = read_dataset(path)
    np.testing.assert_array_equal(back.parameters, p)
    assert back.metadata["model"] == "toy" and back.metadata["settings"] == {"a": 1}
    assert back.metadata["format"] == DATASET_FORMAT and "rekindle_version" in back.metadata
    assert back.incidence == rel.mean()


def test_interrupted_writer_leaves_no_output(tmp_path, toy):
    out = tmp_path / "d.h5"
    with (
        pytest.raises(RuntimeError),
        DatasetWriter(out, toy.parameter_names, {"model": "toy"}) as w,
    ):
        w.append(np.ones((2, toy.n_parameters)), np.zeros(2), np.zeros(2, bool))
        raise RuntimeError("killed")
    assert not out.exists()
    assert (tmp_path / "d.h5.partial").exists()


def test_not_a_dataset(tmp_path):
    bad = tmp_path / "x.h5"
    bad.write_bytes(b"not hdf5 at all")
    with pytest.raises(DatasetError, match="not a readable HDF5"):
        read_dataset(bad)
    with pytest.raises(DatasetError, match="not found"):
        read_dataset(tmp_path / "missing.h5")
