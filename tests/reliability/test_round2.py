"""Hardening, round 2 (issue 18): the adversarial catalogue, one row per case.

Each row is a command line run in a fresh copy of a small world of inputs, and what must
come of it: ``refused`` (exit status 2, one line ``Error: …`` matching a pattern, no
traceback, every pre-existing file byte-identical, nothing written) or ``ok`` (exit
status 0 and a check of the result). Every case runs under an alarm, so a hang fails
its row instead of the suite. Cases first found by hand (issue 18) come first, then the
ones added while fixing them.
"""

from __future__ import annotations

import http.server
import os
import re
import shutil
import signal
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from rekindle.cli import app
from rekindle.data import load_model, load_physiology
from rekindle.io.dataset import ParameterDataset, read_dataset, write_dataset
from rekindle.io.digest import DIGEST_KEY
from rekindle.io.skimpy_hdf5 import write_parameter_population
from rekindle.sampling import sample_parameters

runner = CliRunner()
CASE_TIMEOUT_S = 60
"""A case running longer is a hang (the slowest row takes a few seconds)."""


def _invoke(args: list[str]):
    def alarm(_signum, _frame):
        raise TimeoutError(f"hang: {' '.join(args)} ran over {CASE_TIMEOUT_S} s")

    previous = signal.signal(signal.SIGALRM, alarm)
    signal.alarm(CASE_TIMEOUT_S)
    try:
        return runner.invoke(app, args)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Valid and adversarial inputs, built once; every case runs on a fresh copy."""
    w = tmp_path_factory.mktemp("world2")
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    names = model.parameter_names
    meta = {"model": "ecoli", "physiology": "fdp1", "source": "oracle", "threshold": -9.0}
    params, lam, rel = sample_parameters(model, phys, 300, seed=1)
    write_dataset(w / "good.h5", ParameterDataset(params, names, lam, rel, meta))
    p2, l2, r2 = sample_parameters(model, phys, 300, seed=2)
    write_dataset(w / "held.h5", ParameterDataset(p2, names, l2, r2, meta))
    flipped = rel.copy()
    flipped[[3, 4]] = ~flipped[[3, 4]]  # flags that contradict the stored λ
    write_dataset(w / "contra.h5", ParameterDataset(params, names, lam, flipped, meta))
    # consistent, and no set relevant: a threshold no model reaches
    strict = {**meta, "threshold": -1e6}
    write_dataset(
        w / "norel.h5", ParameterDataset(params, names, lam, np.zeros(300, bool), strict)
    )
    write_parameter_population(w / "pop.h5", params, names)
    (w / "names.txt").write_text("\n".join(names) + "\n")
    noise = np.random.default_rng(0).integers(0, 256, 4096, dtype=np.uint8).tobytes()
    (w / "binary.yaml").write_bytes(b"\x89\xb5" + noise)
    (w / "afile").write_text("a file where a folder is expected\n")
    # generators: the flow (default) and a one-epoch cGAN
    res = runner.invoke(app, ["train", "-d", str(w / "good.h5"), "-o", str(w / "flow"), "-q"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(
        app,
        ["train", "-d", str(w / "good.h5"), "-o", str(w / "cgan"), "--generator", "cgan",
         "--epochs", "1", "--repeats", "1", "--eval-every", "1", "--n-eval", "50", "-q"],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    for sub in ("flow", "cgan"):
        shutil.rmtree(w / sub / "training", ignore_errors=True)
    (w / "flipped_flow.pt").write_bytes(_flip_one_loadable_byte(w / "flow" / "generator.pt"))
    payload = torch.load(w / "cgan" / "generator.pt", weights_only=True)
    payload["metadata"]["threshold"] = 1e9  # edited, digest not updated
    torch.save(payload, w / "edited_cgan.pt")
    payload = torch.load(w / "flow" / "generator.pt", weights_only=True)
    payload.pop(DIGEST_KEY)
    payload["format_version"] = 2  # a file of the previous version: no checksum
    torch.save(payload, w / "old_flow.pt")
    # an earlier SBML export (3 sets) with a note of the user's beside it
    res = runner.invoke(
        app,
        ["export", str(w / "good.h5"), "--format", "sbml", "--first", "3", "-o",
         str(w / "sbml_old")],
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    (w / "sbml_old" / "notes.txt").write_text("mine\n")
    (w / "sbml_user").mkdir()
    (w / "sbml_user" / "parameter_set_7.xml").write_text("<not rekindle's/>\n")
    return w


def _flip_one_loadable_byte(path: Path) -> bytes:
    """The file with one byte flipped inside a tensor, such that torch still loads it."""
    data = bytearray(path.read_bytes())
    probe = path.with_name("probe.pt")
    for offset in range(len(data) // 2, len(data), 97):
        data[offset] ^= 0x01
        probe.write_bytes(bytes(data))
        try:
            torch.load(probe, weights_only=True)
            probe.unlink()
            return bytes(data)
        except Exception:
            data[offset] ^= 0x01
    raise AssertionError("no loadable one-byte corruption found")


@pytest.fixture(scope="module")
def web_port():
    """A web server's port: a Dask client connecting there would wait for ever."""

    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *_args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Quiet)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


