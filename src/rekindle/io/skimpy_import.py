"""Import a SKiMpy model and its steady states into rekindle's files (``rekindle import-model``).

The network comes from a SKiMpy YAML model (:func:`rekindle.io.skimpy_yaml.read_skimpy_model`),
the reference states from pyTFA-style solution rows, the layout of the published
REKINDLE steady states (:func:`rekindle.io.steady_state_csv.read_steady_state_csv`).
An optional *extra* file, in rekindle's model syntax, adds what the SKiMpy file lacks
or corrects it::

    format: rekindle-model-extra/1
    name: ecoli                  # optional: the imported model's name
    description: free text       # optional
    sort_reactions: true         # optional: reactions in id order (default: the file's)
    metabolites:                 # optional: metabolites to add
      - {id: actp_c, compartment: c}
    reactions:                   # optional: reactions to add, or to replace (same id)
      - id: ACKr
        mechanism: H1GeneralizedReversibleHill
        substrates: [[adp_c, 1], [actp_c, 1]]
        products: [[atp_c, 1], [ac_c, 1]]
        modifiers: [{metabolite: h_c, kind: displacement, stoichiometry: 1}]
    mechanisms:                  # optional: mechanism of an existing reaction
      GLCptspp: Convenience

Every steady state is checked against the model before anything is written: a
metabolite without a concentration, a reaction without a flux, a flux against its ΔG
or a metabolite that is not balanced is refused naming the file and the culprit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from rekindle.errors import ModelError, PhysiologyError
from rekindle.io.model_yaml import (
    load_yaml_mapping,
    model_from_dict,
    model_to_dict,
    write_model,
    write_physiology,
)
from rekindle.io.skimpy_yaml import read_skimpy_model
from rekindle.io.steady_state_csv import read_steady_state_csv
from rekindle.kinetics.model import KineticModel
from rekindle.kinetics.physiology import Physiology, check_physiology

EXTRA_FORMAT = "rekindle-model-extra/1"
_EXTRA_KEYS = {
    "format",
    "name",
    "description",
    "sort_reactions",
    "metabolites",
    "reactions",
    "mechanisms",
}


@dataclass(frozen=True)
class ImportedModel:
    """A model with its reference steady states, ready to be written.

    Attributes
    ----------
    model
        The kinetic model.
    physiologies
        One checked physiology per steady state, in the order given.
    """

    model: KineticModel
    physiologies: tuple[Physiology, ...]

    def write(self, output: str | Path) -> list[Path]:
        """Write ``output/model.yaml`` and ``output/<physiology>.yaml`` (atomically).

        Returns
        -------
        list of pathlib.Path
            The model file, then the physiology files.
        """
        out = Path(output)
        paths = [write_model(self.model, out / "model.yaml")]
        for phys in self.physiologies:
            paths.append(write_physiology(phys, self.model.name, out / f"{phys.name}.yaml"))
        return paths


def read_model_extra(path: str | Path) -> dict[str, Any]:
    """Read an extra file (see the module notes); :class:`ModelError` if malformed."""
    return load_yaml_mapping(path, "extra file")


def apply_model_extra(
    model: KineticModel, extra: Mapping[str, Any], source: str = "extra"
) -> KineticModel:
    """``model`` with the additions and corrections of an extra mapping.

    Raises
    ------
    ModelError
        Naming the extra file and the entry at fault.
    """
    if extra.get("format", EXTRA_FORMAT) != EXTRA_FORMAT:
        raise ModelError(f"{source}: format must be {EXTRA_FORMAT!r}, got {extra.get('format')!r}")
    unknown = set(extra) - _EXTRA_KEYS
    if unknown:
        raise ModelError(f"{source}: unknown key(s) {', '.join(sorted(unknown))}")
    data = model_to_dict(model)
    data["name"] = str(extra.get("name", data["name"]))
    data["description"] = str(extra.get("description", data["description"]))
    data["metabolites"] = [*data["metabolites"], *(extra.get("metabolites") or [])]
    reactions = {r["id"]: r for r in data["reactions"]}
    for rxn in extra.get("reactions") or []:
        if not isinstance(rxn, dict) or "id" not in rxn:
            raise ModelError(f"{source}: every added reaction needs an 'id'")
        reactions[str(rxn["id"])] = rxn
    for rid, mechanism in (extra.get("mechanisms") or {}).items():
        if rid not in reactions:
            raise ModelError(f"{source}: mechanism of unknown reaction {rid!r}")
        reactions[rid] = {**reactions[rid], "mechanism": str(mechanism)}
    data["reactions"] = list(reactions.values())
    if extra.get("sort_reactions", False):
        data["reactions"].sort(key=lambda r: str(r["id"]))
    return model_from_dict(data, f"{model.name} + {source}")


def physiology_name(path: str | Path) -> str:
    """The name of a steady state from its file (``steady_state_fdp1.csv`` → ``fdp1``)."""
    stem = Path(path).stem
    return re.sub(r"^steady_state_", "", stem) or stem


def import_skimpy(
    skimpy_model: str | Path,
    steady_states: Sequence[str | Path],
    extra: str | Path | Mapping[str, Any] | None = None,
) -> ImportedModel:
    """Import a SKiMpy model with its steady states.

    Parameters
    ----------
    skimpy_model
        SKiMpy YAML model file.
    steady_states
        pyTFA-style solution CSVs (header + one row; see
        :mod:`rekindle.io.steady_state_csv`), at least one.
    extra
        An extra file or mapping (see the module notes).

    Returns
    -------
    ImportedModel
        The model and one physiology per steady state (named by
        :func:`physiology_name`).

    Raises
    ------
    ModelError, PhysiologyError
        Naming the file and the metabolite or reaction at fault.
    """
    if not steady_states:
        raise PhysiologyError("at least one steady state is needed (--steady-state)")
    path = Path(skimpy_model)
    if not path.is_file():
        raise ModelError(f"SKiMpy model file not found: {path}")
    model = read_skimpy_model(path)
    if extra is not None:
        source = "extra" if isinstance(extra, Mapping) else str(extra)
        data = extra if isinstance(extra, Mapping) else read_model_extra(extra)
        model = apply_model_extra(model, data, source)
    physiologies = []
    for csv in steady_states:
        if not Path(csv).is_file():
            raise PhysiologyError(f"steady-state file not found: {csv}")
        name = physiology_name(csv)
        phys = read_steady_state_csv(csv, model, name)  # its errors name the file
        try:
            check_physiology(model, phys)
        except PhysiologyError as exc:
            raise PhysiologyError(f"{csv}: {exc}") from None
        physiologies.append(replace(phys, description=f"imported from {Path(csv).name}"))
    names = [p.name for p in physiologies]
    if len(set(names)) != len(names):
        raise PhysiologyError(f"two steady states have the same name: {', '.join(names)}")
    return ImportedModel(model, tuple(physiologies))
