"""Configuration objects for the REKINDLE conditional GAN: one set of defaults.

Two frozen dataclasses hold every knob of the method. Their defaults are
rekindle's default recipe, the one ``rekindle train`` and ``rekindle run`` use, so
``KineticGAN(...)`` in Python and the command line train the same way; each field
says where its value comes from. :meth:`ArchitectureConfig.paper` and
:meth:`TrainingConfig.paper` give the values of the REKINDLE paper and its
reference code.

Both classes offer :meth:`to_dict` (plain ``dict`` of ``int``/``float``/``str``/
``bool``/``list``/``None``, safe for ``torch.load(weights_only=True)``, JSON and
YAML) and :meth:`from_dict`, which rejects unknown keys with an error that names
them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from rekindle.config import Settings, check, is_int, is_real
from rekindle.errors import ConfigError

__all__ = ["ArchitectureConfig", "ConfigError", "TrainingConfig", "transfer_config"]

# one base for every settings object (rekindle.config): from_dict refusing unknown keys,
# to_dict, replace, validation in __post_init__ through validate()
_ConfigBase = Settings
_check, _is_int, _is_real = check, is_int, is_real


@dataclass(frozen=True)
class ArchitectureConfig(_ConfigBase):
    """Network architecture of the conditional GAN (the paper's networks).

    Attributes
    ----------
    latent_dim : int
        Dimension of the Gaussian noise vector fed to the generator (127). With
        the scalar label encoding the generator input is 127 + 1 = 128 wide,
        which reproduces the paper's generator parameter count (315,779) exactly.
    generator_hidden : tuple of int
        Widths of the generator's hidden Dense layers, (128, 256, 512).
    discriminator_hidden : tuple of int
        Widths of the discriminator's hidden Dense layers, (32, 64, 128).
    leaky_slope : float
        Negative slope of every LeakyReLU (0.2).
    generator_dropout, discriminator_dropout : float
        Dropout probability after every hidden layer (0.5 and 0.5).
    batch_norm : bool
        Use BatchNorm1d after each generator hidden layer (True). The
        discriminator has no batch normalisation, as in the paper.
    batch_norm_momentum : float
        PyTorch-convention momentum of the running statistics (0.1, the PyTorch
        default; the paper does not state it, Keras' default would be 0.01). The
        running statistics are what generation in eval mode uses; 0.1 averages
        over the last ~10 steps and so follows the changing generator closely.
    batch_norm_eps : float
        BatchNorm epsilon (1e-3, the Keras default; the paper used Keras).
    n_classes : int
        Number of data classes (2: relevant, not relevant).
    label_encoding : {"onehot", "scalar"}
        How the class index is fed to both networks. ``"onehot"`` (default)
        appends a one-hot vector of length ``n_classes``; ``"scalar"`` (the
        paper's) appends one value per sample, evenly spaced in [-1, 1] over the
        classes (two classes: relevant = -1, not relevant = +1). The scalar label
        conditions the networks measurably less here (best incidence 0.885
        instead of 0.931 in 20 epochs on 20 000 fdp1 sets).
    """

    latent_dim: int = 127
    generator_hidden: tuple[int, ...] = (128, 256, 512)
    discriminator_hidden: tuple[int, ...] = (32, 64, 128)
    leaky_slope: float = 0.2
    generator_dropout: float = 0.5
    discriminator_dropout: float = 0.5
    batch_norm: bool = True
    batch_norm_momentum: float = 0.1
    batch_norm_eps: float = 1e-3
    n_classes: int = 2
    label_encoding: str = "onehot"

    @classmethod
    def paper(cls, **changes: Any) -> ArchitectureConfig:
        """The paper's networks with its scalar label (relevant = -1), plus ``changes``."""
        return cls(label_encoding="scalar").replace(**changes)

    def validate(self) -> None:
        _check(
            _is_int(self.latent_dim) and self.latent_dim > 0, "latent_dim must be a positive int"
        )
        for name in ("generator_hidden", "discriminator_hidden"):
            value = getattr(self, name)
            _check(
                isinstance(value, tuple)
                and len(value) > 0
                and all(_is_int(v) and v > 0 for v in value),
                f"{name} must be a non-empty tuple of positive ints, got {value!r}",
            )
        _check(_is_real(self.leaky_slope) and self.leaky_slope >= 0, "leaky_slope must be >= 0")
        for name in ("generator_dropout", "discriminator_dropout"):
            value = getattr(self, name)
            _check(_is_real(value) and 0.0 <= value < 1.0, f"{name} must be in [0, 1)")
        _check(isinstance(self.batch_norm, bool), "batch_norm must be a bool")
        _check(
            _is_real(self.batch_norm_momentum) and 0.0 < self.batch_norm_momentum <= 1.0,
            "batch_norm_momentum must be in (0, 1]",
        )
        _check(
            _is_real(self.batch_norm_eps) and self.batch_norm_eps > 0, "batch_norm_eps must be > 0"
        )
        _check(_is_int(self.n_classes) and self.n_classes >= 2, "n_classes must be an int >= 2")
        _check(
            self.label_encoding in ("scalar", "onehot"),
            f"label_encoding must be 'scalar' or 'onehot', got {self.label_encoding!r}",
        )

    @property
    def condition_dim(self) -> int:
        """Width of the label encoding appended to the network inputs."""
        return 1 if self.label_encoding == "scalar" else self.n_classes


@dataclass(frozen=True)
class TrainingConfig(_ConfigBase):
    """Training plan of the conditional GAN (rekindle's default recipe).

    Attributes
    ----------
    epochs : int
        Number of passes over the training data (30; the paper: 1000).
    batch_size : int
        Real samples per discriminator/generator step (128). The paper does not
        state the batch size for the 72,000-model training (only 2-50 for the
        transfer-learning runs); 128 gives 563 updates per epoch on 72,000
        models and a good throughput on CPU (see :func:`measure_throughput`).
    learning_rate : float
        Adam learning rate of both networks (2e-4).
    beta1, beta2 : float
        Adam moment coefficients (0.5, 0.999; the usual GAN choice).
    eval_every : int
        Evaluate the generator every this many epochs (1; the paper: 10). The
        last epoch is always evaluated.
    n_eval : int
        Models of the "relevant" class generated per evaluation (1000; the
        paper: 300).
    failure_accuracy : float
        Discriminator accuracy above which an epoch counts towards failure (0.9).
    failure_window : int
        Training has failed if the accuracy exceeded ``failure_accuracy`` in every
        one of the last ``failure_window`` epochs (200).
    stop_on_failure : bool
        Stop as soon as the failure criterion is met (False: train to the end,
        as in the paper, and only report it).
    seed : int
        Seed of network initialisation, shuffling, noise and dropout (0).
    split_seed : int
        Seed of the train/test split (0). Kept separate from ``seed`` so that
        statistical replicates share one split, as in the paper.
    test_fraction : float
        Fraction of the data held out as test set (0.1, the paper's 9:1 split).
    checkpoint_every : int
        Write a checkpoint every this many epochs when an output directory is
        given (50). The final epoch is always checkpointed.
    device : str
        ``"auto"`` (CUDA if available, else CPU), ``"cpu"``, ``"cuda"``,
        ``"cuda:N"``.
    num_threads : int or None
        If set, ``torch.set_num_threads`` for the duration of training (restored
        afterwards). ``None`` keeps the current setting.
    label_smoothing : float
        One-sided label smoothing: real targets are ``1 - label_smoothing`` in
        the discriminator loss (0.0, none, as in the paper).
    fake_labels : {"batch", "uniform"}
        Class labels of the generated half of each step. ``"uniform"`` (default)
        draws them uniformly over the classes; ``"batch"`` reuses the labels of
        the real minibatch, so real and fake halves have identical class
        frequencies.
    kl_bins : int
        Histogram bins per feature of the KL monitor (30).
    kl_pseudocount : float
        Pseudo-count added to every histogram bin of the KL monitor (0.5).
    min_spread_ratio : float
        An evaluation can give the kept generator only when its ``spread_ratio``
        (median over the K_M of std(ln K_M generated) / std(ln K_M of the relevant
        training rows)) is at least this. 0 (default) is the paper's rule, highest
        incidence; e.g. 0.8 refuses generators that raise the incidence by
        narrowing the distributions (narrow saturations are stable by themselves).
        When no evaluation qualifies, the highest incidence is kept.
    """

    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    eval_every: int = 1
    n_eval: int = 1000
    failure_accuracy: float = 0.9
    failure_window: int = 200
    stop_on_failure: bool = False
    seed: int = 0
    split_seed: int = 0
    test_fraction: float = 0.1
    checkpoint_every: int = 50
    device: str = "auto"
    num_threads: int | None = None
    label_smoothing: float = 0.0
    fake_labels: str = "uniform"
    kl_bins: int = 30
    kl_pseudocount: float = 0.5
    min_spread_ratio: float = 0.0

    @classmethod
    def paper(cls, **changes: Any) -> TrainingConfig:
        """The paper's training plan (1000 epochs, 300 models every 10), plus ``changes``."""
        base = cls(epochs=1000, eval_every=10, n_eval=300, fake_labels="batch")
        return base.replace(**changes)

    def validate(self) -> None:
        pos_ints = (
            "epochs",
            "batch_size",
            "eval_every",
            "n_eval",
            "failure_window",
            "checkpoint_every",
            "kl_bins",
        )
        for name in pos_ints:
            value = getattr(self, name)
            _check(_is_int(value) and value > 0, f"{name} must be a positive int, got {value!r}")
        _check(self.batch_size >= 2, "batch_size must be >= 2 (BatchNorm needs 2 samples)")
        _check(_is_real(self.learning_rate) and self.learning_rate > 0, "learning_rate must be > 0")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            _check(_is_real(value) and 0.0 <= value < 1.0, f"{name} must be in [0, 1)")
        _check(
            _is_real(self.failure_accuracy) and 0.0 <= self.failure_accuracy <= 1.0,
            "failure_accuracy must be in [0, 1]",
        )
        _check(isinstance(self.stop_on_failure, bool), "stop_on_failure must be a bool")
        _check(_is_int(self.seed) and self.seed >= 0, "seed must be a non-negative int")
        _check(_is_int(self.split_seed) and self.split_seed >= 0, "split_seed must be an int >= 0")
        _check(
            _is_real(self.test_fraction) and 0.0 <= self.test_fraction < 1.0,
            "test_fraction must be in [0, 1)",
        )
        _check(isinstance(self.device, str) and len(self.device) > 0, "device must be a string")
        _check(
            self.num_threads is None or (_is_int(self.num_threads) and self.num_threads > 0),
            "num_threads must be None or a positive int",
        )
        _check(
            _is_real(self.label_smoothing) and 0.0 <= self.label_smoothing < 0.5,
            "label_smoothing must be in [0, 0.5)",
        )
        _check(
            self.fake_labels in ("batch", "uniform"),
            f"fake_labels must be 'batch' or 'uniform', got {self.fake_labels!r}",
        )
        _check(
            _is_real(self.kl_pseudocount) and self.kl_pseudocount > 0, "kl_pseudocount must be > 0"
        )
        _check(
            _is_real(self.min_spread_ratio) and 0.0 <= self.min_spread_ratio,
            "min_spread_ratio must be >= 0",
        )


def transfer_config(n_train: int, **overrides: Any) -> TrainingConfig:
    """Paper's transfer-learning training plan for ``n_train`` target models.

    300 epochs; 1,000 relevant models generated per evaluation; learning rate
    1e-3 for ``n_train >= 500`` else 2e-4; batch size 2, 5, 10, 20, 50 for
    up to 10, 50, 100, 500 and more training sets; no test split (all target
    models are used for training).

    Parameters
    ----------
    n_train : int
        Number of target-physiology parameter sets.
    **overrides
        Any :class:`TrainingConfig` field.

    Returns
    -------
    TrainingConfig
    """
    if n_train <= 10:
        bs = 2
    elif n_train <= 50:
        bs = 5
    elif n_train <= 100:
        bs = 10
    elif n_train <= 500:
        bs = 20
    else:
        bs = 50
    base: dict[str, Any] = {
        "epochs": 300,
        "n_eval": 1000,
        "batch_size": bs,
        "learning_rate": 1e-3 if n_train >= 500 else 2e-4,
        "test_fraction": 0.0,
    }
    base.update(overrides)
    return TrainingConfig.from_dict(base)
