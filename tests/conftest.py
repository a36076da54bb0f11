"""Shared fixtures: reference material in ../shared (skipped cleanly when absent), seeds."""

from __future__ import annotations

import random
from pathlib import Path

import numpy as np
import pytest

REFERENCE = Path(__file__).resolve().parents[1].parent / "shared" / "reference"


@pytest.fixture(autouse=True)
def _seed() -> None:
    """Every test starts from the same global random state."""
    random.seed(0)
    np.random.seed(0)  # noqa: NPY002 - legacy global state some libraries still use
    try:
        import torch

        torch.manual_seed(0)
    except ImportError:  # pragma: no cover
        pass


@pytest.fixture(scope="session")
def reference_dir() -> Path:
    """``../shared/reference`` (the published data); skip when it is not there."""
    if not (REFERENCE / "rekindle" / "toy_parameter_sets.h5").exists():
        pytest.skip("published reference data (../shared/reference) not present")
    return REFERENCE


@pytest.fixture(scope="session")
def ecoli():
    from rekindle.data import load_model

    return load_model("ecoli")


@pytest.fixture(scope="session")
def fdp1():
    from rekindle.data import load_physiology

    return load_physiology("ecoli", "fdp1")


@pytest.fixture(scope="session")
def ecoli_system(ecoli):
    from rekindle.kinetics import KineticSystem

    return KineticSystem(ecoli)


@pytest.fixture(scope="session")
def toy():
    from rekindle.data import load_model

    return load_model("toy")


@pytest.fixture(scope="session")
def toy_ref():
    from rekindle.data import load_physiology

    return load_physiology("toy", "ref")


PUBLISHED_FIXTURE = Path(__file__).resolve().parent / "data" / "published_toy_sets.npz"
"""100 published fdp1 toy sets and their published max Re(λ), in rekindle's layout
(built by tools/make_published_fixture.py): the published-data tests run on a fresh
clone without ../shared."""


def _published_from_reference(reference: Path, ecoli):
    import csv

    from rekindle.io.skimpy_hdf5 import (
        align_to_model,
        read_parameter_names,
        read_parameter_population,
    )

    names = read_parameter_names(reference / "rekindle" / "toy_parameter_names.txt")
    idx, values, names = read_parameter_population(
        reference / "rekindle" / "toy_parameter_sets.h5", names
    )
    params = align_to_model(values, names, ecoli)
    with (reference / "rekindle" / "toy_max_eigenvalues_first500.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    ref = {int(r["parameter_set"]): float(r["max_real_eigenvalue"]) for r in rows}
    return idx, params, names, ref


def _published_from_fixture():
    with np.load(PUBLISHED_FIXTURE) as f:
        idx = f["parameter_set"]
        ref = dict(zip(idx.tolist(), f["max_real_eigenvalue"].tolist(), strict=True))
        return idx, f["parameters"], [str(n) for n in f["parameter_names"]], ref


@pytest.fixture(scope="session")
def published_toy_sets(ecoli):
    """Published fdp1 toy sets in the model's order and their published max Re(λ).

    From ../shared/reference when present (1000 sets, 500 eigenvalues), else from the
    fixture inside tests/ (100 sets, 100 eigenvalues).
    """
    if (REFERENCE / "rekindle" / "toy_parameter_sets.h5").exists():
        return _published_from_reference(REFERENCE, ecoli)
    return _published_from_fixture()


@pytest.fixture(scope="session")
def ecoli_sets(ecoli, fdp1):
    """300 sampled fdp1 parameter sets (seed 0) with max Re(λ) and relevance."""
    from rekindle.sampling import sample_parameters

    return sample_parameters(ecoli, fdp1, 300, seed=0)


@pytest.fixture(scope="session")
def x_ref(ecoli_system, fdp1) -> np.ndarray:
    """Reference steady state of E. coli fdp1, µM."""
    return ecoli_system.steady_state_concentrations(fdp1)


@pytest.fixture(scope="session")
def toy_system(toy):
    from rekindle.kinetics import KineticSystem

    return KineticSystem(toy)


@pytest.fixture(scope="session")
def toy_sets(toy, toy_ref):
    """Relevant sets among 40 sampled toy parameter sets (seed 1)."""
    from rekindle.sampling import sample_parameters

    p, _, rel = sample_parameters(toy, toy_ref, 40, seed=1)
    return p[rel]


@pytest.fixture(scope="session")
def smoke_run_files(tmp_path_factory):
    """`rekindle run --profile smoke` on the E. coli model known only as files.

    The model and fdp1 (and fdp4, for transfer) are copied under names rekindle does not
    know (``my_network``; ``cond``, ``cond_b``), so every later stage has to use the model
    the data carry (issue 8). Shared by the end-to-end tests: one smoke run per session.

    Returns
    -------
    (folder with net.yaml, cond.yaml, cond_b.yaml; the run folder)
    """
    from dataclasses import replace

    from typer.testing import CliRunner

    from rekindle.cli import app
    from rekindle.data import load_model, load_physiology
    from rekindle.io.model_yaml import write_model, write_physiology

    root = tmp_path_factory.mktemp("own_model")
    model = replace(load_model("ecoli"), name="my_network")
    write_model(model, root / "net.yaml")
    for source, name in (("fdp1", "cond"), ("fdp4", "cond_b")):
        phys = replace(load_physiology("ecoli", source), name=name)
        write_physiology(phys, model.name, root / f"{name}.yaml")
    run = root / "run"
    args = ["run", "--model", str(root / "net.yaml"), "--physiology", str(root / "cond.yaml")]
    res = CliRunner().invoke(app, [*args, "--profile", "smoke", "--output", str(run), "-q"])
    assert res.exit_code == 0, res.output
    return root, run
