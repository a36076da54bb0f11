"""Stages: generated models checked against ORACLE (validation set, spread, fidelity)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rekindle.analysis.fidelity import FidelityReport
    from rekindle.gan import KineticGAN
    from rekindle.io.dataset import ParameterDataset
    from rekindle.kinetics.labelling import Labeller


def generate_validation(
    gan: KineticGAN,
    labeller: Labeller,
    path: str | Path,
    n: int,
    *,
    seed: int,
    generator_file: str = "generator.pt",
) -> ParameterDataset:
    """``n`` relevant-class models of ``gan``, engine-labelled, into ``path`` (kept if done)."""
    from rekindle.generation import generate_labelled
    from rekindle.io.dataset import ParameterDataset, read_dataset, write_dataset

    path = Path(path)
    if not path.exists():
        params, lam, rel = generate_labelled(gan, labeller, n, "relevant", seed)
        meta = {
            **gan.metadata,
            "source": "generated",
            "class": "relevant",
            "seed": seed,
            "generator": generator_file,
        }
        names = labeller.system.model.parameter_names
        write_dataset(path, ParameterDataset(params, names, lam, rel, meta))
    return read_dataset(path)


@dataclass(frozen=True)
class SpreadSummary:
    """How much of a reference's spread in ln K_M a population keeps (collapse check).

    Attributes
    ----------
    spread_ratio_median
        Median over the K_M of std(ln K_M population) / std(ln K_M reference).
    spread_ratio_quartiles
        Its 25 % and 75 % quantiles.
    """

    spread_ratio_median: float
    spread_ratio_quartiles: list[float]


def measure_spread(km: np.ndarray, km_reference: np.ndarray) -> SpreadSummary:
    """Spread of K_M sets ``(n, n_km)`` against reference sets ``(m, n_km)`` (µM)."""
    from rekindle.gan.monitoring import spread_ratios

    ratio = spread_ratios(km, np.std(np.log(km_reference), axis=0))
    return SpreadSummary(
        spread_ratio_median=float(np.nanmedian(ratio)),
        spread_ratio_quartiles=[
            float(np.nanquantile(ratio, 0.25)),
            float(np.nanquantile(ratio, 0.75)),
        ],
    )


def measure_fidelity(
    generated: ParameterDataset,
    reference_km: np.ndarray,
    reference_max_eig: np.ndarray,
    labeller: Labeller,
    out: str | Path,
    *,
    seed: int,
    n_heldout: int = 10_000,
) -> FidelityReport:
    """Fidelity of generated relevant-class models → ``fig_fidelity.png``.

    ``n_heldout`` fresh ORACLE sets (seed ``seed``) give the held-out relevant models of the
    C2ST; ``reference_km`` (shape ``(m, n_km)``, µM) and ``reference_max_eig`` (shape
    ``(m,)``, 1/h), those of the relevant training sets, are the width, KL and KS
    reference (only they are passed, never the training data's whole parameter matrix).
    """
    from rekindle.analysis.fidelity import fidelity_report
    from rekindle.plots.fidelity import plot_fidelity_panel
    from rekindle.sampling import sample_parameters

    system, phys = labeller.system, labeller.physiology
    held, _, held_rel = sample_parameters(
        system.model, phys, n_heldout, seed=seed, threshold=labeller.threshold,
        lower=labeller.lower,
    )  # fmt: skip
    report = fidelity_report(
        system.km_of(generated.parameters),
        reference_km,
        system.km_of(held[held_rel]),
        generated_max_eig=generated.max_real_eigenvalue,
        reference_max_eig=reference_max_eig,
        seed=seed,
    )
    plot_fidelity_panel(
        {**report.to_dict(), "incidence": generated.incidence}, Path(out) / "fig_fidelity.png"
    )
    return report
