"""What both generators share: the feature maps of K_M and the class labels.

``scaling`` (:class:`SaturationScaler`, :class:`GlobalLogMinMaxScaler`,
:class:`LogMinMaxScaler`, :func:`scaler_from_dict`, :data:`SCALINGS`) and ``classes``
(:data:`CLASS_NAMES`, :data:`RELEVANT`, :data:`NOT_RELEVANT`, :func:`class_index`,
:func:`encode_labels`, :class:`ConditionalGenerator`). It sits below ``gan`` and
``flow``, which both import it and never each other (numpy only: no torch).
"""

from __future__ import annotations

from rekindle.features.classes import (
    CLASS_NAMES,
    NOT_RELEVANT,
    RELEVANT,
    ConditionalGenerator,
    class_index,
    encode_labels,
)
from rekindle.features.scaling import (
    SCALINGS,
    GlobalLogMinMaxScaler,
    LogMinMaxScaler,
    SaturationScaler,
    Scaler,
    scaler_from_dict,
)

__all__ = [
    "CLASS_NAMES",
    "NOT_RELEVANT",
    "RELEVANT",
    "SCALINGS",
    "ConditionalGenerator",
    "GlobalLogMinMaxScaler",
    "LogMinMaxScaler",
    "SaturationScaler",
    "Scaler",
    "class_index",
    "encode_labels",
    "scaler_from_dict",
]
