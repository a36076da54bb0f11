"""Argument checks (before any file is touched) and unique population names."""

from __future__ import annotations

from pathlib import Path

import pytest

from rekindle.analysis.populations import population_names
from rekindle.errors import UsageError
from rekindle.validation import (
    MAX_SEED,
    require_device,
    require_disk_space,
    require_finite,
    require_output_file,
    require_positive,
    require_seed,
)


def test_populations_with_the_same_stem_get_distinct_names():
    names = population_names([Path("runA/oracle.h5"), Path("runB/oracle.h5"), Path("g.h5")])
    assert names == ["runA/oracle", "runB/oracle", "g"]
    assert population_names([Path("a.h5"), Path("b.h5")], ["ORACLE", "GAN"]) == ["ORACLE", "GAN"]
    with pytest.raises(UsageError, match="given twice"):
        population_names([Path("a.h5"), Path("./a.h5")])
    with pytest.raises(UsageError, match="1 --label for 2 datasets"):
        population_names([Path("a.h5"), Path("b.h5")], ["x"])


@pytest.mark.parametrize(
    ("check", "match"),
    [
        (lambda: require_positive("--n", 0), "--n must be at least 1, got 0"),
        (lambda: require_positive("--chunk-size", -3), "--chunk-size must be at least 1"),
        (lambda: require_finite("--threshold", float("nan")), "--threshold must be a finite"),
        (lambda: require_seed(-1), "--seed must be between 0 and"),
        (lambda: require_seed(MAX_SEED + 1), "--seed must be between 0 and"),
        (lambda: require_device("bogus"), "--device must be cpu, cuda"),
        (lambda: require_disk_space(Path("x.h5"), 10**12, 411), "at most .* models fit"),
    ],
)
def test_bad_arguments_are_refused_in_one_line(check, match):
    with pytest.raises(UsageError, match=match) as err:
        check()
    assert "\n" not in str(err.value)


def test_output_checks(tmp_path):
    with pytest.raises(UsageError, match="is a folder"):
        require_output_file(tmp_path)
    assert require_output_file(tmp_path / "new" / "deeper" / "d.h5")
    assert require_seed(0) == 0 and require_seed(MAX_SEED) == MAX_SEED
    assert require_device("cuda:1") == "cuda:1" and require_device(None) is None


def test_input_files_must_be_regular_readable_and_text_where_text_is_expected(tmp_path):
    import os

    from rekindle.errors import MissingFileError
    from rekindle.validation import read_text_input, require_input_file

    with pytest.raises(MissingFileError, match="--x nope: file not found"):
        require_input_file(Path("nope"), "--x")
    with pytest.raises(UsageError, match="is a folder"):
        require_input_file(tmp_path, "--x")
    os.mkfifo(tmp_path / "pipe")
    with pytest.raises(UsageError, match="is a named pipe"):
        require_input_file(tmp_path / "pipe", "--x")
    (tmp_path / "nul.txt").write_bytes(b"abc\0def")
    with pytest.raises(UsageError, match="is a binary file"):
        require_input_file(tmp_path / "nul.txt", "--x", text=True)
    assert require_input_file(tmp_path / "nul.txt", "--x")  # binary is fine where expected
    # a multi-byte character cut by the 8 KiB sniff window is still text
    (tmp_path / "u.txt").write_text("a" * 8191 + "é" * 10, encoding="utf-8")
    assert read_text_input(tmp_path / "u.txt", "--x").endswith("é")


def test_outputs_equal_to_an_input_are_refused(tmp_path):
    import os

    from rekindle.validation import require_distinct

    (tmp_path / "a.h5").write_bytes(b"x")
    os.symlink(tmp_path / "a.h5", tmp_path / "link.h5")
    for same in (tmp_path / "a.h5", tmp_path / "sub" / ".." / "a.h5", tmp_path / "link.h5"):
        with pytest.raises(UsageError, match="is the same file as --in"):
            require_distinct(same, "-o", ("--in", tmp_path / "a.h5"))
    assert require_distinct(tmp_path / "b.h5", "-o", ("--in", tmp_path / "a.h5"), ("--n", None))


def test_output_names_longer_than_the_file_system_allows(tmp_path):
    with pytest.raises(UsageError, match="has 300 bytes; this file system allows 255"):
        require_output_file(tmp_path / ("x" * 300))


def test_scheduler_addresses(tmp_path):
    import socket

    from rekindle.validation import require_scheduler_address

    assert require_scheduler_address(None) is None
    for bad, match in (
        ("not a url", "must be tcp://host:port"),
        ("ftp://h:1", "unknown scheme 'ftp'"),
        ("tcp://h:70000", "port 70000 is not in"),
        ("tcp://127.0.0.1:1", "cannot reach the Dask scheduler"),
    ):
        with pytest.raises(UsageError, match=match):
            require_scheduler_address(bad, timeout=0.5)
    # something listens but never greets (a web server waits for a request): no hang
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        port = server.getsockname()[1]
        with pytest.raises(UsageError, match="does not answer as a Dask scheduler"):
            require_scheduler_address(f"127.0.0.1:{port}", timeout=0.5)
