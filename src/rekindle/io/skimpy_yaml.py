"""Import of SKiMpy model files (YAML export of ``skimpy.io.yaml``).

Only the structure is read — compartments, reactants, boundary conditions, reaction
mechanisms with their labelled substrates/products and stoichiometries, and
small-molecule modifiers — and converted into a :class:`KineticModel`. Unknown
mechanism or modifier classes are refused by name.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from rekindle.kinetics.model import Compartment, KineticModel, Metabolite, ModelError, Modifier
from rekindle.kinetics.model import Reaction as _Reaction
from rekindle.validation import read_text_input

MODIFIER_CLASSES = {
    "DisplacementSmallMoleculeModifier": "displacement",
    "FirstOrderSmallMoleculeModifier": "first_order",
}

_LABEL = re.compile(r"^(substrate|product)(\d*)$")


def _labelled(mech: dict[str, Any], role: str, where: str) -> list[tuple[str, float]]:
    stoich = mech.get("mechanism_stoichiometry") or {}
    items = []
    for key, met in mech.items():
        m = _LABEL.match(str(key))
        if m and m.group(1) == role:
            n = abs(float(stoich.get(key, 1.0)))
            items.append((int(m.group(2) or 0), str(met), n))
    if not items and role == "substrate":
        raise ModelError(f"{where}: no substrate labels")
    return [(met, n) for _, met, n in sorted(items)]


def read_skimpy_model(path: str | Path) -> KineticModel:
    """Read a SKiMpy YAML model file.

    Parameters
    ----------
    path
        e.g. ``varma_strain_1.yml``.

    Returns
    -------
    KineticModel
        Metabolites in the file's ``reactants`` order, boundary ones flagged from its
        ``ConstantConcentration`` boundary conditions; reactions in file order.
    """
    path = Path(path)
    try:
        data = yaml.safe_load(read_text_input(path, "--skimpy"))
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict) or "reactions" not in data or "reactants" not in data:
        raise ModelError(f"{path}: not a SKiMpy model file (needs 'reactions' and 'reactants')")
    params = data.get("parameters") or {}
    comps = tuple(
        Compartment(str(c), float(params.get(f"volume_{c}", 1.0)))
        for c in (data.get("compartments") or {"c": "c"})
    )
    boundary = set()
    for name, bc in (data.get("boundary_conditions") or {}).items():
        if bc.get("class") != "ConstantConcentration":
            raise ModelError(
                f"{path}: boundary condition {name!r}: unsupported class {bc.get('class')!r}"
            )
        boundary.add(str(bc["reactant"]))
    mets = tuple(
        Metabolite(str(mid), str((spec or {}).get("compartment", "c")), str(mid) in boundary)
        for mid, spec in data["reactants"].items()
    )
    rxns = []
    for rid, r in data["reactions"].items():
        where = f"{path}: reaction {rid!r}"
        mech = r.get("mechanism") or {}
        mods = []
        for mname, mod in (r.get("modifiers") or {}).items():
            cls = mod.get("class")
            if cls not in MODIFIER_CLASSES:
                raise ModelError(f"{where}: modifier {mname!r} has unsupported class {cls!r}")
            n = float((mod.get("mechanism_stoichiometry") or {}).get("small_molecule", 1.0))
            mods.append(Modifier(str(mod["small_molecule"]), MODIFIER_CLASSES[cls], n))
        rxns.append(
            _Reaction(
                str(rid),
                str(mech.get("class")),
                tuple(_labelled(mech, "substrate", where)),
                tuple(_labelled(mech, "product", where)),
                tuple(mods),
            )
        )
    try:
        return KineticModel(str(data.get("name", path.stem)), comps, mets, tuple(rxns))
    except ModelError as exc:
        raise ModelError(f"{path}: {exc}") from exc
