"""Stage: KL ranking of the K_M and deciles of the top one (Fig. 3)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from rekindle.config import Settings, check_positive_int
from rekindle.io.atomic import write_csv
from rekindle.progress import LogFunction, no_log

if TYPE_CHECKING:
    from rekindle.analysis.interpretability import Generator
    from rekindle.classes import ClassSpec
    from rekindle.kinetics.labelling import Labeller


@dataclass(frozen=True)
class InterpretabilitySummary:
    """KL ranking of the K_M (Fig. 3a) and deciles of the top one (Fig. 3b).

    Attributes
    ----------
    top_parameters
        The 10 K_M that separate relevant from non-relevant models most
        (``{"name", "kl"}`` records); empty when too few non-relevant models came out.
    interpretability_n_generated
        Models generated to collect both classes.
    interpretability_complete
        Whether both classes reached their quota.
    deciles_top_parameter
        ``parameter``, ``spearman_rho_bin_vs_mean_eig`` and the per-decile ``rows``.
    """

    top_parameters: list[dict[str, Any]]
    interpretability_n_generated: int | None = None
    interpretability_complete: bool = False
    deciles_top_parameter: dict[str, Any] | None = None

    def summary(self) -> dict[str, Any]:
        """The fields that were measured (the ranking's, when it ran)."""
        return {k: v for k, v in asdict(self).items() if v is not None}


@dataclass(frozen=True)
class InterpretabilitySettings(Settings):
    """How :func:`analyse_interpretability` collects its populations.

    Attributes
    ----------
    n_per_class
        Generated relevant and non-relevant models ranked by KL (paper: 2000).
    n_subpopulation
        Relevant-class models split into deciles of the top parameter (paper: 50 000).
    seed
        Generation seeds: ``seed + 20 000`` (classes), ``seed + 30 000`` (deciles).
    """

    n_per_class: int = 2000
    n_subpopulation: int = 50_000
    seed: int = 0

    def validate(self) -> None:
        check_positive_int(self, "n_per_class", "n_subpopulation")
        check_positive_int(self, "seed", minimum=0)


def analyse_interpretability(
    gan: Generator,
    labeller: Labeller,
    out: str | Path,
    settings: InterpretabilitySettings | None = None,
    *,
    log: LogFunction = no_log,
    spec: ClassSpec | None = None,
) -> InterpretabilitySummary:
    """Per-parameter KL ranking (Fig. 3a) and deciles of the top parameter (Fig. 3b).

    Relevant and non-relevant populations are collected as in the paper: generate with
    the *relevant* label and sort by the engine's label (``labeller``, at the
    generator's physiology) until each has ``settings.n_per_class`` models. ``gan`` is
    any :class:`~rekindle.analysis.interpretability.Generator`: the cGAN or the flow.

    With ``spec`` (an eigenvalue class, :class:`~rekindle.classes.ClassSpec`), the pair is
    its members and non-members (engine-labelled) instead of max Re(λ) below the
    generator's threshold, and the deciles are those of its members. Without it, a
    generator that learnt a band or lower bound (its recorded class) is split by that
    class.
    """
    st = settings or InterpretabilitySettings()
    n_per_class, n_subpopulation, seed = st.n_per_class, st.n_subpopulation, st.seed
    from rekindle.analysis.interpretability import interpret_generator
    from rekindle.analysis.subpopulations import quantile_bin_stats
    from rekindle.plots.interpretability import plot_decile_eigenvalues, plot_top_parameters

    out = Path(out)
    km_names = labeller.system.model.km_names
    threshold = gan.threshold
    if spec is None:  # a band or lower bound the generator learnt: its members, not < threshold
        from rekindle.classes.store import read_class

        recorded = read_class(gan.metadata, "generator")
        if recorded is not None and recorded.returns is None:
            if recorded.eig_interval[0] != -np.inf:
                spec = recorded

    def max_real_eigenvalue(km: np.ndarray) -> np.ndarray:
        return labeller.label_km(km, check=False)[1]

    def member(lam: np.ndarray) -> np.ndarray:
        if spec is None:
            return np.isfinite(lam) & (lam < threshold)
        return spec.eig_member(lam)

    if list(gan.feature_names) != list(km_names):
        raise ValueError("the generator's K_M are not those of the labeller's model")
    if spec is None:
        pops, ranking = interpret_generator(
            gan, max_real_eigenvalue, n_per_class, seed=seed + 20_000
        )
    else:  # members ⇔ violation < 0 (+∞ for NaN: in neither population, as before)
        assert spec.returns is None, "interpretability takes eigenvalue classes"
        pops, ranking = interpret_generator(
            gan,
            lambda km: spec.violation(max_real_eigenvalue(km)),
            n_per_class,
            seed=seed + 20_000,
            threshold=0.0,
        )
    if ranking is None:
        log("interpretability: the generator produced too few models of one class")
        return InterpretabilitySummary(top_parameters=[])
    kl_by_name = dict(zip(ranking.names, ranking.kl, strict=True))
    plot_top_parameters(
        pops.relevant,
        pops.not_relevant,
        km_names,
        np.array([kl_by_name[n] for n in km_names]),
        out / "fig3a_top_parameters.png",
    )
    rows = [(n, float(v)) for n, v in zip(ranking.names, ranking.kl, strict=True)]
    write_csv(out / "parameter_kl_ranking.csv", rows, header=("parameter", "kl_divergence"))
    # Fig. 3b: relevant generated models split into deciles of the top parameter
    top = ranking.names[0]
    col = km_names.index(top)
    km_sub = gan.generate(n_subpopulation, "relevant", seed=seed + 30_000)
    lam_sub = max_real_eigenvalue(km_sub)
    keep = member(lam_sub)
    stats = quantile_bin_stats(km_sub[keep, col], lam_sub[keep])
    plot_decile_eigenvalues(
        km_sub[keep, col],
        lam_sub[keep],
        out / "fig3b_deciles.png",
        parameter_label=top,
        parameter_unit="µM",
    )
    log(f"interpretability: top parameter {top}")
    return InterpretabilitySummary(
        top_parameters=ranking.top(10),
        interpretability_complete=pops.complete,
        interpretability_n_generated=pops.n_generated,
        deciles_top_parameter={
            "parameter": top,
            "spearman_rho_bin_vs_mean_eig": stats.spearman_rho,
            "rows": stats.as_rows(),
        },
    )
