"""Build tests/data/published_toy_sets.npz: a compact fixture of published facts.

The published-data tests (tests/kinetics/test_published.py) read ../shared/reference when
it is there; on a fresh clone they fall back on this fixture, which holds, in rekindle's
own layout, the first 100 of the published fdp1 toy parameter sets (model's canonical
column order) with their published max Re(λ).

Usage: ``python tools/make_published_fixture.py [REFERENCE_DIR]``.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

from rekindle.data import load_model
from rekindle.io.skimpy_hdf5 import align_to_model, read_parameter_names, read_parameter_population

N_SETS = 100
ROOT = Path(__file__).resolve().parents[1]
OUTPUT = ROOT / "tests" / "data" / "published_toy_sets.npz"


def main(reference: Path) -> None:
    model = load_model("ecoli")
    src = reference / "rekindle"
    names = read_parameter_names(src / "toy_parameter_names.txt")
    index, values, names = read_parameter_population(src / "toy_parameter_sets.h5", names)
    params = align_to_model(values, names, model)
    with (src / "toy_max_eigenvalues_first500.csv").open() as fh:
        published = {
            int(r["parameter_set"]): float(r["max_real_eigenvalue"]) for r in csv.DictReader(fh)
        }
    chosen = sorted(published)[:N_SETS]
    row = {int(i): k for k, i in enumerate(index)}
    np.savez_compressed(
        OUTPUT,
        parameter_set=np.array(chosen, dtype=np.int64),
        parameters=params[[row[i] for i in chosen]],
        parameter_names=np.array(model.parameter_names),
        max_real_eigenvalue=np.array([published[i] for i in chosen]),
    )
    print(f"wrote {OUTPUT} ({OUTPUT.stat().st_size / 1024:.0f} KiB)")


if __name__ == "__main__":
    default = ROOT.parent / "shared" / "reference"
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else default)
