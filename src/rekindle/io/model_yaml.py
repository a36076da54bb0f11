"""rekindle's own model and physiology files (YAML).

Model file (``format: rekindle-model/1``)::

    format: rekindle-model/1
    name: toy
    description: free text
    units: {concentration: uM, time: h}
    compartments:
      c: {volume: 1.0}
    metabolites:
      - {id: a_e, compartment: c, boundary: true}
      - {id: b_c, compartment: c}
    reactions:
      - id: R1
        mechanism: ReversibleMichaelisMenten     # see rekindle.kinetics.MECHANISMS
        substrates: [[a_e, 1]]                   # ordered [metabolite, coefficient]
        products: [[b_c, 1]]
        modifiers:                               # optional
          - {metabolite: h_c, kind: displacement, stoichiometry: 1}

Physiology file (``format: rekindle-physiology/1``)::

    format: rekindle-physiology/1
    model: toy
    name: ref
    units: {concentration: uM, flux: uM/h, gibbs_energy: kcal/mol}
    temperature: 298.15
    concentrations: {a_e: 100.0, b_c: 10.0}
    fluxes: {R1: 50.0}
    gibbs_energies: {R1: -1.5}

Errors name the file and the offending entry; writing is atomic.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from rekindle.errors import MissingFileError
from rekindle.io.atomic import atomic_write_text
from rekindle.kinetics.model import Compartment, KineticModel, Metabolite, ModelError, Modifier
from rekindle.kinetics.model import Reaction as _Reaction
from rekindle.kinetics.physiology import Physiology, PhysiologyError
from rekindle.validation import read_text_input

MODEL_FORMAT = "rekindle-model/1"
PHYSIOLOGY_FORMAT = "rekindle-physiology/1"


def load_yaml_mapping(path: str | Path, what: str = "file") -> dict[str, Any]:
    """Read a YAML file whose top level is a mapping; :class:`ModelError` naming it if not."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{what} not found: {path}")
    return _load_yaml(path, what)


def _load_yaml(path: Path, what: str = "model file") -> dict[str, Any]:
    try:
        data = yaml.safe_load(read_text_input(Path(path), what))
    except yaml.YAMLError as exc:
        raise ModelError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise ModelError(f"{path}: expected a mapping at the top level")
    return data


def _pairs(value: Any, where: str) -> tuple[tuple[str, float], ...]:
    if not isinstance(value, list):
        raise ModelError(f"{where}: expected a list of [metabolite, coefficient]")
    out = []
    for item in value:
        if isinstance(item, str):
            out.append((item, 1.0))
        elif isinstance(item, list | tuple) and len(item) == 2:
            out.append((str(item[0]), float(item[1])))
        else:
            raise ModelError(f"{where}: bad entry {item!r}; expected [metabolite, coefficient]")
    return tuple(out)


def model_from_dict(data: dict[str, Any], source: str = "<dict>") -> KineticModel:
    """Build and validate a :class:`KineticModel` from the file's mapping."""
    fmt = data.get("format")
    if fmt != MODEL_FORMAT:
        hint = " (a SKiMpy model? use `rekindle import-model`)" if "reactants" in data else ""
        raise ModelError(f"{source}: format must be {MODEL_FORMAT!r}, got {fmt!r}{hint}")
    for key in ("name", "compartments", "metabolites", "reactions"):
        if key not in data:
            raise ModelError(f"{source}: missing key {key!r}")
    try:
        comps = tuple(
            Compartment(str(cid), float((spec or {}).get("volume", 1.0)))
            for cid, spec in data["compartments"].items()
        )
        mets = tuple(
            Metabolite(str(m["id"]), str(m["compartment"]), bool(m.get("boundary", False)))
            for m in data["metabolites"]
        )
        rxns = []
        for r in data["reactions"]:
            rid = str(r.get("id"))
            where = f"{source}: reaction {rid!r}"
            unknown = set(r) - {"id", "mechanism", "substrates", "products", "modifiers", "name"}
            if unknown:
                raise ModelError(f"{where}: unknown key(s) {', '.join(sorted(unknown))}")
            mods = tuple(
                Modifier(str(m["metabolite"]), str(m["kind"]), float(m["stoichiometry"]))
                for m in (r.get("modifiers") or [])
            )
            rxns.append(
                _Reaction(
                    rid,
                    str(r.get("mechanism")),
                    _pairs(r.get("substrates", []), f"{where} substrates"),
                    _pairs(r.get("products", []), f"{where} products"),
                    mods,
                )
            )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"{source}: malformed model entry ({exc!r})") from exc
    try:
        return KineticModel(
            str(data["name"]), comps, mets, tuple(rxns), str(data.get("description", ""))
        )
    except ModelError as exc:
        raise ModelError(f"{source}: {exc}") from exc


