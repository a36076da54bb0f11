"""UnbufferedRange: the bytes of a range written around the page cache are the bytes given,
in place, with nothing outside the range touched, on the direct path and on the fallbacks."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import h5py
import numpy as np
import pytest

import rekindle.io._unbuffered as unbuffered
from rekindle.io._unbuffered import ALIGNMENT, UnbufferedRange
from rekindle.io.dataset import DirectDatasetWriter, read_dataset

SMALL_BUFFER = 4 * ALIGNMENT  # many direct writes for a few pieces of data


def _file_with_sentinels(path: Path, offset: int, size: int, tail: int = 3000) -> bytes:
    """A file of ``offset + size + tail`` bytes: 0xAB before and after the range, 0 in it."""
    content = b"\xab" * offset + b"\x00" * size + b"\xab" * tail
    path.write_bytes(content)
    return content


def _direct_works(folder: Path) -> bool:
    probe = folder / "probe"
    probe.write_bytes(b"\x00" * ALIGNMENT)
    sink = UnbufferedRange(probe, 0, ALIGNMENT)
    try:
        return sink.direct
    finally:
        sink.abort()
        probe.unlink()


@pytest.mark.parametrize("direct", [True, False])
@pytest.mark.parametrize("offset", [0, 3 * ALIGNMENT, 3 * ALIGNMENT + 40])
@pytest.mark.parametrize("pieces", [[1], [5000, 1, 24_577, 3, 9000], [16_384 * 3 + 17]])
def test_the_range_holds_the_bytes_given_and_nothing_else_changes(
    tmp_path, monkeypatch, direct: bool, offset: int, pieces: list[int]
) -> None:
    monkeypatch.setattr(unbuffered, "_BUFFER_BYTES", SMALL_BUFFER)
    rng = np.random.default_rng(len(pieces) + offset)
    data = [rng.integers(0, 256, size=k, dtype=np.uint8) for k in pieces]
    size = sum(pieces)
    path = tmp_path / "f.bin"
    before = _file_with_sentinels(path, offset, size)
    sink = UnbufferedRange(path, offset, size, direct=direct)
    if offset % ALIGNMENT:
        assert not sink.direct  # an unaligned range cannot be written directly
    for piece in data:
        sink.write(piece)
    sink.close()
    after = path.read_bytes()
    assert len(after) == len(before)
    assert after[:offset] == before[:offset]
    assert after[offset + size :] == before[offset + size :]
    assert after[offset : offset + size] == np.concatenate(data).tobytes()


def test_the_direct_path_is_taken_where_the_file_system_allows_it(tmp_path) -> None:
    if not getattr(os, "O_DIRECT", 0) or not _direct_works(tmp_path):
        pytest.skip("no O_DIRECT on this platform or file system")
    path = tmp_path / "f.bin"
    _file_with_sentinels(path, ALIGNMENT, 10 * ALIGNMENT + 7)
    sink = UnbufferedRange(path, ALIGNMENT, 10 * ALIGNMENT + 7)
    sink.write(np.arange(10 * ALIGNMENT + 7, dtype=np.uint8))
    sink.close()
    assert sink.direct
    assert path.read_bytes()[ALIGNMENT : 11 * ALIGNMENT + 7] == bytes(
        np.arange(10 * ALIGNMENT + 7, dtype=np.uint8)
    )


def test_a_refused_direct_write_falls_back_to_the_page_cache(tmp_path, monkeypatch) -> None:
    """Some file systems accept the O_DIRECT open and refuse the first write (EINVAL)."""
    monkeypatch.setattr(unbuffered, "_BUFFER_BYTES", SMALL_BUFFER)
    path = tmp_path / "f.bin"
    _file_with_sentinels(path, 0, 3 * SMALL_BUFFER)
    sink = UnbufferedRange(path, 0, 3 * SMALL_BUFFER)
    if not sink.direct:
        sink.abort()
        pytest.skip("no O_DIRECT here: the open already fell back")
    real_pwrite = os.pwrite

    def refusing(fd: int, data, position: int) -> int:
        if fd == sink._direct_fd:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_pwrite(fd, data, position)

    monkeypatch.setattr(unbuffered.os, "pwrite", refusing)
    data = np.random.default_rng(0).integers(0, 256, size=3 * SMALL_BUFFER, dtype=np.uint8)
    sink.write(data)
    sink.close()
    assert not sink.direct
    assert path.read_bytes()[: data.size] == data.tobytes()


def test_too_many_or_too_few_bytes_are_refused(tmp_path) -> None:
    path = tmp_path / "f.bin"
    _file_with_sentinels(path, 0, 100)
    sink = UnbufferedRange(path, 0, 100)
    with pytest.raises(ValueError, match="past the range's end"):
        sink.write(np.zeros(101, np.uint8))
    sink.write(np.zeros(60, np.uint8))
    with pytest.raises(ValueError, match="60 of 100 bytes"):
        sink.close()
    sink.abort()


def test_a_dataset_written_around_the_page_cache_reads_as_written_through_it(tmp_path) -> None:
    """The generation writer: parameters start on a page, and both paths give the same
    datasets (read by h5py, i.e. HDF5's own view of the file)."""
    names = [f"p{i}" for i in range(411)]
    rng = np.random.default_rng(5)
    n = 3001  # 411 × 8 × 3001 bytes: not a whole number of pages
    params = rng.lognormal(size=(n, len(names)))
    lam, rel = -rng.random(n), rng.random(n) < 0.5
    files = {}
    for direct in (True, False):
        out = tmp_path / f"{direct}.h5"
        with DirectDatasetWriter(out, names, {"model": "toy"}, n, direct=direct) as w:
            for a in range(0, n, 700):
                w.append(params[a : a + 700], lam[a : a + 700], rel[a : a + 700])
        files[direct] = read_dataset(out)
        with h5py.File(out, "r") as f:
            assert f["parameters"].id.get_offset() % ALIGNMENT == 0
            assert f["parameters"].chunks is None
    for got in files.values():
        np.testing.assert_array_equal(got.parameters, params)
        np.testing.assert_array_equal(got.max_real_eigenvalue, lam)
        np.testing.assert_array_equal(got.relevant, rel)
