"""Transfer learning between physiologies (REKINDLE Fig. 4), for either generator.

A generator trained on a source physiology is adapted to ``n`` ORACLE sets of a target
physiology and compared with training from scratch on the same ``n`` sets:

- **cGAN** (:class:`rekindle.gan.KineticGAN`): fine-tuned against a freshly initialised
  discriminator (paper: 300 epochs, lr 1e-3 for n ≥ 500, batch sizes 2–50); from scratch
  1000 epochs.
- **flow** (:class:`rekindle.flow.KineticFlow`, the default generator): its counted maps
  re-estimated with the source as the prior (:func:`rekindle.flow.transfer.transfer_flow`:
  marginals re-fitted to the target with ``prior_sets`` pseudo-sets of the source's, the
  dependence kept from the source with ``copula_prior_sets``); from scratch the same
  estimator with a non-informative prior of the same weights
  (:func:`rekindle.flow.transfer.scratch_flow`).

Incidence is measured by the engine at the *target* physiology; the incidence of the
pretrained generator before adaptation is recorded too, as the baseline to beat. With
``n_reference`` > 0, every generator's relevant-class models are also compared with that many
independent ORACLE sets of the target (relevant ones): width (spread ratio) and C2ST.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rekindle.config import Settings, check, check_positive_int, is_real
from rekindle.io.atomic import write_csv, write_json
from rekindle.progress import LogFunction, no_log
from rekindle.reference_values import TRANSFER_INCIDENCE_10_SETS

if TYPE_CHECKING:
    from rekindle.flow import KineticFlow
    from rekindle.gan import KineticGAN
    from rekindle.io.model_bundle import ModelBundle
    from rekindle.kinetics import KineticSystem, Physiology
    from rekindle.kinetics.labelling import Labeller

PAPER_TRANSFER_INCIDENCE_10_SETS = TRANSFER_INCIDENCE_10_SETS
"""Incidence of relevant models after transfer from fdp1 with 10 sets (paper, Results)."""


@dataclass(frozen=True)
class TransferSettings(Settings):
    """Settings of a transfer-learning experiment.

    Attributes
    ----------
    targets
        Target physiologies.
    n_sets
        Numbers of target ORACLE sets (paper: 10, 50, 100, 500, 1000).
    repeats
        Repeats per (target, n, mode), each with a different seed.
    epochs_transfer, epochs_scratch
        Paper: 300 and 1000.
    eval_every, n_eval
        Monitoring (paper: every 10 epochs, 1000 models).
    scratch
        Also train from scratch for comparison.
    freeze
        cGAN: generator layers kept fixed during fine-tuning (e.g. ``("hidden.0",)``).
    prior_sets, copula_prior_sets
        Flow: weight of the source's marginals and of its dependence structure, in sets per
        class (:func:`rekindle.flow.transfer.transfer_flow`; the scratch flow's
        non-informative prior has the same weights).
    n_reference
        Independent ORACLE sets of each target against which the relevant-class models of
        every generator are compared (width and C2ST; 0: none).
    seed
        Master seed.
    n_validation_models, n_validation_perturbations
        Fig. 4c: relevant models of the first transferred and scratch generators
        perturbed, and perturbations per model (0 models: no validation).
    """

    targets: Sequence[str] = ("fdp2", "fdp3", "fdp4")
    n_sets: Sequence[int] = (10, 50)
    repeats: int = 1
    epochs_transfer: int = 300
    epochs_scratch: int = 1000
    eval_every: int = 10
    n_eval: int = 1000
    scratch: bool = True
    freeze: Sequence[str] = ()
    seed: int = 0
    n_validation_models: int = 100
    n_validation_perturbations: int = 5
    prior_sets: float = 100.0
    copula_prior_sets: float = 1000.0
    n_reference: int = 0

    def validate(self) -> None:
        check(len(self.targets) > 0, "targets must name at least one physiology")
        check(len(self.n_sets) > 0, "n_sets must hold at least one set count")
        for n in self.n_sets:
            check(isinstance(n, int) and n > 0, f"n_sets must be positive ints, got {n!r}")
        check_positive_int(self, "repeats", "epochs_transfer", "epochs_scratch", "eval_every")
        check_positive_int(self, "n_eval", "n_validation_perturbations")
        check_positive_int(self, "seed", "n_validation_models", "n_reference", minimum=0)
        check(
            is_real(self.prior_sets) and self.prior_sets > 0,
            f"prior_sets must be a finite number > 0, got {self.prior_sets!r}",
        )
        check(
            is_real(self.copula_prior_sets) and self.copula_prior_sets >= 2,
            f"copula_prior_sets must be a finite number >= 2, got {self.copula_prior_sets!r}",
        )
        check(
            self.n_reference == 0 or self.n_reference >= 10,
            f"n_reference must be 0 or at least 10, got {self.n_reference!r}",
        )


@dataclass
class _Target:
    """One target physiology: its labeller, its nested ORACLE training sets and (optionally)
    independent relevant ORACLE sets for the width and C2ST of every generator."""

    name: str
    physiology: Physiology
    monitor: Labeller
    km: np.ndarray
    relevant: np.ndarray
    metadata: dict[str, Any]  # the model at this physiology, as generators record it
    reference: np.ndarray  # µM, the concentration of each K_M's metabolite at this physiology
    reference_km: np.ndarray | None  # (m, d) relevant independent ORACLE K_M, µM


@dataclass(frozen=True)
class CaseResult:
    """What one adapted generator scored.

    Attributes
    ----------
    incidence
        Engine-labelled incidence of its relevant-class models at the target (the cGAN's
        best during training).
    best_epoch
        The cGAN's kept epoch (0 for a flow: nothing is iterated).
    spread_ratio
        Median over the K_M of std(ln K_M generated) / std(ln K_M) of the relevant target
        training sets (NaN with fewer than 2 of them).
    failed
        The cGAN's discriminator-accuracy failure rule (False for a flow).
    """

    incidence: float
    best_epoch: int
    spread_ratio: float
    failed: bool


def run_transfer_experiment(
    generator_path: str | Path,
    output: str | Path,
    settings: TransferSettings | None = None,
    *,
    log: LogFunction = no_log,
) -> list[dict[str, Any]]:
    """Adapt a trained generator (cGAN or flow) to other physiologies, and train from scratch.

    Parameters
    ----------
    generator_path
        ``generator.pt`` trained on the source physiology, cGAN or flow.
    output
        Folder for ``transfer.csv``, ``transfer.json`` and the figures.
    settings
        :class:`TransferSettings` (``freeze`` applies to a cGAN only; refused for a flow).
    log
        Progress lines.

    Returns
    -------
    list of dict
        One row per (target, n_sets, mode, repeat): ``source``, ``target``, ``generator``
        (``cgan`` | ``flow``), ``n_sets``, ``mode`` (``transfer`` | ``scratch`` |
        ``pretrained``), ``repeat``, ``incidence``, ``best_epoch``,
        ``incidence_training_data`` (fraction relevant among the n sets), ``spread_ratio``
        (against the relevant target training sets), ``failed`` (the cGAN's
        discriminator-accuracy failure rule), and ``spread_ratio_reference`` and
        ``c2st_reference`` (against the ``n_reference`` independent relevant ORACLE sets;
        NaN without them).

    Raises
    ------
    UsageError
        If ``freeze`` is given for a flow.
    """
    from rekindle.errors import UsageError
    from rekindle.flow import KineticFlow
    from rekindle.generation import load_generator
    from rekindle.io.model_bundle import generator_bundle, resolve_physiology
    from rekindle.kinetics import KineticSystem
    from rekindle.plots.transfer import plot_transfer_incidence

    st = settings or TransferSettings()
    pre = load_generator(generator_path)
    kind = "flow" if isinstance(pre, KineticFlow) else "cgan"
    if kind == "flow" and st.freeze:
        raise UsageError(f"freeze applies only to a cGAN generator; {generator_path} is a flow")
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    bundle = generator_bundle(pre)  # the model the generator carries
    system = KineticSystem(bundle.model)
    source = bundle.physiology.name
    # physiology files of the model (or embedded names), all checked before any training
    physiologies = [resolve_physiology(bundle.model, t) for t in st.targets]
    rows: list[dict[str, Any]] = []
    validation: dict[str, tuple[Any, Physiology]] = {}
    for phys in physiologies:
        target = _prepare_target(system, pre, bundle.with_physiology(phys), st)
        name = target.name
        base = _evaluate(pre, target, st, n_train=0)
        fidelity = _reference_fidelity(pre, target, st)
        rows.append(_row(source, name, kind, 0, "pretrained", 0, base, float("nan"), fidelity))
        log(f"{source}→{name}: pretrained {kind} incidence {base.incidence:.3f}")
        for n in st.n_sets:
            if target.relevant[:n].all() or not target.relevant[:n].any():
                log(f"  n={n}: all sets have one label; the generator still trains on it")
            data_incidence = float(target.relevant[:n].mean())
            for r in range(st.repeats):
                for mode, gen, res in _train_case(pre, target, n, r, st):
                    fidelity = _reference_fidelity(gen, target, st)
                    rows.append(_row(source, name, kind, n, mode, r, res, data_incidence, fidelity))
                    log(f"  n={n} {mode} repeat {r}: incidence {res.incidence:.3f}")
                    if n == min(st.n_sets) and r == 0:
                        validation[f"{name} {mode}"] = (gen, target.physiology)
    if validation and st.n_validation_models > 0:
        rows_v = _validate_generators(system, validation, st, out)
        log("Fig. 4c: " + ", ".join(f"{k} {v['fraction_returned']:.3f}" for k, v in rows_v.items()))
    write_csv(
        out / "transfer.csv", ([row[h] for h in rows[0]] for row in rows), header=list(rows[0])
    )
    write_json(
        out / "transfer.json",
        {
            "settings": st.to_dict(),
            "source": source,
            "generator": kind,
            "rows": rows,
            "paper_incidence_10_sets": PAPER_TRANSFER_INCIDENCE_10_SETS,
        },
    )
    plot_transfer_incidence(
        [r for r in rows if r["mode"] != "pretrained"], out / "fig4b_transfer_incidence.png"
    )
    return rows


def _prepare_target(
    system: KineticSystem, pre: Any, target: ModelBundle, st: TransferSettings
) -> _Target:
    """The target's labeller, the first ``max(n_sets)`` sets of one ORACLE sample (nested
    training sets, as more data arrive) and, with ``n_reference``, an independent sample."""
    from rekindle.kinetics.labelling import Labeller
    from rekindle.sampling import km_reference_concentrations, sample_parameters

    phys = target.physiology
    monitor = Labeller.of_interval(system, phys, pre.relevance_interval, n_jobs=1)
    # the source's class, or below its threshold
    interval = {"threshold": monitor.threshold, "lower": monitor.lower}
    params, _, relevant = sample_parameters(
        system.model, phys, max(st.n_sets), seed=st.seed + 7, **interval
    )
    reference_km = None
    if st.n_reference > 0:
        ref_params, _, ref_rel = sample_parameters(
            system.model, phys, st.n_reference, seed=st.seed + 11, **interval
        )
        reference_km = system.km_of(ref_params[ref_rel]) if ref_rel.sum() >= 10 else None
    return _Target(
        phys.name,
        phys,
        monitor,
        system.km_of(params),
        relevant,
        target.metadata(),
        km_reference_concentrations(system.model, phys),
        reference_km,
    )


def _evaluate(gen: Any, target: _Target, st: TransferSettings, *, n_train: int) -> CaseResult:
    """Engine-labelled incidence of ``n_eval`` relevant-class models of ``gen`` at the target
    and their width against the relevant ones of the first ``n_train`` target sets."""
    from rekindle.generation import generate_labelled

    params, _, relevant = generate_labelled(
        gen, target.monitor, st.n_eval, "relevant", st.seed, check=False
    )
    km = target.monitor.system.km_of(params)
    return CaseResult(float(np.mean(relevant)), 0, _spread(km, target, n_train), False)


def _spread(km: np.ndarray, target: _Target, n_train: int) -> float:
    """Median spread ratio of ``km`` against the relevant ones of the first ``n_train``
    target sets (NaN with fewer than 2)."""
    from rekindle.gan.monitoring import spread_ratio

    ref = target.km[:n_train][target.relevant[:n_train]]
    if ref.shape[0] < 2:
        return float("nan")
    return float(spread_ratio(km, np.std(np.log(ref), axis=0)))


def _reference_fidelity(gen: Any, target: _Target, st: TransferSettings) -> tuple[float, float]:
    """``(spread ratio, C2ST)`` of ``n_eval`` relevant-class models of ``gen`` against the
    target's independent relevant ORACLE sets (NaN, NaN without them)."""
    from rekindle.analysis.fidelity import c2st, width_ratios

    if target.reference_km is None:
        return float("nan"), float("nan")
    km = gen.generate(st.n_eval, "relevant", seed=st.seed + 3)
    spread, _ = width_ratios(km, target.reference_km)
    return spread, c2st(np.log(km), np.log(target.reference_km), seed=st.seed)


