"""Classes of kinetic models the user writes (``--where``), and their exact members.

- :mod:`rekindle.classes.spec`: :class:`ClassSpec`, the validated predicate
- :mod:`rekindle.classes.grammar`: the ``--where`` sentence ↔ :class:`ClassSpec`
- :mod:`rekindle.classes.sampler`: :func:`sample_class`, ORACLE's prior restricted to a
  class (the driver: levels → route → delivery → diagnostics)
- :mod:`rekindle.classes.settings`: its settings, continuable state and result
- :mod:`rekindle.classes.labels`: normal space ``u = Φ⁻¹(σ)`` and the label counter
- :mod:`rekindle.classes.levels`: subset simulation with pCN moves up to the class
- :mod:`rekindle.classes.route`: the delivery route, and the proposal fit it may need
- :mod:`rekindle.classes.deliveries`: ORACLE + exact filter; rejection against a fitted
  bound
- :mod:`rekindle.classes.chains`: pCN, delayed-acceptance pCN and independence chains
  restricted to the class
- :mod:`rekindle.classes.diagnostics`: the records every delivery shares
- :mod:`rekindle.classes.proposal`: a fitted proposal with a known density (defensive
  Gaussian mixture) for the exact independence-chain and rejection deliveries
- :mod:`rekindle.classes.surrogate`: the ridge screen of delayed-acceptance chains
- :mod:`rekindle.classes.screen`: a learned screen of the candidates of a costly class
  (integrate the likely members, audit the rest)
- :mod:`rekindle.classes.generate`: members of a model's class to a dataset, and the
  (sequential) return test
- :mod:`rekindle.classes.store`: the class in datasets and class-sampler files
"""

from rekindle.classes.grammar import format_where, parse_where
from rekindle.classes.sampler import ClassDraw, ClassSamplerSettings, sample_class
from rekindle.classes.spec import ClassSpec, ReturnsClause

__all__ = [
    "ClassDraw",
    "ClassSamplerSettings",
    "ClassSpec",
    "ReturnsClause",
    "format_where",
    "parse_where",
    "sample_class",
]
