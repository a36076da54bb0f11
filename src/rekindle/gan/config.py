"""Configuration objects for the REKINDLE conditional GAN: one set of defaults.

Two frozen dataclasses hold every knob of the method. Their defaults are
rekindle's default recipe, the one ``rekindle train --generator cgan`` and
``rekindle run --generator cgan`` use, so ``KineticGAN(...)`` in Python and the command
line train the same way; each field
says where its value comes from. :meth:`ArchitectureConfig.paper` and
:meth:`TrainingConfig.paper` give the values of the REKINDLE paper and its
reference code.

Both derive from :class:`rekindle.config.Settings` (``to_dict``, ``from_dict``
refusing unknown keys, ``replace``, validation on construction).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from rekindle.config import Settings, check, check_choice, is_int, is_real
from rekindle.errors import ConfigError

__all__ = [
    "CGAN_SETTINGS",
    "RECIPES",
    "SCALING_CHOICES",
    "ArchitectureConfig",
    "ConfigError",
    "TrainingConfig",
    "TrainingPlan",
    "transfer_config",
]


@dataclass(frozen=True)
class ArchitectureConfig(Settings):
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
        """The networks of the authors' code, plus ``changes``.

        EPFL-LCSB/rekindle, ``venv/cGANtools/GAN.py``: a scalar label (relevant
        = -1, not relevant = +1), discriminator ``Dropout(0.4)`` (the paper's
        text says 0.5) and ``BatchNormalization(momentum=0.8)``, Keras' weight
        of the *old* running value, i.e. PyTorch momentum 0.2.
        """
        base = cls(label_encoding="scalar", discriminator_dropout=0.4, batch_norm_momentum=0.2)
        return base.replace(**changes)

    def validate(self) -> None:
        check(is_int(self.latent_dim) and self.latent_dim > 0, "latent_dim must be a positive int")
        for name in ("generator_hidden", "discriminator_hidden"):
            value = getattr(self, name)
            check(
                isinstance(value, tuple)
                and len(value) > 0
                and all(is_int(v) and v > 0 for v in value),
                f"{name} must be a non-empty tuple of positive ints, got {value!r}",
            )
        check(is_real(self.leaky_slope) and self.leaky_slope >= 0, "leaky_slope must be >= 0")
        for name in ("generator_dropout", "discriminator_dropout"):
            value = getattr(self, name)
            check(is_real(value) and 0.0 <= value < 1.0, f"{name} must be in [0, 1)")
        check(isinstance(self.batch_norm, bool), "batch_norm must be a bool")
        check(
            is_real(self.batch_norm_momentum) and 0.0 < self.batch_norm_momentum <= 1.0,
            "batch_norm_momentum must be in (0, 1]",
        )
        check(
            is_real(self.batch_norm_eps) and self.batch_norm_eps > 0, "batch_norm_eps must be > 0"
        )
        check(is_int(self.n_classes) and self.n_classes >= 2, "n_classes must be an int >= 2")
        check(
            self.label_encoding in ("scalar", "onehot"),
            f"label_encoding must be 'scalar' or 'onehot', got {self.label_encoding!r}",
        )

    @property
    def condition_dim(self) -> int:
        """Width of the label encoding appended to the network inputs."""
        return 1 if self.label_encoding == "scalar" else self.n_classes


#: Allowed values of the TrainingConfig fields that name a choice.
_CHOICES: dict[str, tuple[str, ...]] = {
    "fake_labels": ("uniform", "batch"),
    "fake_mode": ("eval", "train"),
    "discriminator_update": ("joint", "split"),
    "discriminator_rows": ("batch", "half-resampled"),
    "generator_batch": ("shared", "fresh"),
    "selection": ("width-band", "incidence"),
}


@dataclass(frozen=True)
class TrainingConfig(Settings):
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
        Adam learning rate of both networks (1e-3; the paper: 2e-4). Measured on
        the default run's data (20 000 fdp1 sets, one repeat of 30 epochs, eval-mode
        fakes): with 2e-4 the generated width grows only to 0.73 (spread ratio;
        IQR ratio 0.80) by epoch 30; with 1e-3 it reaches the data's (0.9-1.1) by
        epoch ~8 (``tools/gan_recipe_trial.py``).
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
    fake_mode : {"eval", "train"}
        Mode of the generator when it makes the discriminator's fakes. ``"eval"``
        (default; the reference's Keras ``generator.predict``): dropout off and
        BatchNorm running statistics, under ``no_grad`` -- the mode in which
        models are generated, so the discriminator judges what is generated.
        ``"train"`` (rekindle before 0.2): dropout on, batch statistics; the
        discriminator then matches the training-mode output to the data while
        the eval-mode output is generated (0.37-0.6 of its width measured).
        The generator's own update always runs in training mode.
    discriminator_update : {"joint", "split"}
        ``"joint"`` (default): one discriminator update on real and fake rows
        together. ``"split"`` (reference): two updates per step, first on the
        real rows (target 1), then on the fakes (target 0).
    discriminator_rows : {"batch", "half-resampled"}
        Real rows the discriminator sees per step. ``"batch"`` (default): the
        minibatch. ``"half-resampled"`` (reference): half a batch drawn with
        replacement from the minibatch; as many fakes.
    generator_batch : {"shared", "fresh"}
        ``"shared"`` (default): the generator step scores the discriminator's
        fakes again (the same noise and labels, in training mode). ``"fresh"``
        (reference): a new noise batch of the minibatch's size with labels drawn
        uniformly over the classes.
    selection : {"width-band", "incidence"}
        Rule that keeps the generator (:mod:`rekindle.gan.selection`).
        ``"width-band"`` (default): the highest incidence among the evaluations
        whose width -- ``spread_ratio`` and ``iqr_ratio`` of ln K_M against the
        relevant training rows -- lies in ``width_band``; when none does, the
        evaluation closest to the band. Narrowing cannot win it.
        ``"incidence"``: the paper's rule, the highest incidence (with
        ``min_spread_ratio`` as a floor).
    width_band : tuple of float
        ``(low, high)`` of the width rule ((0.9, 1.1)).
    min_spread_ratio : float
        Rule ``"incidence"`` only: an evaluation can give the kept generator
        only when its ``spread_ratio`` (median over the K_M of std(ln K_M
        generated) / std(ln K_M of the relevant training rows)) is at least
        this. 0 (default): the paper's rule, highest incidence. When no
        evaluation qualifies, the highest incidence is kept.
    """

    epochs: int = 30
    batch_size: int = 128
    learning_rate: float = 1e-3
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
    fake_mode: str = "eval"
    discriminator_update: str = "joint"
    discriminator_rows: str = "batch"
    generator_batch: str = "shared"
    selection: str = "width-band"
    width_band: tuple[float, float] = (0.9, 1.1)
    min_spread_ratio: float = 0.0

    @classmethod
    def paper(cls, **changes: Any) -> TrainingConfig:
        """The step of the authors' code with the paper's sizes, plus ``changes``.

        EPFL-LCSB/rekindle (``venv/cGANtools/GAN.py``, ``N2-rekindle-do-cgan-training.py``):
        batch 1024; per step two discriminator updates, on half a batch of real
        rows drawn with replacement from the batch and on as many fakes made in
        inference mode with the real rows' labels; one generator update on a
        fresh batch with uniformly drawn labels; Adam(2e-4, 0.5). The paper:
        1000 epochs, 300 models every 10 epochs, the highest incidence kept.
        """
        base = cls(
            epochs=1000,
            batch_size=1024,
            learning_rate=2e-4,
            eval_every=10,
            n_eval=300,
            fake_labels="batch",
            fake_mode="eval",
            discriminator_update="split",
            discriminator_rows="half-resampled",
            generator_batch="fresh",
            selection="incidence",
        )
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
            check(is_int(value) and value > 0, f"{name} must be a positive int, got {value!r}")
        check(self.batch_size >= 2, "batch_size must be >= 2 (BatchNorm needs 2 samples)")
        check(is_real(self.learning_rate) and self.learning_rate > 0, "learning_rate must be > 0")
        for name in ("beta1", "beta2"):
            value = getattr(self, name)
            check(is_real(value) and 0.0 <= value < 1.0, f"{name} must be in [0, 1)")
        check(
            is_real(self.failure_accuracy) and 0.0 <= self.failure_accuracy <= 1.0,
            "failure_accuracy must be in [0, 1]",
        )
        check(isinstance(self.stop_on_failure, bool), "stop_on_failure must be a bool")
        check(is_int(self.seed) and self.seed >= 0, "seed must be a non-negative int")
        check(is_int(self.split_seed) and self.split_seed >= 0, "split_seed must be an int >= 0")
        check(
            is_real(self.test_fraction) and 0.0 <= self.test_fraction < 1.0,
            "test_fraction must be in [0, 1)",
        )
        check(isinstance(self.device, str) and len(self.device) > 0, "device must be a string")
        check(
            self.num_threads is None or (is_int(self.num_threads) and self.num_threads > 0),
            "num_threads must be None or a positive int",
        )
        check(
            is_real(self.label_smoothing) and 0.0 <= self.label_smoothing < 0.5,
            "label_smoothing must be in [0, 0.5)",
        )
        check(
            is_real(self.kl_pseudocount) and self.kl_pseudocount > 0, "kl_pseudocount must be > 0"
        )
        for name, allowed in _CHOICES.items():
            value = getattr(self, name)
            check(
                value in allowed,
                f"{name} must be one of {', '.join(map(repr, allowed))}, got {value!r}",
            )
        band = self.width_band
        check(
            isinstance(band, tuple)
            and len(band) == 2
            and all(is_real(v) for v in band)
            and 0 <= band[0] <= band[1],
            f"width_band must be (low, high) with 0 <= low <= high, got {band!r}",
        )
        check(
            is_real(self.min_spread_ratio) and 0.0 <= self.min_spread_ratio,
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


SCALING_CHOICES = ("saturation", "ln-global-minmax", "log10-minmax", "log-minmax")
"""Names of the feature maps of :class:`TrainingPlan` (``rekindle.stages.SCALINGS``):
``2σ − 1`` at the reference state; the authors' natural log with one global min–max;
log10 with a min–max per feature (``"log-minmax"``: its earlier name)."""
RECIPES = ("default", "paper")
"""Training steps and networks: rekindle's defaults, or the authors' code's."""


# the GAN's defaults have one home: the settings dataclasses above
_TRAIN, _ARCH = TrainingConfig(), ArchitectureConfig()


@dataclass(frozen=True)
class TrainingPlan(Settings):
    """How ``rekindle train`` and ``rekindle run`` train their generators.

    Attributes
    ----------
    epochs, batch_size, learning_rate, eval_every, n_eval
        GAN training of each repeat (paper: 1000 epochs, batch 128, lr 2e-4, every
        10 epochs 300 models).
    repeats
        Independent trainings (seeds ``seed + r``); the best generator is kept.
    scaling
        Feature map: ``"saturation"`` (``2σ − 1`` at the reference state),
        ``"ln-global-minmax"`` (the authors' code: natural log, one min/max over the
        whole training matrix) or ``"log10-minmax"`` (log10, min/max per feature).
    recipe
        Training step and networks: ``"default"`` (:class:`rekindle.gan.TrainingConfig`,
        :class:`rekindle.gan.ArchitectureConfig`) or ``"paper"`` (the authors' code:
        ``TrainingConfig.paper()``, ``ArchitectureConfig.paper()``); the sizes above
        stay the plan's.
    label_encoding, fake_labels, selection
        Class conditioning and the rule that keeps the generator (within a repeat and
        over repeats, :mod:`rekindle.gan.selection`); None: the recipe's.
    min_spread_ratio
        With ``selection="incidence"``: keep only generators whose spread ratio (std
        of generated ln K_M over that of the relevant training data, median over the
        K_M) reaches this; 0: the paper's highest-incidence rule.
    seed
        Repeat ``r`` trains with seed ``seed + r`` on the train/test split of ``seed``.
    num_threads
        PyTorch threads (default: PyTorch's choice).
    """

    epochs: int = _TRAIN.epochs
    repeats: int = 1
    batch_size: int = _TRAIN.batch_size
    learning_rate: float = _TRAIN.learning_rate
    eval_every: int = _TRAIN.eval_every
    n_eval: int = _TRAIN.n_eval
    scaling: str = "saturation"
    recipe: str = "default"
    label_encoding: str | None = None
    fake_labels: str | None = None
    selection: str | None = None
    min_spread_ratio: float = _TRAIN.min_spread_ratio
    seed: int = 0
    num_threads: int | None = None

    def validate(self) -> None:
        check_choice(self, "scaling", SCALING_CHOICES)
        check_choice(self, "recipe", RECIPES)

    def architecture(self) -> ArchitectureConfig:
        """The networks of this plan."""
        base = ArchitectureConfig.paper() if self.recipe == "paper" else ArchitectureConfig()
        return (
            base
            if self.label_encoding is None
            else base.replace(label_encoding=self.label_encoding)
        )

    def training_config(self, repeat: int) -> TrainingConfig:
        """The training plan of repeat ``repeat``: the recipe's step with this plan's sizes."""
        base = TrainingConfig.paper() if self.recipe == "paper" else TrainingConfig()
        chosen = {"fake_labels": self.fake_labels, "selection": self.selection}
        return base.replace(
            epochs=self.epochs,
            batch_size=self.batch_size,
            learning_rate=self.learning_rate,
            eval_every=self.eval_every,
            n_eval=self.n_eval,
            seed=self.seed + repeat,
            split_seed=self.seed,
            min_spread_ratio=self.min_spread_ratio,
            num_threads=self.num_threads,
            **{k: v for k, v in chosen.items() if v is not None},
        )


CGAN_SETTINGS: frozenset[str] = frozenset(
    f.name for f in fields(TrainingPlan) if f.name not in ("seed", "num_threads")
)
"""Settings of a run (:class:`rekindle.pipeline.RunConfig`) that only the cGAN uses: the
fields of :class:`TrainingPlan` but the seed and the threads (the flow's start with
``flow_``). Here so that the run (:mod:`rekindle.pipeline`) and its report
(:mod:`rekindle.report.html`) both import it downward."""
