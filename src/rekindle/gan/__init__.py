"""REKINDLE conditional GAN: configuration, networks, preprocessing, training.

Public entry point: :class:`KineticGAN` (train, generate, save/load, fine-tune).

Layout: ``config`` (the settings dataclasses: one set of defaults for Python and
the CLI, and :class:`~rekindle.gan.config.TrainingPlan`), ``modules`` (the networks,
torch.nn only), ``preprocessing`` (the train/test split; the feature maps and labels
it re-exports live in :mod:`rekindle.features`, shared with the flow generator),
``monitoring`` (KL, width, Spearman; the metrics CSV of :mod:`rekindle.io.metrics_csv`),
``selection`` (which evaluation gives the kept generator), ``training`` (the loop
in named phases over a state dataclass; progress injected), ``checkpoint``
(resumable training state), ``artefact`` (the ``generator.pt`` format), ``model``
(:class:`KineticGAN`).

Names are imported lazily, so that reading e.g. :class:`TrainingConfig`'s
defaults does not import torch.
"""

from __future__ import annotations

import importlib
from typing import Any

_EXPORTS = {
    "config": ("ArchitectureConfig", "ConfigError", "TrainingConfig", "transfer_config"),
    "artefact": (
        "FORMAT_NAME",
        "FORMAT_VERSION",
        "GeneratorArtefact",
        "read_generator",
        "write_generator",
    ),
    "model": ("GeneratorFileError", "KineticGAN"),
    "modules": (
        "PAPER_DISCRIMINATOR_PARAMETERS",
        "PAPER_GENERATOR_PARAMETERS",
        "Discriminator",
        "Generator",
        "count_parameters",
    ),
    "monitoring": (
        "gaussian_kl",
        "kl_divergence",
        "kl_divergence_per_feature",
        "read_metrics_csv",
        "spearman",
        "spread_ratio",
        "write_metrics_csv",
    ),
    "preprocessing": (
        "CLASS_NAMES",
        "NOT_RELEVANT",
        "RELEVANT",
        "GlobalLogMinMaxScaler",
        "LogMinMaxScaler",
        "SaturationScaler",
        "SCALINGS",
        "class_index",
        "encode_labels",
        "scaler_from_dict",
        "train_test_split_indices",
    ),
    "training": (
        "CheckpointError",
        "GANTrainer",
        "Labeller",
        "TrainingResult",
    ),
    "throughput": ("measure_throughput",),
}
_WHERE = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'rekindle.gan' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
