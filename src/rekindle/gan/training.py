"""Training plan of the REKINDLE conditional GAN.

One *step* per minibatch (the choices are fields of :class:`TrainingConfig`;
``TrainingConfig.paper()`` selects the step of the authors' code):

1. **Discriminator update(s)** (generator frozen): real scaled parameter sets
   with their class labels -- the minibatch (``discriminator_rows="batch"``) or
   half a batch drawn from it with replacement (``"half-resampled"``) -- and as
   many generated sets (noise ~ N(0, I); labels drawn uniformly or the real
   rows', ``fake_labels``). The fakes are made in **eval mode** under
   ``no_grad`` (``fake_mode="eval"``: dropout off, BatchNorm running
   statistics), the mode in which models are generated, so that the
   discriminator judges what will be generated; ``"train"`` makes them in
   training mode. Binary cross-entropy with logits, real target 1 (or
   ``1 - label_smoothing``), fake target 0; one Adam update on both
   (``discriminator_update="joint"``) or one on the real rows, then one on the
   fakes (``"split"``).
2. **Generator update** (discriminator frozen, dropout active in both networks
   as in Keras' ``train_on_batch``): the non-saturating loss
   ``BCE(D(G(z, y), y), 1)`` on the discriminator's noise and labels again,
   through a training-mode forward pass (``generator_batch="shared"``), or on a
   fresh batch of the minibatch's size with uniformly drawn labels
   (``"fresh"``); one Adam update of the generator.

The data live on the training device as tensors; each epoch draws one random
permutation of the training rows and slices it into minibatches (a trailing
batch of a single row is skipped for that epoch because batch normalisation
needs two samples; a larger trailing batch is used; the authors' code shuffles
once, before training). The epoch's *discriminator accuracy* is the fraction
of correctly classified rows (logit > 0 for real, <= 0 for fake) among all
rows the discriminator judged, scored before each update (dropout active), and
its *losses* are the row-weighted means of the per-step losses.

Every ``eval_every`` epochs (and at the last epoch) the generator, in eval mode,
generates ``n_eval`` models of the *relevant* class, the scaler maps them back
to K_M, and the injected *labeller* returns the largest real part of the
Jacobian eigenvalues (1/h); ``incidence`` is the fraction below the threshold
(default -9 1/h). The width of the generated ln K_M against the relevant
training rows (spread and IQR ratio) is recorded too; the rule of
:mod:`rekindle.gan.selection` decides which evaluation's generator is kept.

The loop (:meth:`GANTrainer.fit`) runs named phases over a
:class:`~rekindle.gan.checkpoint.TrainingState`: train an epoch, evaluate, keep
the best (:mod:`rekindle.gan.selection`), checkpoint
(:mod:`rekindle.gan.checkpoint`). It draws no UI: progress is reported to an
injected ``progress(epochs_done)`` callable, as by every other stage.

Reproducibility: all randomness comes from (a) the global torch RNG (dropout),
seeded from ``config.seed``, (b) a dedicated ``torch.Generator`` for the
permutations and the training noise, and (c) a fresh generator per evaluation,
seeded from ``(seed, epoch)``. Checkpoints store (a), (b) and numpy's global
state, so a resumed run is bit-identical to an uninterrupted one on the same
device and thread count.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import os
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from rekindle.errors import CheckpointError
from rekindle.kinetics.stability import relevance_labels
from rekindle.progress import ProgressCallback
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H

from .checkpoint import (
    CHECKPOINT_NAME,
    TrainingState,
    atomic_torch_save,
    clone_state,
    read_checkpoint,
    resolve_device,
    restore_modules,
    write_checkpoint,
)
from .config import TrainingConfig
from .modules import Discriminator, Generator
from .monitoring import WidthReference, kl_divergence, means_kl, width_ratios, write_metrics_csv
from .preprocessing import RELEVANT, Scaler
from .selection import is_better

__all__ = [
    "CHECKPOINT_NAME",
    "Callback",
    "CheckpointError",
    "GANTrainer",
    "Labeller",
    "Progress",
    "TrainingResult",
    "TrainingState",
    "atomic_torch_save",
    "resolve_device",
]

logger = logging.getLogger(__name__)

#: Signature of the labeller: K_M (n, d) in physical units -> max Re(eigenvalue) (n,) in 1/h.
Labeller = Callable[[np.ndarray], np.ndarray]
#: Signature of the per-epoch callback: (epoch, record) -> True to stop training.
Callback = Callable[[int, dict[str, float]], "bool | None"]
#: Signature of the progress callback: ``progress(epochs_done)``, as every other stage.
Progress = ProgressCallback  # progress(epochs_done): rekindle.progress

_SEED_DROPOUT = 1
_SEED_SAMPLER = 2
_SEED_EVAL = 3


def _derive_seed(seed: int, *keys: int) -> int:
    """Independent 63-bit seed for a named random stream."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


