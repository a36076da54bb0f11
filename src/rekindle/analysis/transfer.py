"""Transfer learning between physiologies (REKINDLE Fig. 4).

A generator trained on a source physiology is fine-tuned against a freshly initialised
discriminator on ``n`` ORACLE sets of a target physiology (paper: 300 epochs, lr 1e-3
for n ≥ 500, batch sizes 2–50) and compared with training from scratch on the same
``n`` sets (paper: 1000 epochs). Incidence is measured by the engine at the *target*
physiology; the incidence of the pretrained generator before fine-tuning is recorded
too, as the baseline that fine-tuning has to beat.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rekindle.config import Settings, check, check_positive_int
from rekindle.io.atomic import write_csv, write_json
from rekindle.progress import LogFunction, no_log
from rekindle.reference_values import TRANSFER_INCIDENCE_10_SETS

if TYPE_CHECKING:
    from rekindle.gan import KineticGAN, TrainingResult
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
        Generator layers kept fixed during fine-tuning (e.g. ``("hidden.0",)``).
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

    def validate(self) -> None:
        check(len(self.targets) > 0, "targets must name at least one physiology")
        check(len(self.n_sets) > 0, "n_sets must hold at least one set count")
        for n in self.n_sets:
            check(isinstance(n, int) and n > 0, f"n_sets must be positive ints, got {n!r}")
        check_positive_int(self, "repeats", "epochs_transfer", "epochs_scratch", "eval_every")
        check_positive_int(self, "n_eval", "n_validation_perturbations")
        check_positive_int(self, "seed", "n_validation_models", minimum=0)


@dataclass
class _Target:
    """One target physiology: its labeller and its nested ORACLE training sets."""

    name: str
    physiology: Physiology
    monitor: Labeller
    km: np.ndarray
    relevant: np.ndarray
    metadata: dict[str, Any]  # the model at this physiology, as generators record it


def run_transfer_experiment(
    generator_path: str | Path,
    output: str | Path,
    settings: TransferSettings | None = None,
    *,
    log: LogFunction = no_log,
) -> list[dict[str, Any]]:
    """Fine-tune a trained generator on other physiologies, and train from scratch.

    Parameters
    ----------
    generator_path
        ``generator.pt`` trained on the source physiology.
    output
        Folder for ``transfer.csv``, ``transfer.json`` and the figure.

    Returns
    -------
    list of dict
        One row per (target, n_sets, mode, repeat): ``source``, ``target``,
        ``n_sets``, ``mode`` (``transfer`` | ``scratch`` | ``pretrained``),
        ``repeat``, ``incidence`` (best during training), ``best_epoch``,
        ``incidence_training_data`` (fraction relevant among the n sets),
        ``spread_ratio`` (of the kept generator, against the relevant target sets)
        and ``failed`` (the discriminator-accuracy failure rule).
    """
    from rekindle.gan import KineticGAN
    from rekindle.io.model_bundle import generator_bundle, resolve_physiology
    from rekindle.kinetics import KineticSystem
    from rekindle.plots.transfer import plot_transfer_incidence

    st = settings or TransferSettings()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    pre = KineticGAN.load(generator_path)
    bundle = generator_bundle(pre)  # the model the generator carries
    system = KineticSystem(bundle.model)
    source = bundle.physiology.name
    # physiology files of the model (or embedded names), all checked before any training
    physiologies = [resolve_physiology(bundle.model, t) for t in st.targets]
    rows: list[dict[str, Any]] = []
    validation: dict[str, tuple[KineticGAN, Physiology]] = {}
    for phys in physiologies:
        target = _prepare_target(system, pre, bundle.with_physiology(phys), st)
        name = target.name
        base = _incidence(pre, target.monitor, st.n_eval, st.seed)
        rows.append(_row(source, name, 0, "pretrained", 0, base, 0, float("nan")))
        log(f"{source}→{name}: pretrained generator incidence {base:.3f}")
        for n in st.n_sets:
            if target.relevant[:n].all() or not target.relevant[:n].any():
                log(f"  n={n}: all sets have one label; the conditional GAN still trains on it")
            for r in range(st.repeats):
                for mode, gan, res in _train_case(pre, target, n, r, st):
                    data_incidence = float(target.relevant[:n].mean())
                    rows.append(
                        _row(
                            source,
                            name,
                            n,
                            mode,
                            r,
                            res.best_incidence,
                            res.best_epoch,
                            data_incidence,
                            res,
                        )
                    )
                    log(f"  n={n} {mode} repeat {r}: incidence {res.best_incidence:.3f}")
                    if n == min(st.n_sets) and r == 0:
                        validation[f"{name} {mode}"] = (gan, target.physiology)
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
            "rows": rows,
            "paper_incidence_10_sets": PAPER_TRANSFER_INCIDENCE_10_SETS,
        },
    )
    plot_transfer_incidence(
        [r for r in rows if r["mode"] != "pretrained"], out / "fig4b_transfer_incidence.png"
    )
    return rows


def _prepare_target(
    system: KineticSystem, pre: KineticGAN, target: ModelBundle, st: TransferSettings
) -> _Target:
    """The target's labeller and the first ``max(n_sets)`` sets of one ORACLE sample
    (nested training sets, as more data arrive)."""
    from rekindle.kinetics.labelling import Labeller
    from rekindle.sampling import sample_parameters

    phys = target.physiology
    monitor = Labeller(system, phys, pre.threshold, n_jobs=1)
    params, _, relevant = sample_parameters(system.model, phys, max(st.n_sets), seed=st.seed + 7)
    return _Target(phys.name, phys, monitor, system.km_of(params), relevant, target.metadata())


def _incidence(gan: KineticGAN, labeller: Labeller, n: int, seed: int) -> float:
    """Engine-labelled incidence of ``n`` relevant-class models of ``gan``."""
    from rekindle.generation import generate_labelled

    return float(np.mean(generate_labelled(gan, labeller, n, "relevant", seed)[2]))


def _train_case(
    pre: KineticGAN, target: _Target, n: int, repeat: int, st: TransferSettings
) -> list[tuple[str, KineticGAN, TrainingResult]]:
    """Fine-tune a copy of ``pre`` on the first ``n`` target sets, and (if asked) train
    the same architecture from scratch on them: ``[(mode, generator, result)]``."""
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
    return cases


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
            Labeller(system, phys, gan.threshold),
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
    source, target, n, mode, repeat, incidence, epoch, data_incidence, result=None
) -> dict[str, Any]:
    return {
        "source": source,
        "target": target,
        "n_sets": int(n),
        "mode": mode,
        "repeat": int(repeat),
        "incidence": float(incidence),
        "best_epoch": int(epoch),
        "incidence_training_data": data_incidence,
        # width of the kept generator against the n target sets, and the failure rule
        "spread_ratio": float("nan") if result is None else result.best_spread_ratio,
        "failed": False if result is None else bool(result.failed),
    }
