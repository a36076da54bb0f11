"""Import of published reference steady states (pyTFA-style CSV, one row).

Columns: ``<rxn>`` and ``<rxn>_reverse_<hash>`` (forward and reverse fluxes, mmol
gDW⁻¹ h⁻¹), ``LC_<met>`` (ln concentration in mol L⁻¹), ``DG_<rxn>`` (actual ΔG,
kcal mol⁻¹). Metabolite ids are mapped to the model's (``glc-D`` → ``glc_D``,
``13dpg`` → ``_13dpg``).
"""

from __future__ import annotations

import csv
import io
import math
import re
from pathlib import Path

from rekindle.kinetics.model import KineticModel
from rekindle.kinetics.physiology import Physiology, PhysiologyError
from rekindle.validation import read_text_input

# mmol gDW⁻¹ h⁻¹ → µM h⁻¹: 1e-3 mol/mmol × 0.38 gDW/gWW × 1105 gWW/L (cell density) × 1e6 µM/M
FLUX_TO_MICROMOLAR_PER_HOUR = 1e-3 * 0.38 * 1105.0 * 1e6
MOLAR_TO_MICROMOLAR = 1e6


def csv_metabolite_id(model_id: str) -> str:
    """Inverse of the id mapping: model id → the CSV's (``glc_D_e`` → ``glc-D_e``)."""
    cid = model_id[1:] if re.match(r"^_\d", model_id) else model_id
    base, _, comp = cid.rpartition("_")
    return re.sub(r"(?<=[A-Za-z0-9])_(?=[A-Za-z])", "-", base) + "_" + comp


def read_steady_state_csv(
    path: str | Path,
    model: KineticModel,
    name: str | None = None,
    *,
    flux_factor: float = FLUX_TO_MICROMOLAR_PER_HOUR,
) -> Physiology:
    """Read a published steady state for ``model``.

    Parameters
    ----------
    path
        CSV file with a header row and one data row.
    model
        The model whose metabolites and reactions are looked up.
    name
        Physiology name (default: file stem).
    flux_factor
        Conversion of the CSV fluxes to µM h⁻¹.

    Returns
    -------
    Physiology
        Concentrations in µM, net fluxes in µM h⁻¹, ΔG in kcal mol⁻¹.
    """
    path = Path(path)
    rows = list(csv.reader(io.StringIO(read_text_input(path, "--steady-state"), newline="")))
    if len(rows) < 2:
        raise PhysiologyError(f"{path}: expected a header and one data row")
    row = dict(zip(rows[0], rows[1], strict=False))
    lc = {}
    for key, val in row.items():
        if key.startswith("LC_"):
            lc[key[3:]] = val
    conc = {}
    for met in model.metabolite_ids:
        candidates = [csv_metabolite_id(met), met]
        key = next((c for c in candidates if c in lc), None)
        if key is None:
            raise PhysiologyError(f"{path}: no LC_ column for metabolite {met!r}")
        conc[met] = math.exp(float(lc[key])) * MOLAR_TO_MICROMOLAR
    fluxes, dgs = {}, {}
    for r in model.reactions:
        if r.id not in row:
            raise PhysiologyError(f"{path}: no flux column for reaction {r.id!r}")
        rev = [k for k in row if k.startswith(f"{r.id}_reverse_")]
        if len(rev) != 1:
            raise PhysiologyError(f"{path}: expected one {r.id}_reverse_* column, found {rev}")
        fluxes[r.id] = (float(row[r.id]) - float(row[rev[0]])) * flux_factor
        if f"DG_{r.id}" in row and row[f"DG_{r.id}"] != "":
            dgs[r.id] = float(row[f"DG_{r.id}"])
    return Physiology(
        name=name or path.stem,
        concentrations=conc,
        fluxes=fluxes,
        gibbs_energies=dgs,
        description=f"imported from {path.name}",
    )