# --------------------------------------------------------------------------- checks
def _sbml_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.glob("parameter_set_*.xml"))


def _check_no_stale_sbml(here: Path, _out: str) -> None:
    assert _sbml_files(here / "sbml_old") == ["parameter_set_0.xml"]
    assert (here / "sbml_old" / "notes.txt").read_text() == "mine\n"


def _check_foreign_sbml_kept(here: Path, _out: str) -> None:
    assert _sbml_files(here / "sbml_user") == ["parameter_set_0.xml", "parameter_set_7.xml"]
    assert (here / "sbml_user" / "parameter_set_7.xml").read_text() == "<not rekindle's/>\n"


def _check_generated(n: int) -> Callable[[Path, str], None]:
    def check(here: Path, _out: str) -> None:
        assert read_dataset(here / "x.h5").n_models == n

    return check


def _check_upgraded(here: Path, _out: str) -> None:
    payload = torch.load(here / "old_flow.pt", weights_only=True)
    assert payload["format_version"] == 3 and DIGEST_KEY in payload


G = ["generate", "-g", "flow/generator.pt", "--n", "10"]
S = ["sample", "-m", "ecoli", "-p", "fdp1", "-q", "--n", "20"]
L = ["label", "-m", "ecoli", "-p", "fdp1", "--parameters", "pop.h5", "-q"]
LC = ["learning-curve", "-d", "good.h5", "--heldout", "held.h5", "-o", "lc"]
P = ["perturb", "good.h5", "--models", "3", "--perturbations", "2", "-q", "-o", "p"]
LONG = "x" * 300
READ_ONLY = "/sys/rekindle_round2"  # refuses new files even to root