def _train_case(
    pre: Any, target: _Target, n: int, repeat: int, st: TransferSettings
) -> list[tuple[str, Any, CaseResult]]:
    """Adapt ``pre`` to the first ``n`` target sets and (if asked) train from scratch on
    them: ``[(mode, generator, result)]``."""
    from rekindle.flow import KineticFlow

    if isinstance(pre, KineticFlow):
        return _flow_cases(pre, target, n, st)
    return _cgan_cases(pre, target, n, repeat, st)


def _flow_cases(
    pre: KineticFlow, target: _Target, n: int, st: TransferSettings
) -> list[tuple[str, Any, CaseResult]]:
    """The flow re-estimated with the source as the prior, and with a flat prior (scratch).

    Both are deterministic functions of the ``n`` sets: repeats differ only when the
    target sets do (they are nested and fixed here), so they repeat the same numbers."""
    from rekindle.flow.transfer import scratch_flow, transfer_flow

    km, rel = target.km[:n], target.relevant[:n]
    weights = {"prior_sets": st.prior_sets, "copula_prior_sets": st.copula_prior_sets}
    adapted = transfer_flow(pre, km, rel, target.reference, target.metadata, **weights)
    flows = [("transfer", adapted)]
    if st.scratch:
        meta = {**pre.metadata, **target.metadata}
        meta.pop("training_data", None)
        flow = scratch_flow(
            km, rel, target.reference, pre.feature_names, meta, config=pre.config, **weights
        )
        flows.append(("scratch", flow))
    return [(mode, flow, _evaluate(flow, target, st, n_train=n)) for mode, flow in flows]


