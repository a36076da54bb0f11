"""User-facing flow generator: fit, generate, save, load (the interface of KineticGAN).

Artefact format (``generator.pt``, ``format = "rekindle-flow"``): one ``torch.save`` dict
loadable with ``weights_only=True``: ``format``, ``format_version``, ``config``
(:meth:`FlowConfig.to_dict`), ``feature_names``, ``reference`` (µM, the concentration of
each K_M's metabolite: the saturation map), ``cdf`` (n_classes, d, bins + 1), ``mean``
(n_classes, d), ``cholesky`` (n_classes, d, d), ``state_dict`` (the learnt flow),
``metadata`` (``model``, ``physiology``, ``threshold`` …), ``training_summary``,
``history``, ``versions``, since version 2 ``guide`` (the relevance guide of
:mod:`rekindle.flow.guide`, or None) and since version 3 ``payload_sha256``
(:func:`rekindle.io.digest.payload_sha256` of every other entry, checked on load: a
flipped byte anywhere is refused). Version 1 and 2 files (no checksum) still load;
``rekindle upgrade FILE`` rewrites one with its checksum.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rekindle import __version__
from rekindle.errors import GeneratorFileError
from rekindle.features import (
    ConditionalGenerator,
    SaturationScaler,
    class_index,
)
from rekindle.io.atomic import torch_save
from rekindle.io.digest import DIGEST_KEY, digest_problem, payload_sha256
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H as DEFAULT_THRESHOLD

from .guide import GuideConfig, RelevanceGuide, fit_guide
from .marginals import MarginalScores, Whitening
from .modules import N_CLASSES, ConditionalFlow
from .sampler import GuidedSampler, GuidedStream
from .training import ArraySource, FileSource, FlowConfig, fit_flow, row_ranges

FORMAT_NAME = "rekindle-flow"
FORMAT_VERSION = 3
#: artefact versions :meth:`KineticFlow.load` reads (1 and 2 have no checksum)
READABLE_VERSIONS = (1, 2, 3)
#: guided generation refuses to go on when fewer than this share of draws is kept
MIN_ACCEPTANCE = 1e-3
#: unguided relevant-class draws labelled by the engine at fit time, to compare the copula
#: with the guide's held-out estimate of its own incidence (standard error ~0.01)
MODE_CHECK_MODELS = 2000
#: |w| of generated base noise mapped through the flow is bounded so that a rare extreme
#: draw cannot overflow the coupling transforms
_MAX_SCORE = 8.0
#: rows per block of the K_M back-transform in :meth:`KineticFlow.generate`
_KM_ROWS = 1024


class KineticFlow(ConditionalGenerator):
    """Class-conditional flow generator of K_M sets (see :mod:`rekindle.flow.modules`).

    Parameters
    ----------
    reference : numpy.ndarray, shape (d,)
        Reference concentration (µM) of the metabolite of each K_M (the saturation map).
    feature_names : sequence of str
        Name of each K_M.
    metadata : dict, optional
        ``model``, ``physiology``, ``threshold`` (1/h) … stored in the artefact.
    config : FlowConfig, optional
        Settings (defaults of :class:`FlowConfig`).
    guide_config : GuideConfig, optional
        Settings of the relevance guide trained with the flow (None: no guide; generation
        then draws from the class-conditional flow alone).
    """

    def __init__(
        self,
        reference: np.ndarray,
        feature_names: Sequence[str],
        metadata: Mapping[str, Any] | None = None,
        config: FlowConfig | None = None,
        guide_config: GuideConfig | None = None,
    ) -> None:
        self.scaler = SaturationScaler(reference)
        self.feature_names = [str(n) for n in feature_names]
        if len(self.feature_names) != self.scaler.n_features:
            raise ValueError(
                f"{len(self.feature_names)} feature names for {self.scaler.n_features} K_M"
            )
        self.metadata: dict[str, Any] = dict(metadata or {})
        self.metadata.setdefault("threshold", DEFAULT_THRESHOLD)
        self.metadata["generator"] = "flow"
        self.config = config or FlowConfig()
        self.guide_config = guide_config
        self.guide: RelevanceGuide | None = None
        #: marginals and copula of all training rows pooled: the proposal of guided generation
        self.proposal: tuple[MarginalScores, Whitening] | None = None
        #: draws and kept rows of the last guided :meth:`generate` call
        self.last_acceptance: dict[str, int] = {}
        #: defaults of :meth:`generate` (see :meth:`set_guidance`)
        self.default_guided: bool | None = None
        self.default_power: float | None = None
        self.marginals: MarginalScores | None = None
        self.whitening: Whitening | None = None
        self.flow: ConditionalFlow | None = None
        self.history: list[dict[str, float]] = []
        self.training_summary: dict[str, Any] | None = None
        self.versions: dict[str, str] = {}

    # ------------------------------------------------------------------ properties
    # ------------------------------------------------------------------ training
    def fit(
        self,
        km: np.ndarray | None = None,
        relevant: np.ndarray | None = None,
        *,
        max_eig: np.ndarray | None = None,
        path: str | os.PathLike[str] | None = None,
        km_columns: np.ndarray | None = None,
        log: Callable[[str], None] = lambda _msg: None,
    ) -> dict[str, Any]:
        """Fit on arrays in memory or, streaming, on a dataset file.

        The flow is fitted first; then, with a ``guide_config``, the relevance guide on the
        same training rows (its held-out rows are the flow's).

        Parameters
        ----------
        km, relevant : numpy.ndarray, shapes (n, d) and (n,)
            K_M (µM) and relevance flags held in memory (``max_eig``, shape (n,), 1/h:
            the max Re(λ) of each set, the guide's auxiliary target), or
        path, km_columns
            a dataset file and the column of each K_M in its parameter matrix: the file is
            read ``config.chunk_rows`` rows at a time.
        log : callable
            Receives the progress lines of the flow training.

        Returns
        -------
        dict
            The training summary (rows, steps, held-out NLL, seconds).
        """
        if path is not None:
            if km_columns is None:
                raise ValueError("km_columns are needed to read K_M from a dataset file")
            source: ArraySource | FileSource = FileSource(path, km_columns)
        elif km is not None and relevant is not None:
            source = ArraySource(km, relevant, max_eig)
        else:
            raise ValueError("give km and relevant, or path and km_columns")
        result = fit_flow(
            source,
            self.scaler.transform,
            self.config,
            with_proposal=self.guide_config is not None,
            log=log,
        )
        self.marginals, self.whitening, self.flow = result.marginals, result.whitening, result.flow
        self.history = result.history
        self.training_summary = result.summary
        if self.guide_config is not None:
            self.proposal = result.proposal
            self.guide = fit_guide(
                source,
                self.scaler.transform,
                row_ranges(source.n_rows, self.config),
                # the auxiliary target asinh(λ/|threshold|): for a class, its threshold is
                # its upper end (its lower end without one, classes.store.class_threshold).
                # For a band the scale stays |upper end|: asinh is linear within it and
                # logarithmic beyond, so both ends of a band (same sign, within a decade or
                # two) stay resolved, and an upper bound keeps exactly its former target
                float(self.metadata["threshold"]),
                self.guide_config,
                log=log,
            )
            guide_summary = {k: v for k, v in self.guide.summary.items() if k != "history"}
            self.training_summary = {**result.summary, "guide": guide_summary}
        return self.training_summary

    # ------------------------------------------------------------------ generation
    def set_guidance(self, guided: bool | None = None, power: float | None = None) -> KineticFlow:
        """Set the mode :meth:`generate` uses when not told (for callers that pass only
        ``n, cls, seed``, such as :func:`rekindle.generation.generate_dataset`).

        Parameters
        ----------
        guided : bool, optional
            Guided generation (None: when the flow has a guide).
        power : float, optional
            Acceptance exponent (None: the guide's).

        Returns
        -------
        KineticFlow
            ``self``.

        Raises
        ------
        GenerationError
            If guidance is asked of a flow without a guide, or ``power`` is not > 0.
        """
        from rekindle.errors import GenerationError

        if (guided or power is not None) and self.guide is None:
            raise GenerationError("this flow generator has no relevance guide")
        if power is not None and not (math.isfinite(power) and power > 0):
            raise GenerationError(f"power must be a finite number > 0, got {power}")
        if guided is False and power is not None:
            raise GenerationError("power applies only to guided generation")
        self.default_guided, self.default_power = guided, power
        return self

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
        guided: bool | None = None,
        power: float | None = None,
    ) -> np.ndarray:
        """Generate ``n`` K_M sets of one class (the signature of ``KineticGAN.generate``).

        Guided (the default when the flow has a guide): draws from the model of all the
        training data pooled, ``p(y)`` (its exact marginals and Gaussian copula: ORACLE draws
        the saturations independently, which this represents exactly), kept with probability
        ``c(y)^power`` for the relevant class (``(1 − c(y))^power`` for the other): Bayes'
        rule (:mod:`rekindle.flow.guide`). Unguided: draws from ``p(y | class)``.

        Parameters
        ----------
        n : int
            Number of sets.
        cls : str or int
            ``"relevant"`` / ``"not_relevant"`` or class index 0 / 1.
        seed : int
            Seed of the base noise (a ``torch.Generator``; same seed, same output).
        batch_size : int
            Draws per pass of the unguided flow (bounds memory); guided draws go in
            blocks of :data:`~rekindle.flow.sampler.BLOCK_ROWS`.
        scaled : bool
            Return the saturation features ``2σ − 1`` instead of K_M.
        dtype : numpy float type
            dtype of the result.
        device : ignored
            The flow runs on the CPU.
        guided : bool, optional
            Use the relevance guide (default: when there is one).
        power : float, optional
            Exponent of the acceptance (default: the guide's ``power``, 1 = Bayes' rule).

        Returns
        -------
        numpy.ndarray, shape (n, n_features)
            K_M in µM (or ``2σ − 1``).

        Raises
        ------
        GenerationError
            Guided, when fewer than :data:`MIN_ACCEPTANCE` of the draws are kept.
        """
        if self.flow is None or self.marginals is None or self.whitening is None:
            raise RuntimeError("no trained flow: call fit() or KineticFlow.load() first")
        if n < 0 or batch_size < 1:
            raise ValueError("n must be >= 0 and batch_size >= 1")
        idx = class_index(cls)
        guided = self.uses_guide(guided)
        if power is None:
            power = self.default_power
        if guided and self.guide is None:
            from rekindle.errors import GenerationError

            raise GenerationError("this flow generator has no relevance guide (fit it with one)")
        noise = torch.Generator().manual_seed(int(seed))
        self.flow.eval()
        if guided:
            # the guided rows are float32-exact: kept in float32 where that is asked for
            rows32 = scaled and np.dtype(dtype) == np.float32
            y = self._generate_guided(n, idx, noise, power, rows32)
        else:
            y = np.concatenate(
                [np.empty((0, self.n_features))]
                + [
                    self._decode(
                        np.full(b, idx),
                        torch.randn(b, self.n_features, generator=noise),
                    )
                    for b in _batches(n, batch_size)
                ]
            )
        if not scaled:  # K_M = ref (1 − y) / (1 + y), in place, in blocks that stay in cache
            for a in range(0, y.shape[0], _KM_ROWS):
                y[a : a + _KM_ROWS] = self.scaler.inverse_transform(y[a : a + _KM_ROWS])
        return y.astype(dtype, copy=False)

    def _decode(self, labels: np.ndarray, eps: torch.Tensor) -> np.ndarray:
        """Base noise (b, d) of each row's class → features ``y = 2σ − 1`` (b, d)."""
        assert self.flow is not None and self.marginals is not None
        assert self.whitening is not None
        w = self.flow.sample(torch.as_tensor(labels), eps).double().numpy()
        w = np.clip(np.nan_to_num(w), -_MAX_SCORE, _MAX_SCORE)
        return self.marginals.from_scores(self.whitening.colour(w, labels), labels)

    def uses_guide(self, guided: bool | None = None) -> bool:
        """Whether :meth:`generate` with this ``guided`` draws through the relevance guide
        (None: the generator's default, else whether it has a guide)."""
        if guided is None:
            guided = self.default_guided
        if guided is None:
            guided = self.guide is not None
        return bool(guided)

    def _generate_guided(
        self,
        n: int,
        idx: int,
        noise: torch.Generator,
        power: float | None,
        rows32: bool = False,
    ) -> np.ndarray:
        """Rejection sampling of class ``idx`` under the guide → ``y`` (n, d): the first
        ``n`` kept draws of a :class:`~rekindle.flow.sampler.GuidedStream` on ``noise``.

        Drawn and decided in reduced precision by :class:`~rekindle.flow.sampler.GuidedSampler`
        (every decision the float64 guide's); ``y`` is float32-exact, returned as float64
        (as float32 with ``rows32``: the same values, converted by whoever needs them).
        """
        assert self.guide is not None
        power = self.guide.config.power if power is None else float(power)
        out = np.empty((n, self.n_features), dtype=np.float32 if rows32 else np.float64)
        with GuidedStream(self.sampler(), idx, noise, power, MIN_ACCEPTANCE) as stream:
            stream.fill(out)
        self.last_acceptance = {"drawn": stream.drawn, "kept": stream.kept}
        return out

    def guided_stream(
        self, cls: str | int = "relevant", seed: int = 0, power: float | None = None
    ) -> GuidedStream:
        """The guided draws of one class as one stream (:class:`~rekindle.flow.sampler.
        GuidedStream`): ``fill(out)`` writes the next saturation features ``y = 2σ − 1``
        (float32-exact) into ``out`` (m, n_features); K_M = ``scaler.inverse_transform(y)``.

        The first ``n`` rows of a stream are the same whatever the sizes of the fills that
        took them (unlike :meth:`generate` called chunk by chunk, which draws whole blocks
        per call and drops the kept rows beyond its ``n``). Close the stream, or use it as
        a context manager, when done.

        Raises
        ------
        GenerationError
            When the flow has no guide, or (while filling) fewer than
            :data:`MIN_ACCEPTANCE` of ≥ 100 000 draws are kept.
        """
        if self.flow is None or self.marginals is None or self.whitening is None:
            raise RuntimeError("no trained flow: call fit() or KineticFlow.load() first")
        if self.guide is None:
            from rekindle.errors import GenerationError

            raise GenerationError("this flow generator has no relevance guide (fit it with one)")
        if power is None:
            power = self.default_power  # set_guidance's, else the guide's own
        power = self.guide.config.power if power is None else float(power)
        noise = torch.Generator().manual_seed(int(seed))
        return GuidedStream(self.sampler(), class_index(cls), noise, power, MIN_ACCEPTANCE)

    def sampler(self) -> GuidedSampler:
        """The reduced-precision guided sampler of this flow (built on first use)."""
        assert self.guide is not None and self.proposal is not None
        key = (id(self.guide), id(self.proposal))
        if getattr(self, "_sampler_key", None) != key:
            marginals, whitening = self.proposal
            self._sampler = GuidedSampler(marginals, whitening, self.guide)
            self._sampler_key = key
        return self._sampler

    # ------------------------------------------------------------------ persistence
    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the artefact atomically (see the module docstring)."""
        if self.flow is None or self.marginals is None or self.whitening is None:
            raise RuntimeError("no trained flow to save")
        assert self.marginals.cdf is not None and self.whitening.mean is not None
        assert self.whitening.cholesky is not None
        payload = {
            "format": FORMAT_NAME,
            "format_version": FORMAT_VERSION,
            "config": self.config.to_dict(),
            "feature_names": list(self.feature_names),
            "reference": torch.as_tensor(self.scaler.reference),
            "cdf": torch.as_tensor(self.marginals.cdf),
            "mean": torch.as_tensor(self.whitening.mean),
            "cholesky": torch.as_tensor(self.whitening.cholesky),
            "state_dict": {k: v.detach().cpu().clone() for k, v in self.flow.state_dict().items()},
            "metadata": self.metadata,
            "training_summary": self.training_summary,
            "history": self.history,
            "versions": {"rekindle": __version__, "torch": str(torch.__version__)},
            "guide": None if self.guide is None else self._guide_payload(),
            "generation_defaults": {"guided": self.default_guided, "power": self.default_power},
        }
        payload[DIGEST_KEY] = payload_sha256(payload)
        return torch_save(payload, path)

    def _guide_payload(self) -> dict[str, Any]:
        assert self.guide is not None and self.proposal is not None
        marginals, whitening = self.proposal
        return {
            **self.guide.to_payload(),
            "proposal_cdf": torch.as_tensor(marginals.cdf),
            "proposal_mean": torch.as_tensor(whitening.mean),
            "proposal_cholesky": torch.as_tensor(whitening.cholesky),
        }

    @classmethod
    def load(cls, path: str | os.PathLike[str], device: str | None = None) -> KineticFlow:
        """Read an artefact written by :meth:`save` (``device`` ignored: CPU).

        Raises
        ------
        GeneratorFileError
            If the file is missing, corrupted or not a flow artefact.
        """
        path = Path(path)
        if path.exists() and not path.is_file():  # a folder, or a named pipe that would block
            raise GeneratorFileError(path, "not a regular file")
        try:
            payload = torch.load(path, map_location="cpu", weights_only=True)
        except FileNotFoundError as exc:
            raise GeneratorFileError(path, "file not found") from exc
        except Exception as exc:
            raise GeneratorFileError(path, f"file is corrupted ({type(exc).__name__})") from exc
        if not isinstance(payload, dict) or payload.get("format") != FORMAT_NAME:
            raise GeneratorFileError(path, f"not a {FORMAT_NAME} artefact")
        version = payload.get("format_version")
        if version not in READABLE_VERSIONS:
            raise GeneratorFileError(
                path,
                f"unsupported version {version!r} (this rekindle reads "
                f"{', '.join(map(str, READABLE_VERSIONS))})",
            )
        if version >= 3 and (problem := digest_problem(payload)) is not None:
            raise GeneratorFileError(path, problem)
        try:
            return cls._from_payload(payload)
        except (KeyError, ValueError, RuntimeError, TypeError) as exc:
            raise GeneratorFileError(path, f"inconsistent contents ({exc})") from exc

    @classmethod
    def _from_payload(cls, payload: dict[str, Any]) -> KineticFlow:
        config = FlowConfig.from_dict(payload["config"])
        obj = cls(
            payload["reference"].numpy(), payload["feature_names"], payload["metadata"], config
        )
        cdf = payload["cdf"].numpy()
        if cdf.shape != (N_CLASSES, obj.n_features, config.bins + 1):
            raise ValueError(f"cdf has shape {cdf.shape}")
        obj.marginals = MarginalScores(N_CLASSES, obj.n_features, config.bins)
        obj.marginals.cdf = cdf
        obj.whitening = Whitening(N_CLASSES, obj.n_features)
        obj.whitening.mean = payload["mean"].numpy()
        obj.whitening.cholesky = payload["cholesky"].numpy()
        obj.flow = ConditionalFlow(obj.n_features, config.transforms, config.hidden, config.layers)
        obj.flow.load_state_dict(payload["state_dict"])
        obj.flow.eval()
        obj.training_summary = payload.get("training_summary")
        obj.history = list(payload.get("history") or [])
        obj.versions = dict(payload.get("versions") or {})
        if payload.get("guide") is not None:
            guide = payload["guide"]
            obj.guide = RelevanceGuide.from_payload(guide)
            obj.guide_config = obj.guide.config
            marginals = MarginalScores(1, obj.n_features, config.bins)
            marginals.cdf = guide["proposal_cdf"].numpy()
            whitening = Whitening(1, obj.n_features)
            whitening.mean = guide["proposal_mean"].numpy()
            whitening.cholesky = guide["proposal_cholesky"].numpy()
            obj.proposal = (marginals, whitening)
        defaults = payload.get("generation_defaults") or {}
        obj.default_guided = defaults.get("guided")
        obj.default_power = defaults.get("power")
        return obj

    def __repr__(self) -> str:
        steps = (self.training_summary or {}).get("steps", math.nan)
        guide = "guided" if self.guide is not None else "unguided"
        return (
            f"KineticFlow({self.n_features} K_M, {self.config.transforms} transforms, "
            f"{steps} steps, {guide})"
        )


def _batches(n: int, batch_size: int) -> list[int]:
    """Sizes of the passes that make ``n`` rows, ``batch_size`` at most each."""
    return [min(batch_size, n - a) for a in range(0, n, batch_size)]


def fit_flow_generator(
    bundle: Any,
    output: str | os.PathLike[str],
    config: FlowConfig | None = None,
    *,
    threshold: float = DEFAULT_THRESHOLD,
    data: str | os.PathLike[str] | None = None,
    km: np.ndarray | None = None,
    relevant: np.ndarray | None = None,
    max_eig: np.ndarray | None = None,
    guide_config: GuideConfig | None = None,
    log: Callable[[str], None] = lambda _msg: None,
    metadata: dict[str, Any] | None = None,
) -> KineticFlow:
    """Fit a flow generator of ``bundle``'s model → ``output/generator.pt``.

    The generator carries the model and physiology (as the cGAN's does), so later
    commands never reload them by name.

    Parameters
    ----------
    bundle : rekindle.io.model_bundle.ModelBundle
        The model and physiology the data were made from.
    output : path
        Folder for ``generator.pt`` and ``flow_history.csv`` (held-out NLL per evaluation).
    config : FlowConfig, optional
        Settings.
    threshold : float
        Relevance threshold of the data's labels, 1/h.
    data : path, optional
        A labelled dataset file, streamed ``config.chunk_rows`` rows at a time (any size) …
    km, relevant, max_eig : numpy.ndarray, optional
        … or K_M (µM, shape (n, n_km)), labels (shape (n,)) and max Re(λ) (1/h, shape
        (n,), the guide's auxiliary target) in memory.
    guide_config : GuideConfig, optional
        Train a relevance guide with these settings (None: an unguided flow).
    log : callable
        Progress lines.
    metadata : dict, optional
        Recorded in the generator's metadata too (e.g. the class of data in memory:
        ``class_spec``, ``class_where``; a ``data`` file's own class is read from it).
    """
    from rekindle.io.metrics_csv import write_metrics_csv
    from rekindle.sampling import km_reference_concentrations

    model = bundle.model
    meta = {
        **bundle.metadata(),
        "threshold": float(threshold),
        "units": "uM",
        "scaling": "saturation",
        "rekindle_version": __version__,
        **(metadata or {}),
    }
    if data is not None:
        from rekindle.io.dataset import CLASS_METADATA_KEYS, read_dataset

        meta["training_data"] = str(data)
        recorded = read_dataset(data, rows=slice(0, 0)).metadata
        meta.update({k: recorded[k] for k in CLASS_METADATA_KEYS if k in recorded})
    reference = km_reference_concentrations(model, bundle.physiology)
    flow = KineticFlow(reference, model.km_names, meta, config, guide_config)
    if data is not None:
        columns = np.array([model.parameter_index[k] for k in model.km_names])
        flow.fit(path=data, km_columns=columns, log=log)
    else:
        flow.fit(km, relevant, max_eig=max_eig, log=log)
    if flow.guide is not None:
        choose_generation_mode(flow, bundle, log=log)
    out = Path(output)
    flow.save(out / "generator.pt")
    write_metrics_csv(flow.history, out / "flow_history.csv")
    return flow


def choose_generation_mode(
    flow: KineticFlow,
    bundle: Any,
    *,
    n: int = MODE_CHECK_MODELS,
    seed: int = 0,
    log: Callable[[str], None] = lambda _msg: None,
) -> dict[str, Any]:
    """Keep guided generation as the default only where it beats the copula alone.

    The guide's held-out ``expected_incidence`` is an unbiased estimate of the incidence of
    guided generation (Bayes' rule on draws of the data's own distribution); the copula's is
    measured by labelling ``n`` of its relevant-class draws with the engine. With little
    data the guide knows less than the class-conditional copula (2·10⁴ E. coli sets: 0.69
    against 0.76); from ~2·10⁵ sets it knows more. Both are as wide as the data, so the
    higher incidence is kept (recorded in ``training_summary["mode_choice"]``; either mode
    stays available through ``generate(guided=...)``). Relevant is the flow's
    :attr:`relevance_interval` (its class's, or below its threshold).

    Parameters
    ----------
    flow : KineticFlow
        A fitted flow with a guide.
    bundle : rekindle.io.model_bundle.ModelBundle
        Its model and physiology.
    n, seed : int
        Copula draws labelled, and their seed.
    log : callable
        One line with the choice.

    Returns
    -------
    dict
        ``copula_incidence``, ``guided_expected_incidence``, ``mode``.
    """
    from rekindle.kinetics import KineticSystem
    from rekindle.kinetics.labelling import Labeller

    assert flow.guide is not None
    labeller = Labeller.of_interval(
        KineticSystem(bundle.model), bundle.physiology, flow.relevance_interval
    )
    km = flow.generate(n, "relevant", seed=seed, guided=False)
    _, relevant = labeller.label(labeller.system.complete_parameters(km, bundle.physiology))
    copula = float(np.mean(relevant))
    guided = float(flow.guide.summary["expected_incidence"])
    flow.default_guided = guided > copula
    choice = {
        "copula_incidence": copula,
        "guided_expected_incidence": guided,
        "mode": "guided" if flow.default_guided else "copula",
    }
    flow.training_summary = {**(flow.training_summary or {}), "mode_choice": choice}
    log(
        f"generation mode: {choice['mode']} (guided, held-out estimate {guided:.3f}; "
        f"copula alone, {n} engine-labelled draws {copula:.3f})"
    )
    return choice


def train_flow_file(
    data: str | os.PathLike[str],
    output: str | os.PathLike[str],
    config: FlowConfig | None = None,
    *,
    guide_config: GuideConfig | None = None,
    log: Callable[[str], None] = lambda _msg: None,
) -> KineticFlow:
    """Fit a flow generator on a dataset file, streaming it → ``output/generator.pt``.

    Parameters
    ----------
    data : path
        A labelled dataset (``rekindle sample``) of any size.
    output, config, guide_config, log
        As :func:`fit_flow_generator`.
    """
    from rekindle.io.dataset import read_dataset

    head = read_dataset(data, rows=slice(0, 0))
    threshold = float(head.metadata.get("threshold", DEFAULT_THRESHOLD))
    bundle = head.bundle()  # the embedded model; checks the columns against it
    return fit_flow_generator(
        bundle, output, config, threshold=threshold, data=data, guide_config=guide_config, log=log
    )