@contextlib.contextmanager
def _num_threads(n: int | None) -> Iterator[None]:
    if n is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _adam(params: list[nn.Parameter], cfg: TrainingConfig) -> torch.optim.Adam:
    """Adam with the fused kernel when available (~20 % faster steps on CPU)."""
    kw: dict[str, Any] = {"lr": cfg.learning_rate, "betas": (cfg.beta1, cfg.beta2)}
    try:
        return torch.optim.Adam(params, fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):  # pragma: no cover - old torch / device
        return torch.optim.Adam(params, **kw)


def _fingerprint(*arrays: np.ndarray) -> str:
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()


@dataclass
class TrainingResult:
    """Outcome of a training run.

    Attributes
    ----------
    metrics : list of dict
        One record per evaluation epoch with keys ``epoch``, ``d_loss``,
        ``g_loss``, ``d_accuracy`` (means over that epoch), ``incidence``
        (fraction of the ``n_eval`` generated relevant-class models that the
        labeller finds relevant; NaN without labeller), ``kl_train`` and
        ``kl_test`` (KL(generated || relevant training / test rows), scaled
        log space, nats; NaN without test data), the width ``spread_ratio`` and
        ``iqr_ratio`` (medians over the K_M of std(ln K_M generated) / std(ln K_M
        relevant training rows), and the same of interquartile ranges) and
        ``seconds`` (cumulative wall-clock time of training steps and
        evaluations, s, summed over resumed sessions).
    history : list of dict
        One record per epoch: ``epoch``, ``d_loss``, ``g_loss``, ``d_accuracy``,
        ``epoch_seconds`` (duration of that epoch's training steps, s),
        ``samples_per_s`` (real training rows per second in that epoch).
    best_state : dict
        ``state_dict`` (CPU tensors) of the generator at ``best_epoch``.
    best_epoch : int
        Evaluation epoch of the kept generator (:mod:`rekindle.gan.selection`).
    best_incidence : float
        Incidence at ``best_epoch``.
    failed : bool
        Discriminator accuracy above ``failure_accuracy`` in each of the last
        ``failure_window`` epochs (paper's failure criterion).
    failure_epoch : int or None
        First epoch at which the criterion was met, if ever.
    epochs_completed : int
        Epochs trained in total (including resumed ones).
    stopped_early : bool
        Training ended before ``config.epochs`` (failure or callback).
    resumed_from : int or None
        Epoch of the checkpoint this run resumed from.
    samples_per_second : float
        Mean training throughput (real rows per second) of this session.
    output_dir : pathlib.Path or None
        Directory with ``checkpoint.pt``, ``metrics.csv`` and ``history.csv``.
    """

    metrics: list[dict[str, float]]
    history: list[dict[str, float]]
    best_state: dict[str, torch.Tensor]
    best_epoch: int
    best_incidence: float
    failed: bool
    failure_epoch: int | None
    epochs_completed: int
    stopped_early: bool = False
    resumed_from: int | None = None
    samples_per_second: float = math.nan
    output_dir: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def best_evaluation(self) -> dict[str, float] | None:
        """The metrics record at ``best_epoch`` (None if that epoch was not evaluated)."""
        return next((m for m in self.metrics if m["epoch"] == self.best_epoch), None)

    @property
    def best_spread_ratio(self) -> float:
        """Spread ratio of the evaluation at ``best_epoch`` (NaN if not evaluated)."""
        return float((self.best_evaluation or {}).get("spread_ratio", math.nan))

    @property
    def best_iqr_ratio(self) -> float:
        """IQR ratio of the evaluation at ``best_epoch`` (NaN if not evaluated)."""
        return float((self.best_evaluation or {}).get("iqr_ratio", math.nan))

    def summary(self) -> dict[str, Any]:
        """Small JSON-like summary (stored in the generator artefact)."""
        return {
            "best_epoch": int(self.best_epoch),
            "best_incidence": float(self.best_incidence),
            "best_spread_ratio": self.best_spread_ratio,
            "best_iqr_ratio": self.best_iqr_ratio,
            "failed": bool(self.failed),
            "failure_epoch": None if self.failure_epoch is None else int(self.failure_epoch),
            "epochs_completed": int(self.epochs_completed),
            "stopped_early": bool(self.stopped_early),
        }