def _cgan_cases(
    pre: KineticGAN, target: _Target, n: int, repeat: int, st: TransferSettings
) -> list[tuple[str, Any, CaseResult]]:
    """Fine-tune a copy of ``pre`` on the first ``n`` target sets, and (if asked) train
    the same architecture from scratch on them."""
    from rekindle.gan import KineticGAN, TrainingConfig, transfer_config

    km, rel = target.km[:n], target.relevant[:n]
    gan = copy.deepcopy(pre)
    cfg = transfer_config(
        n,
        epochs=st.epochs_transfer,
        eval_every=st.eval_every,
        n_eval=st.n_eval,
        seed=st.seed + 100 * repeat,
        num_threads=1,
    )
    res = gan.fine_tune(
        km, rel, target.monitor, cfg, freeze=tuple(st.freeze), metadata=target.metadata
    )
    cases = [("transfer", gan, res)]
    if st.scratch:
        scratch = KineticGAN(
            km,
            rel,
            pre.feature_names,
            {**pre.metadata, **target.metadata},
            architecture=pre.architecture,
            scaler=copy.deepcopy(pre.scaler),
        )
        scfg = TrainingConfig.from_dict(
            {**cfg.to_dict(), "epochs": st.epochs_scratch, "learning_rate": 2e-4}
        )
        cases.append(("scratch", scratch, scratch.train(target.monitor, scfg)))
    return [
        (
            mode,
            g,
            CaseResult(r.best_incidence, r.best_epoch, r.best_spread_ratio, bool(r.failed)),
        )
        for mode, g, r in cases
    ]


