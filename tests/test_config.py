"""One config base: every settings object refuses unknown keys, round-trips, validates."""

from __future__ import annotations

import json

import pytest

from rekindle.analysis.perturbation import PerturbationSettings
from rekindle.config import Settings
from rekindle.errors import ConfigError
from rekindle.flow import FlowConfig, GuideConfig
from rekindle.gan.config import ArchitectureConfig, TrainingConfig
from rekindle.integrate import IntegratorOptions
from rekindle.pipeline import PROFILES, RunConfig
from rekindle.sampling import SamplingSettings
from rekindle.stages import InterpretabilitySettings, TrainingPlan
from rekindle.stages.transfer import TransferSettings

ALL = [
    RunConfig,
    TrainingPlan,
    InterpretabilitySettings,
    TransferSettings,
    PerturbationSettings,
    IntegratorOptions,
    TrainingConfig,
    ArchitectureConfig,
    FlowConfig,
    GuideConfig,
]


@pytest.mark.parametrize("cls", ALL, ids=lambda c: c.__name__)
def test_every_settings_class_shares_the_base(cls) -> None:
    assert issubclass(cls, Settings)
    default = cls()
    # to_dict gives plain builtins (JSON-able apart from non-finite floats) and round-trips
    d = default.to_dict()
    json.dumps(d, allow_nan=True)
    assert cls.from_dict(d) == default
    with pytest.raises(ConfigError, match="bogus"):
        cls.from_dict({**d, "bogus": 1})


def test_validation_errors_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="scaling"):
        TrainingPlan(scaling="log10")
    with pytest.raises(ConfigError, match="n_perturbations"):
        PerturbationSettings(n_perturbations=0)
    with pytest.raises(ConfigError, match="rtol"):
        IntegratorOptions(rtol=-1.0)
    with pytest.raises(ConfigError, match="n_sets"):
        TransferSettings(n_sets=(10, 0))
    with pytest.raises(ConfigError, match="power"):
        GuideConfig(power=0.0)
    with pytest.raises(ConfigError, match="unknown profile"):
        RunConfig.from_profile("fast")


def test_nested_settings_round_trip_through_dicts() -> None:
    st = PerturbationSettings(options=IntegratorOptions(rtol=1e-4))
    d = st.to_dict()
    assert d["options"]["rtol"] == 1e-4
    assert PerturbationSettings.from_dict(d) == st


def test_defaults_have_one_home() -> None:
    # the run's training defaults are the training plan's, which are the GAN's
    plan, run, gan = TrainingPlan(), RunConfig(), TrainingConfig()
    for name in ("epochs", "batch_size", "learning_rate", "eval_every", "n_eval"):
        assert getattr(plan, name) == getattr(run, name) == getattr(gan, name), name
    # label encoding, fake labels and selection: None = the recipe's (the GAN's defaults)
    assert plan.label_encoding is run.label_encoding is None
    assert plan.architecture() == ArchitectureConfig()
    assert plan.training_config(0) == TrainingConfig(seed=0, split_seed=0)
    assert RunConfig.default("n_sets") == PROFILES["default"].n_sets
    assert PROFILES["smoke"].training_plan().epochs == PROFILES["smoke"].epochs
    with pytest.raises(ConfigError, match="no field"):
        RunConfig.default("bogus")


def test_settings_with_required_fields() -> None:
    st = SamplingSettings(n=100, seed=3)
    assert SamplingSettings.from_dict(st.to_dict()) == st
    with pytest.raises(ConfigError, match="chunk_size"):
        SamplingSettings(n=100, seed=3, chunk_size=0)
    with pytest.raises(ConfigError, match="has no default"):
        SamplingSettings.default("n")
