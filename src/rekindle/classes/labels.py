"""The class sampler's two spaces and its label counter.

ORACLE draws the saturation of every enzyme site independently and uniformly,
``σ ~ U(0, 1)^d``; through ``u = Φ⁻¹(σ)`` that prior is the standard normal ``N(0, I_d)``,
the space every move of the class sampler works in (:func:`saturation_of`,
:func:`normal_of`). :class:`LabelCounter` labels sets of ``u`` with the exact engine
(max Re(λ), and the return test of a class with a return clause) and counts what that
costs; it keeps the latest labelled sets for the delayed-acceptance screen.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.special import ndtr, ndtri

__all__ = [
    "SATURATION_FLOOR",
    "KeptMembers",
    "LabelCounter",
    "Measure",
    "ReturnsTest",
    "normal_of",
    "saturation_of",
]

#: σ is kept in [floor, 1 − floor] as ORACLE's sampler does.
SATURATION_FLOOR = 1e-12

Measure = Callable[[np.ndarray], np.ndarray]
"""σ ``(m, d)`` → max Re(λ) ``(m,)``, 1/h (NaN: not evaluable)."""
ReturnsTest = Callable[[np.ndarray], np.ndarray]
"""σ ``(m, d)`` → bool ``(m,)``: every perturbation returned."""


def saturation_of(u: np.ndarray) -> np.ndarray:
    """``σ = Φ(u)`` clipped to ORACLE's ``[floor, 1 − floor]``."""
    return np.clip(ndtr(u), SATURATION_FLOOR, 1.0 - SATURATION_FLOOR)


def normal_of(sigma: np.ndarray) -> np.ndarray:
    """``u = Φ⁻¹(σ)``, the inverse of :func:`saturation_of`."""
    return ndtri(np.clip(sigma, SATURATION_FLOOR, 1.0 - SATURATION_FLOOR))


class LabelCounter:
    """Labels and integrations spent (with their time)."""

    def __init__(self, measure: Measure, returns: ReturnsTest | None, history: int = 0) -> None:
        self._measure, self._returns = measure, returns
        self.labels = self.integrated = 0
        self._history = history
        self._kept_u: list[np.ndarray] = []
        self._kept_lam: list[np.ndarray] = []
        self._n_kept = 0

    @property
    def returns_test(self) -> ReturnsTest | None:
        """The return test (None without a return clause)."""
        return self._returns

    def measure(self, u: np.ndarray) -> np.ndarray:
        self.labels += u.shape[0]
        lam = np.asarray(self._measure(saturation_of(u)), dtype=float)
        if self._history and u.shape[0]:  # the latest labelled sets (to fit a screen)
            self._kept_u.append(u.copy())
            self._kept_lam.append(lam.copy())
            self._n_kept += u.shape[0]
            while self._n_kept - self._kept_u[0].shape[0] >= self._history:
                self._n_kept -= self._kept_u.pop(0).shape[0]
                self._kept_lam.pop(0)
        return lam

    def history(self) -> tuple[np.ndarray, np.ndarray]:
        """The latest labelled sets ``(u (m, d), max Re(λ) (m,))`` (at most ``history``)."""
        if not self._kept_u:
            return np.empty((0, 0)), np.empty(0)
        u, lam = np.concatenate(self._kept_u), np.concatenate(self._kept_lam)
        return u[-self._history :], lam[-self._history :]

    def returns(self, u: np.ndarray) -> np.ndarray:
        if self._returns is None or u.shape[0] == 0:
            return np.ones(u.shape[0], bool)
        self.integrated += u.shape[0]
        return np.asarray(self._returns(saturation_of(u)), dtype=bool)


class KeptMembers:
    """The members a delivery or a set of chains has kept so far (normal-space states and
    their max Re(λ)); :meth:`arrays` gives the first ``n``."""

    def __init__(self, n: int, progress: Callable[[int], None] | None) -> None:
        self.n, self.progress, self.count = n, progress, 0
        self._u: list[np.ndarray] = []
        self._lam: list[np.ndarray] = []

    def add(self, u: np.ndarray, lam: np.ndarray, *, report: bool = True) -> None:
        """Keep members ``u`` (m, d) with max Re(λ) ``lam`` (m,); report the count."""
        self._u.append(u)
        self._lam.append(lam)
        self.count += u.shape[0]
        if report and self.progress:
            self.progress(min(self.count, self.n))

    @property
    def lams(self) -> list[np.ndarray]:
        """The max Re(λ) of each batch kept, in order (for lag correlations)."""
        return self._lam

    def arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The first ``n`` members kept: states (n, d) and max Re(λ) (n,)."""
        return np.concatenate(self._u)[: self.n], np.concatenate(self._lam)[: self.n]
