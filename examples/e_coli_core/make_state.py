"""Write the e_coli_core example: the network as SBML and a reference state for it.

    python examples/e_coli_core/make_state.py OUT_DIR

writes ``OUT_DIR/e_coli_core.xml`` (the small E. coli core network that ``cobra`` ships,
Orth et al., EcoSal Plus 2010) and ``OUT_DIR/state.csv``, the reference state
``rekindle build-model`` reads (columns ``kind,id,value,unit``):

* **fluxes**: parsimonious FBA (growth on 10 mmol gDW⁻¹ h⁻¹ glucose, aerobic; cobra's
  ``pfba``), converted from mmol gDW⁻¹ h⁻¹ to µM h⁻¹ (× 419 900, the conversion of the
  published REKINDLE states); fluxes below 1e-9 mmol gDW⁻¹ h⁻¹ are set to zero (those
  reactions are left out of the kinetic model);
* **concentrations**: 100 µM for every intracellular metabolite, pH 7.2 inside
  (h_c = 0.063 µM) and 7.0 outside (h_e = 0.1 µM), and a glucose/ammonium/phosphate
  medium;
* **ΔG**: a driving force of 1.5 kcal mol⁻¹ in the direction of each reaction's flux
  (ΔG = −1.5 sign(v)), so every flux runs down its ΔG. This is a stand-in for a
  thermodynamics-based flux analysis (e.g. pyTFA), which needs group-contribution
  estimates this example does without.

With these values about half of the ORACLE models are relevant (max Re(λ) < −9 h⁻¹),
as for the paper's E. coli model. The choice matters: with measured cofactor pools
(e.g. 96 mM glutamate, 9.6 mM ATP) and 2 kcal mol⁻¹ nearly every sampled model is
unstable, with 0.5 kcal mol⁻¹ every one is relevant.

The state is an example of the file format and of the workflow, not a measured
physiology:

    rekindle build-model --sbml OUT_DIR/e_coli_core.xml --steady-state OUT_DIR/state.csv \\
        --output OUT_DIR/model
    rekindle run --model OUT_DIR/model/model.yaml --physiology OUT_DIR/model/state.yaml \\
        --profile smoke --output OUT_DIR/run
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

FLUX_TO_MICROMOLAR_PER_HOUR = 1e-3 * 0.38 * 1105.0 * 1e6  # as rekindle.io.steady_state_csv
DRIVING_FORCE_KCAL = 1.5
INTRACELLULAR_UM = 100.0
CONCENTRATIONS_UM = {
    "h_c": 0.063,  # pH 7.2
    "h_e": 0.1,  # pH 7.0
    "glc__D_e": 10000.0,
    "nh4_e": 10000.0,
    "pi_e": 10000.0,
    "o2_e": 250.0,
    "co2_e": 1000.0,
}


def write_example(out: str | Path) -> tuple[Path, Path]:
    """Write ``e_coli_core.xml`` and ``state.csv`` into ``out``; return both paths."""
    import cobra
    from cobra.flux_analysis import pfba

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    net = cobra.io.load_model("textbook")
    sbml = out / "e_coli_core.xml"
    cobra.io.write_sbml_model(net, str(sbml))
    fluxes = pfba(net).fluxes
    rows = []
    for met in net.metabolites:
        c = CONCENTRATIONS_UM.get(met.id, INTRACELLULAR_UM)
        rows.append(("concentration", met.id, repr(c), "uM"))
    for rxn in net.reactions:
        v = float(fluxes[rxn.id])
        v = 0.0 if abs(v) < 1e-9 else v
        rows.append(("flux", rxn.id, repr(v * FLUX_TO_MICROMOLAR_PER_HOUR), "uM/h"))
        if v != 0.0:
            dg = -DRIVING_FORCE_KCAL if v > 0 else DRIVING_FORCE_KCAL
            rows.append(("gibbs_energy", rxn.id, repr(dg), "kcal/mol"))
    state = out / "state.csv"
    with state.open("w", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(("kind", "id", "value", "unit"))
        w.writerows(rows)
    return sbml, state


if __name__ == "__main__":
    for path in write_example(sys.argv[1] if len(sys.argv) > 1 else "."):
        print(f"wrote {path}")
