"""The published numbers rekindle is compared with, each in one place with its source.

All values are from Choudhury *et al.*, "Reconstructing kinetic models for dynamical
studies of metabolism using generative adversarial networks", *Nat. Mach. Intell.* 4,
710–719 (2022) ("the paper"), *E. coli* central carbon metabolism; the section is named
on each value. This module imports nothing, so the command line and the report can read
it without loading the numerical stack.
"""

from __future__ import annotations

RELEVANCE_THRESHOLD_PER_H = -9.0
"""Upper bound on max Re(λ) of a biologically relevant model, h⁻¹ (Methods, "Biologically
relevant kinetic models": three times faster than the ~21 min doubling time, ≈ −60/7)."""

DOUBLING_TIME_MIN = 21.0
"""*E. coli* doubling time, minutes (Methods, perturbation analysis; ref. 36)."""

TAU_LIMIT_MIN = 7.0
"""Bound on the dominant time constant of a relevant model, minutes (Methods: "smaller
than ~7 min", a third of the doubling time)."""

INCIDENCE_ORACLE_FDP1 = 0.588
"""Incidence of relevant models in the ORACLE training data, physiology 1 (Table 1)."""

INCIDENCE_REKINDLE_BEST_FDP1 = 0.977
"""Highest incidence of relevant generated models over the repeats, physiology 1
(Results, Fig. 2b and Table 1)."""

SPEARMAN_INCIDENCE_KL_FDP1 = -0.691
"""Spearman ρ between the incidence at an epoch and the KL divergence (Results, Fig. 2c)."""

RETURNED_FRACTION_FDP1 = {"ORACLE": 0.6631, "REKINDLE": 0.6685}
"""Fraction of perturbed relevant models back within 1 % of the steady state at 21 min,
physiology 1, perturbations 0.5–2× X_ref (Results, Fig. 2e)."""

RETURNED_FRACTION_FDP4 = {"ORACLE": 0.6105, "REKINDLE": 0.8379}
"""The same for physiology 4 (Results; Supplementary Fig. 4a–c)."""

TRANSFER_INCIDENCE_10_SETS = {"fdp2": 0.82, "fdp3": 0.72, "fdp4": 0.72}
"""Incidence of relevant models after transfer from fdp1 with 10 target sets (Results, Fig. 4)."""

TOP_PARAMETER_FDP1 = "K_M,atp of ACS"
"""The K_M that separates relevant from non-relevant models most, physiology 1
(Results, Fig. 3a–b: K_M of ATP in acetyl-CoA synthetase)."""

TRAINING_SETS = 72_000
"""ORACLE parameter sets per physiology used for training (Results)."""
