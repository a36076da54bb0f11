"""Configuration dataclasses: paper defaults, dict round trip, validation."""

from __future__ import annotations

import dataclasses

import pytest

from rekindle.gan import ArchitectureConfig, ConfigError, TrainingConfig


def test_paper_recipe() -> None:
    """The authors' code (EPFL-LCSB/rekindle, venv/cGANtools/GAN.py) and the paper's sizes."""
    a = ArchitectureConfig.paper()
    assert a.latent_dim == 127
    assert a.generator_hidden == (128, 256, 512)
    assert a.discriminator_hidden == (32, 64, 128)
    assert a.leaky_slope == 0.2
    assert a.generator_dropout == 0.5 and a.discriminator_dropout == 0.4
    assert a.batch_norm_momentum == pytest.approx(1 - 0.8)  # Keras momentum=0.8
    assert a.batch_norm and a.n_classes == 2 and a.label_encoding == "scalar"
    t = TrainingConfig.paper()
    assert (t.batch_size, t.fake_labels, t.fake_mode) == (1024, "batch", "eval")
    assert (t.discriminator_update, t.discriminator_rows) == ("split", "half-resampled")
    assert (t.generator_batch, t.selection) == ("fresh", "incidence")
    assert (t.epochs, t.learning_rate, t.beta1, t.beta2) == (1000, 2e-4, 0.5, 0.999)
    assert (t.eval_every, t.n_eval, t.failure_accuracy, t.failure_window) == (10, 300, 0.9, 200)
    assert t.test_fraction == 0.1 and t.device == "auto"
    assert TrainingConfig.paper(epochs=3).epochs == 3


def test_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        TrainingConfig().epochs = 3  # type: ignore[misc]


@pytest.mark.parametrize("cls", [ArchitectureConfig, TrainingConfig])
def test_dict_round_trip(cls: type) -> None:
    cfg = cls()
    d = cfg.to_dict()
    assert all(not isinstance(v, tuple) for v in d.values())
    assert cls.from_dict(d) == cfg
    assert cls.from_dict(None) == cfg


def test_from_dict_lists_become_tuples() -> None:
    a = ArchitectureConfig.from_dict({"generator_hidden": [16, 32]})
    assert a.generator_hidden == (16, 32)


def test_unknown_keys_are_named() -> None:
    with pytest.raises(ConfigError, match=r"lerning_rate.*valid keys") as err:
        TrainingConfig.from_dict({"lerning_rate": 1e-3, "epochs": 5})
    assert "lerning_rate" in str(err.value)
    with pytest.raises(ConfigError, match="bogus, zzz"):
        ArchitectureConfig.from_dict({"zzz": 1, "bogus": 2})


@pytest.mark.parametrize(
    ("cls", "kw"),
    [
        (TrainingConfig, {"epochs": 0}),
        (TrainingConfig, {"batch_size": 1}),
        (TrainingConfig, {"learning_rate": -1.0}),
        (TrainingConfig, {"fake_labels": "random"}),
        (TrainingConfig, {"fake_mode": "inference"}),
        (TrainingConfig, {"selection": "kl"}),
        (TrainingConfig, {"width_band": (1.1, 0.9)}),
        (TrainingConfig, {"test_fraction": 1.0}),
        (ArchitectureConfig, {"label_encoding": "embedding"}),
        (ArchitectureConfig, {"generator_dropout": 1.0}),
        (ArchitectureConfig, {"generator_hidden": ()}),
    ],
)
def test_validation(cls: type, kw: dict) -> None:
    with pytest.raises(ConfigError):
        cls(**kw)


def test_replace_validates() -> None:
    t = TrainingConfig().replace(epochs=5)
    assert t.epochs == 5
    with pytest.raises(ConfigError):
        TrainingConfig().replace(nonsense=1)
