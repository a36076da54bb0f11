"""DirectDatasetWriter: the file it writes equals the journalled writer's, and an
interrupted write leaves neither the output nor anything half-written behind."""

from __future__ import annotations

import os

import numpy as np
import pytest

from rekindle.errors import DatasetError
from rekindle.io.dataset import (
    DatasetRows,
    DatasetWriter,
    DirectDatasetWriter,
    partial_path,
    read_columns,
    read_dataset,
)

NAMES = [f"p{i}" for i in range(7)]
META = {"model": "toy", "physiology": "ref", "threshold": -1.0, "seed": 4, "source": "test"}


def _chunks(n: int, size: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    for a in range(0, n, size):
        m = min(size, n - a)
        yield rng.lognormal(size=(m, len(NAMES))), rng.normal(size=m), rng.random(m) < 0.4


def _leftovers(folder) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


@pytest.mark.parametrize(
    ("n", "size"),
    [
        (2500, 700),  # appends end inside HDF5 row chunks (1024 rows), which wait to be whole
        (5000, 2300),  # whole chunks between rows that complete or start a waiting chunk
        (4096, 1024),  # appends aligned with the chunks
        (3000, 3000),  # one append: two whole chunks, then the file's last, partial chunk
    ],
)
def test_same_file_as_the_journalled_writer(tmp_path, n: int, size: int) -> None:
    with DatasetWriter(tmp_path / "a.h5", NAMES, META) as w:
        for params, lam, rel in _chunks(n, size):
            w.append(params, lam, rel)
    with DirectDatasetWriter(tmp_path / "b.h5", NAMES, META, n) as w:
        for params, lam, rel in _chunks(n, size):
            w.append(params, lam, rel)
    a, b = read_dataset(tmp_path / "a.h5"), read_dataset(tmp_path / "b.h5")
    np.testing.assert_array_equal(a.parameters, b.parameters)
    np.testing.assert_array_equal(a.max_real_eigenvalue, b.max_real_eigenvalue)
    np.testing.assert_array_equal(a.relevant, b.relevant)
    same = {k: v for k, v in a.metadata.items() if k != "created"}
    assert same == {k: v for k, v in b.metadata.items() if k != "created"}
    assert b.metadata["n_models"] == n
    assert b.incidence == pytest.approx(np.mean(b.relevant))
    assert _leftovers(tmp_path) == ["a.h5", "b.h5"]


def test_an_interrupted_write_leaves_nothing(tmp_path) -> None:
    out = tmp_path / "g.h5"
    out.write_bytes(b"the previous file")  # an earlier result stays as it was
    with pytest.raises(KeyboardInterrupt):
        with DirectDatasetWriter(out, NAMES, META, 3000) as w:
            for i, (params, lam, rel) in enumerate(_chunks(3000, 1000)):
                if i == 2:
                    raise KeyboardInterrupt  # Ctrl-C half-way
                w.append(params, lam, rel)
    assert out.read_bytes() == b"the previous file"
    assert _leftovers(tmp_path) == ["g.h5"]


def test_fewer_rows_than_announced_is_refused_and_removed(tmp_path) -> None:
    w = DirectDatasetWriter(tmp_path / "g.h5", NAMES, META, 100)
    params, lam, rel = next(_chunks(60, 60))
    w.append(params, lam, rel)
    with pytest.raises(DatasetError, match="60 of 100 rows"):
        w.close()
    assert _leftovers(tmp_path) == []
    w2 = DirectDatasetWriter(tmp_path / "h.h5", NAMES, META, 10)
    with pytest.raises(DatasetError, match="rows for a file of 10"):
        w2.append(params, lam, rel)
    w2.abort()
    assert _leftovers(tmp_path) == []


def test_a_killed_writers_temporary_file_is_removed_by_the_next(tmp_path) -> None:
    # what a SIGKILL leaves: the hidden temporary file, never the output
    w = DirectDatasetWriter(tmp_path / "g.h5", NAMES, META, 10)
    stray = [p for p in tmp_path.iterdir()]
    assert len(stray) == 1 and stray[0].name.startswith(".g.h5.")
    assert not (tmp_path / "g.h5").exists()
    with pytest.raises(DatasetError):  # a reader refuses it
        read_dataset(stray[0])
    w._file.close()  # the killed process's handle is gone
    with DirectDatasetWriter(tmp_path / "g.h5", NAMES, META, 10) as w2:
        w2.append(*next(_chunks(10, 10)))
    assert _leftovers(tmp_path) == ["g.h5"]


def test_an_old_journal_is_refused_unless_forced(tmp_path) -> None:
    out = tmp_path / "g.h5"
    old = DatasetWriter(out, NAMES, META)
    old.append(*next(_chunks(5, 5)))
    old.abort()  # an interrupted run of the journalled writer
    assert partial_path(out).is_dir()
    with pytest.raises(DatasetError, match="--force"):
        DirectDatasetWriter(out, NAMES, META, 5)
    with DirectDatasetWriter(out, NAMES, META, 5, force=True) as w:
        w.append(*next(_chunks(5, 5)))
    assert not partial_path(out).exists()
    assert read_dataset(out).n_models == 5


def test_columns_and_rows_read_without_the_whole_matrix(tmp_path, monkeypatch) -> None:
    import rekindle.io.dataset as dataset

    monkeypatch.setattr(dataset, "_READ_ROWS", 64)  # many blocks
    with DirectDatasetWriter(tmp_path / "d.h5", NAMES, META, 500) as w:
        for chunk in _chunks(500, 128, seed=3):
            w.append(*chunk)
    full = read_dataset(tmp_path / "d.h5")
    cols = np.array([5, 0, 3])
    np.testing.assert_array_equal(read_columns(tmp_path / "d.h5", cols), full.parameters[:, cols])
    sub = read_columns(tmp_path / "d.h5", cols, full.relevant)
    np.testing.assert_array_equal(sub, full.parameters[full.relevant][:, cols])
    light = read_dataset(tmp_path / "d.h5", parameters=False)
    assert light.parameters.shape == (500, 0)
    np.testing.assert_array_equal(light.relevant, full.relevant)
    rows = DatasetRows(tmp_path / "d.h5", full.relevant)
    assert rows.shape == (int(full.relevant.sum()), len(NAMES))
    pick = np.array([7, 2, 40])
    np.testing.assert_array_equal(rows[pick], full.parameters[full.relevant][pick])
    np.testing.assert_array_equal(rows[3], full.parameters[full.relevant][3])
    assert os.path.getsize(tmp_path / "d.h5") > 500 * len(NAMES) * 8


def test_rows_of_another_dtype_or_layout_are_written_as_float64(tmp_path) -> None:
    """Whole chunks go to the file as raw bytes: float32 rows and column-major views must
    be converted first, and read back as the float64 values of the rows given."""
    rng = np.random.default_rng(1)
    params = rng.random((2100, len(NAMES)))
    lam, rel = -rng.random(2100), rng.random(2100) < 0.5
    with DirectDatasetWriter(tmp_path / "b.h5", NAMES, META, 2100) as w:
        w.append(params[:1500].astype(np.float32), lam[:1500], rel[:1500])
        w.append(np.asfortranarray(params[1500:]), lam[1500:], rel[1500:])
    got = read_dataset(tmp_path / "b.h5").parameters
    np.testing.assert_array_equal(got[:1500], params[:1500].astype(np.float32).astype(np.float64))
    np.testing.assert_array_equal(got[1500:], params[1500:])


def test_a_failure_while_closing_leaves_nothing(tmp_path, monkeypatch) -> None:
    """The disk fills up as the last bytes are written: the error reaches the caller and
    neither the output nor the temporary file is left."""
    import errno

    from rekindle.io._unbuffered import UnbufferedRange

    def full(self) -> None:
        raise OSError(errno.ENOSPC, "No space left on device")

    out = tmp_path / "g.h5"
    w = DirectDatasetWriter(out, NAMES, META, 300)
    w.append(*next(_chunks(300, 300)))
    monkeypatch.setattr(UnbufferedRange, "close", full)
    with pytest.raises(OSError, match="No space left"):
        w.close()
    assert _leftovers(tmp_path) == []
