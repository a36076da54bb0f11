"""The analytic half-space toy shared by the exactness tests of the class deliveries.

In normal space u = Φ⁻¹(σ), d = 6, "max Re(λ)" = −10·(u₁ + u₂)/√2, so the class
max_eig < −25 is the half-space s = (u₁ + u₂)/√2 > T = 2.5 (P = Φ(−2.5) = 6.2·10⁻³). The
prior restricted to it: s ~ N(0, 1) truncated to s > T; o = (u₁ − u₂)/√2 and u₃…u₆ ~ N(0, 1),
all independent.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from rekindle.classes.sampler import normal_of

D, T = 6, 2.5
TAIL = stats.truncnorm(T, np.inf)


def measure(sigma: np.ndarray) -> np.ndarray:
    """The toy's "max Re(λ)" of saturations ``sigma`` (m, D), shape (m,)."""
    u = normal_of(sigma)
    return -10.0 * (u[:, 0] + u[:, 1]) / np.sqrt(2.0)


def coordinates(sigma: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(s, o, u₃…u₆)`` of saturations ``sigma``: the class coordinate and the free ones."""
    u = normal_of(sigma)
    return (u[:, 0] + u[:, 1]) / np.sqrt(2.0), (u[:, 0] - u[:, 1]) / np.sqrt(2.0), u[:, 2:]


def ks_all(s: np.ndarray, o: np.ndarray, rest: np.ndarray) -> float:
    """Largest KS distance of ``s`` to the truncated normal and of the rest to N(0, 1)."""
    out = [stats.kstest(s, TAIL.cdf).statistic, stats.kstest(o, stats.norm.cdf).statistic]
    out += [stats.kstest(rest[:, j], stats.norm.cdf).statistic for j in range(rest.shape[1])]
    return max(out)
