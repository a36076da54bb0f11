"""User-facing REKINDLE conditional GAN: train, generate, save, load, fine-tune.

The artefact format (``generator.pt``) lives in :mod:`rekindle.gan.artefact`, the
training loop in :mod:`rekindle.gan.training`, its checkpoints in
:mod:`rekindle.gan.checkpoint`; :class:`KineticGAN` ties them to the data.
"""

from __future__ import annotations

import copy
import math
import os
import warnings
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rekindle.errors import GeneratorFileError
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H as DEFAULT_THRESHOLD

from .artefact import (
    FORMAT_NAME,
    FORMAT_VERSION,
    GeneratorArtefact,
    jsonable,
    read_generator,
    write_generator,
)
from .config import ArchitectureConfig, TrainingConfig, transfer_config
from .modules import Discriminator, Generator
from .preprocessing import (
    RELEVANT,
    ConditionalGenerator,
    LogMinMaxScaler,
    Scaler,
    class_index,
    encode_labels,
    train_test_split_indices,
)
from .training import Callback, GANTrainer, Labeller, Progress, TrainingResult, resolve_device

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "GeneratorFileError",
    "KineticGAN",
    "transfer_config",
]



def _freeze(generator: Generator, freeze: Sequence[str]) -> None:
    """Make every generator parameter trainable except those of the named submodules."""
    valid = [f"hidden.{i}" for i in range(len(generator.hidden))] + ["output"]
    unknown = [n for n in freeze if n not in valid]
    if unknown:
        raise ValueError(f"cannot freeze unknown generator layer(s) {unknown}; valid: {valid}")
    modules = dict(generator.named_modules())
    for p in generator.parameters():
        p.requires_grad_(True)
    for name in freeze:
        for p in modules[name].parameters():
            p.requires_grad_(False)


_Sets = tuple[np.ndarray, np.ndarray, np.ndarray, "np.ndarray | None"]


def _pretrained_range(data: _Sets, clip: bool) -> _Sets:
    """Warn about scaled fine-tuning values outside [-1, 1]; clip them if ``clip``.

    Fine-tuning keeps the pretrained scaler: each output unit of the generator has
    learned a position in the pretrained scaled space, and refitting the scaler on
    (few) target models would silently re-map every unit and discard much of what
    is transferred (and small target sets give noisy min/max estimates). Target
    values outside the pretrained range map outside [-1, 1], which the tanh output
    cannot reach.
    """
    x_train, y_train, ref_train, ref_test = data
    outside = float(np.mean(np.abs(x_train) > 1.0 + 1e-9))
    if outside == 0:
        return data
    warnings.warn(
        f"{outside:.2%} of the scaled fine-tuning values lie outside the pretrained "
        f"range [-1, 1]" + (" and were clipped" if clip else ""),
        stacklevel=3,
    )
    if not clip:
        return data
    return (
        np.clip(x_train, -1.0, 1.0),
        y_train,
        np.clip(ref_train, -1.0, 1.0),
        None if ref_test is None else np.clip(ref_test, -1.0, 1.0),
    )


