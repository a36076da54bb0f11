"""A kinetic model from a constraint-based one and a reference state (``rekindle build-model``).

The network is read from SBML (with the FBC package) by ``cobra``; the reference state
from a CSV file with one row per quantity, in rekindle's units::

    kind,id,value,unit
    concentration,g6p_c,100,uM          # every metabolite of the kinetic model
    flux,PGI,2041000,uM/h               # net flux of every reaction (zero: left out)
    gibbs_energy,PGI,-2.0,kcal/mol      # actual ΔG of every reversible reaction

How the kinetic model is made, following SKiMpy's conventions:

* **boundaries**: exchange, demand and sink reactions (cobra's ``boundary``) are not
  kinetic reactions; the metabolites they exchange become boundary species (constant
  concentrations, model parameters);
* **reactions without flux** at the reference state are left out (a reversible rate law
  at equilibrium has no defined V_max), and metabolites no kept reaction uses with them;
* **small molecules**: water (``h2o_*``) is dropped; protons (``h_*``) leave the rate law
  and act as displacement modifiers with their net stoichiometry, so they stay in the
  mass balance and in the equilibrium constant;
* **transports of water or protons only** (``Htex``, ``H2Otex`` …) have no rate law left
  once the small molecules are out and are left out; the protons such a transport moves
  with a flux at the reference state become boundary species (constant, as the pH is
  held), since without it their mass balance could not close;
* **what is left out** is listed with the reason in ``left_out.csv`` beside the model
  (:meth:`BuiltModel.write`) and counted by reason on the command line;
* **mechanisms** (unless ``mechanisms`` names one): reversible rate laws whose direction
  and equilibrium follow the reference state's ΔG, as SKiMpy assigns them to a
  thermodynamically curated network: ``ReversibleMichaelisMenten`` for one substrate and
  one product, ``H1GeneralizedReversibleHill`` otherwise, a reactant of integer
  stoichiometry *n* taking *n* substrate (product) places; a reaction with a fractional
  coefficient (a biomass reaction, ``0.5 o2``) or without substrate or product once the
  small molecules are out gets ``IrrevMichaelisMenten`` (the network's reversibility
  bounds are not used: the flux and ΔG of the reference state fix each direction);
* **conserved moieties** are found by the engine from the stoichiometric matrix
  (:mod:`rekindle.kinetics.conservation`).

Limits of the rate laws (substrate and product places; a reactant of stoichiometry *n*
takes *n* places), checked for every reaction at once, all offenders named in one
message:

=============================  ==========  ==========
mechanism                      substrates  products
=============================  ==========  ==========
ReversibleMichaelisMenten      1           1
UniBiReversibleHill            1           2
BiUniReversibleHill            2           1
H1GeneralizedReversibleHill    1–8         1–8
Convenience                    1–8         1–8
IrrevMichaelisMenten           1–64        0–64
=============================  ==========  ==========

A reaction beyond them (e.g. a lumped reaction with nine substrate places) needs another
mechanism in ``--mechanisms`` (``IrrevMichaelisMenten`` takes up to 64 substrates) or to
be removed from the network.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rekindle.errors import ModelError, PhysiologyError
from rekindle.io.model_yaml import load_yaml_mapping, write_model, write_physiology
from rekindle.kinetics.mechanisms import MECHANISMS
from rekindle.kinetics.model import Compartment, KineticModel, Metabolite, Modifier, Reaction
from rekindle.kinetics.physiology import Physiology, check_physiology
from rekindle.validation import read_text_input

STATE_UNITS = {"concentration": "uM", "flux": "uM/h", "gibbs_energy": "kcal/mol"}
"""The kinds of a reference-state row and the unit each must be given in."""

LEFT_OUT_FILE = "left_out.csv"
"""Written beside the model: each network reaction that is not a kinetic reaction, and why."""

PROTON = re.compile(r"^h_[A-Za-z0-9]+$")
WATER = re.compile(r"^h2o_[A-Za-z0-9]+$")


@dataclass(frozen=True)
class BuiltModel:
    """A kinetic model built from a constraint-based one, with its reference state.

    Attributes
    ----------
    model, physiology
        The kinetic model and its (checked) reference physiology.
    left_out
        Reactions of the network that are not kinetic reactions of the model, with the
        reason (``{reaction id: reason}``).
    """

    model: KineticModel
    physiology: Physiology
    left_out: dict[str, str] = field(default_factory=dict)

    def write(self, output: str | Path) -> list[Path]:
        """Write ``output/model.yaml``, ``output/<physiology>.yaml`` and
        ``output/left_out.csv`` (reaction, reason; atomically)."""
        from rekindle.io.atomic import write_csv

        out = Path(output)
        return [
            write_model(self.model, out / "model.yaml"),
            write_physiology(
                self.physiology, self.model.name, out / f"{self.physiology.name}.yaml"
            ),
            write_csv(
                out / LEFT_OUT_FILE, sorted(self.left_out.items()), header=("reaction", "reason")
            ),
        ]

    def left_out_summary(self) -> str:
        """One line: how many network reactions were left out, by reason."""
        counts: dict[str, int] = {}
        for reason in self.left_out.values():
            key = reason.split(" (")[0].split(":")[0]
            counts[key] = counts.get(key, 0) + 1
        parts = ", ".join(f"{n} {why}" for why, n in sorted(counts.items(), key=lambda kv: -kv[1]))
        return f"{len(self.left_out)} network reactions left out" + (
            f" ({parts}); listed in {LEFT_OUT_FILE}" if self.left_out else ""
        )


def read_reference_state(path: str | Path) -> dict[str, dict[str, float]]:
    """Read a reference-state CSV (see the module notes).

    Returns
    -------
    dict
        ``{"concentration": {...}, "flux": {...}, "gibbs_energy": {...}}``.

    Raises
    ------
    PhysiologyError
        Naming the file, the line and the problem (unknown kind, wrong unit, a value
        that is not a number, a repeated entry).
    """
    path = Path(path)
    if not path.is_file():
        raise PhysiologyError(f"reference state not found: {path}")
    out: dict[str, dict[str, float]] = {kind: {} for kind in STATE_UNITS}
    with io.StringIO(read_text_input(path, "--steady-state"), newline="") as fh:
        rows = csv.DictReader(fh)
        if rows.fieldnames is None or set(rows.fieldnames) != {"kind", "id", "value", "unit"}:
            raise PhysiologyError(f"{path}: expected the columns kind,id,value,unit")
        for line, row in enumerate(rows, start=2):
            kind, rid = row["kind"].strip(), row["id"].strip()
            where = f"{path}:{line}"
            if kind not in STATE_UNITS:
                raise PhysiologyError(f"{where}: unknown kind {kind!r} ({', '.join(STATE_UNITS)})")
            if row["unit"].strip() != STATE_UNITS[kind]:
                raise PhysiologyError(
                    f"{where}: {kind} of {rid!r} must be in {STATE_UNITS[kind]}, "
                    f"got {row['unit']!r}"
                )
            if rid in out[kind]:
                raise PhysiologyError(f"{where}: {kind} of {rid!r} given twice")
            try:
                out[kind][rid] = float(row["value"])
            except ValueError:
                raise PhysiologyError(f"{where}: {row['value']!r} is not a number") from None
    return out


def _mechanism_of(rxn: Any, subs: list, prods: list, mechanisms: Mapping[str, str]) -> str:
    if rxn.id in mechanisms:
        name = str(mechanisms[rxn.id])
        if name not in MECHANISMS:
            raise ModelError(
                f"mechanisms: unknown mechanism {name!r} for {rxn.id!r} "
                f"(known: {', '.join(sorted(MECHANISMS))})"
            )
        return name
    fractional = [m for m, n in subs + prods if float(n) != round(float(n))]
    if fractional or not subs or not prods:
        # no reversible rate law of these is thermodynamically consistent here
        return "IrrevMichaelisMenten"
    if sum(round(n) for _, n in subs) == 1 and sum(round(n) for _, n in prods) == 1:
        return "ReversibleMichaelisMenten"
    return "H1GeneralizedReversibleHill"


def _kinetic_reaction(rxn: Any, mechanisms: Mapping[str, str]) -> Reaction:
    """A cobra reaction as a rekindle reaction (protons as modifiers, water dropped)."""
    subs, prods, protons = [], [], {}
    for met, coeff in rxn.metabolites.items():
        if WATER.match(met.id):
            continue
        if PROTON.match(met.id):
            protons[met.id] = protons.get(met.id, 0.0) + float(coeff)
            continue
        (subs if coeff < 0 else prods).append((met.id, abs(float(coeff))))
    mechanism = _mechanism_of(rxn, subs, prods, mechanisms)
    if MECHANISMS[mechanism].reversible and not MECHANISMS[mechanism].stoichiometry_in_rate:
        # a reactant of stoichiometry n takes n places of the rate law, as in SKiMpy
        subs = [(m, 1.0) for m, n in subs for _ in range(round(n))]
        prods = [(m, 1.0) for m, n in prods for _ in range(round(n))]
    mods = tuple(Modifier(h, "displacement", n) for h, n in protons.items() if n != 0.0)
    return Reaction(rxn.id, mechanism, tuple(subs), tuple(prods), mods)


def read_mechanism_map(path: str | Path | None) -> dict[str, str]:
    """Read a ``{reaction id: mechanism}`` YAML mapping (``None``: empty)."""
    if path is None:
        return {}
    return {str(k): str(v) for k, v in load_yaml_mapping(path, "mechanism map").items()}


def build_model(
    sbml: str | Path,
    state: str | Path,
    mechanisms: Mapping[str, str] | None = None,
    *,
    name: str | None = None,
) -> BuiltModel:
    """Build a kinetic model from an SBML (FBC) network and a reference state.

    Parameters
    ----------
    sbml
        Constraint-based model (SBML Level 3 with FBC), read by ``cobra``.
    state
        Reference-state CSV (see the module notes); its stem names the physiology.
    mechanisms
        Mechanism per reaction id, overriding the defaults.
    name
        Model name (default: the SBML model's id).

    Raises
    ------
    ModelError, PhysiologyError
        Naming the reaction or metabolite at fault.
    """
    net = _read_sbml(sbml)
    ref = read_reference_state(state)
    mechanisms = dict(mechanisms or {})
    unknown = sorted(set(mechanisms) - {r.id for r in net.reactions})
    if unknown:
        raise ModelError(f"mechanisms: unknown reaction(s) {', '.join(unknown)}")
    boundary_species = {m.id for r in net.boundary for m in r.metabolites}
    left_out: dict[str, str] = {}
    held: set[str] = set()  # protons moved by a left-out proton transport: boundary
    reactions = []
    for rxn in net.reactions:
        if rxn in net.boundary:
            left_out[rxn.id] = "boundary (exchange, demand or sink)"
        elif rxn.id not in ref["flux"]:
            raise PhysiologyError(f"{state}: no flux for reaction {rxn.id!r}")
        elif ref["flux"][rxn.id] == 0.0:
            left_out[rxn.id] = "no flux at the reference state"
        elif all(WATER.match(m.id) or PROTON.match(m.id) for m in rxn.metabolites):
            protons = sorted(m.id for m in rxn.metabolites if PROTON.match(m.id))
            held.update(protons)
            left_out[rxn.id] = "moves only water or protons" + (
                f" (flux {ref['flux'][rxn.id]:g} uM/h: {', '.join(protons)} held constant)"
                if protons
                else ""
            )
        else:
            reactions.append(_kinetic_reaction(rxn, mechanisms))
    _require_rate_law_limits(reactions, sbml)
    used: set[str] = set()
    for r in reactions:
        used.update(m for m, _ in r.substrates + r.products)
        used.update(mod.metabolite for mod in r.modifiers)
    mets = [m for m in net.metabolites if m.id in used]
    comps = sorted({m.compartment for m in mets})
    try:
        model = KineticModel(
            name or str(net.id or Path(sbml).stem),
            tuple(Compartment(c) for c in comps),
            tuple(
                Metabolite(m.id, m.compartment, m.id in boundary_species or m.id in held)
                for m in mets
            ),
            tuple(reactions),
            f"built by rekindle build-model from {Path(sbml).name} and {Path(state).name}",
        )
    except ModelError as exc:
        raise ModelError(f"{sbml}: {exc}") from None
    phys = _physiology(model, ref, state, left_out)
    return BuiltModel(model, phys, left_out)


def _require_rate_law_limits(reactions: list[Reaction], sbml: str | Path) -> None:
    """Every reaction within its mechanism's substrate and product places (all named)."""
    bad = []
    for r in reactions:
        spec = MECHANISMS[r.mechanism]
        for role, items, (lo, hi) in (
            ("substrate", r.substrates, spec.n_substrates),
            ("product", r.products, spec.n_products),
        ):
            if not lo <= len(items) <= hi:
                bad.append(f"{r.id} ({r.mechanism}: {len(items)} {role} places, takes {lo}–{hi})")
    if bad:
        raise ModelError(
            f"{sbml}: {len(bad)} reaction(s) exceed the limits of their rate law: "
            + "; ".join(bad)
            + " — give them another mechanism with --mechanisms (IrrevMichaelisMenten takes "
            "up to 64 substrates) or remove them from the network"
        )


def _physiology(
    model: KineticModel,
    ref: dict[str, dict[str, float]],
    state: str | Path,
    left_out: Mapping[str, str] | None = None,
) -> Physiology:
    missing = [m for m in model.metabolite_ids if m not in ref["concentration"]]
    if missing:
        raise PhysiologyError(f"{state}: metabolite {missing[0]!r} has no concentration")
    reversible = [r.id for r in model.reactions if r.reversible]
    missing = [r for r in reversible if r not in ref["gibbs_energy"]]
    if missing:
        raise PhysiologyError(f"{state}: reversible reaction {missing[0]!r} has no gibbs_energy")
    phys = Physiology(
        name=Path(state).stem,
        concentrations={m: ref["concentration"][m] for m in model.metabolite_ids},
        fluxes={r: ref["flux"][r] for r in model.reaction_ids},
        gibbs_energies={r: ref["gibbs_energy"][r] for r in reversible},
        description=f"reference state {Path(state).name}",
    )
    try:
        check_physiology(model, phys)
    except PhysiologyError as exc:
        raise PhysiologyError(f"{state}: {exc}{_proton_hint(str(exc), left_out or {})}") from None
    return phys


def _proton_hint(message: str, left_out: Mapping[str, str]) -> str:
    """Why a proton may not balance: it leaves rate laws but stays in the mass balance."""
    protons = sorted(set(re.findall(r"'(h_[A-Za-z0-9]+)'", message)))
    if not protons:
        return ""
    return (
        f" ({', '.join(protons)}: protons leave the rate laws but stay in the mass balance; "
        "the reference fluxes must balance them, or a proton transport with a flux must "
        f"move them — {len(left_out)} reactions were left out, see {LEFT_OUT_FILE})"
    )


def _read_sbml(path: str | Path) -> Any:
    try:
        import cobra
    except ImportError as exc:  # pragma: no cover - a declared dependency
        raise ModelError("build-model needs cobra (pip install cobra)") from exc
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"SBML file not found: {path}")
    try:
        return cobra.io.read_sbml_model(str(path))
    except Exception as exc:  # cobra raises its own and libsbml's errors
        detail = (str(exc).strip().splitlines() or [""])[0][:200]
        raise ModelError(
            f"{path}: not a readable SBML model ({type(exc).__name__}: {detail})"
        ) from None
