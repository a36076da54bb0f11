"""Kinetic model definition: compartments, metabolites, reactions, modifiers.

A :class:`KineticModel` is an immutable, validated description of the network. The
numerical engine (:class:`rekindle.kinetics.KineticSystem`) compiles it into index
arrays; files are read and written by :mod:`rekindle.io`.

Units: concentrations in µM, time in hours, volumes relative (all 1 in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from rekindle.errors import ModelError
from rekindle.kinetics.mechanisms import MECHANISMS, MODIFIER_KINDS, Mechanism, label_names


@dataclass(frozen=True)
class Compartment:
    """A compartment with its (relative) volume."""

    id: str
    volume: float = 1.0


@dataclass(frozen=True)
class Metabolite:
    """A metabolite.

    Attributes
    ----------
    id
        Unique identifier (BiGG-style, e.g. ``g6p_c``).
    compartment
        Compartment id.
    boundary
        ``True`` for a metabolite held at constant concentration (no ODE; its
        concentration is a model parameter).
    """

    id: str
    compartment: str
    boundary: bool = False


@dataclass(frozen=True)
class Modifier:
    """A small-molecule modifier of a reaction.

    Attributes
    ----------
    metabolite
        Metabolite id.
    kind
        ``"displacement"`` or ``"first_order"`` (see :data:`MODIFIER_KINDS`).
    stoichiometry
        Exponent and stoichiometric coefficient; non-zero values also enter the
        stoichiometric matrix (e.g. protons moved by a transporter).
    """

    metabolite: str
    kind: str
    stoichiometry: float


@dataclass(frozen=True)
class Reaction:
    """A reaction with its mechanism.

    Attributes
    ----------
    id
        Unique identifier.
    mechanism
        Mechanism name, a key of :data:`rekindle.kinetics.mechanisms.MECHANISMS`.
    substrates, products
        Ordered ``(metabolite id, coefficient > 0)`` pairs; the order is the label
        order of the mechanism (substrate *k* pairs with product *k*).
    modifiers
        Small-molecule modifiers.
    """

    id: str
    mechanism: str
    substrates: tuple[tuple[str, float], ...]
    products: tuple[tuple[str, float], ...]
    modifiers: tuple[Modifier, ...] = ()

    @property
    def mechanism_spec(self) -> Mechanism:
        """The :class:`Mechanism` of this reaction."""
        return MECHANISMS[self.mechanism]

    @property
    def reversible(self) -> bool:
        """Whether the reaction has a backward rate (and an equilibrium constant)."""
        return self.mechanism_spec.reversible

    def stoichiometry(self) -> dict[str, float]:
        """Net stoichiometry, modifiers included (``{metabolite: coefficient}``)."""
        out: dict[str, float] = {}
        for met, n in self.substrates:
            out[met] = out.get(met, 0.0) - n
        for met, n in self.products:
            out[met] = out.get(met, 0.0) + n
        for mod in self.modifiers:
            out[mod.metabolite] = out.get(mod.metabolite, 0.0) + mod.stoichiometry
        return {k: v for k, v in out.items() if v != 0.0}

    def km_labels(self) -> list[tuple[str, str]]:
        """``(label, metabolite id)`` of each K_M, in parameter order."""
        spec = self.mechanism_spec
        labels = label_names(spec, len(self.substrates), len(self.products))
        subs = iter(m for m, _ in self.substrates)
        prods = iter(m for m, _ in self.products)
        return [(lab, next(subs) if lab.startswith("substrate") else next(prods)) for lab in labels]


@dataclass(frozen=True)
class KineticModel:
    """An immutable, validated kinetic model.

    Parameters
    ----------
    name
        Model name.
    compartments, metabolites, reactions
        Model content; validated on construction (unknown metabolites, mechanisms or
        compartments, duplicate ids, wrong label counts raise :class:`ModelError`).
    description
        Free text.

    Notes
    -----
    Parameter layout (:attr:`parameter_names`): for each reaction in model order
    ``vmax_forward``, ``k_equilibrium`` (reversible), ``hill_coefficient`` (Hill
    mechanisms) and the K_M in label order, each followed by the boundary
    concentrations first seen in that reaction; then ``volume_<c>`` and
    ``cell_volume_<c>`` per compartment. This is SKiMpy's naming (``km_substrate1_PGK``),
    so populations convert both ways by name.
    """

    name: str
    compartments: tuple[Compartment, ...]
    metabolites: tuple[Metabolite, ...]
    reactions: tuple[Reaction, ...]
    description: str = ""

    def __post_init__(self) -> None:
        self._validate()

    # ------------------------------------------------------------------ validation
    def _validate(self) -> None:
        comp_ids = [c.id for c in self.compartments]
        _no_duplicates(comp_ids, "compartment")
        met_ids = [m.id for m in self.metabolites]
        _no_duplicates(met_ids, "metabolite")
        _no_duplicates([r.id for r in self.reactions], "reaction")
        known_comps = set(comp_ids)
        for m in self.metabolites:
            if m.compartment not in known_comps:
                raise ModelError(f"metabolite {m.id!r} is in unknown compartment {m.compartment!r}")
        known = set(met_ids)
        if not self.reactions:
            raise ModelError(f"model {self.name!r} has no reactions")
        for r in self.reactions:
            if r.mechanism not in MECHANISMS:
                raise ModelError(
                    f"reaction {r.id!r}: unknown mechanism {r.mechanism!r} "
                    f"(known: {', '.join(sorted(MECHANISMS))})"
                )
            spec = MECHANISMS[r.mechanism]
            for role, items, (lo, hi) in (
                ("substrates", r.substrates, spec.n_substrates),
                ("products", r.products, spec.n_products),
            ):
                if not lo <= len(items) <= hi:
                    raise ModelError(
                        f"reaction {r.id!r}: {r.mechanism} takes {lo}–{hi} {role}, got {len(items)}"
                    )
                for met, n in items:
                    if met not in known:
                        raise ModelError(f"reaction {r.id!r}: unknown metabolite {met!r}")
                    if not (np.isfinite(n) and n > 0):
                        raise ModelError(
                            f"reaction {r.id!r}: coefficient of {met!r} must be a positive "
                            f"number, got {n!r}"
                        )
                    if spec.stoichiometry_in_rate and float(n) != round(float(n)):
                        raise ModelError(
                            f"reaction {r.id!r}: {r.mechanism} needs integer coefficients, "
                            f"{met!r} has {n!r}"
                        )
            for mod in r.modifiers:
                if mod.metabolite not in known:
                    raise ModelError(
                        f"reaction {r.id!r}: unknown modifier metabolite {mod.metabolite!r}"
                    )
                if mod.kind not in MODIFIER_KINDS:
                    raise ModelError(
                        f"reaction {r.id!r}: unknown modifier kind {mod.kind!r} "
                        f"(known: {', '.join(MODIFIER_KINDS)})"
                    )
                if not np.isfinite(mod.stoichiometry):
                    raise ModelError(
                        f"reaction {r.id!r}: modifier {mod.metabolite!r} stoichiometry"
                    )
        if not any(not m.boundary for m in self.metabolites):
            raise ModelError(f"model {self.name!r} has no non-boundary metabolite")

    # ------------------------------------------------------------------ structure
    @cached_property
    def metabolite_ids(self) -> list[str]:
        """All metabolite ids, in model order."""
        return [m.id for m in self.metabolites]

    @cached_property
    def state_ids(self) -> list[str]:
        """Ids of the non-boundary metabolites (ODE states), in model order."""
        return [m.id for m in self.metabolites if not m.boundary]

    @cached_property
    def boundary_ids(self) -> list[str]:
        """Ids of the boundary (constant) metabolites, in model order."""
        return [m.id for m in self.metabolites if m.boundary]

    @cached_property
    def reaction_ids(self) -> list[str]:
        """Reaction ids, in model order."""
        return [r.id for r in self.reactions]

    def reaction(self, reaction_id: str) -> Reaction:
        """Return a reaction by id (``KeyError`` naming it if unknown)."""
        for r in self.reactions:
            if r.id == reaction_id:
                return r
        raise KeyError(f"unknown reaction {reaction_id!r} in model {self.name!r}")

    @cached_property
    def stoichiometric_matrix(self) -> np.ndarray:
        """Stoichiometric matrix ``S`` of the ODE states, shape ``(n_states, n_reactions)``.

        Mechanism reactants summed and modifier stoichiometries included; boundary
        metabolites are not rows.
        """
        row = {m: i for i, m in enumerate(self.state_ids)}
        s = np.zeros((len(self.state_ids), len(self.reactions)))
        for j, r in enumerate(self.reactions):
            for met, n in r.stoichiometry().items():
                if met in row:
                    s[row[met], j] += n
        return s

    # ------------------------------------------------------------------ parameters
    @cached_property
    def parameter_names(self) -> list[str]:
        """Names of all parameters, in the model's canonical order (see class notes)."""
        names: list[str] = []
        boundary = set(self.boundary_ids)
        seen: set[str] = set()
        for r in self.reactions:
            spec = r.mechanism_spec
            names.append(f"vmax_forward_{r.id}")
            if spec.reversible:
                names.append(f"k_equilibrium_{r.id}")
            if spec.has_hill:
                names.append(f"hill_coefficient_{r.id}")
            names.extend(f"km_{label}_{r.id}" for label, _ in r.km_labels())
            mets = [m for m, _ in r.substrates] + [m for m, _ in r.products]
            mets += [mod.metabolite for mod in r.modifiers]
            for met in mets:
                if met in boundary and met not in seen:
                    seen.add(met)
                    names.append(met)
        for met in self.boundary_ids:  # boundary metabolites used by no reaction
            if met not in seen:
                names.append(met)
        for c in self.compartments:
            names.extend([f"volume_{c.id}", f"cell_volume_{c.id}"])
        return names

    @cached_property
    def parameter_index(self) -> dict[str, int]:
        """``{parameter name: column}`` for :attr:`parameter_names`."""
        return {n: i for i, n in enumerate(self.parameter_names)}

    @cached_property
    def km_names(self) -> list[str]:
        """Names of the Michaelis constants (the GAN features), in parameter order."""
        return [n for n in self.parameter_names if n.startswith("km_")]

    @cached_property
    def km_metabolites(self) -> list[str]:
        """Metabolite of each K_M in :attr:`km_names`, same order."""
        out = []
        for r in self.reactions:
            out.extend(met for _, met in r.km_labels())
        return out

    @property
    def n_parameters(self) -> int:
        """Number of parameters."""
        return len(self.parameter_names)

    def summary(self) -> dict[str, int]:
        """Counts of reactions, metabolites, states, parameters and K_M."""
        return {
            "reactions": len(self.reactions),
            "metabolites": len(self.metabolites),
            "states": len(self.state_ids),
            "boundary_metabolites": len(self.boundary_ids),
            "parameters": self.n_parameters,
            "michaelis_constants": len(self.km_names),
        }


def _no_duplicates(ids: list[str], what: str) -> None:
    seen: set[str] = set()
    for i in ids:
        if i in seen:
            raise ModelError(f"duplicate {what} id {i!r}")
        seen.add(i)
