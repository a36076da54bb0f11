"""A class-fitted Gaussian reference for the coordinates a class constrains most.

pCN (:mod:`rekindle.classes.levels`) is reversible with respect to the prior
``N(0, I)``: its moves need no density ratio, but the coordinates the class constrains
(narrowed, shifted, correlated: at max_eig < −35 h⁻¹ on E. coli fdp1 the K_M of acetyl-CoA
synthetase and the alcohol dehydrogenases) force a small step on every coordinate, and
the chains need hundreds of steps to cross them.

The *generalised* pCN move (Rudolf & Sprungk, Found. Comput. Math. 18, 309 (2018)) is
reversible with respect to a Gaussian ``ψ = N(m, C)`` instead:

    u'_B = m + √(1 − γ²) (u_B − m) + γ L z,   L Lᵀ = C,  z ~ N(0, I_k),

on a block ``B`` of ``k`` coordinates (the others unchanged). With ``ψ`` fitted to the
class's states, it moves the block on the class's own scale and correlations.
Metropolis–Hastings for the target ``π ∝ N(0, I) 1_C`` accepts it with probability

    min(1, exp(ρ(u') − ρ(u))) · 1_C(u'),   ρ = log φ_B − log ψ   (φ_B = N(0, I_k)),

because ``ψ(u) q(u, u') = ψ(u') q(u', u)``: the move density ``π(u) q(u, u') a(u, u')``
is ``φ(u) 1_C(u) 1_C(u') q(u, u') min(1, φ(u')ψ(u)/(φ(u)ψ(u')))``, symmetric in
``(u, u')``. Exact for any ``m`` and ``C`` fixed during production; a poor fit only
costs acceptance. The ratio test comes first, so a proposal that fails it is never
labelled.

:func:`fit_block` chooses the block from the chains' states (running moments,
:func:`pool_states`): the ``k`` coordinates whose class marginal departs most from
``N(0, 1)`` (``|mean| + |log std|``), and fits ``m`` and ``C`` on them.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rekindle.flow.marginals import Whitening

__all__ = ["BlockReference", "fit_block", "pool_states"]


def pool_states(pool: Whitening | None, u: np.ndarray) -> Whitening:
    """Add chain states ``u`` ``(m, d)`` to running moments (one class of
    :class:`~rekindle.flow.marginals.Whitening`, started when ``pool`` is None): no state
    is stored. Returns the pool."""
    if pool is None:
        pool = Whitening(1, u.shape[1])
    pool.update(u, np.zeros(u.shape[0], dtype=np.int64))
    return pool


@dataclass(frozen=True)
class BlockReference:
    """The Gaussian ``N(mean, chol cholᵀ)`` of the coordinates ``index`` of ``u``.

    Attributes
    ----------
    index
        Shape ``(k,)``, sorted: the block's coordinates.
    mean
        Shape ``(k,)``: ``m``.
    chol
        Shape ``(k, k)``, lower triangular: ``L`` with ``L Lᵀ = C``.
    """

    index: np.ndarray
    mean: np.ndarray
    chol: np.ndarray

    def propose(self, u: np.ndarray, gamma: float, rng: np.random.Generator) -> np.ndarray:
        """The move ``u'`` ``(m, d)`` of states ``u`` ``(m, d)``: generalised pCN with step
        ``gamma`` on the block, the other coordinates unchanged."""
        b = self.index
        z = rng.standard_normal((u.shape[0], b.size))
        prop = u.copy()
        prop[:, b] = (
            self.mean + math.sqrt(1.0 - gamma**2) * (u[:, b] - self.mean) + gamma * z @ self.chol.T
        )
        return prop

    def jump(self, u: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Independence proposals ``u'`` ``(m, d)`` for states ``u`` ``(m, d)`` (only their
        shape is used): the block drawn from ``ψ``, the other coordinates from ``N(0, I)``.

        Metropolis–Hastings for ``π ∝ N(0, I) 1_C`` with this proposal ``q = ψ ⊗ φ_rest``
        accepts with ``min(1, exp(ρ(u') − ρ(u))) · 1_C(u')``, the same ratio as
        :meth:`propose` (``π/q ∝ φ_B/ψ``: the other coordinates cancel); it is the
        generalised pCN move at ``γ = 1`` with the other coordinates redrawn too.
        """
        prop = rng.standard_normal(u.shape)
        b = self.index
        prop[:, b] = self.mean + prop[:, b] @ self.chol.T
        return prop

    def log_ratio(self, u: np.ndarray) -> np.ndarray:
        """``ρ(u) = log φ_B(u_B) − log ψ(u_B)`` ``(m,)`` up to a constant."""
        from scipy.linalg import solve_triangular

        ub = u[:, self.index]
        w = solve_triangular(self.chol, (ub - self.mean).T, lower=True)
        return 0.5 * ((w**2).sum(axis=0) - (ub**2).sum(axis=1))

    def rest(self, d: int) -> np.ndarray:
        """The coordinates outside the block, sorted, of ``d``."""
        return np.setdiff1d(np.arange(d), self.index)

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Plain arrays (for a class-sampler file)."""
        return {"index": self.index, "mean": self.mean, "chol": self.chol}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> BlockReference:
        """The inverse of :meth:`to_arrays`."""
        return cls(
            np.asarray(arrays["index"], dtype=np.int64),
            np.asarray(arrays["mean"], dtype=float),
            np.asarray(arrays["chol"], dtype=float),
        )


def fit_block(moments: Whitening, size: int) -> BlockReference:
    """The block of the ``size`` coordinates whose marginal in the states departs most
    from ``N(0, 1)`` (``|mean| + |log std|``), with the states' mean and covariance.

    Parameters
    ----------
    moments
        The chains' states pooled over steps (members of the class; :func:`pool_states`).
    size
        ``k``: coordinates in the block (at most ``d``).

    Returns
    -------
    BlockReference
    """
    means, covs = moments.moments()
    mean, cov = means[0], covs[0]
    std = np.sqrt(np.maximum(np.diag(cov), 1e-12))
    departure = np.abs(mean) + np.abs(np.log(std))
    index = np.sort(np.argsort(departure, kind="stable")[::-1][: min(size, mean.size)])
    c = cov[np.ix_(index, index)]
    c = c + 1e-9 * np.trace(c) / index.size * np.eye(index.size)
    return BlockReference(index.astype(np.int64), mean[index], np.linalg.cholesky(c))
