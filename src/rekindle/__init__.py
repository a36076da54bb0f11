"""rekindle: kinetic models of metabolism generated with deep generative networks.

Layout: ``kinetics`` (model, physiology, batched engine, stability and labels),
``sampling`` (ORACLE), ``gan`` (the conditional GAN), ``integrate`` (batched stiff ODE
solver), ``analysis`` (dynamics, perturbation, interpretability, transfer), ``plots``,
``report`` and ``io`` (one module per format; ``io.atomic`` writes every output).
:mod:`rekindle.stages` holds the workflow's stages as verbs over these objects;
:mod:`rekindle.pipeline` (``rekindle run``) and :mod:`rekindle.cli` call them.

Floors (lowest first; a module imports its own floor or lower ones only, and the
import graph has no circle -- ``tests/test_architecture.py`` keeps it so, counting
function-local and ``TYPE_CHECKING`` imports too):

1. foundation: ``errors``, ``config``, ``progress``, ``reference_values``,
   ``validation``, ``io.atomic``, ``io._hdf5``, ``io._journal``, ``scale``;
2. ``kinetics``;
3. ``io`` (the formats), ``data`` (the bundled models), ``integrate``;
4. ``sampling``;
5. ``features`` (the feature maps both generators use);
6. the generators ``gan`` and ``flow`` (which never import each other);
7. ``generation``;
8. ``analysis``;
9. ``classes`` (classes written with ``--where`` and their exact members; it uses
   ``analysis.perturbation`` for return clauses);
10. ``plots``;
11. ``report``;
12. ``stages``;
13. ``pipeline``;
14. ``cli``.

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