REFUSED, OK = "refused", "ok"
CASES: list[tuple[str, list[str], str, object]] = [
    # --- issue 18: silent wrong results
    ("skimpy equals output", [*G, "-o", "x.h5", "--skimpy", "x.h5"], REFUSED,
     r"--skimpy x\.h5 is the same file as --output x\.h5"),
    ("output equals generator", [*G, "-o", "flow/generator.pt"], REFUSED,
     r"--output flow/generator\.pt is the same file as --generator"),
    ("skimpy equals generator", [*G, "-o", "x.h5", "--skimpy", "flow/../flow/generator.pt"],
     REFUSED, r"is the same file as --generator"),
    ("flow file one flipped byte", ["generate", "-g", "flipped_flow.pt", "-o", "x.h5"], REFUSED,
     r"flipped_flow\.pt'?: checksum mismatch"),
    ("cgan file edited", ["generate", "-g", "edited_cgan.pt", "-o", "x.h5"], REFUSED,
     r"edited_cgan\.pt'?: checksum mismatch"),
    ("learning-curve size above data", [*LC, "--sizes", "5000"], REFUSED,
     r"--sizes 5000: good\.h5 has only 300 sets"),
    ("run cgan with --power", ["run", "--generator", "cgan", "--power", "2", "-o", "r"],
     REFUSED, r"--power applies only to --generator flow"),
    ("run smoke profile with --no-guide", ["run", "--profile", "smoke", "--no-guide", "-o", "r"],
     REFUSED, r"--guide/--no-guide applies only to --generator flow .*profile smoke"),
    ("run flow with --epochs", ["run", "--epochs", "5", "-o", "r"], REFUSED,
     r"--epochs applies only to --generator cgan"),
    ("run flow with --min-spread-ratio", ["run", "--min-spread-ratio", "0.9", "-o", "r"],
     REFUSED, r"--min-spread-ratio applies only to --generator cgan"),
    ("perturb t-end 1e9", [*P, "--t-end", "1e9"], REFUSED, r"--t-end must be at most 100"),
    ("perturb t-end zero", [*P, "--t-end", "0"], REFUSED, r"--t-end must be positive"),
    ("perturb t-end nan", [*P, "--t-end", "nan"], REFUSED, r"--t-end must be a finite"),
    ("dynamics contradicting flags", ["dynamics", "contra.h5", "-o", "d"], REFUSED,
     r"contra\.h5: 2 of 300 sets have a relevant flag that contradicts .* row 3"),
    ("train flow contradicting flags", ["train", "-d", "contra.h5", "-o", "tr"], REFUSED,
     r"contradicts their stored max Re"),
    ("train cgan contradicting flags",
     ["train", "-d", "contra.h5", "--generator", "cgan", "-o", "tr"], REFUSED,
     r"contradicts their stored max Re"),
    ("export contradicting flags", ["export", "contra.h5", "--only-relevant", "-o", "e.h5"],
     REFUSED, r"contradicts"),
    ("sbml re-export leaves no stale file",
     ["export", "good.h5", "--format", "sbml", "--first", "1", "-o", "sbml_old"], OK,
     _check_no_stale_sbml),
    ("sbml export keeps files it did not write",
     ["export", "good.h5", "--format", "sbml", "--first", "1", "-o", "sbml_user"], OK,
     _check_foreign_sbml_kept),
    # --- issue 18: tracebacks
    ("missing parameter-names file", [*L, "--parameter-names", "nope.txt", "-o", "l.csv"],
     REFUSED, r"--parameter-names nope\.txt: file not found"),
    ("binary parameter-names file", [*L, "--parameter-names", "binary.yaml", "-o", "l.csv"],
     REFUSED, r"--parameter-names binary\.yaml is a binary file"),
    ("perturb data without a relevant model", ["perturb", "norel.h5", "-o", "p"], REFUSED,
     r"norel\.h5 has no relevant model to perturb"),
    ("perturb paper protocol with link followers",
     [*P, "--protocol", "paper", "--followers", "link"], REFUSED,
     r"--protocol paper with --followers link .*try --followers largest"),
    ("learning-curve sizes 0", [*LC, "--sizes", "0"], REFUSED, r"--sizes must be at least 1"),
    ("learning-curve sizes negative", [*LC, "--sizes", "-3"], REFUSED, r"--sizes must be at"),
    ("scheduler not a url", [*S, "-o", "s.h5", "--scheduler", "not a url"], REFUSED,
     r"--scheduler must be tcp://host:port or host:port, got 'not a url'"),
    ("scheduler unknown scheme", [*S, "-o", "s.h5", "--scheduler", "http://127.0.0.1:80"],
     REFUSED, r"unknown scheme 'http'"),
    ("scheduler port out of range", [*S, "-o", "s.h5", "--scheduler", "tcp://127.0.0.1:99999"],
     REFUSED, r"port 99999 is not in"),
    ("scheduler closed port", [*L, "-o", "l.csv", "--scheduler", "tcp://127.0.0.1:1"],
     REFUSED, r"cannot reach the Dask scheduler tcp://127\.0\.0\.1:1"),
    ("read-only output file", [*S, "-o", f"{READ_ONLY}.h5"], REFUSED,
     r"--output /sys/rekindle_round2\.h5: (cannot write|no permission)"),
    ("read-only output folder", ["dynamics", "good.h5", "-o", READ_ONLY], REFUSED,
     r"--output /sys/rekindle_round2/x: (cannot write|no permission)"),
    ("too long output file name", [*S, "-o", f"{LONG}.h5"], REFUSED,
     r"--output: the name x+… has 303 bytes; this file system allows 255"),
    ("too long label output", [*L, "-o", f"{LONG}.csv"], REFUSED, r"has 304 bytes"),
    ("too long run folder", ["run", "-o", LONG], REFUSED, r"has 300 bytes"),
    ("binary model file", ["info", "-m", "binary.yaml", "-p", "binary.yaml"], REFUSED,
     r"model file binary\.yaml is a binary file"),
    ("binary skimpy file",
     ["import-model", "--skimpy", "binary.yaml", "--steady-state", "names.txt", "-o", "im"],
     REFUSED, r"--skimpy binary\.yaml is a binary file"),
    ("binary sbml file",
     ["build-model", "--sbml", "binary.yaml", "--steady-state", "names.txt", "-o", "bm"],
     REFUSED, r"--sbml binary\.yaml is a binary file"),
    ("import-model output is a file",
     ["import-model", "--skimpy", "names.txt", "--steady-state", "names.txt", "-o", "afile"],
     REFUSED, r"--output afile is a file; give a folder"),
    ("build-model output is a file",
     ["build-model", "--sbml", "names.txt", "--steady-state", "names.txt", "-o", "afile"],
     REFUSED, r"--output afile is a file; give a folder"),
    # --- issue 18: hangs
    ("train 1000 transforms", ["train", "-d", "good.h5", "--transforms", "1000", "-o", "tr"],
     REFUSED, r"--transforms must be at most 64, got 1000"),
    ("named pipe as training data", ["train", "-d", "pipe.h5", "-o", "tr"], REFUSED,
     r"pipe\.h5: not a regular file"),
    ("named pipe as parameters", [*L[:6], "pipe.h5", "-q", "-o", "l.csv"], REFUSED,
     r"--parameters pipe\.h5 is a named pipe"),
    ("named pipe as model file", ["info", "-m", "pipe.yaml", "-p", "pipe.yaml"], REFUSED,
     r"model file pipe\.yaml is a named pipe"),
    ("named pipe as generator", ["generate", "-g", "pipe.h5", "-o", "x.h5"], REFUSED,
     r"--generator pipe\.h5 is a named pipe"),
    ("run n-sets 10^12", ["run", "--n-sets", str(10**12), "-o", "r"], REFUSED,
     r"--n-sets 1000000000000 needs .* models fit"),
    ("scheduler at a web port", [*S, "-o", "s.h5", "--scheduler", "tcp://127.0.0.1:{web}"],
     REFUSED, r"does not answer as a Dask scheduler"),
    ("run scheduler at a web port", ["run", "-o", "r", "--scheduler", "127.0.0.1:{web}"],
     REFUSED, r"does not answer as a Dask scheduler"),
    # --- held-out cases added in round 2
    ("export output equals dataset", ["export", "good.h5", "-o", "good.h5"], REFUSED,
     r"--output good\.h5 is the same file as DATASET good\.h5"),
    ("export output is a link to the dataset", ["export", "good.h5", "-o", "link.h5"], REFUSED,
     r"--output link\.h5 is the same file as DATASET"),
    ("label output equals parameters", [*L, "-o", "pop.h5"], REFUSED,
     r"--output pop\.h5 is the same file as --parameters"),
    ("label output equals names file", [*L, "--parameter-names", "names.txt", "-o", "names.txt"],
     REFUSED, r"--output names\.txt is the same file as --parameter-names"),
    ("learning-curve heldout equals data",
     ["learning-curve", "-d", "good.h5", "--heldout", "./good.h5", "-o", "lc"], REFUSED,
     r"--heldout good\.h5 is the same file as --data good\.h5; the held-out data must be"),
    ("learning-curve n-eval 0", [*LC, "--sizes", "100", "--n-eval", "0"], REFUSED,
     r"--n-eval must be at least 1"),
    ("learning-curve size below the training minimum", [*LC, "--sizes", "5"], REFUSED,
     r"--sizes 5 \(good\.h5\): 5 parameter sets; training needs at least 100"),
    ("learning-curve data contradicting flags",
     ["learning-curve", "-d", "contra.h5", "--heldout", "held.h5", "--sizes", "200", "-o", "lc"],
     REFUSED, r"contra\.h5: 2 of 200 sets have a relevant flag .* row 3"),
    ("learning-curve heldout contradicting flags",
     ["learning-curve", "-d", "good.h5", "--heldout", "contra.h5", "--sizes", "200", "-o", "lc"],
     REFUSED, r"contra\.h5: 2 of 300 sets have a relevant flag"),
    ("learning-curve 1000 transforms", [*LC, "--transforms", "1000"], REFUSED,
     r"--transforms must be in 0…64"),
    ("learning-curve power without guide", [*LC, "--no-guide", "--power", "2"], REFUSED,
     r"--power applies only with the guide"),
    ("train guide steps 10^12", ["train", "-d", "good.h5", "--guide-max-steps", str(10**12),
     "-o", "tr"], REFUSED, r"--guide-max-steps must be at most"),
    ("train cgan epochs 10^9", ["train", "-d", "good.h5", "--generator", "cgan", "--epochs",
     str(10**9), "-o", "tr"], REFUSED, r"--epochs must be at most 100000"),
    ("generate chunk 10^9", [*G, "--chunk-size", str(10**9), "-o", "x.h5"], REFUSED,
     r"--chunk-size must be at most 1e\+06"),
    ("sample jobs 0", [*S, "--jobs", "0", "-o", "s.h5"], REFUSED, r"--jobs must be at least 1"),
    ("perturb 10^9 perturbations", [*P, "--perturbations", str(10**9)], REFUSED,
     r"--perturbations must be at most"),
    ("interpret subpopulation 10^12",
     ["interpret", "-g", "cgan/generator.pt", "--n-subpopulation", str(10**12), "-o", "i"],
     REFUSED, r"--n-subpopulation must be at most"),
    ("transfer n-sets 10^12", ["transfer", "-g", "cgan/generator.pt", "--n-sets", str(10**12),
     "-o", "t"], REFUSED, r"--n-sets must be at most"),
    ("run threshold nan", ["run", "--threshold", "nan", "-o", "r"], REFUSED,
     r"--threshold must be a finite number"),
    ("run unknown profile", ["run", "--profile", "huge", "-o", "r"], REFUSED,
     r"unknown profile 'huge'"),
    ("dynamics named pipe", ["dynamics", "pipe.h5", "-o", "d"], REFUSED,
     r"pipe\.h5: not a regular file"),
    ("upgrade a missing file", ["upgrade", "nope.pt", "-m", "ecoli"], REFUSED,
     r"FILE nope\.pt: file not found"),
    ("generate with skimpy layout", [*G, "-o", "x.h5", "--skimpy", "x_skimpy.h5", "-q"], OK,
     _check_generated(10)),
    ("old flow file without checksum loads",
     ["generate", "-g", "old_flow.pt", "--n", "12", "-o", "x.h5", "-q"], OK, _check_generated(12)),
    ("upgrade adds the checksum", ["upgrade", "old_flow.pt", "-m", "ecoli", "-p", "fdp1"], OK,
     _check_upgraded),
]  # fmt: skip


