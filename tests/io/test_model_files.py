"""Model files: rekindle's own format and SKiMpy import; errors name the culprit."""

from __future__ import annotations

import pytest
import yaml

from rekindle.io.model_yaml import model_to_dict, read_model, write_model
from rekindle.io.skimpy_yaml import read_skimpy_model
from rekindle.kinetics import ModelError


def test_round_trip_of_the_embedded_model(tmp_path, ecoli):
    path = write_model(ecoli, tmp_path / "m.yaml")
    again = read_model(path)
    assert again == ecoli
    assert again.parameter_names == ecoli.parameter_names


def _toy_dict(toy):
    return model_to_dict(toy)


def _write(tmp_path, data):
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(data, sort_keys=False))
    return p


def test_unknown_mechanism_is_named(tmp_path, toy):
    data = _toy_dict(toy)
    data["reactions"][0]["mechanism"] = "MagicKinetics"
    with pytest.raises(ModelError, match="reaction 'CONV': unknown mechanism 'MagicKinetics'"):
        read_model(_write(tmp_path, data))


def test_unknown_metabolite_is_named(tmp_path, toy):
    data = _toy_dict(toy)
    data["reactions"][1]["substrates"] = [["glucose_x", 1]]
    with pytest.raises(ModelError, match="reaction 'EXP': unknown metabolite 'glucose_x'"):
        read_model(_write(tmp_path, data))


def test_wrong_number_of_substrates_is_named(tmp_path, toy):
    data = _toy_dict(toy)
    data["reactions"][1]["substrates"] = [["b_c", 1], ["a_c", 1]]
    with pytest.raises(ModelError, match="ReversibleMichaelisMenten takes 1–1 substrates"):
        read_model(_write(tmp_path, data))


def test_malformed_yaml_and_format(tmp_path):
    p = tmp_path / "x.yaml"
    p.write_text("reactions: [unclosed")
    with pytest.raises(ModelError, match="not valid YAML"):
        read_model(p)
    p.write_text("format: something-else\n")
    with pytest.raises(ModelError, match="format must be"):
        read_model(p)
    with pytest.raises(FileNotFoundError):
        read_model(tmp_path / "nope.yaml")


def test_skimpy_model_loads(reference_dir, ecoli):
    m = read_skimpy_model(reference_dir / "skimpy" / "varma_strain_1.yml")
    assert len(m.reactions) == 65
    assert len(m.boundary_ids) == 15
    assert len(m.state_ids) == 49  # the paper's model adds actp_c (ACKr, PTAr)
    # identical network apart from GLCptspp's mechanism and ACKr/PTAr
    ours = {r.id: r for r in ecoli.reactions}
    for r in m.reactions:
        if r.id != "GLCptspp":
            assert ours[r.id] == r, r.id
    assert m.reaction("GLCptspp").mechanism == "H1GeneralizedReversibleHill"
    assert ours["GLCptspp"].mechanism == "Convenience"
