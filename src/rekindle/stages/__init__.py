"""The stages of the REKINDLE workflow, as verbs over objects.

Each stage takes the objects it works on (a compiled :class:`~rekindle.kinetics.KineticSystem`,
a :class:`~rekindle.kinetics.Physiology`, a :class:`~rekindle.gan.KineticGAN`, a
:class:`~rekindle.kinetics.labelling.Labeller`, a settings object), writes its files into
a folder and returns a small typed summary whose fields are the keys it contributes to a
run's ``summary.json``. The command line (``rekindle train``, ``dynamics``, ``perturb``,
``interpret``) calls them one at a time; :func:`rekindle.pipeline.run_pipeline` calls
them in order.

Stages and what they write (the summary they return in brackets), by module:

- ``sampling``: :func:`sample_data`: ``oracle.h5`` (the labelled dataset)
- ``training``: :func:`train_generators`: ``training/repeat_<r>/``, ``generator.pt``
  (:class:`TrainedGenerators`, planned by :class:`TrainingPlan`, which lives in
  :mod:`rekindle.gan.config` with :data:`SCALINGS` and :data:`RECIPES`);
  :func:`plot_training`: Figs. 2a–c and the losses (:class:`TrainingCurves`);
  :func:`train_flow`: ``generator.pt``, ``flow_history.csv`` (the flow generator)
- ``fidelity``: :func:`generate_validation`: ``generated.h5`` (the engine-labelled
  dataset); :func:`measure_spread`: nothing (:class:`SpreadSummary`);
  :func:`measure_fidelity`: ``fig_fidelity.png`` (:class:`FidelityReport`)
- ``dynamics``: :func:`analyse_dynamics`: ``dynamics.csv``, Fig. 2d (a table per population)
- ``perturbation``: :func:`analyse_perturbations`: ``perturbation.json``, Fig. 2e
  (:class:`PerturbationSummary`)
- ``interpretability``: :func:`analyse_interpretability`: ``parameter_kl_ranking.csv``,
  Fig. 3 (:class:`InterpretabilitySummary`, settings :class:`InterpretabilitySettings`)
- ``transfer``: :func:`run_transfer_experiment`: ``transfer.csv``, ``transfer.json``, Fig. 4
  (settings :class:`TransferSettings`; either generator)
- ``learning_curve``: :func:`write_learning_curve`: ``learning_curve.csv``, ``.json``, ``.png``
- ``summary``: :func:`write_summary`: ``summary.json`` and ``report.html``;
  :func:`provenance`, :func:`versions`

Every public name is re-exported here: ``from rekindle.stages import X`` works for all.
"""

from __future__ import annotations

from rekindle.gan.config import RECIPES, TrainingPlan
from rekindle.gan.config import SCALING_CHOICES as SCALINGS
from rekindle.stages.dynamics import analyse_dynamics
from rekindle.stages.fidelity import (
    SpreadSummary,
    generate_validation,
    measure_fidelity,
    measure_spread,
)
from rekindle.stages.interpretability import (
    InterpretabilitySettings,
    InterpretabilitySummary,
    analyse_interpretability,
)
from rekindle.stages.learning_curve import write_learning_curve
from rekindle.stages.perturbation import (
    SUMMARY_ALIASES,
    PerturbationSummary,
    analyse_perturbations,
)
from rekindle.stages.sampling import sample_data
from rekindle.stages.summary import provenance, versions, write_summary
from rekindle.stages.training import (
    RepeatOutcome,
    TrainedGenerators,
    TrainingCurves,
    make_scaler,
    plot_training,
    train_flow,
    train_generators,
)
from rekindle.stages.transfer import TransferSettings, run_transfer_experiment

__all__ = [
    "RECIPES",
    "SCALINGS",
    "SUMMARY_ALIASES",
    "InterpretabilitySettings",
    "InterpretabilitySummary",
    "PerturbationSummary",
    "RepeatOutcome",
    "SpreadSummary",
    "TrainedGenerators",
    "TrainingCurves",
    "TrainingPlan",
    "TransferSettings",
    "analyse_dynamics",
    "analyse_interpretability",
    "analyse_perturbations",
    "generate_validation",
    "make_scaler",
    "measure_fidelity",
    "measure_spread",
    "plot_training",
    "provenance",
    "run_transfer_experiment",
    "sample_data",
    "train_flow",
    "train_generators",
    "versions",
    "write_learning_curve",
    "write_summary",
]
