"""The class round-trips through datasets and class-sampler files; the CLI end to end
on the embedded E. coli model (small n)."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

from rekindle.classes import parse_where
from rekindle.classes.store import load_class_sampler, read_class
from rekindle.cli import app
from rekindle.io.dataset import read_dataset

runner = CliRunner()


def test_generate_where_end_to_end(tmp_path) -> None:
    out, sampler = tmp_path / "G.h5", tmp_path / "G.pt"
    args = ["generate", "--model", "ecoli", "--physiology", "fdp1", "--where", "max_eig < -28"]
    res = runner.invoke(
        app,
        [
            *args,
            "--n",
            "300",
            "--seed",
            "1",
            "--population",
            "500",
            "--output",
            str(out),
            "--save-sampler",
            str(sampler),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    ds = read_dataset(out)
    assert ds.n_models == 300
    assert (ds.max_real_eigenvalue < -28).all() and ds.relevant.all()
    spec = parse_where("max_eig < -28")
    assert read_class(ds.metadata) == spec
    assert ds.metadata["class_rounds"]["chains"] > 0
    # the class-sampler file: same class, continues without levels
    saved, bundle, state = load_class_sampler(sampler)
    assert saved == spec and bundle.model.name == "ecoli" and state.seeds.shape[1] == 259
    assert state.mode == "chains" and state.shape.shape == (259,) and (state.shape >= 1).all()
    out2 = tmp_path / "G2.h5"
    res = runner.invoke(
        app,
        [
            "generate",
            "--where",
            "max_eig < -28",
            "--generator",
            str(sampler),
            "--n",
            "100",
            "--output",
            str(out2),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    ds2 = read_dataset(out2)
    assert ds2.n_models == 100 and ds2.metadata["class_rounds"]["n_levels"] == 0
    # another class with this sampler: refused in one line
    res = runner.invoke(
        app,
        [
            "generate",
            "--where",
            "max_eig < -30",
            "--generator",
            str(sampler),
            "--n",
            "10",
            "--output",
            str(tmp_path / "x.h5"),
        ],
    )
    assert res.exit_code == 2 and "another class" in res.output


def test_sample_relabel_round_trip(tmp_path) -> None:
    path = tmp_path / "S.h5"
    res = runner.invoke(
        app,
        ["sample", "--n", "400", "--seed", "2", "--where", "max_eig < -20", "-o", str(path), "-q"],
    )
    assert res.exit_code == 0, res.output
    ds = read_dataset(path)
    np.testing.assert_array_equal(ds.relevant, ds.max_real_eigenvalue < -20)
    assert read_class(ds.metadata) == parse_where("max_eig < -20")
    copy = tmp_path / "R.h5"
    res = runner.invoke(app, ["relabel", str(path), "--where", "tau_min > 2", "-o", str(copy)])
    assert res.exit_code == 0, res.output
    ds2 = read_dataset(copy)
    np.testing.assert_array_equal(ds2.relevant, ds2.max_real_eigenvalue > -30)
    assert abs(ds2.metadata["incidence"] - ds2.relevant.mean()) < 1e-12
    res = runner.invoke(app, ["relabel", str(path), "--where", "max_eg < 3"])
    assert res.exit_code == 2 and "max_eg" in res.output
    res = runner.invoke(app, ["relabel", str(path), "--where", "relevant and returns"])
    assert res.exit_code == 2 and "returns" in res.output


def test_label_where(tmp_path) -> None:
    data, params, csv = tmp_path / "S.h5", tmp_path / "P.h5", tmp_path / "L.csv"
    assert runner.invoke(app, ["sample", "--n", "200", "-o", str(data), "-q"]).exit_code == 0
    assert runner.invoke(app, ["export", str(data), "-o", str(params)]).exit_code == 0
    res = runner.invoke(
        app,
        [
            "label",
            "--parameters",
            str(params),
            "--where",
            "-30 < max_eig < -15",
            "-o",
            str(csv),
            "-q",
        ],
    )
    assert res.exit_code == 0, res.output
    rows = np.genfromtxt(csv, delimiter=",", names=True, dtype=None, encoding="utf-8")
    lam = rows["max_real_eigenvalue"]
    member = np.char.lower(rows["relevant"].astype(str)) == "true"
    np.testing.assert_array_equal(member, (lam > -30) & (lam < -15))
    assert member.any()


def test_training_copy_sets_the_threshold(tmp_path) -> None:
    from rekindle.cli.classes import training_copy
    from rekindle.errors import UsageError

    data = tmp_path / "S.h5"
    assert runner.invoke(app, ["sample", "--n", "200", "-o", str(data), "-q"]).exit_code == 0
    copy = training_copy(data, "tau_min < 3", tmp_path / "out")  # ⇔ max_eig < -20
    ds = read_dataset(copy)
    assert ds.metadata["threshold"] == -20.0
    np.testing.assert_array_equal(ds.relevant, ds.max_real_eigenvalue < -20)
    assert read_dataset(data).metadata["threshold"] == -9.0  # the original untouched
    import pytest

    with pytest.raises(UsageError, match="a returns clause needs integrations"):
        training_copy(data, "max_eig > -20 and returns", tmp_path / "out")
    # a lower bound: its members, and its one finite end as the threshold
    copy = training_copy(data, "max_eig > -20", tmp_path / "lower")
    ds = read_dataset(copy)
    assert ds.metadata["threshold"] == -20.0
    np.testing.assert_array_equal(ds.relevant, ds.max_real_eigenvalue > -20)


def test_train_where_records_the_class_in_the_generator_file(tmp_path) -> None:
    """The class round-trips dataset → generator: `train --where` writes it into generator.pt."""
    from rekindle.flow import KineticFlow

    data = tmp_path / "T.h5"
    args = ["sample", "--model", "toy", "--n", "1500", "--seed", "0", "-o", str(data), "-q"]
    assert runner.invoke(app, args).exit_code == 0
    lam = read_dataset(data).max_real_eigenvalue
    cut = float(np.round(np.median(lam[np.isfinite(lam)]), 3))
    where = f"max_eig < {cut}"
    out = tmp_path / "f"
    args = ["train", "--data", str(data), "--output", str(out), "--where", where]
    res = runner.invoke(app, [*args, "--guide-epochs", "1"])
    assert res.exit_code == 0, res.output
    flow = KineticFlow.load(out / "generator.pt")
    assert read_class(flow.metadata, "generator") == parse_where(where)
    assert flow.metadata["threshold"] == cut


def test_generate_where_fitted_route_round_trips(tmp_path) -> None:
    """--delivery rejection: the proposal, M and the truncated mass reach class_rounds and
    the class-sampler file; --generator continues with the same proposal, no levels, no fit."""
    out, sampler = tmp_path / "R.h5", tmp_path / "R.pt"
    base = ["generate", "--where", "max_eig < -28", "-q"]
    res = runner.invoke(
        app,
        [
            *base,
            *("--model", "ecoli", "--physiology", "fdp1", "--n", "60", "--seed", "2"),
            *("--population", "500", "--delivery", "rejection"),
            *("--output", str(out), "--save-sampler", str(sampler)),
        ],
    )
    assert res.exit_code == 0, res.output
    rounds = read_dataset(out).metadata["class_rounds"]
    assert rounds["mode"] == "proposal-rejection" and rounds["bound"] > 0
    assert 0 <= rounds["truncated_mass_delivery"] < 1 and rounds["ess_delivery"] > 0
    _spec, _bundle, state = load_class_sampler(sampler)
    assert state.mode == "proposal-rejection" and state.proposal is not None
    assert state.proposal.mean.shape == (259,) and np.isfinite(state.log_bound)
    out2 = tmp_path / "R2.h5"
    res = runner.invoke(
        app, [*base, "--generator", str(sampler), "--n", "20", "--output", str(out2)]
    )
    assert res.exit_code == 0, res.output
    rounds2 = read_dataset(out2).metadata["class_rounds"]
    assert rounds2["n_levels"] == 0 and rounds2["mode"] == "proposal-rejection"
    assert rounds2["bound"] == rounds["bound"]
    bad = runner.invoke(
        app, [*base, "--delivery", "magic", "--n", "5", "-o", str(tmp_path / "b.h5")]
    )
    assert bad.exit_code == 2 and "delivery" in bad.output


def test_a_relabelled_band_is_read_by_its_class(tmp_path) -> None:
    """A dataset relabelled by a band keeps flags that contradict its old threshold: the
    analyses check the flags against the recorded class instead, and a flag that
    contradicts the class is refused in one line naming it."""
    import h5py

    path, band = tmp_path / "S.h5", tmp_path / "B.h5"
    res = runner.invoke(app, ["sample", "--n", "300", "--seed", "3", "-o", str(path), "-q"])
    assert res.exit_code == 0, res.output
    where = "-30 < max_eig < -12"
    res = runner.invoke(app, ["relabel", str(path), "--where", where, "-o", str(band)])
    assert res.exit_code == 0, res.output
    ds = read_dataset(band)
    lam = ds.max_real_eigenvalue
    np.testing.assert_array_equal(ds.relevant, (lam > -30) & (lam < -12))
    assert ((lam < -30) & (lam < ds.metadata["threshold"])).any()  # the old rule would refuse
    res = runner.invoke(app, ["dynamics", str(band), "-o", str(tmp_path / "dyn")])
    assert res.exit_code == 0, res.output
    with h5py.File(band, "r+") as f:  # one member's flag contradicts the class
        flags = f["relevant"][:]
        row = int(np.flatnonzero(lam < -30)[0])
        flags[row] = True
        f["relevant"][:] = flags
    res = runner.invoke(app, ["dynamics", str(band), "-o", str(tmp_path / "dyn2")])
    assert res.exit_code == 2 and "'-30.0 < max_eig < -12.0'" in res.output
    assert f"row {row}" in res.output and not (tmp_path / "dyn2").exists()


def test_generate_where_burn_in_reaches_the_chains(tmp_path) -> None:
    """--burn-in sets the pCN burn-in: the labels spent before the first kept state are
    chains × (adaptation + burn-in) steps of plain pCN (--block 0); the delivery records
    whether β fell below the smallest β checked against ORACLE; a negative --burn-in or
    --block is refused in one line."""
    base = ["generate", "--model", "toy", "--physiology", "ref", "--where", "max_eig < -12"]
    base += ["--n", "60", "--seed", "1", "--population", "400", "--delivery", "pcn", "-q"]
    base += ["--block", "0"]
    labels = {}
    for burn in (5, 25):
        out = tmp_path / f"B{burn}.h5"
        res = runner.invoke(app, [*base, "--burn-in", str(burn), "--output", str(out)])
        assert res.exit_code == 0, res.output
        rounds = read_dataset(out).metadata["class_rounds"]
        assert rounds["mode"] == "chains" and isinstance(rounds["slow_mixing"], bool)
        labels[burn] = (rounds["labels_burn_in"], rounds["chains"])
    (l5, chains), (l25, chains25) = labels[5], labels[25]
    assert chains == chains25 and l25 - l5 == 20 * chains
    bad = tmp_path / "bad.h5"
    res = runner.invoke(app, [*base, "--burn-in", "-1", "--output", str(bad)])
    assert res.exit_code == 2 and "--burn-in must be ≥ 0" in res.output and not bad.exists()
    res = runner.invoke(app, [*base, "--block", "-2", "--output", str(bad)])
    assert res.exit_code == 2 and "--block must be ≥ 0" in res.output and not bad.exists()
    res = runner.invoke(app, [*base, "--jumps", "-1", "--output", str(bad)])
    assert res.exit_code == 2 and "block_jumps" in res.output and not bad.exists()


def test_generate_where_block_is_recorded_and_continued(tmp_path) -> None:
    """--block k --jumps j: the chains fit a block of k coordinates in the burn-in, record it
    and the jumps, and a saved class sampler continues with the same block (no burn-in, no
    refit)."""
    base = ["generate", "--model", "toy", "--physiology", "ref", "--where", "max_eig < -12"]
    base += ["--n", "60", "--population", "400", "--delivery", "pcn", "-q", "--block", "2"]
    base += ["--jumps", "2"]
    base += ["--block-when-beta-below", "1"]
    sampler = tmp_path / "S.pt"
    res = runner.invoke(app, [*base, "--seed", "1", "--output", str(tmp_path / "A.h5"),
                              "--save-sampler", str(sampler)])  # fmt: skip
    assert res.exit_code == 0, res.output
    first = read_dataset(tmp_path / "A.h5").metadata["class_rounds"]
    assert first["block_size"] == 2 and len(first["block_coordinates"]) == 2
    assert first["block_jumps"] == 2 and 0 < first["acceptance_jump_production"] <= 1
    _, _, state = load_class_sampler(sampler)
    assert state.block is not None and state.gamma == first["gamma"]
    assert state.block.index.tolist() == first["block_coordinates"]
    res = runner.invoke(app, [*base, "--seed", "2", "--output", str(tmp_path / "B.h5"),
                              "--generator", str(sampler)])  # fmt: skip
    assert res.exit_code == 0, res.output
    again = read_dataset(tmp_path / "B.h5").metadata["class_rounds"]
    assert again["block_coordinates"] == first["block_coordinates"]
    assert again["gamma"] == first["gamma"] and again["labels_burn_in"] == 0


def test_the_slow_mixing_caution_names_the_checked_setting() -> None:
    """A slow delivery (plain pCN's β below 0.09) gets one plain line naming the settings
    checked faithful — --jumps 2 at burn-in 300 and thin 50, or without jumps --burn-in 500
    --thin 100 — unless the delivery's are already at least those (a continued sampler:
    thin only)."""
    from rekindle.cli.classes import slow_mixing_caution

    slow = {"slow_mixing": True, "beta": 0.46, "beta_at_block_fit": 0.045, "block_jumps": 0}
    line = slow_mixing_caution(slow, 200, 50, continued=False)
    assert line is not None and "\n" not in line and "[" not in line.split("(")[0]
    assert "β = 0.045" in line and "--burn-in 500 --thin 100" in line
    assert "--jumps 2 --burn-in 300 --thin 50" in line
    assert slow_mixing_caution(slow, 500, 100, continued=False) is None
    assert slow_mixing_caution(slow, 1000, 50, continued=False) is not None
    assert slow_mixing_caution(slow, 0, 100, continued=True) is None
    jumped = {**slow, "block_jumps": 2}
    assert slow_mixing_caution(jumped, 300, 50, continued=False) is None
    assert slow_mixing_caution(jumped, 200, 50, continued=False) is not None
    assert slow_mixing_caution(jumped, 300, 20, continued=False) is not None
    assert (
        slow_mixing_caution({"slow_mixing": False, "beta": 0.2}, 200, 50, continued=False) is None
    )
