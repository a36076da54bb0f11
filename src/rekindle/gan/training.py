"""Training plan of the REKINDLE conditional GAN.

One *step* per minibatch, as in the paper's "GAN training" section:

1. **Discriminator step** (generator frozen): a minibatch of real scaled
   parameter sets with their class labels and an equally large batch of
   generated sets (noise ~ N(0, I), labels = the real batch's labels by default)
   are scored in one forward pass; the loss is binary cross-entropy with
   logits, real target 1 (or ``1 - label_smoothing``), fake target 0, averaged
   over both halves; one Adam update of the discriminator.
2. **Generator step** (discriminator frozen): the same generated batch is scored
   by the updated discriminator; the non-saturating loss
   ``BCE(D(G(z, y), y), 1)``; one Adam update of the generator.

The data live on the training device as tensors; each epoch draws one random
permutation of the training rows and slices it into minibatches (a trailing
batch of a single row is skipped for that epoch because batch normalisation
needs two samples; a larger trailing batch is used). Dropout is active in both
networks during both steps (training mode), as in Keras' ``train_on_batch``.
The epoch's *discriminator accuracy* is the fraction of correctly classified
rows (logit > 0 for real, <= 0 for fake) among all real and fake rows of the
epoch's discriminator steps, scored before each update (dropout active), and
its *losses* are the row-weighted means of the per-step losses.

Every ``eval_every`` epochs (and at the last epoch) the generator, in eval mode,
generates ``n_eval`` models of the *relevant* class, the scaler maps them back
to K_M, and the injected *labeller* returns the largest real part of the
Jacobian eigenvalues (1/h); ``incidence`` is the fraction below the threshold
(default -9 1/h). The state of the generator with the highest incidence is kept.

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

from .config import ArchitectureConfig, TrainingConfig
from .modules import Discriminator, Generator
from .monitoring import kl_divergence, spread_ratio, write_metrics_csv
from .preprocessing import RELEVANT, LogMinMaxScaler, Scaler

__all__ = [
    "CHECKPOINT_NAME",
    "Callback",
    "CheckpointError",
    "GANTrainer",
    "Labeller",
    "TrainingResult",
    "atomic_torch_save",
    "measure_throughput",
    "resolve_device",
]

logger = logging.getLogger(__name__)

#: Signature of the labeller: K_M (n, d) in physical units -> max Re(eigenvalue) (n,) in 1/h.
Labeller = Callable[[np.ndarray], np.ndarray]
#: Signature of the per-epoch callback: (epoch, record) -> True to stop training.
Callback = Callable[[int, dict[str, float]], "bool | None"]

CHECKPOINT_NAME = "checkpoint.pt"
CHECKPOINT_FORMAT = "rekindle-gan-checkpoint"
CHECKPOINT_VERSION = 1
#: Training-config fields that may change between a checkpoint and its resumption.
RESUMABLE_FIELDS = frozenset(
    {"epochs", "checkpoint_every", "progress", "num_threads", "device", "stop_on_failure"}
)

_SEED_DROPOUT = 1
_SEED_SAMPLER = 2
_SEED_EVAL = 3


def _derive_seed(seed: int, *keys: int) -> int:
    """Independent 63-bit seed for a named random stream."""
    state = np.random.SeedSequence([seed, *keys]).generate_state(2, dtype=np.uint32)
    return int((int(state[0]) << 31) ^ int(state[1]))


def resolve_device(spec: str | torch.device | None) -> torch.device:
    """Turn ``"auto"``/``None``/a device string into a :class:`torch.device`.

    ``"auto"`` and ``None`` select ``cuda`` when available, else ``cpu``.
    """
    if spec is None or (isinstance(spec, str) and spec == "auto"):
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(spec)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {spec!r} requested but CUDA is not available")
    return dev


def atomic_torch_save(obj: Any, path: str | os.PathLike[str]) -> Path:
    """``torch.save`` to a temporary file in the same directory, fsync, ``os.replace``.

    A reader never sees a partially written file: either the old file or the
    complete new one.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        with open(tmp, "wb") as fh:
            torch.save(obj, fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    finally:
        if tmp.exists():
            tmp.unlink()
    return path


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


def _numpy_rng_state() -> dict[str, Any]:
    name, keys, pos, has_gauss, cached = np.random.get_state()  # type: ignore[misc]  # noqa: NPY002
    return {
        "name": str(name),
        "keys": torch.from_numpy(np.asarray(keys, dtype=np.int64)),
        "pos": int(pos),
        "has_gauss": int(has_gauss),
        "cached_gaussian": float(cached),
    }


def _set_numpy_rng_state(state: Mapping[str, Any]) -> None:
    keys = np.asarray(state["keys"].numpy(), dtype=np.uint32)
    np.random.set_state(  # noqa: NPY002 - the global state a labeller may use
        (
            state["name"],
            keys,
            int(state["pos"]),
            int(state["has_gauss"]),
            float(state["cached_gaussian"]),
        )
    )


def _adam(params: list[nn.Parameter], cfg: TrainingConfig) -> torch.optim.Adam:
    """Adam with the fused kernel when available (~20 % faster steps on CPU)."""
    kw: dict[str, Any] = {"lr": cfg.learning_rate, "betas": (cfg.beta1, cfg.beta2)}
    try:
        return torch.optim.Adam(params, fused=True, **kw)
    except (RuntimeError, TypeError, ValueError):  # pragma: no cover - old torch / device
        return torch.optim.Adam(params, **kw)


def _clone_state(module: nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone().cpu() for k, v in module.state_dict().items()}


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
        log space, nats; NaN without test data) and ``seconds`` (cumulative
        wall-clock time of training steps and evaluations, s, summed over
        resumed sessions).
    history : list of dict
        One record per epoch: ``epoch``, ``d_loss``, ``g_loss``, ``d_accuracy``,
        ``epoch_seconds`` (duration of that epoch's training steps, s),
        ``samples_per_s`` (real training rows per second in that epoch).
    best_state : dict
        ``state_dict`` (CPU tensors) of the generator at ``best_epoch``.
    best_epoch : int
        Evaluation epoch with the highest incidence (lowest ``kl_train`` when
        no labeller is given; ties go to the lower ``kl_train``).
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
    def best_spread_ratio(self) -> float:
        """Spread ratio of the evaluation at ``best_epoch`` (NaN if not evaluated)."""
        for m in self.metrics:
            if m["epoch"] == self.best_epoch:
                return float(m.get("spread_ratio", math.nan))
        return math.nan

    def summary(self) -> dict[str, Any]:
        """Small JSON-like summary (stored in the generator artefact)."""
        return {
            "best_epoch": int(self.best_epoch),
            "best_incidence": float(self.best_incidence),
            "best_spread_ratio": self.best_spread_ratio,
            "failed": bool(self.failed),
            "failure_epoch": None if self.failure_epoch is None else int(self.failure_epoch),
            "epochs_completed": int(self.epochs_completed),
            "stopped_early": bool(self.stopped_early),
        }


class GANTrainer:
    """Run the adversarial training of a :class:`Generator`/:class:`Discriminator` pair.

    Parameters
    ----------
    generator, discriminator : torch.nn.Module
        Initialised networks (moved to the training device by :meth:`fit`).
        Generator parameters with ``requires_grad=False`` are frozen (not given
        to the optimiser).
    scaler : LogMinMaxScaler or SaturationScaler
        Fitted scaler mapping scaled generator output back to K_M.
    config : TrainingConfig, optional
        Training plan; paper defaults if omitted.
    labeller : callable, optional
        ``labeller(km) -> max_eig``: K_M array (n, d), positive, physical units
        -> largest real part of the Jacobian eigenvalues (n,) in 1/h. NaN counts
        as not relevant. Without a labeller the incidence is NaN.
    threshold : float
        Relevance threshold on the eigenvalue (1/h): relevant iff ``max_eig <
        threshold`` (paper: -9).
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
        threshold: float = -9.0,
        context: Mapping[str, Any] | None = None,
    ) -> None:
        self.generator = generator
        self.discriminator = discriminator
        self.scaler = scaler
        self.config = config or TrainingConfig()
        self.labeller = labeller
        self.threshold = float(threshold)
        self.context = dict(context or {})
        self.device = resolve_device(self.config.device)
        self._ref_log_std: np.ndarray | None = None

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
        bs = min(cfg.batch_size, x.shape[0])
        self._bs = bs
        real = torch.full((bs,), 1.0 - cfg.label_smoothing, device=dev)
        self._d_target = torch.cat([real, torch.zeros(bs, device=dev)])
        self._ones = torch.ones(bs, device=dev)

    def _seed_fresh(self) -> None:
        seed = self.config.seed
        torch.manual_seed(_derive_seed(seed, _SEED_DROPOUT))
        np.random.seed(seed)  # noqa: NPY002 - seed the global state labellers may use
        self._sampler.manual_seed(_derive_seed(seed, _SEED_SAMPLER))

    # ------------------------------------------------------------------ one epoch
    def _train_epoch(self) -> tuple[float, float, float, int]:
        """One pass over the training data. Returns (d_loss, g_loss, d_acc, n_rows)."""
        cfg = self.config
        G, D = self.generator, self.discriminator
        dev = self.device
        n = self._x.shape[0]
        bs = self._bs
        n_classes = G.config.n_classes
        latent = G.config.latent_dim
        perm = torch.randperm(n, generator=self._sampler, device=dev)
        starts = list(range(0, n, bs))
        if n - starts[-1] < 2:  # a single trailing row cannot be batch-normalised
            starts.pop()
        acc = torch.zeros(3, device=dev, dtype=torch.float64)
        seen = 0
        for s in starts:
            idx = perm[s : s + bs]
            b = int(idx.shape[0])
            real = self._x[idx]
            labels = self._y[idx]
            z = torch.randn(b, latent, generator=self._sampler, device=dev)
            if cfg.fake_labels == "uniform":
                fake_labels = torch.randint(n_classes, (b,), generator=self._sampler, device=dev)
            else:
                fake_labels = labels
            fake = G(z, fake_labels)

            # -- discriminator step (generator output detached = generator frozen)
            logits = D(torch.cat([real, fake.detach()]), torch.cat([labels, fake_labels]))
            target = (
                self._d_target
                if b == bs
                else torch.cat([self._d_target[:b], self._d_target[bs : bs + b]])
            )
            d_loss = F.binary_cross_entropy_with_logits(logits, target)
            self.d_opt.zero_grad(set_to_none=True)
            d_loss.backward()
            self.d_opt.step()

            # -- generator step (discriminator frozen: no weight gradients)
            for p in self._d_params:
                p.requires_grad_(False)
            g_logits = D(fake, fake_labels)
            g_loss = F.binary_cross_entropy_with_logits(g_logits, self._ones[:b])
            self.g_opt.zero_grad(set_to_none=True)
            g_loss.backward()
            self.g_opt.step()
            for p in self._d_params:
                p.requires_grad_(True)

            with torch.no_grad():
                correct = (logits[:b] > 0).sum() + (logits[b:] <= 0).sum()
                acc += torch.stack(
                    [d_loss.detach().double() * b, g_loss.detach().double() * b, correct.double()]
                )
            seen += b
        d_sum, g_sum, n_correct = acc.tolist()
        return d_sum / seen, g_sum / seen, n_correct / (2 * seen), seen

    # ------------------------------------------------------------------ evaluation
    @torch.no_grad()
    def _evaluate(
        self, epoch: int, ref_train: np.ndarray, ref_test: np.ndarray | None
    ) -> dict[str, float]:
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
        spread = spread_ratio(km, self._ref_log_std)
        if self.labeller is not None:
            eig = np.asarray(self.labeller(km), dtype=np.float64).reshape(-1)
            if eig.shape[0] != cfg.n_eval:
                raise ValueError(f"labeller returned {eig.shape[0]} values for {cfg.n_eval} models")
            with np.errstate(invalid="ignore"):
                relevant = np.isfinite(eig) & (eig < self.threshold)
            incidence = float(relevant.mean())
        kl_kw = {"n_bins": cfg.kl_bins, "pseudocount": cfg.kl_pseudocount}
        kl_train = kl_divergence(xs, ref_train, **kl_kw) if len(ref_train) else math.nan
        kl_test = (
            kl_divergence(xs, ref_test, **kl_kw)
            if ref_test is not None and len(ref_test)
            else math.nan
        )
        return {
            "incidence": incidence,
            "kl_train": kl_train,
            "kl_test": kl_test,
            "spread_ratio": spread,
        }

    def _wide_enough(self, evaluation: Mapping[str, Any] | None) -> bool:
        """Whether an evaluation may give the kept generator (``min_spread_ratio``)."""
        if evaluation is None:
            return False
        spread = evaluation.get("spread_ratio", math.nan)
        return not spread < self.config.min_spread_ratio  # NaN (no reference) qualifies

    # ------------------------------------------------------------------ checkpoints
    def _checkpoint_payload(self, st: dict[str, Any]) -> dict[str, Any]:
        rng: dict[str, Any] = {
            "torch_cpu": torch.get_rng_state(),
            "sampler": self._sampler.get_state(),
            "numpy": _numpy_rng_state(),
        }
        if self.device.type == "cuda":
            rng["torch_cuda"] = torch.cuda.get_rng_state(self.device)
        return {
            "format": CHECKPOINT_FORMAT,
            "format_version": CHECKPOINT_VERSION,
            "epoch": st["epoch"],
            "generator": _clone_state(self.generator),
            "discriminator": _clone_state(self.discriminator),
            "g_optimizer": self.g_opt.state_dict(),
            "d_optimizer": self.d_opt.state_dict(),
            "rng": rng,
            "metrics": st["metrics"],
            "history": st["history"],
            "best_state": st["best_state"],
            "best_epoch": st["best_epoch"],
            "best_incidence": st["best_incidence"],
            "best_kl": st["best_kl"],
            "failure_epoch": st["failure_epoch"],
            "elapsed": st["elapsed"],
            "config": self.config.to_dict(),
            "architecture": self.generator.config.to_dict(),
            "context": self.context,
            "data_fingerprint": self._fingerprint,
            "threshold": self.threshold,
        }

    def _restore(self, path: Path) -> dict[str, Any]:
        try:
            ck = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as exc:  # torch raises many types for damaged files
            raise CheckpointError(f"{path}: cannot read checkpoint ({exc})") from exc
        if not isinstance(ck, dict) or ck.get("format") != CHECKPOINT_FORMAT:
            raise CheckpointError(f"{path}: not a rekindle GAN checkpoint")
        if ck.get("format_version") != CHECKPOINT_VERSION:
            raise CheckpointError(
                f"{path}: checkpoint format version {ck.get('format_version')!r}, "
                f"expected {CHECKPOINT_VERSION}"
            )
        mine = self.config.to_dict()
        theirs = dict(ck["config"])
        diff = sorted(
            k
            for k in set(mine) | set(theirs)
            if k not in RESUMABLE_FIELDS and mine.get(k) != theirs.get(k)
        )
        if diff:
            detail = ", ".join(
                f"{k}: checkpoint={theirs.get(k)!r} now={mine.get(k)!r}" for k in diff
            )
            raise CheckpointError(f"{path}: training config differs from the checkpoint ({detail})")
        if ck["architecture"] != self.generator.config.to_dict():
            raise CheckpointError(f"{path}: architecture differs from the checkpoint")
        if ck["data_fingerprint"] != self._fingerprint:
            raise CheckpointError(f"{path}: training data differ from those of the checkpoint")
        if ck["context"] != self.context:
            raise CheckpointError(
                f"{path}: run context differs (checkpoint {ck['context']!r}, now {self.context!r})"
            )
        if float(ck["threshold"]) != self.threshold:
            raise CheckpointError(f"{path}: relevance threshold differs from the checkpoint")
        try:
            self.generator.load_state_dict(ck["generator"])
            self.discriminator.load_state_dict(ck["discriminator"])
            self.g_opt.load_state_dict(ck["g_optimizer"])
            self.d_opt.load_state_dict(ck["d_optimizer"])
        except (RuntimeError, ValueError, KeyError) as exc:
            raise CheckpointError(f"{path}: network/optimiser state does not fit ({exc})") from exc
        rng = ck["rng"]
        torch.set_rng_state(rng["torch_cpu"])
        self._sampler.set_state(rng["sampler"])
        _set_numpy_rng_state(rng["numpy"])
        if self.device.type == "cuda" and "torch_cuda" in rng:
            torch.cuda.set_rng_state(rng["torch_cuda"], self.device)
        return {
            "epoch": int(ck["epoch"]),
            "metrics": list(ck["metrics"]),
            "history": list(ck["history"]),
            "best_state": ck["best_state"],
            "best_epoch": int(ck["best_epoch"]),
            "best_incidence": float(ck["best_incidence"]),
            "best_kl": float(ck["best_kl"]),
            "failure_epoch": ck["failure_epoch"],
            "elapsed": float(ck["elapsed"]),
        }

    # ------------------------------------------------------------------ main loop
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
    ) -> TrainingResult:
        """Train for ``config.epochs`` epochs (or resume a checkpointed run).

        Parameters
        ----------
        x_train : numpy.ndarray, shape (n, d)
            Scaled log10 K_M of the training rows (both classes).
        y_train : numpy.ndarray of int, shape (n,)
            Class index per row (0 relevant, 1 not relevant).
        ref_train : numpy.ndarray, shape (m, d)
            Scaled relevant training rows (reference of ``kl_train``).
        ref_test : numpy.ndarray, shape (k, d), optional
            Scaled relevant test rows (reference of ``kl_test``).
        output_dir : path, optional
            Where ``checkpoint.pt``, ``metrics.csv`` and ``history.csv`` go.
            Without it nothing is written and nothing can be resumed.
        resume : bool
            Continue from ``output_dir/checkpoint.pt`` if it exists. The
            checkpoint must come from the same data, architecture, context and
            training config (except :data:`RESUMABLE_FIELDS`); otherwise a
            :class:`CheckpointError` is raised.
        callback : callable, optional
            ``callback(epoch, record)`` after every epoch (``record`` is that
            epoch's history entry merged with the evaluation, if any); return
            ``True`` to stop (a checkpoint is written first when possible).

        Returns
        -------
        TrainingResult
        """
        cfg = self.config
        with _num_threads(cfg.num_threads):
            self._setup(x_train, y_train)
            ref_train = np.asarray(ref_train, dtype=np.float64)
            ref_test = None if ref_test is None else np.asarray(ref_test, dtype=np.float64)
            self._ref_log_std = (
                np.std(np.log(self.scaler.inverse_transform(ref_train)), axis=0)
                if ref_train.shape[0] >= 2
                else None
            )
            out = Path(output_dir) if output_dir is not None else None
            ck_path = out / CHECKPOINT_NAME if out is not None else None
            st: dict[str, Any] = {
                "epoch": 0,
                "metrics": [],
                "history": [],
                "best_state": None,
                "best_epoch": 0,
                "best_incidence": math.nan,
                "best_kl": math.inf,
                "failure_epoch": None,
                "elapsed": 0.0,
            }
            resumed_from = None
            if resume and ck_path is not None and ck_path.exists():
                st = self._restore(ck_path)
                resumed_from = st["epoch"]
                logger.info("resuming from %s at epoch %d", ck_path, resumed_from)
            else:
                self._seed_fresh()
            return self._loop(st, ref_train, ref_test, out, ck_path, resumed_from, callback)

    def _loop(
        self,
        st: dict[str, Any],
        ref_train: np.ndarray,
        ref_test: np.ndarray | None,
        out: Path | None,
        ck_path: Path | None,
        resumed_from: int | None,
        callback: Callback | None,
    ) -> TrainingResult:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        cfg = self.config
        use_score_incidence = self.labeller is not None
        stopped_early = False
        session_rows, session_time = 0, 0.0
        progress = Progress(
            TextColumn("[bold]GAN[/bold] {task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            disable=not cfg.progress,
        )
        with progress:
            task = progress.add_task("epochs", total=cfg.epochs, completed=st["epoch"], status="")
            epoch = st["epoch"]
            while epoch < cfg.epochs:
                epoch += 1
                t0 = time.perf_counter()
                d_loss, g_loss, d_acc, rows = self._train_epoch()
                dt = time.perf_counter() - t0
                session_rows += rows
                session_time += dt
                st["elapsed"] += dt
                rec: dict[str, float] = {
                    "epoch": epoch,
                    "d_loss": d_loss,
                    "g_loss": g_loss,
                    "d_accuracy": d_acc,
                    "epoch_seconds": dt,
                    "samples_per_s": rows / dt if dt > 0 else math.nan,
                }
                st["history"].append(rec)
                st["epoch"] = epoch

                # paper's failure criterion over the last failure_window epochs
                window = st["history"][-cfg.failure_window :]
                failing = len(window) == cfg.failure_window and all(
                    h["d_accuracy"] > cfg.failure_accuracy for h in window
                )
                if failing and st["failure_epoch"] is None:
                    st["failure_epoch"] = epoch
                    logger.warning("GAN training failed at epoch %d (discriminator wins)", epoch)
                stop = failing and cfg.stop_on_failure

                merged = dict(rec)
                if epoch % cfg.eval_every == 0 or epoch == cfg.epochs or stop:
                    t1 = time.perf_counter()
                    ev = self._evaluate(epoch, ref_train, ref_test)
                    st["elapsed"] += time.perf_counter() - t1
                    m = {
                        "epoch": epoch,
                        "d_loss": d_loss,
                        "g_loss": g_loss,
                        "d_accuracy": d_acc,
                        **ev,
                        "seconds": st["elapsed"],
                    }
                    best_m = next(
                        (r for r in st["metrics"] if r["epoch"] == st["best_epoch"]), None
                    )
                    st["metrics"].append(m)
                    merged.update(ev)
                    score = ev["incidence"] if use_score_incidence else -ev["kl_train"]
                    best_score = st["best_incidence"] if use_score_incidence else -st["best_kl"]
                    # evaluations wide enough (min_spread_ratio) rank above narrow ones
                    ok, best_ok = self._wide_enough(ev), self._wide_enough(best_m)
                    better = (
                        st["best_state"] is None
                        or (ok and not best_ok)
                        or (
                            ok == best_ok
                            and (
                                score > best_score
                                or (score == best_score and ev["kl_train"] < st["best_kl"])
                            )
                        )
                    )
                    if better:
                        st["best_state"] = _clone_state(self.generator)
                        st["best_epoch"] = epoch
                        st["best_incidence"] = ev["incidence"]
                        st["best_kl"] = ev["kl_train"]
                    progress.update(
                        task,
                        status=f"D acc {d_acc:.2f} | incidence {ev['incidence']:.3f} | "
                        f"KL {ev['kl_train']:.3f} | best {st['best_incidence']:.3f}",
                    )
                if callback is not None and callback(epoch, merged):
                    stop = True
                if ck_path is not None and (
                    epoch % cfg.checkpoint_every == 0 or epoch == cfg.epochs or stop
                ):
                    self._write_outputs(st, out, ck_path)
                progress.update(task, completed=epoch)
                if stop:
                    stopped_early = epoch < cfg.epochs
                    break

        if st["best_state"] is None:  # stopped before any evaluation
            st["best_state"] = _clone_state(self.generator)
            st["best_epoch"] = st["epoch"]
        window = st["history"][-cfg.failure_window :]
        failed = len(window) == cfg.failure_window and all(
            h["d_accuracy"] > cfg.failure_accuracy for h in window
        )
        return TrainingResult(
            metrics=st["metrics"],
            history=st["history"],
            best_state=st["best_state"],
            best_epoch=st["best_epoch"],
            best_incidence=st["best_incidence"],
            failed=failed,
            failure_epoch=st["failure_epoch"],
            epochs_completed=st["epoch"],
            stopped_early=stopped_early,
            resumed_from=resumed_from,
            samples_per_second=session_rows / session_time if session_time > 0 else math.nan,
            output_dir=out,
        )

    def _write_outputs(self, st: dict[str, Any], out: Path | None, ck_path: Path) -> None:
        atomic_torch_save(self._checkpoint_payload(st), ck_path)
        if out is not None:
            write_metrics_csv(st["metrics"], out / "metrics.csv")
            write_metrics_csv(st["history"], out / "history.csv")


def measure_throughput(
    n_features: int = 259,
    batch_sizes: tuple[int, ...] = (64, 128, 256, 512),
    n_samples: int = 16384,
    epochs: int = 2,
    num_threads: int | None = None,
    architecture: ArchitectureConfig | None = None,
    device: str = "cpu",
    seed: int = 0,
) -> dict[int, float]:
    """Training throughput (real rows per second) for several batch sizes.

    Random data of the requested width are trained for one warm-up epoch and
    then ``epochs`` timed epochs per batch size (evaluation excluded).

    Parameters
    ----------
    n_features : int
        Parameters per model (259 in the paper).
    batch_sizes : tuple of int
        Batch sizes to time.
    n_samples : int
        Rows of the synthetic training set.
    epochs : int
        Timed epochs per batch size.
    num_threads : int, optional
        ``torch.set_num_threads`` during the measurement.
    architecture : ArchitectureConfig, optional
        Network architecture (paper defaults).
    device : str
        Training device.
    seed : int
        Seed of data and networks.

    Returns
    -------
    dict
        batch size -> rows per second.
    """
    arch = architecture or ArchitectureConfig()
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1, 1, (n_samples, n_features))
    y = rng.integers(0, arch.n_classes, n_samples)
    scaler = LogMinMaxScaler().fit(np.ones((2, n_features)) * [[1.0], [10.0]])
    result: dict[int, float] = {}
    with _num_threads(num_threads):
        for bs in batch_sizes:
            torch.manual_seed(seed)
            trainer = GANTrainer(
                Generator(n_features, arch),
                Discriminator(n_features, arch),
                scaler,
                TrainingConfig(batch_size=bs, device=device, progress=False, seed=seed),
            )
            trainer._setup(x, y)
            trainer._seed_fresh()
            trainer._train_epoch()
            t0 = time.perf_counter()
            rows = sum(trainer._train_epoch()[3] for _ in range(epochs))
            result[bs] = rows / (time.perf_counter() - t0)
    return result
