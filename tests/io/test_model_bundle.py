"""The model travels with the data: embedded content, hashes, old files, mismatches."""

from __future__ import annotations

from dataclasses import replace

import h5py
import numpy as np
import pytest

from rekindle.errors import DatasetError, PhysiologyError
from rekindle.io.dataset import ParameterDataset, read_dataset, write_dataset
from rekindle.io.model_bundle import (
    bundle_of,
    common_bundle,
    content_hash,
    load_bundle,
)
from rekindle.io.model_yaml import write_model, write_physiology
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.labelling import Labeller
from rekindle.sampling import sample_dataset
from rekindle.upgrade import upgrade_data_file


@pytest.fixture()
def renamed_toy(tmp_path, toy, toy_ref):
    """The toy model and its physiology copied to files under a name rekindle does not know."""
    model = replace(toy, name="my_network")
    write_model(model, tmp_path / "net.yaml")
    write_physiology(replace(toy_ref, name="cond"), model.name, tmp_path / "cond.yaml")
    return tmp_path / "net.yaml", tmp_path / "cond.yaml"


def _sample(bundle, path, n=40):
    return sample_dataset(bundle.model, bundle.physiology, n, path, seed=3, chunk_size=20)


def test_dataset_from_a_model_file_needs_no_file_to_be_read_back(tmp_path, renamed_toy):
    bundle = load_bundle(str(renamed_toy[0]), str(renamed_toy[1]))
    path = _sample(bundle, tmp_path / "d.h5")
    for f in renamed_toy:
        f.unlink()  # the data must not depend on the files any more
    ds = read_dataset(path)
    back = ds.bundle()
    assert back.model.name == "my_network" and back.physiology.name == "cond"
    assert back.model_hash == bundle.model_hash == ds.metadata["model_sha256"]
    assert back.physiology_hash == bundle.physiology_hash
    # the rebuilt model labels the stored sets exactly as the sampler did
    lam = Labeller(KineticSystem(back.model), back.physiology).max_real_eigenvalues(ds.parameters)
    np.testing.assert_allclose(lam, ds.max_real_eigenvalue, rtol=1e-10, atol=1e-9)


def test_altered_content_is_refused(tmp_path, toy, toy_ref):
    path = _sample(load_bundle("toy", "ref"), tmp_path / "d.h5")
    with h5py.File(path, "a") as f:
        text = f["physiology_content"][()].decode()
        del f["physiology_content"]
        f.create_dataset("physiology_content", data=text.replace("100.0", "101.0"))
    with pytest.raises(DatasetError, match="physiology does not match its SHA-256"):
        read_dataset(path).bundle()


def test_files_of_different_models_are_not_combined(tmp_path, renamed_toy):
    a = _sample(load_bundle("toy", "ref"), tmp_path / "a.h5")
    b = _sample(load_bundle(str(renamed_toy[0]), str(renamed_toy[1])), tmp_path / "b.h5")
    metas = [(str(p), read_dataset(p).metadata) for p in (a, b)]
    with pytest.raises(DatasetError, match=r"b\.h5 was made from model 'my_network'.*a\.h5"):
        common_bundle(metas)
    assert common_bundle(metas[:1]).model.name == "toy"


def _old_file(tmp_path, model_name, physiology_name, n_parameters):
    """A dataset as rekindle-dataset/1 wrote it: names, no content."""
    path = tmp_path / "old.h5"
    write_dataset(
        path,
        ParameterDataset(
            np.ones((2, n_parameters)),
            load_bundle("toy", "ref").model.parameter_names,
            np.full(2, -10.0),
            np.ones(2, bool),
            {"model": model_name, "physiology": physiology_name},
        ),
    )
    with h5py.File(path, "a") as f:
        f.attrs["format"] = "rekindle-dataset/1"
    return path


def test_old_files_of_embedded_models_still_load(tmp_path, toy):
    ds = read_dataset(_old_file(tmp_path, "toy", "ref", toy.n_parameters))
    assert ds.metadata["format"] == "rekindle-dataset/1"
    assert ds.bundle().model_hash == load_bundle("toy", "ref").model_hash


def test_old_files_of_other_models_say_how_to_convert(tmp_path, toy, renamed_toy):
    path = _old_file(tmp_path, "my_network", "cond", toy.n_parameters)
    with pytest.raises(DatasetError, match=r"rekindle upgrade .*old\.h5 --model MODEL\.yaml"):
        read_dataset(path).bundle()
    upgrade_data_file(path, load_bundle(str(renamed_toy[0]), str(renamed_toy[1])))
    assert read_dataset(path).bundle().model.name == "my_network"


def test_a_path_named_in_a_data_file_is_never_opened(tmp_path, toy, renamed_toy):
    # an old file whose "model" is the path of a valid model file must not load it
    path = _old_file(tmp_path, str(renamed_toy[0]), str(renamed_toy[1]), toy.n_parameters)
    with pytest.raises(DatasetError, match="written without its model"):
        read_dataset(path).bundle()


def test_upgrade_refuses_another_model(tmp_path, toy, renamed_toy):
    path = _old_file(tmp_path, "toy", "ref", toy.n_parameters)
    with pytest.raises(DatasetError, match="names model 'toy', the file given is 'my_network'"):
        upgrade_data_file(path, load_bundle(str(renamed_toy[0]), str(renamed_toy[1])))


def test_a_model_file_needs_a_physiology_file(renamed_toy):
    with pytest.raises(PhysiologyError, match="needs a physiology file"):
        load_bundle(str(renamed_toy[0]))
    with pytest.raises(PhysiologyError, match="not an embedded model; give a physiology file"):
        load_bundle(str(renamed_toy[0]), "ref")


def test_hash_is_of_the_content_only():
    a = load_bundle("toy", "ref")
    assert content_hash(a.model_content) == content_hash(dict(reversed(a.model_content.items())))
    meta = a.metadata()
    assert bundle_of(meta, "x").model_hash == a.model_hash


def test_an_old_generator_is_refused_until_upgraded(tmp_path, renamed_toy):
    from typer.testing import CliRunner

    from rekindle.cli import app
    from rekindle.gan import KineticGAN, TrainingConfig

    bundle = load_bundle(str(renamed_toy[0]), str(renamed_toy[1]))
    system = KineticSystem(bundle.model)
    ds = read_dataset(_sample(bundle, tmp_path / "d.h5", n=200))
    # as rekindle ≤ 0.1 wrote it: names only
    gan = KineticGAN(
        system.km_of(ds.parameters),
        ds.relevant,
        bundle.model.km_names,
        {"model": "my_network", "physiology": "cond", "threshold": -9.0},
    )
    gan.train(None, TrainingConfig(epochs=1, n_eval=50, num_threads=1))
    old = gan.save(tmp_path / "generator.pt")
    runner = CliRunner()
    generate = ["generate", "-g", str(old), "--n", "20", "-o", str(tmp_path / "g.h5"), "-q"]
    res = runner.invoke(app, generate)
    assert res.exit_code == 2 and "rekindle upgrade" in " ".join(res.output.split()), res.output
    upgrade = ["upgrade", str(old), "--model", str(renamed_toy[0])]
    res = runner.invoke(app, [*upgrade, "--physiology", str(renamed_toy[1])])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, generate)
    assert res.exit_code == 0, res.output
    assert read_dataset(tmp_path / "g.h5").bundle().model_hash == bundle.model_hash
