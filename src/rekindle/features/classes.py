"""The two classes every class-conditional generator of K_M knows, and what such a
generator exposes (:class:`ConditionalGenerator`, cGAN and flow alike).

Label encoding
--------------
Class *indices* are used everywhere:

=====  ==================  =======================================
index  name                meaning
=====  ==================  =======================================
0      ``"relevant"``      max Re(eigenvalue) of the Jacobian < threshold
1      ``"not_relevant"``  otherwise (too slow dynamics or unstable)
=====  ==================  =======================================

Inside the cGAN's networks the default scalar encoding maps index 0 to -1 and index
1 to +1 (the paper's convention "relevant = -1"); see
:class:`rekindle.gan.modules.LabelEncoding`.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H as DEFAULT_THRESHOLD

__all__ = [
    "CLASS_NAMES",
    "NOT_RELEVANT",
    "RELEVANT",
    "ConditionalGenerator",
    "class_index",
    "encode_labels",
]

#: Class names by class index.
CLASS_NAMES: tuple[str, ...] = ("relevant", "not_relevant")
#: Class index of biologically relevant models.
RELEVANT = 0
#: Class index of models that are not biologically relevant.
NOT_RELEVANT = 1


class ConditionalGenerator:
    """What every class-conditional generator of K_M exposes (cGAN and flow alike).

    Subclasses set ``feature_names`` (the K_M names, in order) and ``metadata`` (with the
    relevance ``threshold`` in 1/h).
    """

    feature_names: list[str]
    metadata: dict

    @property
    def n_features(self) -> int:
        """Number of K_M per parameter set."""
        return len(self.feature_names)

    @property
    def threshold(self) -> float:
        """Relevance threshold on the max real eigenvalue (1/h)."""
        return float(self.metadata.get("threshold", DEFAULT_THRESHOLD))

    @property
    def relevance_interval(self) -> tuple[float, float]:
        """``(lower, upper)``, 1/h: "relevant" is ``lower < max Re(λ) < upper``.

        The interval of the class recorded in :attr:`metadata` (``class_spec``, see
        :func:`rekindle.io.dataset.relevance_interval`), else ``(-inf, threshold)``.
        """
        from rekindle.io.dataset import relevance_interval

        return relevance_interval(self.metadata, "generator")

    @property
    def class_names(self) -> tuple[str, ...]:
        """Class names by class index."""
        return CLASS_NAMES


_ALIASES = {
    "relevant": RELEVANT,
    "not_relevant": NOT_RELEVANT,
    "not relevant": NOT_RELEVANT,
    "not-relevant": NOT_RELEVANT,
    "irrelevant": NOT_RELEVANT,
}


def class_index(cls: str | int) -> int:
    """Resolve a class name or index to the class index.

    Parameters
    ----------
    cls : str or int
        ``"relevant"`` / ``"not_relevant"`` (also ``"not relevant"``,
        ``"irrelevant"``), or an index 0 / 1.

    Returns
    -------
    int
        0 for relevant, 1 for not relevant.

    Raises
    ------
    ValueError
        For unknown names or out-of-range indices.
    """
    if isinstance(cls, (bool, np.bool_)):
        raise ValueError("pass a class name ('relevant'/'not_relevant') or index, not a bool")
    if isinstance(cls, (int, np.integer)):
        if 0 <= int(cls) < len(CLASS_NAMES):
            return int(cls)
        raise ValueError(f"class index {cls} out of range 0..{len(CLASS_NAMES) - 1}")
    if isinstance(cls, str) and cls.strip().lower() in _ALIASES:
        return _ALIASES[cls.strip().lower()]
    raise ValueError(f"unknown class {cls!r}; expected one of {CLASS_NAMES}")


def encode_labels(relevant: Sequence[bool] | np.ndarray) -> np.ndarray:
    """Convert boolean relevance flags to class indices.

    Parameters
    ----------
    relevant : array_like of bool, shape (n,)
        ``True`` where the model is biologically relevant.

    Returns
    -------
    numpy.ndarray of int64, shape (n,)
        0 where relevant, 1 where not relevant.

    Raises
    ------
    TypeError
        If the input is not boolean (integers are refused because 0/1 would be
        ambiguous between "flag" and "class index").
    ValueError
        If the input is not one-dimensional.
    """
    arr = np.asarray(relevant)
    if arr.dtype != np.bool_:
        raise TypeError(
            f"relevance labels must be a boolean array (True = relevant), got dtype {arr.dtype}"
        )
    if arr.ndim != 1:
        raise ValueError(f"relevance labels must be 1-D, got shape {arr.shape}")
    return np.where(arr, RELEVANT, NOT_RELEVANT).astype(np.int64)
