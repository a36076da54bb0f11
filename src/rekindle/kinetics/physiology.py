"""Physiologies: thermodynamically consistent reference steady states of a model.

A :class:`Physiology` holds the reference concentrations (µM), net fluxes (µM h⁻¹) and
actual Gibbs free energies of reaction (kcal mol⁻¹) of one physiological condition.
:func:`check_physiology` verifies it against a model (every metabolite present and
positive, S·v ≈ 0, flux direction consistent with ΔG) and fails loudly naming the
offending metabolite or reaction.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np

from rekindle.errors import PhysiologyError
from rekindle.kinetics.model import KineticModel

# R in kcal mol⁻¹ K⁻¹ and the reference temperature of the published data: with these
# values the published equilibrium constants are reproduced to < 1e-12 (with
# R = 8.314472/4184 they are 1.3 % off; see ecoli-model-facts.md).
GAS_CONSTANT_KCAL = 1.9858775e-3
TEMPERATURE_K = 298.15


@dataclass(frozen=True)
class Physiology:
    """A reference steady state.

    Attributes
    ----------
    name
        e.g. ``"fdp1"``.
    concentrations
        ``{metabolite id: concentration in µM}`` for every metabolite of the model
        (boundary ones included).
    fluxes
        ``{reaction id: net flux in µM h⁻¹}`` for every reaction.
    gibbs_energies
        ``{reaction id: actual ΔG in kcal mol⁻¹}`` for every reversible reaction.
    temperature
        Kelvin.
    description
        Free text (source, conditions).
    """

    name: str
    concentrations: Mapping[str, float]
    fluxes: Mapping[str, float]
    gibbs_energies: Mapping[str, float] = field(default_factory=dict)
    temperature: float = TEMPERATURE_K
    description: str = ""

    @property
    def rt(self) -> float:
        """RT in kcal mol⁻¹."""
        return GAS_CONSTANT_KCAL * self.temperature

    def concentration_vector(self, ids: list[str]) -> np.ndarray:
        """Concentrations (µM) of ``ids`` as an array; ``KeyError`` naming a missing id."""
        missing = [i for i in ids if i not in self.concentrations]
        if missing:
            raise PhysiologyError(
                f"physiology {self.name!r} has no concentration for metabolite(s) "
                f"{', '.join(missing)}"
            )
        return np.array([float(self.concentrations[i]) for i in ids])

    def flux_vector(self, ids: list[str]) -> np.ndarray:
        """Net fluxes (µM h⁻¹) of reactions ``ids`` as an array."""
        missing = [i for i in ids if i not in self.fluxes]
        if missing:
            raise PhysiologyError(
                f"physiology {self.name!r} has no flux for reaction(s) {', '.join(missing)}"
            )
        return np.array([float(self.fluxes[i]) for i in ids])

    def equilibrium_constants(self, model: KineticModel) -> np.ndarray:
        """Equilibrium constants of the model's reactions (NaN for irreversible ones).

        ``Keq = exp(−ΔG°'/RT)`` with ``ΔG°' = ΔG − RT Σ_i n_i ln c_i`` summed over the
        reaction's metabolites in the model, modifiers (protons) included, ``c`` in µM.
        Concentrations therefore enter Keq in µM, the engine's unit.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_reactions,)``, dimensionless (in µM units).
        """
        out = np.full(len(model.reactions), np.nan)
        for j, r in enumerate(model.reactions):
            if not r.reversible:
                continue
            if r.id not in self.gibbs_energies:
                raise PhysiologyError(
                    f"physiology {self.name!r} has no ΔG for reversible reaction {r.id!r}"
                )
            q = sum(n * np.log(float(self.concentrations[m])) for m, n in r.stoichiometry().items())
            dg0 = float(self.gibbs_energies[r.id]) - self.rt * q
            out[j] = np.exp(-dg0 / self.rt)
        return out


def check_physiology(
    model: KineticModel,
    physiology: Physiology,
    *,
    balance_tolerance: float = 1e-6,
) -> None:
    """Check a physiology against a model; raise :class:`PhysiologyError` naming the culprit.

    Checks: every metabolite has a finite positive concentration; every reaction a
    finite flux; every reversible reaction a finite ΔG whose sign opposes the flux
    (``v ΔG ≤ 0``; the second law); and mass balance ``|S v| ≤ tol · Σ|S_ij v_j|`` for
    each state.

    Parameters
    ----------
    balance_tolerance
        Relative tolerance of the mass balance of each metabolite.
    """
    for met in model.metabolite_ids:
        if met not in physiology.concentrations:
            raise PhysiologyError(
                f"physiology {physiology.name!r}: metabolite {met!r} has no concentration"
            )
        c = float(physiology.concentrations[met])
        if not np.isfinite(c) or c <= 0:
            raise PhysiologyError(
                f"physiology {physiology.name!r}: concentration of {met!r} must be finite "
                f"and positive, got {c!r} µM"
            )
    fluxes = physiology.flux_vector(model.reaction_ids)
    for rid, v in zip(model.reaction_ids, fluxes, strict=True):
        if not np.isfinite(v):
            raise PhysiologyError(f"physiology {physiology.name!r}: flux of {rid!r} is {v!r}")
    for r, v in zip(model.reactions, fluxes, strict=True):
        if not r.reversible:
            if v < 0:
                raise PhysiologyError(
                    f"physiology {physiology.name!r}: irreversible reaction {r.id!r} "
                    f"carries a negative flux {v:g} µM/h"
                )
            continue
        if r.id not in physiology.gibbs_energies:
            raise PhysiologyError(
                f"physiology {physiology.name!r}: reversible reaction {r.id!r} has no ΔG"
            )
        dg = float(physiology.gibbs_energies[r.id])
        if not np.isfinite(dg):
            raise PhysiologyError(f"physiology {physiology.name!r}: ΔG of {r.id!r} is {dg!r}")
        if v * dg > 0:
            raise PhysiologyError(
                f"physiology {physiology.name!r}: flux of {r.id!r} ({v:g} µM/h) runs "
                f"against its ΔG ({dg:g} kcal/mol): thermodynamically infeasible"
            )
    s = model.stoichiometric_matrix
    imbalance = s @ fluxes
    scale = np.abs(s) @ np.abs(fluxes)
    for i, met in enumerate(model.state_ids):
        if abs(imbalance[i]) > balance_tolerance * max(scale[i], 1e-300):
            raise PhysiologyError(
                f"physiology {physiology.name!r}: metabolite {met!r} is not at steady "
                f"state: (S·v) = {imbalance[i]:.6g} µM/h against a turnover of {scale[i]:.6g}"
            )
