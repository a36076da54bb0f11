"""Tutorial: choosing and judging a generator — incidence, read with width and C2ST.

A generator can raise its incidence (the fraction of generated models that are relevant)
by generating a narrow corner of parameter space, so the incidence is read with the width
of the generated K_M and a classifier two-sample test (C2ST) against relevant ORACLE
sets. This script shows the trap, then compares the flow's two generation modes.

    python docs/tutorials/choose_generator.py

``REKINDLE_TUTORIAL_N``: ORACLE sets (default 4000); ``REKINDLE_TUTORIAL_OUT``: output
folder (default: a temporary one).
"""

import os
import tempfile
from pathlib import Path

import numpy as np

from rekindle.analysis.fidelity import c2st, width_ratios
from rekindle.data import load_model, load_physiology
from rekindle.flow import FlowConfig, GuideConfig
from rekindle.flow.model import train_flow_file
from rekindle.io.dataset import read_dataset
from rekindle.kinetics import KineticSystem
from rekindle.kinetics.labelling import Labeller
from rekindle.sampling import km_from_saturation, km_reference_concentrations, sample_dataset

N = int(os.environ.get("REKINDLE_TUTORIAL_N", "4000"))
OUT = Path(os.environ.get("REKINDLE_TUTORIAL_OUT") or tempfile.mkdtemp(prefix="rekindle-"))

model, phys = load_model("ecoli"), load_physiology("ecoli", "fdp1")
system = KineticSystem(model)
labeller = Labeller(system, phys)  # threshold −9 1/h
data_path = sample_dataset(model, phys, N, OUT / "oracle.h5", seed=0)
oracle = read_dataset(data_path)
reference = system.km_of(oracle.parameters)[oracle.relevant]  # relevant ORACLE K_M
train_km, heldout_km = reference[: len(reference) // 2], reference[len(reference) // 2 :]
M = min(600, len(heldout_km) // 2)  # models per judged population


def judge(name: str, km: np.ndarray) -> None:
    """Incidence (exact engine), width (std and IQR ratios) and C2ST of K_M sets."""
    _, relevant = labeller.label(system.complete_parameters(km, phys))
    std_ratio, iqr_ratio = width_ratios(km, train_km)
    accuracy = c2st(np.log(km), np.log(heldout_km[: len(km)]), max_samples=M, seed=0)
    print(
        f"{name:<28} incidence {relevant.mean():.3f}  width {std_ratio:.2f} / "
        f"{iqr_ratio:.2f}  C2ST {accuracy:.3f}"
    )


# 1. The trap: ORACLE with every saturation drawn from U(0.25, 0.75) instead of U(0, 1).
rng = np.random.default_rng(1)
x_km = km_reference_concentrations(model, phys)
narrow = km_from_saturation(rng.uniform(0.25, 0.75, (M, x_km.size)), x_km)
judge("narrow ORACLE (the trap)", narrow)
judge("relevant ORACLE (held out)", heldout_km[-M:])  # C2ST against heldout_km[:M]

# 2. The flow generator, copula alone and guided by a (short) relevance classifier.
guide = GuideConfig(epochs=3, seed=0)
flow = train_flow_file(data_path, OUT / "flow", FlowConfig(seed=0), guide_config=guide)
judge("flow, copula alone", flow.generate(M, "relevant", seed=2, guided=False))
judge("flow, guided (power 1)", flow.generate(M, "relevant", seed=2, guided=True))
print("the fit's own choice:", flow.training_summary.get("mode_choice"))