def _validate_generators(
    system: KineticSystem,
    generators: dict[str, tuple[KineticGAN, Physiology]],
    st: TransferSettings,
    out: Path,
) -> dict[str, Any]:
    """Fig. 4c: returned fraction and spread of max Re(λ) of transferred vs scratch models."""
    from rekindle.analysis.perturbation import PerturbationSettings, perturbation_analysis
    from rekindle.generation import generate_labelled
    from rekindle.integrate import Status
    from rekindle.kinetics.labelling import Labeller
    from rekindle.plots.transfer import plot_transfer_validation

    returned: dict[str, np.ndarray] = {}
    max_eig: dict[str, np.ndarray] = {}
    numbers: dict[str, Any] = {}
    settings = PerturbationSettings(
        protocol="fold", n_perturbations=st.n_validation_perturbations, seed=st.seed
    )
    for label, (gan, phys) in generators.items():
        params, lam, rel = generate_labelled(
            gan,
            Labeller.of_interval(system, phys, gan.relevance_interval),
            10 * st.n_validation_models,
            "relevant",
            st.seed + 1,
            check=False,
        )
        max_eig[label] = lam[np.isfinite(lam)]
        relevant = params[rel][: st.n_validation_models]
        res = perturbation_analysis(system, phys, relevant, settings)
        returned[label] = res.returned[res.status != Status.NO_INITIAL_STATE]
        numbers[label] = {
            "fraction_returned": res.fraction_returned,
            "n_models": int(relevant.shape[0]),
            "max_eig_median": float(np.median(max_eig[label])),
            "max_eig_iqr": [float(np.quantile(max_eig[label], q)) for q in (0.25, 0.75)],
        }
    plot_transfer_validation(returned, max_eig, out / "fig4c_transfer_validation.png")
    write_json(out / "transfer_validation.json", numbers)
    return numbers


def _row(
    source: str,
    target: str,
    kind: str,
    n: int,
    mode: str,
    repeat: int,
    result: CaseResult,
    data_incidence: float,
    fidelity: tuple[float, float],
) -> dict[str, Any]:
    return {
        "source": source,
        "target": target,
        "generator": kind,
        "n_sets": int(n),
        "mode": mode,
        "repeat": int(repeat),
        "incidence": float(result.incidence),
        "best_epoch": int(result.best_epoch),
        "incidence_training_data": data_incidence,
        # width of the kept generator against the n target sets, and the failure rule
        "spread_ratio": float("nan") if mode == "pretrained" else float(result.spread_ratio),
        "failed": bool(result.failed),
        # width and C2ST against independent relevant ORACLE sets of the target
        "spread_ratio_reference": float(fidelity[0]),
        "c2st_reference": float(fidelity[1]),
    }
