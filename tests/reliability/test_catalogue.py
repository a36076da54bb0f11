"""The catalogue of bad inputs: every one is refused with exit status 2 and one line
naming the culprit, no traceback, any pre-existing output byte-identical and no stray
journal. A new bad input found in the wild joins :data:`CASES`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from rekindle.cli import app
from rekindle.data import load_model, load_physiology
from rekindle.io.dataset import DatasetWriter, ParameterDataset, write_dataset
from rekindle.io.skimpy_hdf5 import write_parameter_population
from rekindle.sampling import sample_parameters

runner = CliRunner()


@pytest.fixture(scope="module")
def world(tmp_path_factory) -> Path:
    """Valid and invalid inputs, built once; every case runs on a fresh copy."""
    w = tmp_path_factory.mktemp("world")
    model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
    params, lam, rel = sample_parameters(model, phys, 300, seed=1)
    names = model.parameter_names
    meta = {"model": "ecoli", "physiology": "fdp1", "source": "oracle", "threshold": -9.0}
    write_dataset(w / "good.h5", ParameterDataset(params, names, lam, rel, meta))
    (w / "runA").mkdir()
    (w / "runB").mkdir()
    shutil.copy(w / "good.h5", w / "runA" / "oracle.h5")
    params_b, lam_b, rel_b = sample_parameters(model, phys, 300, seed=2)
    write_dataset(w / "runB" / "oracle.h5", ParameterDataset(params_b, names, lam_b, rel_b, meta))
    write_parameter_population(w / "pop.h5", params, names)
    (w / "names.txt").write_text("\n".join(names) + "\n")
    km = model.km_names
    i, j = names.index(km[0]), names.index(km[5])
    swapped = list(names)
    swapped[i], swapped[j] = swapped[j], swapped[i]
    (w / "swapped.txt").write_text("\n".join(swapped) + "\n")
    bad = params.copy()
    bad[7, names.index(km[3])] = -bad[7, names.index(km[3])]
    write_parameter_population(w / "negkm.h5", bad, names)
    shifted = params.copy()
    shifted[11, names.index(km[2])] *= 10.0
    write_dataset(w / "nonsteady.h5", ParameterDataset(shifted, names, lam, rel, meta))
    write_dataset(w / "tiny.h5", ParameterDataset(params[:5], names, lam[:5], rel[:5], meta))
    norel = np.zeros(300, bool)  # consistent with λ: a threshold no model reaches
    strict = {**meta, "threshold": -1e6}
    write_dataset(w / "norel.h5", ParameterDataset(params, names, lam, norel, strict))
    writer = DatasetWriter(w / "half.h5", names, meta)
    writer.append(params[:10], lam[:10], rel[:10])
    writer.abort()
    writer = DatasetWriter(w / "damaged.h5", names, meta)
    writer.append(params[:10], lam[:10], rel[:10])
    writer.abort()
    chunk = w / "damaged.h5.partial" / "chunk_00000000.npz"
    chunk.write_bytes(chunk.read_bytes()[:1000])  # a disk that lost the end of a chunk
    good = (w / "good.h5").read_bytes()
    (w / "truncated.h5").write_bytes(good[: len(good) // 2])
    (w / "a_folder.h5").mkdir()
    (w / "out.h5").write_bytes(good)  # a pre-existing output that must survive
    (w / "out.csv").write_text("parameter_set,max_real_eigenvalue,relevant\n")
    return w


S = ["sample", "-m", "ecoli", "-p", "fdp1", "-q"]
G = ["generate", "--generator", "gen.pt"]
L = ["label", "-m", "ecoli", "-p", "fdp1", "--parameters", "pop.h5", "-q"]
TC = ["train", "-d", "good.h5", "--generator", "cgan"]  # the paper's cGAN, not the default

CASES: list[tuple[str, list[str], str]] = [
    # id, arguments (run in the world folder), fragment of the one-line message
    ("sample n zero", [*S, "--n", "0", "-o", "out.h5"], "--n must be at least 1, got 0"),
    ("sample n negative", [*S, "--n", "-5", "-o", "out.h5"], "--n must be at least 1"),
    ("sample n absurd", [*S, "--n", str(10**12), "-o", "out.h5"], "models fit"),
    ("sample chunk zero", [*S, "--chunk-size", "0", "-o", "out.h5"], "--chunk-size must be"),
    ("sample seed negative", [*S, "--seed", "-1", "-o", "out.h5"], "--seed must be between"),
    ("sample seed huge", [*S, "--seed", str(2**40), "-o", "out.h5"], "--seed must be between"),
    ("sample threshold nan", [*S, "--threshold", "nan", "-o", "out.h5"], "--threshold must be"),
    ("sample output folder", [*S, "-o", "a_folder.h5"], "a_folder.h5 is a folder"),
    ("sample journal exists", [*S, "--n", "300", "-o", "half.h5"], "--resume"),
    ("sample resume damaged", [*S, "--n", "300", "--resume", "-o", "damaged.h5"], "damaged"),
    ("sample bad model", [*S[:2], "nosuchmodel", "-o", "out.h5"], "nosuchmodel"),
    ("generate n negative", [*G, "--n", "-5", "-o", "out.h5"], "--n must be at least 1"),
    ("generate n absurd", [*G, "--n", str(10**12), "-o", "out.h5"], "models fit"),
    ("generate chunk zero", [*G, "--chunk-size", "0", "-o", "out.h5"], "--chunk-size must be"),
    ("generate device bogus", [*G, "--device", "bogus", "-o", "out.h5"], "--device must be"),
    ("generate output folder", [*G, "-o", "a_folder.h5"], "a_folder.h5 is a folder"),
    ("generate missing file", [*G, "-o", "out.h5"], "gen.pt"),
    ("generate power zero", [*G, "--power", "0", "-o", "out.h5"], "--power must be positive"),
    (
        "generate power unguided",
        [*G, "--unguided", "--power", "2", "-o", "out.h5"],
        "--power applies only to guided generation",
    ),
    ("label wrong physiology", [*L[:4], "fdp2", *L[5:], "-o", "out.csv"], "not a steady state"),
    (
        "label swapped names",
        [*L, "--parameter-names", "swapped.txt", "-o", "out.csv"],
        "not a steady state",
    ),
    ("label negative km", [*L[:-2], "negkm.h5", "-q", "-o", "out.csv"], "km_"),
    ("label threshold nan", [*L, "--threshold", "nan", "-o", "out.csv"], "--threshold"),
    ("label output folder", [*L, "-o", "a_folder.h5"], "a_folder.h5 is a folder"),
    ("export journal", ["export", "half.h5.partial", "-o", "out.h5"], "unfinished"),
    ("export truncated", ["export", "truncated.h5", "-o", "out.h5"], "truncated.h5"),
    ("export non-steady", ["export", "nonsteady.h5", "-o", "out.h5"], "row 11"),
    ("dynamics journal", ["dynamics", "half.h5.partial", "-o", "dyn"], "unfinished"),
    ("dynamics non-steady", ["dynamics", "good.h5", "nonsteady.h5", "-o", "dyn"], "row 11"),
    ("perturb non-steady", ["perturb", "nonsteady.h5", "-o", "pert"], "not a steady state"),
    ("perturb zero models", ["perturb", "good.h5", "--models", "0", "-o", "pert"], "--models"),
    ("train non-steady", ["train", "-d", "nonsteady.h5", "-o", "tr"], "not a steady state"),
    ("train tiny", ["train", "-d", "tiny.h5", "-o", "tr"], "at least 100"),
    ("train one class", ["train", "-d", "norel.h5", "-o", "tr"], "0 relevant"),
    ("train journal", ["train", "-d", "half.h5.partial", "-o", "tr"], "unfinished"),
    ("interpret zero", ["interpret", "-g", "gen.pt", "--n-per-class", "0", "-o", "i"], "--n-per"),
    ("interpret missing", ["interpret", "-g", "gen.pt", "-o", "i"], "gen.pt"),
    ("transfer zero sets", ["transfer", "-g", "gen.pt", "--n-sets", "0", "-o", "t"], "--n-sets"),
    ("run zero sets", ["run", "--n-sets", "0", "-o", "r"], "--n-sets must be at least 1"),
    ("train epochs zero", [*TC, "--epochs", "0", "-o", "tr"], "--epochs must be at least 1"),
    ("train cgan non-steady", [*TC[:2], "nonsteady.h5", *TC[3:], "-o", "tr"], "not a steady"),
    # the default generator is the flow: a cGAN-only option is refused, not ignored
    (
        "train cgan option",
        ["train", "-d", "good.h5", "--epochs", "5", "--recipe", "paper", "-o", "tr"],
        "--epochs, --recipe apply only to --generator cgan",
    ),
    ("train flow option", [*TC, "--transforms", "2", "-o", "tr"], "--transforms applies only"),
    ("train flow guide option", [*TC, "--no-guide", "-o", "tr"], "--guide/--no-guide applies"),
    (
        "train power zero",
        ["train", "-d", "good.h5", "--power", "0", "-o", "tr"],
        "--power must be positive",
    ),
    ("run power negative", ["run", "--power", "-1", "-o", "r"], "--power must be positive"),
    (
        "train guide steps zero",
        ["train", "-d", "good.h5", "--guide-max-steps", "0", "-o", "tr"],
        "--guide-max-steps must be 1 or more",
    ),
    ("train guide steps with cgan", [*TC, "--guide-max-steps", "9", "-o", "tr"], "--guide-max-st"),
]


@pytest.mark.parametrize(("args", "culprit"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_bad_input_is_refused_cleanly(world, tmp_path, monkeypatch, args, culprit):
    here = tmp_path / "w"
    shutil.copytree(world, here)
    before = {p.relative_to(here): p.read_bytes() for p in here.rglob("*") if p.is_file()}
    monkeypatch.chdir(here)
    res = runner.invoke(app, args)
    assert res.exit_code == 2, res.output
    assert isinstance(res.exception, SystemExit), res.exception  # no traceback
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), res.output
    assert culprit in lines[0]
    after = {p.relative_to(here): p.read_bytes() for p in here.rglob("*") if p.is_file()}
    assert after == before  # nothing written, nothing removed, no stray journal


def test_markup_in_paths_prints_verbatim(tmp_path):
    weird = tmp_path / "x[/b][red]y.h5"
    res = runner.invoke(app, ["export", str(weird), "-o", str(tmp_path / "o.h5")])
    assert res.exit_code == 2
    assert str(weird) in res.output and len(res.output.strip().splitlines()) == 1


def test_two_populations_with_the_same_file_name_stay_two(world, tmp_path):
    res = runner.invoke(
        app,
        [
            "dynamics",
            str(world / "runA/oracle.h5"),
            str(world / "runB/oracle.h5"),
            "-o",
            str(tmp_path / "d"),
        ],
    )
    assert res.exit_code == 0, res.output
    assert "runA/oracle: n=300" in res.output and "runB/oracle: n=300" in res.output


def test_non_steady_sets_are_kept_and_marked_when_asked(world, tmp_path):
    out = tmp_path / "l.csv"
    res = runner.invoke(
        app,
        [
            "label",
            "-m",
            "ecoli",
            "-p",
            "fdp1",
            "--parameters",
            str(world / "negkm.h5"),
            "--allow-non-steady",
            "-q",
            "-o",
            str(out),
        ],
    )
    assert res.exit_code == 0, res.output
    rows = out.read_text().splitlines()
    assert rows[0] == "parameter_set,max_real_eigenvalue,relevant,steady_state"
    steady = [r.split(",")[3] for r in rows[1:]]
    assert steady.count("False") == 1 and steady[7] == "False"


def test_a_refusal_imports_no_torch(world):
    code = (
        "import sys, atexit\n"
        "atexit.register(lambda: print('torch' in sys.modules, file=sys.stderr))\n"
        "from rekindle.cli import main\n"
        "sys.argv = ['rekindle', 'generate', '--generator', 'g.pt', '--n', '-5', '-o', 'x.h5']\n"
        "main()\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=world)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines()[-1] == "False", proc.stderr


def test_cuda_without_a_gpu_is_refused_in_one_line(world, tmp_path):
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("this machine has a CUDA device")
    res = runner.invoke(
        app,
        [
            "generate",
            "--generator",
            str(world / "good.h5"),
            "--device",
            "cuda",
            "-o",
            str(tmp_path / "g.h5"),
        ],
    )
    assert res.exit_code == 2 and isinstance(res.exception, SystemExit)
    assert "--device cuda: this machine has 0 CUDA device(s)" in res.output
    assert list(tmp_path.iterdir()) == []


def test_a_bug_keeps_its_traceback(world, tmp_path, monkeypatch):
    """Only RekindleError is a user error: anything else is a bug and is not hidden."""
    import rekindle.validation

    def broken(*_args, **_kwargs):
        raise KeyError("model")

    monkeypatch.setattr(rekindle.validation, "require_output_file", broken)
    res = runner.invoke(app, ["export", str(world / "good.h5"), "-o", str(tmp_path / "o.h5")])
    assert res.exit_code == 1 and isinstance(res.exception, KeyError)


def test_long_messages_stay_on_one_line(tmp_path):
    deep = tmp_path / ("a_rather_long_folder_name_" * 4) / "and_a_dataset_name_that_goes_on.h5"
    res = runner.invoke(app, ["export", str(deep), "-o", str(tmp_path / "o.h5")], terminal_width=80)
    assert res.exit_code == 2
    lines = res.output.strip().splitlines()
    assert len(lines) == 1 and str(deep) in lines[0] and len(lines[0]) > 120


def test_non_interactive_progress_prints_a_line_every_interval():
    from rekindle.progress import LineProgress

    now = [0.0]
    lines: list[str] = []
    progress = LineProgress("sampling", 1000, lines.append, interval=30.0, clock=lambda: now[0])
    for done, t in ((100, 10.0), (200, 31.0), (300, 40.0), (600, 62.0), (1000, 70.0)):
        now[0] = t
        progress(done)
    progress(1000)
    assert lines == [
        "sampling: 200/1,000 (20 %), 31 s elapsed, ~124 s left",
        "sampling: 600/1,000 (60 %), 62 s elapsed, ~41 s left",
        "sampling: 1,000/1,000 (100 %), 70 s elapsed",
    ]


def test_markup_in_an_output_path_prints_verbatim_after_success(tmp_path):
    out = tmp_path / "run[/b] [red]x.h5"
    res = runner.invoke(app, ["sample", "-m", "toy", "--n", "20", "-q", "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert f"wrote {out}: 20 models" in res.output
