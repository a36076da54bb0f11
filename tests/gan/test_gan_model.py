"""KineticGAN artefacts (save/load/refusal), generation, fine-tuning."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

from rekindle.gan import (
    FORMAT_VERSION,
    GeneratorFileError,
    KineticGAN,
    TrainingConfig,
    transfer_config,
)
from rekindle.io.digest import DIGEST_KEY, payload_sha256


def test_round_trip(pretrained_path: Path, tmp_path: Path) -> None:
    gan = KineticGAN.load(pretrained_path)
    assert gan.n_features == 8 and gan.feature_names[0] == "km_0"
    assert gan.metadata["model"] == "synthetic" and gan.threshold == -9.0
    assert gan.training_config is not None and gan.training_config.epochs == 3
    assert gan.training_summary is not None and gan.training_summary["epochs_completed"] == 3
    out = gan.save(tmp_path / "copy.pt")
    again = KineticGAN.load(out)
    np.testing.assert_array_equal(gan.generate(50, seed=3), again.generate(50, seed=3))


def test_artefact_is_weights_only_plain(pretrained_path: Path) -> None:
    payload = torch.load(pretrained_path, map_location="cpu", weights_only=True)
    assert payload["format"] == "rekindle-generator"
    assert payload["format_version"] == FORMAT_VERSION
    assert set(payload["versions"]) == {"rekindle", "torch"}
    assert payload["metadata"]["physiology"] == "A"
    assert len(payload["scaler"]["log_min"]) == payload["n_features"] == 8
    assert payload["class_names"] == ["relevant", "not_relevant"]


def test_generate_reproducible(pretrained_path: Path) -> None:
    gan = KineticGAN.load(pretrained_path)
    a = gan.generate(100, "relevant", seed=7, batch_size=30)
    b = gan.generate(100, "relevant", seed=7, batch_size=30)
    np.testing.assert_array_equal(a, b)
    assert a.shape == (100, 8) and a.dtype == np.float64
    assert np.all(np.isfinite(a)) and np.all(a > 0)
    # the first full batches do not depend on n
    np.testing.assert_array_equal(gan.generate(60, seed=7, batch_size=30), a[:60])
    assert not np.array_equal(a, gan.generate(100, seed=8, batch_size=30))
    assert not np.array_equal(a, gan.generate(100, "not_relevant", seed=7, batch_size=30))
    scaled = gan.generate(100, 0, seed=7, batch_size=30, scaled=True)
    assert np.all(np.abs(scaled) < 1)
    np.testing.assert_allclose(gan.scaler.inverse_transform(scaled), a)
    assert gan.generate(0).shape == (0, 8)
    assert gan.generate(5, dtype=np.float32).dtype == np.float32


def _flip_inside_tensor_data(raw: bytes, tensor: torch.Tensor) -> bytes:
    needle = tensor.detach().cpu().contiguous().numpy().tobytes()[:64]
    pos = raw.find(needle)
    assert pos > 0, "tensor bytes not found in file"
    data = bytearray(raw)
    for i in range(pos + 8, pos + 40):
        data[i] ^= 0xFF
    return bytes(data)


def test_refuses_truncated_and_corrupted(pretrained_path: Path, tmp_path: Path) -> None:
    raw = pretrained_path.read_bytes()
    for frac in (0.0, 0.3, 0.9):
        bad = tmp_path / f"trunc{frac}.pt"
        bad.write_bytes(raw[: int(len(raw) * frac)])
        with pytest.raises(GeneratorFileError, match="corrupted or truncated") as err:
            KineticGAN.load(bad)
        assert str(bad) in str(err.value)
    state = torch.load(pretrained_path, weights_only=True)["state_dict"]
    bad = tmp_path / "flipped.pt"
    bad.write_bytes(_flip_inside_tensor_data(raw, state["output.weight"]))
    with pytest.raises(GeneratorFileError, match="corrupt") as err:
        KineticGAN.load(bad)
    assert "flipped.pt" in str(err.value)
    with pytest.raises(FileNotFoundError):
        KineticGAN.load(tmp_path / "missing.pt")


def _rewrite(src: Path, dst: Path, edit: Callable[[dict[str, Any]], None]) -> Path:
    payload = torch.load(src, weights_only=True)
    edit(payload)
    # a consistent file (its checksum recomputed) that is wrong inside: the deeper checks
    payload[DIGEST_KEY] = payload_sha256(payload)
    torch.save(payload, dst)
    return dst


def test_refuses_wrong_version_format_and_shapes(pretrained_path: Path, tmp_path: Path) -> None:
    def version(p: dict) -> None:
        p["format_version"] = FORMAT_VERSION + 1

    def fmt(p: dict) -> None:
        p["format"] = "something-else"

    def shape(p: dict) -> None:
        p["state_dict"]["output.weight"] = torch.zeros(5, 512)

    def names(p: dict) -> None:
        p["feature_names"] = p["feature_names"][:-1]

    def scaler(p: dict) -> None:
        p["scaler"]["log_min"] = p["scaler"]["log_min"][:-1]
        p["scaler"]["log_max"] = p["scaler"]["log_max"][:-1]

    def weights(p: dict) -> None:
        p["state_dict"]["output.bias"] = p["state_dict"]["output.bias"] + 1.0

    def missing(p: dict) -> None:
        del p["state_dict"]["output.bias"]

    cases = {
        "version": (version, "unsupported format version"),
        "fmt": (fmt, "not a rekindle-generator"),
        "shape": (shape, r"output\.weight: file \(5, 512\) vs expected \(8, 512\)"),
        "names": (names, "feature names"),
        "scaler": (scaler, "scaler has 7 features"),
        "weights": (weights, "checksum mismatch"),
        "missing": (missing, r"missing \['output\.bias'\]"),
    }
    for name, (edit, message) in cases.items():
        path = _rewrite(pretrained_path, tmp_path / f"{name}.pt", edit)
        with pytest.raises(GeneratorFileError, match=message) as err:
            KineticGAN.load(path)
        assert isinstance(err.value, ValueError)
        assert f"{name}.pt" in str(err.value)
    # a plain non-dict pickle-free payload
    torch.save([1, 2, 3], tmp_path / "list.pt")
    with pytest.raises(GeneratorFileError, match="not a rekindle-generator"):
        KineticGAN.load(tmp_path / "list.pt")


def test_transfer_config_follows_paper() -> None:
    expected = {10: (2, 2e-4), 50: (5, 2e-4), 100: (10, 2e-4), 500: (20, 1e-3), 1000: (50, 1e-3)}
    for n, (bs, lr) in expected.items():
        cfg = transfer_config(n)
        assert (cfg.batch_size, cfg.learning_rate, cfg.epochs, cfg.n_eval) == (bs, lr, 300, 1000)
        assert cfg.test_fraction == 0.0
    assert transfer_config(10, seed=3).seed == 3


def test_fine_tune_with_frozen_layer(
    pretrained_path: Path, tmp_path: Path, make_data: Callable[..., Any]
) -> None:
    gan = KineticGAN.load(pretrained_path)
    scaler_before = gan.scaler.to_dict()
    before = {k: v.clone() for k, v in gan.generator.state_dict().items()}
    target = make_data(n=40, d=8, seed=11, shift=0.1)
    cfg = transfer_config(40, epochs=4, eval_every=2, n_eval=64, device="cpu")
    with pytest.warns(UserWarning, match="outside the pretrained range"):
        res = gan.fine_tune(
            target.km,
            target.relevant,
            target.labeller,
            cfg,
            freeze=("hidden.0",),
            metadata={"physiology": "B"},
            output_dir=tmp_path / "ft",
        )
    assert res.epochs_completed == 4 and len(res.metrics) == 2
    after = gan.generator.state_dict()
    for k in before:
        if k.startswith("hidden.0.0.") or k in ("hidden.0.2.weight", "hidden.0.2.bias"):
            assert torch.equal(before[k], after[k]), f"frozen {k} changed"
    assert not torch.equal(before["output.weight"], after["output.weight"])
    assert gan.scaler.to_dict() == scaler_before  # pretrained scaler kept
    assert gan.metadata["physiology"] == "B"
    assert gan.metadata["pretrained_from"]["physiology"] == "A"
    assert all(p.requires_grad for p in gan.generator.parameters())
    loaded = KineticGAN.load(tmp_path / "ft" / "generator.pt")
    assert loaded.metadata["physiology"] == "B"
    assert math.isnan(res.metrics[0]["kl_test"])  # no test split in transfer learning


def test_fine_tune_validation(pretrained_path: Path, make_data: Callable[..., Any]) -> None:
    gan = KineticGAN.load(pretrained_path)
    data = make_data(n=20, d=8, seed=12)
    with pytest.raises(ValueError, match=r"unknown generator layer.*hidden\.0"):
        gan.fine_tune(data.km, data.relevant, freeze=("layer1",))
    wrong = make_data(n=20, d=5, seed=12)
    with pytest.raises(ValueError, match="5 features"):
        gan.fine_tune(wrong.km, wrong.relevant)
    with pytest.raises(RuntimeError, match="no training data"):
        gan.train()


def test_constructor_validation(make_data: Callable[..., Any]) -> None:
    data = make_data(n=20, d=3)
    with pytest.raises(ValueError, match="labels"):
        KineticGAN(data.km, data.relevant[:-1])
    with pytest.raises(ValueError, match="positive"):
        KineticGAN(-data.km, data.relevant)
    with pytest.raises(ValueError, match="feature names"):
        KineticGAN(data.km, data.relevant, ["a", "b"])
    with pytest.raises(TypeError):
        KineticGAN(data.km, data.relevant, metadata={"obj": object()})
    gan = KineticGAN(data.km, data.relevant, metadata={"threshold": np.float64(-8.0)})
    assert gan.threshold == -8.0 and isinstance(gan.metadata["threshold"], float)
    with pytest.raises(RuntimeError, match="no trained generator"):
        gan.generate(3)


def test_train_writes_artefacts(tmp_path: Path, make_data: Callable[..., Any]) -> None:
    data = make_data(n=80, d=4, seed=13)
    gan = KineticGAN(data.km, data.relevant, metadata={"model": "m", "physiology": "p"})
    cfg = TrainingConfig(epochs=2, batch_size=16, eval_every=1, n_eval=20, device="cpu")
    gan.train(data.labeller, cfg, tmp_path)
    names = {p.name for p in tmp_path.iterdir()}
    assert {"checkpoint.pt", "metrics.csv", "history.csv", "generator.pt"} <= names
    loaded = KineticGAN.load(tmp_path / "generator.pt")
    np.testing.assert_array_equal(loaded.generate(10, seed=1), gan.generate(10, seed=1))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_load_and_generate_on_gpu(pretrained_path: Path) -> None:
    gan = KineticGAN.load(pretrained_path, device="cuda")
    assert next(gan.generator.parameters()).is_cuda
    a = gan.generate(1000, seed=1)
    assert a.shape == (1000, 8) and np.all(np.isfinite(a))
    cpu = KineticGAN.load(pretrained_path).generate(1000, seed=1, device="cuda")
    np.testing.assert_array_equal(a, cpu)