def _regular_files(root: Path) -> dict[Path, bytes]:
    return {p.relative_to(root): p.read_bytes() for p in root.rglob("*") if p.is_file()}


@pytest.mark.parametrize(
    ("args", "expect", "what"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_round2_case(world, web_port, tmp_path, monkeypatch, args, expect, what):
    here = tmp_path / "w"
    shutil.copytree(world, here)
    os.mkfifo(here / "pipe.h5")
    os.mkfifo(here / "pipe.yaml")
    os.symlink("good.h5", here / "link.h5")
    args = [a.replace("{web}", str(web_port)) for a in args]
    before = _regular_files(here)
    monkeypatch.chdir(here)
    res = _invoke(args)
    if expect == OK:
        assert res.exit_code == 0, res.output
        what(here, res.output)  # type: ignore[operator]
        return
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit), res.exception  # no traceback
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    assert re.search(what, lines[0]), lines[0]  # type: ignore[arg-type]
    assert _regular_files(here) == before  # nothing written, nothing removed
    assert not Path(f"{READ_ONLY}.h5").exists()


def test_the_catalogue_has_fifty_rows():
    assert len(CASES) >= 50
    assert len({c[0] for c in CASES}) == len(CASES)


def test_run_threshold_reaches_the_pipeline(monkeypatch, tmp_path):
    """``run --threshold`` is the run's relevance threshold (not E. coli's −9 h⁻¹)."""
    import rekindle.pipeline

    seen = {}

    def fake_run(output, cfg, **_kwargs):
        seen["cfg"] = cfg
        return {"model": cfg.model, "physiology": cfg.physiology}

    monkeypatch.setattr(rekindle.pipeline, "run_pipeline", fake_run)
    res = runner.invoke(app, ["run", "--threshold", "-2.5", "-o", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    assert seen["cfg"].threshold == -2.5


def test_default_data_size_follows_the_model_size():
    from rekindle.pipeline import DEFAULT_SETS, MIN_DEFAULT_SETS, RunConfig

    flow = RunConfig()
    assert flow.sample_size_for(411) == DEFAULT_SETS["flow"]  # E. coli: as measured
    assert flow.sample_size_for(100) == DEFAULT_SETS["flow"]  # never up
    assert flow.sample_size_for(4110) == DEFAULT_SETS["flow"] // 10
    assert flow.sample_size_for(10**6) == MIN_DEFAULT_SETS["flow"]
    assert RunConfig(n_sets=777).sample_size_for(10**6) == 777

