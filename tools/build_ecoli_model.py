"""Transcribe the paper's E. coli model and its four physiologies into rekindle's format.

Run once by a maintainer (needs the reference material in ../shared, which never enters
the project):

    .venv/bin/python tools/build_ecoli_model.py ../shared/reference

It is ``rekindle import-model`` with the corrections established for the REKINDLE model
(``examples/ecoli_from_skimpy/extra.yaml``, see ``shared/reference/ecoli-model-facts.md``:
GLCptspp uses Convenience kinetics; ACKr, PTAr and the metabolite actp_c are added;
reactions sorted by id, the published parameter order) and the physiologies' descriptions.
"""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

from rekindle.io.skimpy_import import ImportedModel, import_skimpy

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "src" / "rekindle" / "data" / "ecoli"
EXTRA = ROOT / "examples" / "ecoli_from_skimpy" / "extra.yaml"

DESCRIPTIONS = {
    "fdp1": "TALA forward, ICL forward",
    "fdp2": "TALA reverse, ICL forward",
    "fdp3": "TALA forward, ICL reverse",
    "fdp4": "TALA reverse, ICL reverse",
}


def main(reference: Path) -> None:
    imported = import_skimpy(
        reference / "skimpy" / "varma_strain_1.yml",
        [reference / "rekindle" / f"steady_state_{name}.csv" for name in DESCRIPTIONS],
        EXTRA,
    )
    physiologies = tuple(
        replace(
            p,
            description=f"Physiology {p.name[-1]} of the REKINDLE paper "
            f"({DESCRIPTIONS[p.name]}); aerobic wild-type E. coli.",
        )
        for p in imported.physiologies
    )
    ImportedModel(imported.model, physiologies).write(OUT)
    print(f"wrote {OUT}: {imported.model.summary()}")


if __name__ == "__main__":
    main(Path(sys.argv[1] if len(sys.argv) > 1 else "../shared/reference"))
