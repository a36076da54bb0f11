"""Tutorial: a kinetic model from SKiMpy (the published REKINDLE layout).

Imports the published SKiMpy model of E. coli (``varma_strain_1.yml``) with its pyTFA
steady state, adds what the SKiMpy file lacks (``examples/ecoli_from_skimpy/extra.yaml``)
and checks that the result is the embedded ``ecoli`` model, then samples it.

    python docs/tutorials/from_skimpy.py

The published files are read from ``REKINDLE_REFERENCE`` (default ``../shared/reference``
beside the repository: ``skimpy/varma_strain_1.yml`` and
``rekindle/steady_state_fdp1.csv``); without them the script says so and stops (exit 0).
``REKINDLE_TUTORIAL_N``: ORACLE sets sampled (default 1000). On the command line:
``rekindle import-model --skimpy varma_strain_1.yml --steady-state steady_state_fdp1.csv
--extra examples/ecoli_from_skimpy/extra.yaml --output ecoli/``.
"""

import os
import sys
from pathlib import Path

from rekindle.data import load_model
from rekindle.io.model_yaml import model_to_dict
from rekindle.io.skimpy_import import import_skimpy
from rekindle.sampling import sample_parameters

N = int(os.environ.get("REKINDLE_TUTORIAL_N", "1000"))
ROOT = Path(__file__).resolve().parents[2]
REFERENCE = Path(os.environ.get("REKINDLE_REFERENCE") or ROOT.parent / "shared" / "reference")
SKIMPY_MODEL = REFERENCE / "skimpy" / "varma_strain_1.yml"
STEADY_STATE = REFERENCE / "rekindle" / "steady_state_fdp1.csv"

missing = [str(p) for p in (SKIMPY_MODEL, STEADY_STATE) if not p.is_file()]
if missing:
    print(f"skipped: the published SKiMpy files are not here ({', '.join(missing)})")
    sys.exit(0)

# 1. Import: every steady state is checked (a metabolite without a concentration, a flux
#    against its ΔG, a metabolite not at steady state are refused, naming the culprit).
imported = import_skimpy(
    SKIMPY_MODEL, [STEADY_STATE], extra=ROOT / "examples" / "ecoli_from_skimpy" / "extra.yaml"
)
model, (fdp1,) = imported.model, imported.physiologies
print(f"{model.name}: {len(model.reactions)} reactions, {model.n_parameters} parameters")

# 2. With the extra file the published SKiMpy model is the embedded one, exactly.
same = model_to_dict(model) == model_to_dict(load_model("ecoli"))
print(f"identical to the embedded ecoli model: {same}")

# 3. Sample and label it as any other model.
params, max_eig, relevant = sample_parameters(model, fdp1, N, seed=0)
print(f"ORACLE on {fdp1.name}: incidence {relevant.mean():.3f} of {N}")
