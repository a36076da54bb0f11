"""Crash-consistent datasets: journal, lock, verified resume, readers refusing incomplete files."""

from __future__ import annotations

import os
import subprocess
import sys

import h5py
import numpy as np
import pytest

from rekindle.errors import DatasetError
from rekindle.io.dataset import DatasetWriter, partial_path, read_dataset


def _chunk(toy, rows: int, value: float):
    return np.full((rows, toy.n_parameters), value), np.full(rows, -10.0), np.ones(rows, bool)


def test_a_killed_writer_leaves_a_journal_that_resume_continues(tmp_path, toy):
    out = tmp_path / "d.h5"
    w = DatasetWriter(out, toy.parameter_names, {"model": "toy"})
    w.append(*_chunk(toy, 3, 1.0))
    w.append(*_chunk(toy, 2, 2.0))
    w.abort()
    assert not out.exists()
    with pytest.raises(DatasetError, match=r"unfinished run \(2 chunks, 5 rows\).*--resume"):
        DatasetWriter(out, toy.parameter_names, {"model": "toy"})
    with pytest.raises(DatasetError, match="other settings"):
        DatasetWriter(out, toy.parameter_names, {"model": "other"}, resume=True)
    w = DatasetWriter(out, toy.parameter_names, {"model": "toy"}, resume=True)
    assert (w.chunks_done, w.n_models) == (2, 5)
    w.append(*_chunk(toy, 1, 3.0))
    w.close()
    ds = read_dataset(out)
    np.testing.assert_array_equal(ds.parameters[:, 0], [1, 1, 1, 2, 2, 3])
    assert ds.metadata["n_models"] == 6 and not partial_path(out).exists()


def test_force_discards_a_journal(tmp_path, toy):
    out = tmp_path / "d.h5"
    w = DatasetWriter(out, toy.parameter_names, {"model": "toy"})
    w.append(*_chunk(toy, 3, 1.0))
    w.abort()
    with DatasetWriter(out, toy.parameter_names, {"model": "toy"}, force=True) as w:
        assert w.chunks_done == 0
        w.append(*_chunk(toy, 1, 5.0))
    assert read_dataset(out).n_models == 1


def test_a_damaged_chunk_is_refused_on_resume(tmp_path, toy):
    out = tmp_path / "d.h5"
    w = DatasetWriter(out, toy.parameter_names, {"model": "toy"})
    w.append(*_chunk(toy, 3, 1.0))
    w.append(*_chunk(toy, 3, 1.0))
    w.abort()
    chunk = partial_path(out) / "chunk_00000001.npz"
    data = bytearray(chunk.read_bytes())
    data[data.index(np.float64(1.0).tobytes()) + 7] ^= 0x01  # one bit of one value
    chunk.write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"chunk_00000001\.npz is damaged"):
        DatasetWriter(out, toy.parameter_names, {"model": "toy"}, resume=True)
    (partial_path(out) / "chunk_00000000.npz").unlink()
    with pytest.raises(DatasetError, match="chunk 0 is missing"):
        DatasetWriter(out, toy.parameter_names, {"model": "toy"}, resume=True)


def test_a_second_writer_is_refused_while_the_first_runs(tmp_path, toy):
    out = tmp_path / "d.h5"
    first = DatasetWriter(out, toy.parameter_names, {"model": "toy"})
    first.append(*_chunk(toy, 2, 1.0))
    for flags in ({}, {"resume": True}, {"force": True}):
        with pytest.raises(DatasetError, match="another rekindle process is writing"):
            DatasetWriter(out, toy.parameter_names, {"model": "toy"}, **flags)
    # also from another process (flock is per open file, so this is the real case)
    code = (
        "import sys; from rekindle.data import load_model; from rekindle.io.dataset import "
        "DatasetWriter; from rekindle.errors import DatasetError\n"
        "try:\n DatasetWriter(sys.argv[1], load_model('toy').parameter_names, {'model': 'toy'},"
        " resume=True)\nexcept DatasetError as e:\n print(e); sys.exit(2)"
    )
    proc = subprocess.run([sys.executable, "-c", code, str(out)], capture_output=True, text=True)
    assert proc.returncode == 2 and "another rekindle process" in proc.stdout
    first.close()
    assert read_dataset(out).n_models == 2


def test_an_output_path_that_is_a_folder_is_refused_before_writing(tmp_path, toy):
    (tmp_path / "d.h5").mkdir()
    with pytest.raises(DatasetError, match="is a folder"):
        DatasetWriter(tmp_path / "d.h5", toy.parameter_names, {"model": "toy"})
    assert not partial_path(tmp_path / "d.h5").exists()


def test_readers_refuse_incomplete_files(tmp_path, toy):
    out = tmp_path / "d.h5"
    with DatasetWriter(out, toy.parameter_names, {"model": "toy"}) as w:
        w.append(*_chunk(toy, 4, 1.0))
    good = out.read_bytes()
    w = DatasetWriter(tmp_path / "p.h5", toy.parameter_names, {"model": "toy"})
    w.append(*_chunk(toy, 4, 1.0))
    w.abort()
    with pytest.raises(DatasetError, match="unfinished dataset"):
        read_dataset(partial_path(tmp_path / "p.h5"))
    # rows of one array missing (an older writer interrupted between two arrays)
    short = tmp_path / "short.h5"
    short.write_bytes(good)
    with h5py.File(short, "a") as f:
        f["relevant"].resize((3,)) if f["relevant"].maxshape[0] is None else None
        del f["relevant"]
        f.create_dataset("relevant", data=np.ones(3, bool))
    with pytest.raises(DatasetError, match="incomplete dataset"):
        read_dataset(short)
    # never finished by its writer (no incidence): an older version's partial file
    unfinished = tmp_path / "unfinished.h5"
    unfinished.write_bytes(good)
    with h5py.File(unfinished, "a") as f:
        del f.attrs["incidence"]
    with pytest.raises(DatasetError, match="never finished"):
        read_dataset(unfinished)
    # half-written: the file cut short
    half = tmp_path / "half.h5"
    half.write_bytes(good[: len(good) // 2])
    with pytest.raises(DatasetError):
        read_dataset(half)


def test_an_older_versions_partial_file_is_refused_without_force(tmp_path, toy):
    out = tmp_path / "d.h5"
    partial_path(out).write_bytes(b"an HDF5 partial of rekindle < 0.x")
    with pytest.raises(DatasetError, match="earlier rekindle version"):
        DatasetWriter(out, toy.parameter_names, {"model": "toy"})
    with DatasetWriter(out, toy.parameter_names, {"model": "toy"}, force=True) as w:
        w.append(*_chunk(toy, 1, 1.0))
    assert read_dataset(out).n_models == 1 and not os.path.exists(partial_path(out))


@pytest.mark.parametrize(
    ("n", "n_relevant", "match"),
    [
        (5, 2, "5 parameter sets; training needs at least 100"),
        (300, 0, "0 relevant parameter sets of 300"),
        (300, 295, "5 not relevant parameter sets of 300"),
    ],
)
def test_training_refuses_degenerate_data(toy, n, n_relevant, match):
    from rekindle.io.dataset import ParameterDataset, require_training_data

    rel = np.arange(n) < n_relevant
    ds = ParameterDataset(np.ones((n, toy.n_parameters)), toy.parameter_names, np.zeros(n), rel)
    with pytest.raises(DatasetError, match=match):
        require_training_data(ds, "d.h5")
    require_training_data(
        ParameterDataset(
            np.ones((100, toy.n_parameters)),
            toy.parameter_names,
            np.zeros(100),
            np.arange(100) < 50,
        ),
        "ok.h5",
    )
