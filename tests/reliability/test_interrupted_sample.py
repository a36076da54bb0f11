"""`rekindle sample` killed (SIGKILL) or interrupted (SIGINT) at several moments, then
resumed, gives the file of an uninterrupted run."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import h5py
import numpy as np
import pytest

pytestmark = pytest.mark.slow

CLI = [sys.executable, "-c", "import sys; from rekindle.cli import main; sys.exit(main())"]
N, CHUNK = 3000, 100
ARGS = ["sample", "-m", "ecoli", "-p", "fdp1", "--n", str(N), "--chunk-size", str(CHUNK)]
ARGS += ["--jobs", "1", "--seed", "3", "--quiet"]


def _sample(out: Path, *extra: str, nice: bool = False) -> subprocess.Popen:
    # nice (exec'd, so the PID is the sampler's): on a loaded machine the test, not the
    # sampler, gets the CPU first, so it can interrupt the run while it is still running
    prefix = ["nice", "-n", "19"] if nice else []
    return subprocess.Popen(
        [*prefix, *CLI, *ARGS, "--output", str(out), *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        # a test run started in the background (`pytest … &`) hands its children SIGINT
        # ignored, and Python then never raises KeyboardInterrupt: give the sampler the
        # default disposition, as a foreground shell would
        preexec_fn=_default_sigint,
    )


def _default_sigint() -> None:
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _wait_for_chunks(proc: subprocess.Popen, journal: Path, k: int) -> None:
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if journal.is_dir() and len(list(journal.glob("chunk_*.npz"))) >= k:
            return
        time.sleep(0.002)


def _content(path: Path) -> dict:
    with h5py.File(path, "r") as f:
        out = {k: f[k][()] for k in f}
        out["attrs"] = {k: v for k, v in f.attrs.items() if k != "created"}
    return out


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        if key == "attrs":
            assert a[key].keys() == b[key].keys()
            for name in a[key]:
                assert str(a[key][name]) == str(b[key][name]), name
        else:
            np.testing.assert_array_equal(a[key], b[key])


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("ref") / "oracle.h5"
    proc = _sample(out)
    assert proc.wait() == 0, proc.stderr.read()
    return _content(out)


@pytest.mark.parametrize("k", [0, 1, 12, 29, N // CHUNK])
def test_sigkill_at_any_moment_then_resume_gives_the_same_file(tmp_path, uninterrupted, k):
    out = tmp_path / "oracle.h5"
    journal = tmp_path / "oracle.h5.partial"
    proc = _sample(out)
    _wait_for_chunks(proc, journal, k)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not out.exists() or not journal.exists() or k == N // CHUNK
    resumed = _sample(out, "--resume")
    assert resumed.wait() == 0, resumed.stderr.read()
    assert not journal.exists()
    assert [p.name for p in tmp_path.iterdir()] == ["oracle.h5"]  # nothing stray
    _assert_same(_content(out), uninterrupted)


def test_ctrl_c_stops_promptly_says_how_to_resume_and_resume_completes(tmp_path, uninterrupted):
    out = tmp_path / "oracle.h5"
    journal = tmp_path / "oracle.h5.partial"
    proc = _sample(out, nice=True)
    _wait_for_chunks(proc, journal, 5)
    assert proc.poll() is None, "the sampler finished before it could be interrupted"
    t = time.monotonic()
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130
    assert time.monotonic() - t < 5
    err = proc.stderr.read().strip()
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "--resume" in err and str(journal) in err
    n_chunks = len(list(journal.glob("chunk_*.npz")))
    assert 5 <= n_chunks < N // CHUNK
    # a rerun without --resume refuses to discard the journal; the journal is untouched
    again = _sample(out)
    assert again.wait() == 2
    assert "--resume" in again.stderr.read()
    assert len(list(journal.glob("chunk_*.npz"))) == n_chunks
    resumed = _sample(out, "--resume")
    assert resumed.wait() == 0, resumed.stderr.read()
    _assert_same(_content(out), uninterrupted)
