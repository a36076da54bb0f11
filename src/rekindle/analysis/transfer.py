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
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rekindle.io.atomic import atomic_write_text
from rekindle.reference_values import TRANSFER_INCIDENCE_10_SETS

PAPER_TRANSFER_INCIDENCE_10_SETS = TRANSFER_INCIDENCE_10_SETS
"""Incidence of relevant models after transfer from fdp1 with 10 sets (paper, Results)."""


@dataclass(frozen=True)
class TransferSettings:
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


def run_transfer_experiment(
    generator_path: str | Path,
    output: str | Path,
    settings: TransferSettings | None = None,
    *,
    log: Callable[[str], None] = lambda _m: None,
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
    from rekindle.data import load_model, load_physiology
    from rekindle.gan import KineticGAN, TrainingConfig, transfer_config
    from rekindle.kinetics import KineticSystem
    from rekindle.kinetics.labelling import Labeller
    from rekindle.plots.transfer import plot_transfer_incidence
    from rekindle.sampling import sample_parameters

    st = settings or TransferSettings()
    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    pre = KineticGAN.load(generator_path)
    model = load_model(str(pre.metadata["model"]))
    source = str(pre.metadata["physiology"])
    system = KineticSystem(model)
    rows: list[dict[str, Any]] = []
    validation: dict[str, Any] = {}
    n_max = max(st.n_sets)
    for target in st.targets:
        phys = load_physiology(model.name, target)
        monitor = Labeller(system, phys, pre.threshold, n_jobs=1)
        # the first n of one ORACLE sample: nested training sets, as more data arrive
        params, _, rel_all = sample_parameters(model, phys, n_max, seed=st.seed + 7)
        km_all = system.km_of(params)
        base = float(
            np.mean(monitor(pre.generate(st.n_eval, "relevant", seed=st.seed)) < pre.threshold)
        )
        rows.append(_row(source, target, 0, "pretrained", 0, base, 0, float("nan")))
        log(f"{source}→{target}: pretrained generator incidence {base:.3f}")
        for n in st.n_sets:
            km, rel = km_all[:n], rel_all[:n]
            if rel.all() or not rel.any():
                log(f"  n={n}: all sets have one label; the conditional GAN still trains on it")
            for r in range(st.repeats):
                seed = st.seed + 100 * r
                gan = copy.deepcopy(pre)
                cfg = transfer_config(
                    n,
                    epochs=st.epochs_transfer,
                    eval_every=st.eval_every,
                    n_eval=st.n_eval,
                    seed=seed,
                    num_threads=1,
                )
                res = gan.fine_tune(
                    km,
                    rel,
                    monitor,
                    cfg,
                    freeze=tuple(st.freeze),
                    metadata={"physiology": target},
                )
                rows.append(
                    _row(
                        source,
                        target,
                        n,
                        "transfer",
                        r,
                        res.best_incidence,
                        res.best_epoch,
                        float(rel.mean()),
                        res,
                    )
                )
                log(f"  n={n} transfer repeat {r}: incidence {res.best_incidence:.3f}")
                if n == min(st.n_sets) and r == 0:
                    validation[f"{target} transfer"] = (gan, phys)
                if st.scratch:
                    sgan = KineticGAN(
                        km,
                        rel,
                        model.km_names,
                        {**pre.metadata, "physiology": target},
                        architecture=pre.architecture,
                        scaler=copy.deepcopy(pre.scaler),
                    )
                    scfg = TrainingConfig.from_dict(
                        {
                            **cfg.to_dict(),
                            "epochs": st.epochs_scratch,
                            "learning_rate": 2e-4,
                        }
                    )
                    sres = sgan.train(monitor, scfg)
                    rows.append(
                        _row(
                            source,
                            target,
                            n,
                            "scratch",
                            r,
                            sres.best_incidence,
                            sres.best_epoch,
                            float(rel.mean()),
                            sres,
                        )
                    )
                    log(f"  n={n} scratch repeat {r}: incidence {sres.best_incidence:.3f}")
                    if n == min(st.n_sets) and r == 0:
                        validation[f"{target} scratch"] = (sgan, phys)
    if validation and st.n_validation_models > 0:
        rows_v = _validate_generators(system, validation, st, out)
        log("Fig. 4c: " + ", ".join(f"{k} {v['fraction_returned']:.3f}" for k, v in rows_v.items()))
    header = list(rows[0])
    csv = ",".join(header) + "\n" + "\n".join(",".join(str(row[h]) for h in header) for row in rows)
    atomic_write_text(out / "transfer.csv", csv + "\n")
    atomic_write_text(
        out / "transfer.json",
        json.dumps(
            {
                "settings": _settings_dict(st),
                "source": source,
                "rows": rows,
                "paper_incidence_10_sets": PAPER_TRANSFER_INCIDENCE_10_SETS,
            },
            indent=2,
        ),
    )
    plot_transfer_incidence(
        [r for r in rows if r["mode"] != "pretrained"], out / "fig4b_transfer_incidence.png"
    )
    return rows


def _validate_generators(system, generators, st: TransferSettings, out: Path) -> dict[str, Any]:
    """Fig. 4c: returned fraction and spread of max Re(λ) of transferred vs scratch models."""
    from rekindle.analysis.perturbation import PerturbationSettings, perturbation_analysis
    from rekindle.integrate import Status
    from rekindle.kinetics.labelling import Labeller
    from rekindle.plots.transfer import plot_transfer_validation

    returned: dict[str, np.ndarray] = {}
    max_eig: dict[str, np.ndarray] = {}
    numbers: dict[str, Any] = {}
    for label, (gan, phys) in generators.items():
        lab = Labeller(system, phys, gan.threshold)
        km = gan.generate(10 * st.n_validation_models, "relevant", seed=st.seed + 1)
        params, lam, rel = lab.label_km(km, check=False)
        max_eig[label] = lam[np.isfinite(lam)]
        relevant = params[rel][: st.n_validation_models]
        settings = PerturbationSettings(
            protocol="fold", n_perturbations=st.n_validation_perturbations, seed=st.seed
        )
        res = perturbation_analysis(system, phys, relevant, settings)
        returned[label] = res.returned[res.status == Status.SUCCESS]
        numbers[label] = {
            "fraction_returned": res.fraction_returned,
            "n_models": int(relevant.shape[0]),
            "max_eig_median": float(np.median(max_eig[label])),
            "max_eig_iqr": [float(np.quantile(max_eig[label], q)) for q in (0.25, 0.75)],
        }
    plot_transfer_validation(returned, max_eig, out / "fig4c_transfer_validation.png")
    atomic_write_text(out / "transfer_validation.json", json.dumps(numbers, indent=2))
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


def _settings_dict(st: TransferSettings) -> dict[str, Any]:
    return {k: list(v) if isinstance(v, tuple | list) else v for k, v in st.__dict__.items()}