class KineticGAN(ConditionalGenerator):
    """Conditional GAN over kinetic parameter sets (REKINDLE).

    Parameters
    ----------
    km : numpy.ndarray, shape (n, d), or None
        Michaelis constants K_M of ``n`` kinetic models (``d = 259`` in the
        paper), strictly positive, in the physical unit of the data (e.g. mM).
        None (with ``relevant`` None and ``feature_names`` given) for a
        generator without training data, e.g. one read from a file
        (:meth:`from_artefact`).
    relevant : numpy.ndarray of bool, shape (n,), or None
        ``True`` for biologically relevant models (max Re(eigenvalue) <
        threshold).
    feature_names : sequence of str, optional
        Name of each K_M column (default ``km_0`` ...).
    metadata : dict, optional
        JSON-like description stored in the artefact, e.g. ``model``,
        ``physiology``, ``threshold`` (1/h, default -9.0), ``units``.
    architecture : ArchitectureConfig, optional
        Network architecture (defaults of :class:`ArchitectureConfig`).
    scaler : Scaler, optional
        Feature map (default: the paper's log10 min-max scaling, fitted on the
        training rows; :class:`SaturationScaler` maps K_M to ``2σ − 1`` at the
        reference steady state).

    Notes
    -----
    Workflow: ``gan = KineticGAN(km, relevant, names, {...}); gan.train(labeller,
    TrainingConfig(), "runs/x"); gan.save("runs/x/generator.pt");
    km_new = gan.generate(10000)``. After training, :attr:`generator` holds the
    state of the epoch with the highest incidence.
    """

    def __init__(
        self,
        km: np.ndarray | None,
        relevant: np.ndarray | None,
        feature_names: Sequence[str] | None = None,
        metadata: Mapping[str, Any] | None = None,
        architecture: ArchitectureConfig | None = None,
        scaler: Scaler | None = None,
    ) -> None:
        km_arr: np.ndarray | None = None
        labels: np.ndarray | None = None
        if km is not None or relevant is not None or feature_names is None:
            km_arr, labels = self._check_data(km, relevant)
        names = self._check_names(feature_names, None if km_arr is None else km_arr.shape[1])
        self.architecture = architecture or ArchitectureConfig()
        self.feature_names: list[str] = names
        self.metadata: dict[str, Any] = jsonable(dict(metadata or {}))
        self.path: Path | None = None  # the artefact this generator was loaded from
        self.metadata.setdefault("threshold", DEFAULT_THRESHOLD)
        self._km: np.ndarray | None = km_arr
        self._labels: np.ndarray | None = labels
        self._scaler_spec: Scaler = scaler if scaler is not None else LogMinMaxScaler()
        self.scaler: Scaler | None = None
        self.generator: Generator | None = None
        self.training_config: TrainingConfig | None = None
        self.result: TrainingResult | None = None
        self.training_summary: dict[str, Any] | None = None
        self.versions: dict[str, str] = {}
        self.device = torch.device("cpu")

    # ------------------------------------------------------------------ helpers
    @staticmethod
    def _check_data(
        km: np.ndarray | None, relevant: np.ndarray | None
    ) -> tuple[np.ndarray, np.ndarray]:
        if km is None or relevant is None:
            raise ValueError("give km and relevant, or neither (then feature_names)")
        arr = np.asarray(km, dtype=np.float64)
        if arr.ndim != 2:
            raise ValueError(f"km must be 2-D (n_models, n_features), got shape {arr.shape}")
        if not np.all(np.isfinite(arr)) or np.any(arr <= 0):
            raise ValueError("km must be finite and strictly positive")
        labels = encode_labels(relevant)
        if labels.shape[0] != arr.shape[0]:
            raise ValueError(f"{arr.shape[0]} parameter sets but {labels.shape[0]} labels")
        if arr.shape[0] < 2:
            raise ValueError("need at least 2 parameter sets")
        return arr, labels

    @staticmethod
    def _check_names(names: Sequence[str] | None, d: int | None) -> list[str]:
        if names is None:
            return [f"km_{i}" for i in range(d or 0)]
        out = [str(n) for n in names]
        if d is not None and len(out) != d:
            raise ValueError(f"{len(out)} feature names for {d} features")
        return out

    def _require_generator(self) -> Generator:
        if self.generator is None or self.scaler is None:
            raise RuntimeError("no trained generator: call train() or KineticGAN.load() first")
        return self.generator

    def _scaled_sets(
        self, km: np.ndarray, labels: np.ndarray, test_fraction: float, split_seed: int
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None]:
        assert self.scaler is not None
        train_idx, test_idx = train_test_split_indices(km.shape[0], test_fraction, split_seed)
        x_train = self.scaler.transform(km[train_idx])
        y_train = labels[train_idx]
        ref_train = x_train[y_train == RELEVANT]
        ref_test = None
        if test_idx.size:
            x_test = self.scaler.transform(km[test_idx])
            ref_test = x_test[labels[test_idx] == RELEVANT]
        return x_train, y_train, ref_train, ref_test

    def _run(
        self,
        generator: Generator,
        discriminator: Discriminator,
        config: TrainingConfig,
        labeller: Labeller | None,
        data: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray | None],
        output_dir: str | os.PathLike[str] | None,
        resume: bool,
        context: dict[str, Any],
        callback: Callback | None,
        progress: Progress | None,
    ) -> TrainingResult:
        assert self.scaler is not None
        trainer = GANTrainer(
            generator,
            discriminator,
            self.scaler,
            config,
            labeller=labeller,
            # the recorded class's interval (rekindle.classes), else (-inf, threshold)
            threshold=self.relevance_interval[1],
            lower=self.relevance_interval[0],
            context=context,
        )
        x_train, y_train, ref_train, ref_test = data
        result = trainer.fit(
            x_train,
            y_train,
            ref_train,
            ref_test,
            output_dir=output_dir,
            resume=resume,
            callback=callback,
            progress=progress,
        )
        generator.load_state_dict(result.best_state)
        generator.eval()
        for p in generator.parameters():
            p.requires_grad_(True)
        self.generator = generator
        self.device = trainer.device
        self.training_config = config
        self.result = result
        self.training_summary = result.summary()
        if output_dir is not None:
            self.save(Path(output_dir) / "generator.pt")
        return result

    # ------------------------------------------------------------------ training
    def train(
        self,
        labeller: Labeller | None = None,
        config: TrainingConfig | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        resume: bool = True,
        *,
        callback: Callback | None = None,
        progress: Progress | None = None,
    ) -> TrainingResult:
        """Train the GAN from scratch on the data given at construction.

        The data are split 9:1 (``config.test_fraction``, ``config.split_seed``),
        the scaler is fitted on the training rows, networks are initialised with
        ``config.seed``, and :class:`GANTrainer` runs the plan. Afterwards
        :attr:`generator` holds the best (highest-incidence) state.

        Parameters
        ----------
        labeller : callable, optional
            K_M (n, d) in physical units -> max real Jacobian eigenvalue (n,) in
            1/h. Without it the incidence is not monitored and the best state is
            the one with the lowest KL to the training data.
        config : TrainingConfig, optional
            Training plan (defaults of :class:`TrainingConfig`).
        output_dir : path, optional
            Directory for checkpoints, metrics CSVs and the final
            ``generator.pt``.
        resume : bool
            Continue from ``output_dir/checkpoint.pt`` if present.
        callback, progress : callable, optional
            See :meth:`GANTrainer.fit`.

        Returns
        -------
        TrainingResult
        """
        if self._km is None or self._labels is None:
            raise RuntimeError("this KineticGAN has no training data (loaded from a file?)")
        config = config or TrainingConfig()
        km, labels = self._km, self._labels
        train_idx, _ = train_test_split_indices(
            km.shape[0], config.test_fraction, config.split_seed
        )
        self.scaler = self._scaler_spec.fit(km[train_idx])
        data = self._scaled_sets(km, labels, config.test_fraction, config.split_seed)
        torch.manual_seed(config.seed)
        generator = Generator(self.n_features, self.architecture)
        discriminator = Discriminator(self.n_features, self.architecture)
        return self._run(
            generator,
            discriminator,
            config,
            labeller,
            data,
            output_dir,
            resume,
            {"mode": "train"},
            callback,
            progress,
        )

    def fine_tune(
        self,
        km: np.ndarray,
        relevant: np.ndarray,
        labeller: Labeller | None = None,
        config: TrainingConfig | None = None,
        *,
        epochs: int | None = None,
        learning_rate: float | None = None,
        batch_size: int | None = None,
        freeze: Sequence[str] = (),
        metadata: Mapping[str, Any] | None = None,
        output_dir: str | os.PathLike[str] | None = None,
        resume: bool = True,
        clip_to_range: bool = True,
        callback: Callback | None = None,
        progress: Progress | None = None,
    ) -> TrainingResult:
        """Transfer learning: retrain the current generator on new data.

        The pretrained generator (from :meth:`train` or :meth:`load`) is trained
        against a freshly initialised discriminator on the target data, as in
        the paper's "Transfer learning" section. The result replaces
        :attr:`generator` (best-incidence state) and the new data replace the
        stored training data.

        The pretrained **scaler is kept** (see :func:`_pretrained_range`).

        Parameters
        ----------
        km : numpy.ndarray, shape (n, d)
            Target-physiology K_M (same features and units as the pretraining).
        relevant : numpy.ndarray of bool, shape (n,)
            Relevance labels of the target models.
        labeller : callable, optional
            Target-physiology labeller (see :meth:`train`).
        config : TrainingConfig, optional
            Training plan; default :func:`transfer_config` for ``n`` models
            (300 epochs, lr 2e-4 or 1e-3 for n >= 500, batch size 2-50).
        epochs, learning_rate, batch_size : optional
            Convenience overrides of ``config``.
        freeze : sequence of str
            Generator submodules whose parameters stay fixed, e.g.
            ``("hidden.0",)``; valid names are ``hidden.0`` ...
            ``hidden.{k-1}`` and ``output`` (BatchNorm running statistics of
            frozen blocks still update).
        metadata : dict, optional
            Metadata of the target (e.g. ``{"physiology": "physiology 2"}``),
            merged into :attr:`metadata`; the previous metadata are kept under
            ``"pretrained_from"``.
        output_dir, resume, callback, progress
            As in :meth:`train`.
        clip_to_range : bool
            Clip scaled target data to [-1, 1] (see above).

        Returns
        -------
        TrainingResult
        """
        generator = copy.deepcopy(self._require_generator()).cpu()
        km_arr, labels = self._check_data(km, relevant)
        if km_arr.shape[1] != self.n_features:
            raise ValueError(
                f"fine-tuning data have {km_arr.shape[1]} features, generator has {self.n_features}"
            )
        if config is None:
            config = transfer_config(km_arr.shape[0])
        changes = {"epochs": epochs, "learning_rate": learning_rate, "batch_size": batch_size}
        overrides = {k: v for k, v in changes.items() if v is not None}
        if overrides:
            config = config.replace(**overrides)
        _freeze(generator, freeze)

        old_state = (self.metadata, self._km, self._labels)
        if metadata:
            previous = copy.deepcopy(self.metadata)
            self.metadata = {**self.metadata, **jsonable(dict(metadata))}
            self.metadata["pretrained_from"] = previous
        data = self._scaled_sets(km_arr, labels, config.test_fraction, config.split_seed)
        data = _pretrained_range(data, clip_to_range)
        self._km, self._labels = km_arr, labels
        torch.manual_seed(config.seed)
        discriminator = Discriminator(self.n_features, self.architecture)
        try:
            return self._run(
                generator,
                discriminator,
                config,
                labeller,
                data,
                output_dir,
                resume,
                {"mode": "fine_tune", "freeze": list(freeze)},
                callback,
                progress,
            )
        except BaseException:
            # leave this object as it was (the pretrained generator is untouched)
            self.metadata, self._km, self._labels = old_state
            raise

    # ------------------------------------------------------------------ generation
    @torch.no_grad()
    def generate(
        self,
        n: int,
        cls: str | int = "relevant",
        seed: int = 0,
        batch_size: int = 65536,
        *,
        scaled: bool = False,
        dtype: type[np.floating] = np.float64,
        device: str | torch.device | None = None,
    ) -> np.ndarray:
        """Generate ``n`` parameter sets of one class.

        The generator runs in eval mode (no dropout, BatchNorm running
        statistics) in batches of ``batch_size``; noise comes from a
        ``torch.Generator`` seeded with ``seed``, so the output is reproducible
        for the same ``(seed, batch_size, device)``.

        Parameters
        ----------
        n : int
            Number of parameter sets.
        cls : str or int
            ``"relevant"`` (default) / ``"not_relevant"`` or class index 0 / 1.
        seed : int
            Noise seed.
        batch_size : int
            Sets generated per forward pass (bounds memory).
        scaled : bool
            Return the scaled log10 values in (-1, 1) instead of K_M.
        dtype : numpy float type
            dtype of the returned array.
        device : str or torch.device, optional
            Device for generation (default: the generator's device).

        Returns
        -------
        numpy.ndarray, shape (n, n_features)
            K_M in the physical units of the training data (or scaled values).
        """
        gen_model = self._require_generator()
        assert self.scaler is not None
        if n < 0:
            raise ValueError("n must be >= 0")
        if batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        idx = class_index(cls)
        dev = resolve_device(device) if device is not None else next(gen_model.parameters()).device
        gen_model.to(dev)
        was_training = gen_model.training
        gen_model.eval()
        noise = torch.Generator(device=dev)
        noise.manual_seed(int(seed))
        out = np.empty((n, self.n_features), dtype=dtype)
        try:
            for start in range(0, n, batch_size):
                b = min(batch_size, n - start)
                z = torch.randn(b, gen_model.latent_dim, generator=noise, device=dev)
                labels = torch.full((b,), idx, dtype=torch.long, device=dev)
                x = gen_model(z, labels).double().cpu().numpy()
                out[start : start + b] = x if scaled else self.scaler.inverse_transform(x)
        finally:
            gen_model.train(was_training)
        return out

    # ------------------------------------------------------------------ persistence
    def to_artefact(self) -> GeneratorArtefact:
        """The trained generator with everything :meth:`save` writes."""
        generator = self._require_generator()
        assert self.scaler is not None
        return GeneratorArtefact(
            architecture=self.architecture,
            feature_names=list(self.feature_names),
            scaler=self.scaler,
            generator=generator,
            metadata=self.metadata,
            training_config=self.training_config,
            training_summary=self.training_summary,
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the versioned generator artefact atomically (:mod:`rekindle.gan.artefact`).

        Parameters
        ----------
        path : path
            Target file, conventionally ``generator.pt``.

        Returns
        -------
        pathlib.Path
            The written path.
        """
        return write_generator(path, self.to_artefact())

    @classmethod
    def from_artefact(cls, artefact: GeneratorArtefact) -> KineticGAN:
        """A ready-to-generate KineticGAN (without training data) from an artefact."""
        gan = cls(None, None, artefact.feature_names, artefact.metadata, artefact.architecture)
        gan.scaler = gan._scaler_spec = artefact.scaler
        gan.generator = artefact.generator
        gan.device = next(artefact.generator.parameters()).device
        gan.training_config = artefact.training_config
        gan.training_summary = artefact.training_summary
        gan.versions = artefact.versions
        return gan

    @classmethod
    def load(
        cls, path: str | os.PathLike[str], device: str | torch.device | None = None
    ) -> KineticGAN:
        """Load a generator artefact written by :meth:`save`.

        Parameters
        ----------
        path : path
            The ``generator.pt`` file.
        device : str or torch.device, optional
            Where to put the generator (``"cpu"``, ``"cuda"``, ``"auto"``);
            default CPU.

        Returns
        -------
        KineticGAN
            Ready for :meth:`generate` and :meth:`fine_tune` (it has no
            training data, so :meth:`train` is unavailable).

        Raises
        ------
        FileNotFoundError
            If the file does not exist.
        GeneratorFileError
            If the file is truncated or corrupted, has another format or version,
            or its contents are inconsistent (see :func:`read_generator`).
        """
        gan = cls.from_artefact(read_generator(path, device))
        gan.path = Path(path)
        return gan

    def __repr__(self) -> str:
        state = "trained" if self.generator is not None else "untrained"
        best = ""
        if self.result is not None and not math.isnan(self.result.best_incidence):
            best = f", best incidence {self.result.best_incidence:.3f}"
        return (
            f"KineticGAN({self.n_features} features, {state}{best}, "
            f"metadata={ {k: v for k, v in self.metadata.items() if k != 'pretrained_from'} })"
        )