@dataclass
class _References:
    """What the evaluations compare the generated models with."""

    train: np.ndarray  # scaled relevant training rows (m, d)
    test: np.ndarray | None  # scaled relevant test rows (k, d)
    width: WidthReference | None  # width of ln K_M of the relevant training rows


@dataclass
class _Session:
    """Throughput of this session (a resumed run counts only its own epochs)."""

    rows: int = 0
    seconds: float = 0.0


class GANTrainer:
    """Run the adversarial training of a :class:`Generator`/:class:`Discriminator` pair.

    The loop (:meth:`fit`) runs named phases over a :class:`TrainingState`:
    :meth:`train_epoch`, :meth:`evaluate`, :meth:`keep_best` and
    :meth:`checkpoint`. It draws nothing itself: progress goes to an injected
    ``progress(epochs_done)`` callable, the per-epoch records to ``callback``.

    Parameters
    ----------
    generator, discriminator : torch.nn.Module
        Initialised networks (moved to the training device by :meth:`fit`).
        Generator parameters with ``requires_grad=False`` are frozen (not given
        to the optimiser).
    scaler : Scaler
        Fitted feature map from scaled generator output back to K_M.
    config : TrainingConfig, optional
        Training plan (defaults of :class:`TrainingConfig`).
    labeller : callable, optional
        ``labeller(km) -> max_eig``: K_M array (n, d), positive, physical units
        -> largest real part of the Jacobian eigenvalues (n,) in 1/h. NaN counts
        as not relevant. Without a labeller the incidence is NaN.
    threshold : float
        Relevance threshold on the eigenvalue (1/h): relevant iff ``max_eig <
        threshold`` (paper: -9) …
    lower : float
        … and ``max_eig > lower`` (1/h; default ``-inf``; a class band or lower bound,
        :mod:`rekindle.classes`).
    context : dict, optional
        JSON-like description of the run that must match when resuming (e.g.
        ``{"mode": "fine_tune", "freeze": [...]}``).
    """

    def __init__(
        self,
        generator: Generator,
        discriminator: Discriminator,
        scaler: Scaler,
        config: TrainingConfig | None = None,
        *,
        labeller: Labeller | None = None,
        threshold: float = RELEVANCE_THRESHOLD_PER_H,
        lower: float = -math.inf,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.scaler = scaler
        self.config = config or TrainingConfig()
        self.labeller = labeller
        self.threshold = float(threshold)
        self.lower = float(lower)
        self.context = dict(context or {})
        self.device = resolve_device(self.config.device)

    # ------------------------------------------------------------------ setup
    def _setup(self, x_train: np.ndarray, y_train: np.ndarray) -> None:
        cfg = self.config
        x = np.asarray(x_train, dtype=np.float32)
        y = np.asarray(y_train, dtype=np.int64)
        if x.ndim != 2 or y.shape != (x.shape[0],):
            raise ValueError(f"x_train must be (n, d) and y_train (n,), got {x.shape}, {y.shape}")
        if x.shape[0] < 2:
            raise ValueError("need at least 2 training rows")
        if x.shape[1] != self.generator.n_features:
            raise ValueError(
                f"x_train has {x.shape[1]} features, generator produces {self.generator.n_features}"
            )
        if np.any((y < 0) | (y >= self.generator.config.n_classes)):
            raise ValueError("y_train contains class indices out of range")
        self._fingerprint = _fingerprint(x, y)
        dev = self.device
        self.generator.to(dev).train()
        self.discriminator.to(dev).train()
        self._x = torch.from_numpy(x).to(dev)
        self._y = torch.from_numpy(y).to(dev)
        self._g_params = [p for p in self.generator.parameters() if p.requires_grad]
        if not self._g_params:
            raise ValueError("all generator parameters are frozen; nothing to train")
        self.g_opt = _adam(self._g_params, cfg)
        self.d_opt = _adam(list(self.discriminator.parameters()), cfg)
        self._sampler = torch.Generator(device=dev)
        self._d_params = list(self.discriminator.parameters())
        self._bs = min(cfg.batch_size, x.shape[0])

    def _seed_fresh(self) -> None:
        seed = self.config.seed
        torch.manual_seed(_derive_seed(seed, _SEED_DROPOUT))
        np.random.seed(seed)  # noqa: NPY002 - seed the global state labellers may use
        self._sampler.manual_seed(_derive_seed(seed, _SEED_SAMPLER))

    def _references(self, ref_train: np.ndarray, ref_test: np.ndarray | None) -> _References:
        train = np.asarray(ref_train, dtype=np.float64)
        width = WidthReference.of(self.scaler.inverse_transform(train)) if len(train) else None
        test = None if ref_test is None else np.asarray(ref_test, dtype=np.float64)
        return _References(train, test, width)

    @property
    def _modules(self) -> dict[str, Any]:
        return {
            "generator": self.generator,
            "discriminator": self.discriminator,
            "g_optimizer": self.g_opt,
            "d_optimizer": self.d_opt,
        }

    @property
    def _identity(self) -> dict[str, Any]:
        """What a checkpoint must match to be resumed by this trainer."""
        return {
            "config": self.config.to_dict(),
            "architecture": self.generator.config.to_dict(),
            "context": self.context,
            "data_fingerprint": self._fingerprint,
            "threshold": self.threshold,
            "lower": self.lower,
        }

    def _start(self, ck_path: Path | None, resume: bool) -> tuple[TrainingState, int | None]:
        """A fresh state (seeded), or the state of the checkpoint to resume."""
        if resume and ck_path is not None and ck_path.exists():
            ck = read_checkpoint(ck_path, self._identity)
            restore_modules(ck_path, ck, self._modules, self._sampler, self.device)
            state = TrainingState.from_checkpoint(ck)
            logger.info("resuming from %s at epoch %d", ck_path, state.epoch)
            return state, state.epoch
        self._seed_fresh()
        return TrainingState(), None

    # ------------------------------------------------------------------ phase: train epoch
    def train_epoch(self) -> tuple[float, float, float, int]:
        """One pass over the training data. Returns (d_loss, g_loss, d_acc, n_rows).

        The rows are visited in a fresh random permutation, in minibatches of
        ``batch_size`` (a trailing single row is skipped: batch normalisation
        needs two); :meth:`_step` runs the configured step on each. The
        accuracy is the fraction of rows the discriminator classified right
        (before its update) among all rows it judged; the losses are means
        weighted by the minibatch size.
        """
        n = self._x.shape[0]
        bs = self._bs
        perm = torch.randperm(n, generator=self._sampler, device=self.device)
        starts = list(range(0, n, bs))
        if n - starts[-1] < 2:  # a single trailing row cannot be batch-normalised
            starts.pop()
        acc = torch.zeros(4, device=self.device, dtype=torch.float64)
        seen = 0
        for s in starts:
            idx = perm[s : s + bs]
            b = int(idx.shape[0])
            d_loss, g_loss, correct, judged = self._step(self._x[idx], self._y[idx])
            acc += torch.stack([d_loss * b, g_loss * b, correct, judged])
            seen += b
        d_sum, g_sum, n_correct, n_judged = acc.tolist()
        return d_sum / seen, g_sum / seen, n_correct / n_judged, seen

    def _step(
        self, real: torch.Tensor, labels: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """One training step on a minibatch: discriminator update(s), then the generator's.

        Returns the discriminator and generator losses, the number of rows the
        discriminator classified right and the number it judged (float64 tensors).
        """
        cfg = self.config
        G = self.generator
        dev = self.device
        b = real.shape[0]
        if cfg.discriminator_rows == "half-resampled":
            pick = torch.randint(b, (max(b // 2, 2),), generator=self._sampler, device=dev)
            real, labels = real[pick], labels[pick]
        n = real.shape[0]
        z = torch.randn(n, G.config.latent_dim, generator=self._sampler, device=dev)
        fake_labels = labels if cfg.fake_labels == "batch" else self._uniform_labels(n)
        if cfg.fake_mode == "eval":
            with torch.no_grad():
                G.eval()
                judged_fake = G(z, fake_labels)
                G.train()
            shared = G(z, fake_labels) if cfg.generator_batch == "shared" else None
        else:
            shared = G(z, fake_labels)
            judged_fake = shared.detach()
        d_loss, correct = self._discriminator_update(real, labels, judged_fake, fake_labels)
        if shared is None:  # a fresh batch for the generator step, labels uniform
            g_labels = self._uniform_labels(b)
            z = torch.randn(b, G.config.latent_dim, generator=self._sampler, device=dev)
            shared, fake_labels = G(z, g_labels), g_labels
        g_loss = self._generator_update(shared, fake_labels)
        judged = torch.tensor(2.0 * n, dtype=torch.float64, device=dev)
        return d_loss.detach().double(), g_loss.detach().double(), correct.double(), judged

    def _uniform_labels(self, n: int) -> torch.Tensor:
        return torch.randint(
            self.generator.config.n_classes, (n,), generator=self._sampler, device=self.device
        )

    def _discriminator_update(
        self,
        real: torch.Tensor,
        labels: torch.Tensor,
        fake: torch.Tensor,
        fake_labels: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Update the discriminator on real (target 1 - smoothing) and fake (0) rows.

        ``"joint"``: one update on both; ``"split"``: one on the real rows, then
        one on the fakes, the loss their mean. Returns (loss, rows right).
        """
        D, opt = self.discriminator, self.d_opt
        n = real.shape[0]
        real_target = torch.full((n,), 1.0 - self.config.label_smoothing, device=self.device)
        fake_target = torch.zeros(fake.shape[0], device=self.device)
        if self.config.discriminator_update == "joint":
            logits = D(torch.cat([real, fake]), torch.cat([labels, fake_labels]))
            loss = F.binary_cross_entropy_with_logits(logits, torch.cat([real_target, fake_target]))
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            real_logits, fake_logits = logits[:n], logits[n:]
        else:
            losses, scored = [], []
            for x, y, target in ((real, labels, real_target), (fake, fake_labels, fake_target)):
                logits = D(x, y)
                part = F.binary_cross_entropy_with_logits(logits, target)
                opt.zero_grad(set_to_none=True)
                part.backward()
                opt.step()
                losses.append(part.detach())
                scored.append(logits)
            loss = 0.5 * (losses[0] + losses[1])
            real_logits, fake_logits = scored
        with torch.no_grad():
            correct = (real_logits > 0).sum() + (fake_logits <= 0).sum()
        return loss, correct

    def _generator_update(self, fake: torch.Tensor, fake_labels: torch.Tensor) -> torch.Tensor:
        """Non-saturating generator update through the frozen discriminator."""
        for p in self._d_params:
            p.requires_grad_(False)
        logits = self.discriminator(fake, fake_labels)
        loss = F.binary_cross_entropy_with_logits(logits, torch.ones_like(logits))
        self.g_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.g_opt.step()
        for p in self._d_params:
            p.requires_grad_(True)
        return loss

    def _record_epoch(self, state: TrainingState, session: _Session) -> dict[str, float]:
        """Train one epoch and append its record to the history."""
        t0 = time.perf_counter()
        d_loss, g_loss, d_acc, rows = self.train_epoch()
        dt = time.perf_counter() - t0
        session.rows += rows
        session.seconds += dt
        state.elapsed += dt
        state.epoch += 1
        record: dict[str, float] = {
            "epoch": state.epoch,
            "d_loss": d_loss,
            "g_loss": g_loss,
            "d_accuracy": d_acc,
            "epoch_seconds": dt,
            "samples_per_s": rows / dt if dt > 0 else math.nan,
        }
        state.history.append(record)
        return record

    def _failing(self, state: TrainingState) -> bool:
        """The paper's failure criterion over the last ``failure_window`` epochs."""
        cfg = self.config
        window = state.history[-cfg.failure_window :]
        return len(window) == cfg.failure_window and all(
            h["d_accuracy"] > cfg.failure_accuracy for h in window
        )

    # ------------------------------------------------------------------ phase: evaluate
    @torch.no_grad()
    def evaluate(self, epoch: int, refs: _References) -> dict[str, float]:
        """Generate ``n_eval`` relevant-class models in eval mode and score them.

        Returns ``incidence``, ``kl_train``, ``kl_test``, ``kl_means_train`` and the width,
        ``spread_ratio`` and ``iqr_ratio`` (:func:`~rekindle.gan.monitoring.width_ratios`).
        """
        cfg = self.config
        G = self.generator
        gen = torch.Generator(device=self.device)
        gen.manual_seed(_derive_seed(cfg.seed, _SEED_EVAL, epoch))
        G.eval()
        try:
            z = torch.randn(cfg.n_eval, G.config.latent_dim, generator=gen, device=self.device)
            labels = torch.full((cfg.n_eval,), RELEVANT, dtype=torch.long, device=self.device)
            xs = G(z, labels).double().cpu().numpy()
        finally:
            G.train()
        incidence = math.nan
        km = self.scaler.inverse_transform(xs)
        spread, iqr = width_ratios(km, refs.width)
        if self.labeller is not None:
            eig = np.asarray(self.labeller(km), dtype=np.float64).reshape(-1)
            if eig.shape[0] != cfg.n_eval:
                raise ValueError(f"labeller returned {eig.shape[0]} values for {cfg.n_eval} models")
            relevant = relevance_labels(eig, self.threshold, self.lower)
            incidence = float(relevant.mean())
        kl_kw = {"n_bins": cfg.kl_bins, "pseudocount": cfg.kl_pseudocount}
        kl_train = kl_divergence(xs, refs.train, **kl_kw) if len(refs.train) else math.nan
        kl_test = (
            kl_divergence(xs, refs.test, **kl_kw)
            if refs.test is not None and len(refs.test)
            else math.nan
        )
        return {
            "incidence": incidence,
            "kl_train": kl_train,
            "kl_test": kl_test,
            # the paper's KL: histograms of the per-feature means (blind to width)
            "kl_means_train": means_kl(xs, refs.train) if len(refs.train) else math.nan,
            "spread_ratio": spread,
            "iqr_ratio": iqr,
        }

    def _record_evaluation(
        self, state: TrainingState, record: Mapping[str, float], refs: _References
    ) -> dict[str, float]:
        """Evaluate at this epoch and append the metrics record."""
        t1 = time.perf_counter()
        evaluation = self.evaluate(state.epoch, refs)
        state.elapsed += time.perf_counter() - t1
        losses = {k: record[k] for k in ("epoch", "d_loss", "g_loss", "d_accuracy")}
        state.metrics.append({**losses, **evaluation, "seconds": state.elapsed})
        return evaluation

    # ------------------------------------------------------------------ phase: keep best
    def keep_best(self, state: TrainingState, evaluation: Mapping[str, float]) -> bool:
        """Keep the generator if this evaluation beats the kept one; True if kept."""
        incumbent = None
        if state.best_state is not None:
            incumbent = next((r for r in state.metrics if r["epoch"] == state.best_epoch), None)
            if incumbent is None:
                incumbent = {
                    "incidence": state.best_incidence,
                    "kl_train": state.best_kl,
                    "spread_ratio": math.nan,
                    "iqr_ratio": math.nan,
                }
        if not is_better(
            evaluation, incumbent, self.config, by_incidence=self.labeller is not None
        ):
            return False
        state.best_state = clone_state(self.generator)
        state.best_epoch = state.epoch
        state.best_incidence = evaluation["incidence"]
        state.best_kl = evaluation["kl_train"]
        return True

    # ------------------------------------------------------------------ phase: checkpoint
    def checkpoint(self, state: TrainingState, out: Path) -> None:
        """Write ``checkpoint.pt``, ``metrics.csv`` and ``history.csv`` atomically."""
        write_checkpoint(
            out / CHECKPOINT_NAME,
            state,
            self._modules,
            self._sampler,
            self.device,
            self._identity,
        )
        write_metrics_csv(state.metrics, out / "metrics.csv")
        write_metrics_csv(state.history, out / "history.csv")

    # ------------------------------------------------------------------ the loop
    def fit(
        self,
        x_train: np.ndarray,
        y_train: np.ndarray,
        ref_train: np.ndarray,
        ref_test: np.ndarray | None = None,
        *,
        output_dir: str | os.PathLike[str] | None = None,
        resume: bool = True,
        callback: Callback | None = None,
        progress: Progress | None = None,
    ) -> TrainingResult:
        """Train for ``config.epochs`` epochs (or resume a checkpointed run).

        Parameters
        ----------
        x_train : numpy.ndarray, shape (n, d)
            Scaled K_M of the training rows (both classes).
        y_train : numpy.ndarray of int, shape (n,)
            Class index per row (0 relevant, 1 not relevant).
        ref_train : numpy.ndarray, shape (m, d)
            Scaled relevant training rows (reference of ``kl_train`` and the width).
        ref_test : numpy.ndarray, shape (k, d), optional
            Scaled relevant test rows (reference of ``kl_test``).
        output_dir : path, optional
            Where ``checkpoint.pt``, ``metrics.csv`` and ``history.csv`` go.
            Without it nothing is written and nothing can be resumed.
        resume : bool
            Continue from ``output_dir/checkpoint.pt`` if it exists. The
            checkpoint must come from the same data, architecture, context and
            training config (except :data:`~rekindle.gan.checkpoint.RESUMABLE_FIELDS`);
            otherwise a :class:`CheckpointError` is raised.
        callback : callable, optional
            ``callback(epoch, record)`` after every epoch (``record`` is that
            epoch's history entry merged with the evaluation, if any); return
            ``True`` to stop (a checkpoint is written first when possible).
        progress : callable, optional
            ``progress(epochs_done)`` after every epoch (and once at the start).

        Returns
        -------
        TrainingResult
        """
        with _num_threads(self.config.num_threads):
            self._setup(x_train, y_train)
            refs = self._references(ref_train, ref_test)
            out = Path(output_dir) if output_dir is not None else None
            state, resumed_from = self._start(out / CHECKPOINT_NAME if out else None, resume)
            if progress is not None:
                progress(state.epoch)
            session = _Session()
            stopped_early = self._loop(state, refs, out, session, callback, progress)
            return self._result(state, resumed_from, session, stopped_early, out)

    def _loop(
        self,
        state: TrainingState,
        refs: _References,
        out: Path | None,
        session: _Session,
        callback: Callback | None,
        progress: Progress | None,
    ) -> bool:
        """Run the phases epoch by epoch; returns whether training stopped early."""
        cfg = self.config
        while state.epoch < cfg.epochs:
            record = self._record_epoch(state, session)
            epoch = state.epoch
            failing = self._failing(state)
            if failing and state.failure_epoch is None:
                state.failure_epoch = epoch
                logger.warning("GAN training failed at epoch %d (discriminator wins)", epoch)
            stop = failing and cfg.stop_on_failure
            merged = dict(record)
            if epoch % cfg.eval_every == 0 or epoch == cfg.epochs or stop:
                evaluation = self._record_evaluation(state, record, refs)
                merged.update(evaluation)
                self.keep_best(state, evaluation)
            if callback is not None and callback(epoch, merged):
                stop = True
            if out is not None and (
                epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs or stop
            ):
                self.checkpoint(state, out)
            if progress is not None:
                progress(epoch)
            if stop:
                return epoch < cfg.epochs
        return False

    def _result(
        self,
        state: TrainingState,
        resumed_from: int | None,
        session: _Session,
        stopped_early: bool,
        out: Path | None,
    ) -> TrainingResult:
        if state.best_state is None:  # stopped before any evaluation
            state.best_state = clone_state(self.generator)
            state.best_epoch = state.epoch
        return TrainingResult(
            metrics=state.metrics,
            history=state.history,
            best_state=state.best_state,
            best_epoch=state.best_epoch,
            best_incidence=state.best_incidence,
            failed=self._failing(state),
            failure_epoch=state.failure_epoch,
            epochs_completed=state.epoch,
            stopped_early=stopped_early,
            resumed_from=resumed_from,
            samples_per_second=session.rows / session.seconds if session.seconds > 0 else math.nan,
            output_dir=out,
        )
