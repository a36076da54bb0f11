"""Classes of kinetic models the user writes (``--where``), and their exact members.

- :mod:`rekindle.classes.spec`: :class:`ClassSpec`, the validated predicate
- :mod:`rekindle.classes.grammar`: the ``--where`` sentence ↔ :class:`ClassSpec`
- :mod:`rekindle.classes.sampler`: subset simulation + pCN, ORACLE's prior restricted
  to a class
- :mod:`rekindle.classes.proposal`: a fitted proposal with a known density (defensive
  Gaussian mixture) for the exact independence-chain and rejection deliveries
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
