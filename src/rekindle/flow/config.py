"""Settings of the flow generator and of its relevance guide (no torch import: the CLI reads
their defaults before any heavy import)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from rekindle.config import Settings, check, check_positive_int


@dataclass(frozen=True)
class FlowConfig(Settings):
    """Settings of the flow generator and its training.

    Attributes
    ----------
    transforms : int
        Coupling transforms of the learnt flow (0: the Gaussian copula alone).
    hidden, layers : int
        Units per hidden layer and hidden layers of each conditioner.
    bins : int
        Histogram bins per feature for the marginal CDFs on (−1, 1).
    epochs : int
        Passes over the training rows for the flow (after the two counting passes).
    max_steps : int or None
        Stop the flow training after this many Adam steps (a compute budget).
    batch_size : int
        Rows per Adam step.
    learning_rate : float
        Adam learning rate.
    max_sets : int or None
        Use only the first ``max_sets`` rows of the source (learning curves).
    validation_fraction : float
        Share of the rows held out for model selection (at most ``max_validation``).
    max_validation : int
        Cap on held-out rows.
    eval_every : int
        Adam steps between held-out evaluations.
    chunk_rows : int
        Rows read from the source at a time (bounds memory).
    seed : int
        Seed of the flow initialisation and the shuffling.
    threads : int
        PyTorch threads during the fit (small matrices: one thread wastes least on a
        shared machine).
    """

    transforms: int = 4
    hidden: int = 128
    layers: int = 2
    bins: int = 1024
    epochs: int = 1
    max_steps: int | None = None
    batch_size: int = 512
    learning_rate: float = 1e-3
    max_sets: int | None = None
    validation_fraction: float = 0.1
    max_validation: int = 20_000
    eval_every: int = 200
    chunk_rows: int = 50_000
    seed: int = 0
    threads: int = 1

    def validate(self) -> None:
        check_positive_int(
            self,
            "hidden",
            "layers",
            "bins",
            "epochs",
            "batch_size",
            "eval_every",
            "chunk_rows",
            "threads",
        )
        check_positive_int(self, "transforms", minimum=0)
        check(0.0 < self.validation_fraction < 1.0, "validation_fraction must lie in (0, 1)")
        check(self.learning_rate > 0, "learning_rate must be > 0")


@dataclass(frozen=True)
class GuideConfig(Settings):
    """Settings of the relevance guide and its training.

    Attributes
    ----------
    hidden, layers : int
        Units per hidden layer and hidden layers of the classifier. The default 3 × 256
        trained for 18 passes matches the held-out cross-entropy of 3 × 512 trained for
        12 (the former default) at 60 % of its training time on E. coli (4.8·10⁵ training
        rows of the default run: 0.3203 against 0.3207, generated incidence 0.830 against
        0.826; 3 × 256 or 3 × 384 for 12 passes, or 4 × 256, fall short: 0.327–0.334;
        ``benchmarks/bench_guide_width.py``, docs/science/memgen.md).
    epochs : float
        Passes over the training rows (one-cycle learning-rate schedule over them); the
        number of AdamW steps is ``epochs · n_train / batch_size``, at most ``max_steps``.
        On E. coli the 3 × 512 guide's held-out cross-entropy was lowest after ~11 passes
        and rose after ~14 (over-fitting); the 3 × 256 guide still improves at 18.
    max_steps : int
        Cap on the AdamW steps (a compute budget for very large data sets).
    eval_every : int
        Steps between held-out evaluations (the state of lowest held-out cross-entropy is
        kept).
    batch_size : int
        Rows per AdamW step.
    learning_rate : float
        Peak AdamW learning rate.
    weight_decay : float
        AdamW weight decay.
    dropout : float
        Dropout after every hidden layer during training (0: none).
    auxiliary_weight : float
        Weight of the eigenvalue head's loss (0: classification alone).
    power : float
        Generation keeps a draw with probability ``c^power`` (1: Bayes' rule, the class
        as in the data; above 1: more selective, narrower).
    chunk_rows : int
        Rows read from the source at a time.
    seed : int
        Seed of the initialisation and shuffling.
    threads : int
        PyTorch threads during training (0: PyTorch's default).
    bfloat16_share : float
        Share of the AdamW steps, the first ones, whose forward and backward passes run in
        mixed precision (the matrix products in bfloat16 under :func:`torch.autocast`); the
        remaining steps run in float32. The weights, the optimiser, the losses, the held-out
        evaluations, the temperature and every later use of the guide are float32 throughout,
        and so is the first layer (it reads the features). 0: float32 only; 1 (default):
        mixed precision only — on the E. coli default run 1.5× faster per step on 2 cores
        of an AMD EPYC with AVX-512 BF16, with the held-out cross-entropy of float32
        training (0.3215 against 0.3207; ``docs/science/memgen.md``). Not every CPU gains:
        an Intel Xeon without AMX ran the guide's bfloat16 inference 1.6× slower than
        float32 (its training was not compared), and on a CPU without native bfloat16
        (:func:`~rekindle.flow.guide.native_bfloat16`; an AMD EPYC with AVX2 only: a step
        ~20× slower) every step trains in float32 whatever this share; the guide's summary
        records ``bfloat16_steps``.
    """

    hidden: int = 256
    layers: int = 3
    epochs: float = 18.0
    max_steps: int = 20_000
    eval_every: int = 500
    batch_size: int = 1024
    learning_rate: float = 2e-3
    weight_decay: float = 1e-4
    dropout: float = 0.0
    auxiliary_weight: float = 1.0
    power: float = 1.0
    chunk_rows: int = 50_000
    seed: int = 0
    threads: int = 0
    bfloat16_share: float = 1.0

    def validate(self) -> None:
        check_positive_int(
            self, "hidden", "layers", "max_steps", "eval_every", "batch_size", "chunk_rows"
        )
        check(0.0 <= self.bfloat16_share <= 1.0, "bfloat16_share must lie in [0, 1]")
        check(self.epochs > 0 and math.isfinite(self.epochs), "epochs must be > 0")
        check_positive_int(self, "threads", minimum=0)
        check(self.learning_rate > 0, "learning_rate must be > 0")
        check(self.weight_decay >= 0, "weight_decay must be >= 0")
        check(0.0 <= self.dropout < 1.0, "dropout must lie in [0, 1)")
        check(self.auxiliary_weight >= 0, "auxiliary_weight must be >= 0")
        check(self.power > 0 and math.isfinite(self.power), "power must be a finite number > 0")

    def steps_for(self, n_train: int) -> int:
        """AdamW steps for ``n_train`` training rows (at least one)."""
        per_epoch = max(1, n_train // max(1, min(self.batch_size, n_train)))
        return max(1, min(self.max_steps, math.ceil(self.epochs * per_epoch)))
