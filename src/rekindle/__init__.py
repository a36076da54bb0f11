"""rekindle: kinetic models of metabolism generated with deep generative networks.

Layout: ``kinetics`` (model, physiology, batched engine, stability and labels),
``sampling`` (ORACLE), ``gan`` (the conditional GAN), ``integrate`` (batched stiff ODE
solver), ``analysis`` (dynamics, perturbation, interpretability, transfer), ``plots``,
``report`` and ``io`` (one module per format; ``io.atomic`` writes every output).
:mod:`rekindle.stages` holds the workflow's stages as verbs over these objects;
:mod:`rekindle.pipeline` (``rekindle run``) and :mod:`rekindle.cli` call them.
Settings derive from :class:`rekindle.config.Settings`, errors from
:class:`rekindle.errors.RekindleError`; the paper's numbers live in
:mod:`rekindle.reference_values`.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rekindle")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
