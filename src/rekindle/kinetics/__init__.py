"""Kinetic-model engine: model definition, rate laws, steady states, Jacobians."""

from rekindle.kinetics.conservation import ConservationAnalysis, analyse_conservation
from rekindle.kinetics.mechanisms import MECHANISMS, MODIFIER_KINDS, Mechanism
from rekindle.kinetics.model import (
    Compartment,
    KineticModel,
    Metabolite,
    ModelError,
    Modifier,
    Reaction,
)
from rekindle.kinetics.physiology import Physiology, PhysiologyError, check_physiology
from rekindle.kinetics.stability import (
    DEFAULT_THRESHOLD,
    max_real_eigenvalues,
    relevance_labels,
    time_constants,
)
from rekindle.kinetics.system import KineticSystem

__all__ = [
    "DEFAULT_THRESHOLD",
    "MECHANISMS",
    "MODIFIER_KINDS",
    "Compartment",
    "ConservationAnalysis",
    "KineticModel",
    "KineticSystem",
    "Mechanism",
    "Metabolite",
    "ModelError",
    "Modifier",
    "Physiology",
    "PhysiologyError",
    "Reaction",
    "analyse_conservation",
    "check_physiology",
    "max_real_eigenvalues",
    "relevance_labels",
    "time_constants",
]
