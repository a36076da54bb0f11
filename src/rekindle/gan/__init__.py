"""REKINDLE conditional GAN: configuration, networks, preprocessing, training.

Public entry point: :class:`KineticGAN` (train, generate, save/load,
fine-tune). Building blocks are re-exported for the analyses and the CLI.
"""

from .config import ArchitectureConfig, ConfigError, TrainingConfig
from .model import FORMAT_NAME, FORMAT_VERSION, GeneratorFileError, KineticGAN, transfer_config
from .modules import (
    PAPER_DISCRIMINATOR_PARAMETERS,
    PAPER_GENERATOR_PARAMETERS,
    Discriminator,
    Generator,
    count_parameters,
)
from .monitoring import (
    gaussian_kl,
    kl_divergence,
    kl_divergence_per_feature,
    read_metrics_csv,
    spearman,
    spread_ratio,
    write_metrics_csv,
)
from .preprocessing import (
    CLASS_NAMES,
    NOT_RELEVANT,
    RELEVANT,
    LogMinMaxScaler,
    SaturationScaler,
    class_index,
    encode_labels,
    scaler_from_dict,
    train_test_split_indices,
)
from .training import (
    CheckpointError,
    GANTrainer,
    Labeller,
    TrainingResult,
    measure_throughput,
)

__all__ = [
    "CLASS_NAMES",
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "NOT_RELEVANT",
    "PAPER_DISCRIMINATOR_PARAMETERS",
    "PAPER_GENERATOR_PARAMETERS",
    "RELEVANT",
    "ArchitectureConfig",
    "CheckpointError",
    "ConfigError",
    "Discriminator",
    "GANTrainer",
    "Generator",
    "GeneratorFileError",
    "KineticGAN",
    "Labeller",
    "LogMinMaxScaler",
    "SaturationScaler",
    "TrainingConfig",
    "TrainingResult",
    "class_index",
    "count_parameters",
    "encode_labels",
    "gaussian_kl",
    "kl_divergence",
    "kl_divergence_per_feature",
    "measure_throughput",
    "read_metrics_csv",
    "scaler_from_dict",
    "spearman",
    "spread_ratio",
    "train_test_split_indices",
    "transfer_config",
    "write_metrics_csv",
]
