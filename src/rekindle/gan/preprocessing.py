"""Data preprocessing for the REKINDLE GAN: scaling, splitting, labels.

The feature maps and the class labels are shared with the flow generator and live in
:mod:`rekindle.features` (re-exported here, so ``rekindle.gan.SaturationScaler`` etc.
keep working); the train/test split is the GAN's own.

Label encoding
--------------
Class *indices* are used everywhere in this package:

=====  ==================  =======================================
index  name                meaning
=====  ==================  =======================================
0      ``"relevant"``      max Re(eigenvalue) of the Jacobian < threshold
1      ``"not_relevant"``  otherwise (too slow dynamics or unstable)
=====  ==================  =======================================

Inside the networks the default scalar encoding maps index 0 to -1 and index
1 to +1 (the paper's convention "relevant = -1"); see
:class:`rekindle.gan.modules.LabelEncoding`.
"""

from __future__ import annotations

import numpy as np

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
    "train_test_split_indices",
]


def train_test_split_indices(
    n: int, test_fraction: float = 0.1, seed: int = 0
) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random split of ``n`` row indices into training and test sets.

    Parameters
    ----------
    n : int
        Number of rows.
    test_fraction : float
        Fraction held out for testing (paper: 0.1, i.e. a 9:1 split). The test
        set has ``round(n * test_fraction)`` rows.
    seed : int
        Seed of :func:`numpy.random.default_rng`.

    Returns
    -------
    train_idx, test_idx : numpy.ndarray of int64
        Sorted, disjoint indices whose union is ``range(n)``.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    if not 0.0 <= test_fraction < 1.0:
        raise ValueError("test_fraction must be in [0, 1)")
    perm = np.random.default_rng(seed).permutation(n)
    n_test = round(n * test_fraction)
    return np.sort(perm[n_test:]).astype(np.int64), np.sort(perm[:n_test]).astype(np.int64)