def model_to_dict(model: KineticModel) -> dict[str, Any]:
    """The file mapping of a model (inverse of :func:`model_from_dict`)."""
    return {
        "format": MODEL_FORMAT,
        "name": model.name,
        "description": model.description,
        "units": {"concentration": "uM", "time": "h"},
        "compartments": {c.id: {"volume": c.volume} for c in model.compartments},
        "metabolites": [
            {"id": m.id, "compartment": m.compartment, **({"boundary": True} if m.boundary else {})}
            for m in model.metabolites
        ],
        "reactions": [
            {
                "id": r.id,
                "mechanism": r.mechanism,
                "substrates": [[m, _num(n)] for m, n in r.substrates],
                "products": [[m, _num(n)] for m, n in r.products],
                **(
                    {
                        "modifiers": [
                            {
                                "metabolite": mod.metabolite,
                                "kind": mod.kind,
                                "stoichiometry": _num(mod.stoichiometry),
                            }
                            for mod in r.modifiers
                        ]
                    }
                    if r.modifiers
                    else {}
                ),
            }
            for r in model.reactions
        ],
    }


def _num(x: float) -> float | int:
    return int(x) if float(x).is_integer() else float(x)


def read_model(path: str | Path) -> KineticModel:
    """Read a rekindle model file (``*.yaml``)."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"model file not found: {path}")
    return model_from_dict(_load_yaml(path), str(path))


def write_model(model: KineticModel, path: str | Path) -> Path:
    """Write a model file atomically."""
    return atomic_write_text(path, yaml.safe_dump(model_to_dict(model), sort_keys=False, width=100))


def physiology_from_dict(data: dict[str, Any], source: str = "<dict>") -> Physiology:
    """Build a :class:`Physiology` from the file's mapping (checked against a model later)."""
    if data.get("format") != PHYSIOLOGY_FORMAT:
        raise PhysiologyError(
            f"{source}: format must be {PHYSIOLOGY_FORMAT!r}, got {data.get('format')!r}"
        )
    for key in ("name", "concentrations", "fluxes"):
        if key not in data:
            raise PhysiologyError(f"{source}: missing key {key!r}")
    return Physiology(
        name=str(data["name"]),
        concentrations={str(k): float(v) for k, v in data["concentrations"].items()},
        fluxes={str(k): float(v) for k, v in data["fluxes"].items()},
        gibbs_energies={str(k): float(v) for k, v in (data.get("gibbs_energies") or {}).items()},
        temperature=float(data.get("temperature", 298.15)),
        description=str(data.get("description", "")),
    )


def physiology_to_dict(physiology: Physiology, model_name: str) -> dict[str, Any]:
    """The file mapping of a physiology."""
    return {
        "format": PHYSIOLOGY_FORMAT,
        "model": model_name,
        "name": physiology.name,
        "description": physiology.description,
        "units": {"concentration": "uM", "flux": "uM/h", "gibbs_energy": "kcal/mol"},
        "temperature": physiology.temperature,
        "concentrations": {k: float(v) for k, v in physiology.concentrations.items()},
        "fluxes": {k: float(v) for k, v in physiology.fluxes.items()},
        "gibbs_energies": {k: float(v) for k, v in physiology.gibbs_energies.items()},
    }


def read_physiology(path: str | Path) -> Physiology:
    """Read a rekindle physiology file."""
    path = Path(path)
    if not path.exists():
        raise MissingFileError(f"physiology file not found: {path}")
    try:
        data = yaml.safe_load(read_text_input(path, "physiology file"))
    except yaml.YAMLError as exc:
        raise PhysiologyError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise PhysiologyError(f"{path}: expected a mapping at the top level")
    return physiology_from_dict(data, str(path))


def write_physiology(physiology: Physiology, model_name: str, path: str | Path) -> Path:
    """Write a physiology file atomically."""
    text = yaml.safe_dump(physiology_to_dict(physiology, model_name), sort_keys=False, width=100)
    return atomic_write_text(path, text)
