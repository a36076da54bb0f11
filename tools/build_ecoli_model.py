"""Transcribe the paper's E. coli model and its four physiologies into rekindle's format.

Run once by a maintainer (needs the reference material in ../shared, which never enters
the project):

    .venv/bin/python tools/build_ecoli_model.py ../shared/reference

It reads the SKiMpy file of the network, applies the corrections established for the
REKINDLE model (see ``shared/reference/ecoli-model-facts.md``: GLCptspp uses Convenience
kinetics; ACKr and PTAr and the metabolite actp_c are added), sorts reactions by id (the
published parameter order), and transcribes the published steady states fdp1–fdp4.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from rekindle.io.model_yaml import write_model, write_physiology
from rekindle.io.skimpy_yaml import read_skimpy_model
from rekindle.io.steady_state_csv import read_steady_state_csv
from rekindle.kinetics import KineticModel, Metabolite, Modifier, Reaction, check_physiology

OUT = Path(__file__).resolve().parents[1] / "src" / "rekindle" / "data" / "ecoli"

DESCRIPTIONS = {
    "fdp1": "TALA forward, ICL forward",
    "fdp2": "TALA reverse, ICL forward",
    "fdp3": "TALA forward, ICL reverse",
    "fdp4": "TALA reverse, ICL reverse",
}


def build(reference: Path) -> KineticModel:
    base = read_skimpy_model(reference / "skimpy" / "varma_strain_1.yml")
    reactions = []
    for r in base.reactions:
        if r.id == "GLCptspp":
            r = replace(r, mechanism="Convenience")
        reactions.append(r)
    reactions.append(
        Reaction(
            "ACKr",
            "H1GeneralizedReversibleHill",
            (("adp_c", 1.0), ("actp_c", 1.0)),
            (("atp_c", 1.0), ("ac_c", 1.0)),
            (Modifier("h_c", "displacement", 1.0),),
        )
    )
    reactions.append(
        Reaction(
            "PTAr",
            "H1GeneralizedReversibleHill",
            (("pi_c", 1.0), ("accoa_c", 1.0)),
            (("coa_c", 1.0), ("actp_c", 1.0)),
            (Modifier("h_c", "displacement", -1.0),),
        )
    )
    reactions.sort(key=lambda r: r.id)
    mets = [*base.metabolites, Metabolite("actp_c", "c")]
    return KineticModel(
        "ecoli",
        base.compartments,
        tuple(mets),
        tuple(reactions),
        "E. coli central carbon metabolism of the REKINDLE paper (Choudhury et al., Nat. Mach. "
        "Intell. 4, 710 (2022)), after Varma & Palsson (1994): 67 reactions, 65 metabolites "
        "(15 boundary), 50 ODE states, 411 parameters, 259 Michaelis constants. "
        "Concentrations in uM, time in h.",
    )


def main(reference: Path) -> None:
    model = build(reference)
    write_model(model, OUT / "model.yaml")
    for i in range(1, 5):
        name = f"fdp{i}"
        phys = read_steady_state_csv(
            reference / "rekindle" / f"steady_state_{name}.csv", model, name
        )
        phys = replace(
            phys,
            description=f"Physiology {i} of the REKINDLE paper ({DESCRIPTIONS[name]}); "
            "aerobic wild-type E. coli.",
        )
        check_physiology(model, phys)
        write_physiology(phys, model.name, OUT / f"{name}.yaml")
    print(f"wrote {OUT}: {model.summary()}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference"))
