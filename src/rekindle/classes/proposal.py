"""A fitted proposal with a known density in normal space, for exact delivery by rejection.

ORACLE's prior in ``u = Φ⁻¹(σ)`` is ``p = N(0, I_d)``. A :class:`GaussianProposal`
``q = N(μ, Σ)`` with ``Σ = I + B diag(s − 1) Bᵀ`` (``B`` orthonormal ``(d, k)``, ``k ≪ d``:
the prior's unit variance everywhere except along ``k`` fitted directions) has a density
in closed form, so ``r(u) = p(u)/q(u)`` is known for every draw. Rejection against a bound
``M`` — draw ``u ~ q``, label it, keep a member with probability ``min(1, r(u)/M)`` — then
delivers the density ``∝ p(u) · min(1, M/r(u))`` on the class ``C``: exactly ``p`` restricted
to ``C`` when ``r ≤ M`` on ``C``, otherwise short by the *truncated mass*
``E_{p|C}[(1 − M/r)₊]`` (the total-variation distance to the wanted law, to first order),
which the sampler estimates by self-normalised importance weights and records.

:func:`fit_proposal` fits ``μ`` and ``Σ`` to weighted class members (cross-entropy method,
Rubinstein 1999): a mean kept only where it is resolved (``|μ_j| > z/√n_eff``) and the
eigen-directions of the weighted covariance whose variance lies outside the
Marchenko–Pastur band of noise for ``n_eff`` samples in ``d`` dimensions. Unresolved
coordinates keep the prior's law, where ``r`` is exactly 1, so estimation noise does not
spread ``log r``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

__all__ = [
    "GaussianProposal",
    "effective_sample_size",
    "fit_proposal",
    "independence_acceptance",
    "independence_thin",
    "truncated_mass",
    "truncated_mass_labelled",
]


@dataclass(frozen=True)
class GaussianProposal:
    """``q = α N(0, I) + (1 − α) N(mean, I + basis · diag(variances − 1) · basisᵀ)``.

    The defensive weight ``α`` (Hesterberg 1995) bounds ``r = p/q ≤ 1/α`` everywhere:
    an independence Metropolis–Hastings chain with this proposal is uniformly ergodic
    (Mengersen & Tweedie 1996) and ``M = 1/α`` is a true bound for rejection.

    Attributes
    ----------
    mean
        Shape ``(d,)``.
    basis
        Shape ``(d, k)``, orthonormal columns (``k`` may be 0).
    variances
        Shape ``(k,)``, > 0: the variance along each column of ``basis``.
    defensive
        ``α`` in [0, 1): the prior's share of the mixture.
    """

    mean: np.ndarray
    basis: np.ndarray
    variances: np.ndarray
    defensive: float = 0.0

    @property
    def dim(self) -> int:
        """``d``."""
        return int(self.mean.shape[0])

    def sample(self, n: int, rng: np.random.Generator) -> np.ndarray:
        """``n`` draws, shape ``(n, d)``."""
        z = rng.standard_normal((n, self.dim))
        fitted = rng.random(n) >= self.defensive
        if self.basis.shape[1]:
            z = (
                z
                + ((z @ self.basis) * (np.sqrt(self.variances) - 1.0))
                @ self.basis.T
                * (fitted[:, None])
            )
        return z + self.mean * fitted[:, None]

    def log_ratio(self, u: np.ndarray) -> np.ndarray:
        """``log p(u) − log q(u)``, ``p = N(0, I)``, shape ``(n,)`` for ``u`` ``(n, d)``."""
        u = np.asarray(u, dtype=float)
        x = u - self.mean
        quad = np.einsum("ij,ij->i", x, x)
        if self.basis.shape[1]:
            y = x @ self.basis
            quad = quad + (y**2 * (1.0 / self.variances - 1.0)).sum(axis=1)
        log_det = float(np.log(self.variances).sum())
        log_r = -0.5 * np.einsum("ij,ij->i", u, u) + 0.5 * quad + 0.5 * log_det
        if self.defensive <= 0:
            return log_r
        # p / (α p + (1 − α) g) = 1 / (α + (1 − α) / r_g)
        return -np.logaddexp(math.log(self.defensive), math.log1p(-self.defensive) - log_r)

    def with_defensive(self, alpha: float) -> GaussianProposal:
        """The same Gaussian part with the prior's share ``alpha``."""
        return GaussianProposal(self.mean, self.basis, self.variances, float(alpha))

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Its arrays (for a class-sampler file)."""
        return {
            "mean": self.mean,
            "basis": self.basis,
            "variances": self.variances,
            "defensive": np.array(self.defensive),
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> GaussianProposal:
        """The inverse of :meth:`to_arrays`."""
        return cls(
            np.asarray(arrays["mean"], dtype=float),
            np.asarray(arrays["basis"], dtype=float),
            np.asarray(arrays["variances"], dtype=float),
            float(arrays["defensive"]),
        )

    @classmethod
    def prior(cls, d: int) -> GaussianProposal:
        """``N(0, I_d)``: ORACLE itself (``r ≡ 1``)."""
        return cls(np.zeros(d), np.zeros((d, 0)), np.zeros(0))


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's ``(Σw)²/Σw²`` of non-negative weights (0 for none)."""
    w = np.asarray(weights, dtype=float)
    s = w.sum()
    return float(s * s / (w * w).sum()) if s > 0 else 0.0


def truncated_mass(log_r: np.ndarray, log_m: float) -> float:
    """Self-normalised estimate of ``E_{p|C}[(1 − M/r)₊]`` from class members drawn from q.

    Parameters
    ----------
    log_r
        Shape ``(n,)``: ``log p/q`` of the class members among draws from ``q``.
    log_m
        ``log M``.

    Returns
    -------
    float
        The mass of the class that rejection against ``M`` under-delivers (0: ``M``
        bounds every observed ratio).
    """
    log_r = np.asarray(log_r, dtype=float)
    if log_r.size == 0:
        return float("nan")
    top = log_r.max()
    w = np.exp(log_r - top)
    excess = np.clip(w - math.exp(log_m - top), 0.0, None)
    return float(excess.sum() / w.sum())


def truncated_mass_labelled(log_r: np.ndarray, log_m: float) -> float:
    """:func:`truncated_mass` from the members of a delivery that tests ``U < r/M`` before
    labelling, so that a draw was labelled with probability ``π = min(1, r/M)``.

    Each labelled member weighs ``1/π`` (Horvitz–Thompson): ``Σ (r − M)₊ / Σ max(r, M)``
    over the labelled members estimates ``Σ_C (r − M)₊ / Σ_C r`` over all members drawn.

    Parameters
    ----------
    log_r
        Shape ``(k,)``: ``log p/q`` of the labelled class members.
    log_m
        ``log M``.

    Returns
    -------
    float
        The estimated truncated mass; NaN without members.
    """
    log_r = np.asarray(log_r, dtype=float)
    if log_r.size == 0:
        return float("nan")
    w = np.exp(np.maximum(log_r, log_m) - log_m)  # max(r, M) / M
    return float((w - 1.0).sum() / w.sum())


def fit_proposal(
    u: np.ndarray,
    weights: np.ndarray | None = None,
    *,
    z_mean: float = 3.0,
    max_rank: int = 32,
    min_variance: float = 0.05,
    n_eff: float | None = None,
    diagonal: bool = False,
) -> GaussianProposal:
    """Fit a :class:`GaussianProposal` to weighted class members.

    Parameters
    ----------
    u
        Shape ``(n, d)``: class members in normal space.
    weights
        Shape ``(n,)``, ≥ 0: importance weights ``p/q`` of the members (``None``: equal).
    z_mean
        A coordinate's mean is kept when it lies more than ``z_mean`` standard errors
        (``1/√n_eff``) from 0; otherwise it stays at the prior's 0.
    max_rank
        Most fitted directions of the covariance.
    min_variance
        Floor of a fitted variance.
    n_eff
        Effective number of independent members (default: Kish's of the weights); give
        fewer for dependent members (states of a few MCMC chains).
    diagonal
        Fit directions along the coordinate axes only (a coordinate's variance is kept
        when it lies more than ``z_mean`` standard errors ``√(2/n_eff)`` from 1).

    Returns
    -------
    GaussianProposal
    """
    u = np.asarray(u, dtype=float)
    n, d = u.shape
    w = np.ones(n) if weights is None else np.asarray(weights, dtype=float)
    w = w / w.sum()
    n_eff = 1.0 / float((w * w).sum()) if n_eff is None else float(n_eff)
    mean = w @ u
    mean = np.where(np.abs(mean) * math.sqrt(n_eff) > z_mean, mean, 0.0)
    x = u - mean
    if diagonal:
        var = w @ (x * x)
        sel = np.flatnonzero(np.abs(var - 1.0) > z_mean * math.sqrt(2.0 / n_eff))
        sel = sel[np.argsort(-np.abs(np.log(np.maximum(var[sel], min_variance))))][:max_rank]
        basis = np.eye(d)[:, sel]
        return GaussianProposal(mean, basis, np.maximum(var[sel], min_variance))
    cov = (x * w[:, None]).T @ x
    vals, vecs = np.linalg.eigh(cov)
    # Marchenko–Pastur: eigenvalues of a unit-covariance sample lie in (1 ± √(d/n))²
    ratio = math.sqrt(d / max(n_eff, 1.0))
    low, high = (1.0 - ratio) ** 2 if ratio < 1 else 0.0, (1.0 + ratio) ** 2
    outside = (vals < low) | (vals > high)
    order = np.argsort(-np.abs(np.log(np.maximum(vals, min_variance))))
    keep = [j for j in order if outside[j]][:max_rank] if max_rank else []
    basis = vecs[:, keep]
    variances = np.maximum(vals[keep], min_variance)
    return GaussianProposal(mean, basis, variances)


def independence_acceptance(
    log_r: np.ndarray, member: np.ndarray, max_pairs: int = 1000
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Acceptance of an independence Metropolis–Hastings step from each state of the class.

    ``a(u) = E_{u'~q}[1_C(u') min(1, r(u')/r(u))]`` for a subset of the class members
    ``u`` among one batch of draws of ``q``, with their self-normalised weights
    (``∝ r``: the states weighted as the prior restricted to the class), and the chance
    ``b(u) = E_{u'~q}[min(1, r(u')/r(u))]`` that a draw passes the ratio test (the draws
    that need a label).

    Parameters
    ----------
    log_r
        Shape ``(n,)``: ``log p/q`` of every draw.
    member
        Shape ``(n,)``: class membership of every draw.
    max_pairs
        Current states used at most (a deterministic subset, by stride).

    Returns
    -------
    weights, acceptance, ratio_pass
        Shapes ``(k,)``: the states' weights (sum 1), ``a(u)`` and ``b(u)``.
    """
    log_r = np.asarray(log_r, dtype=float)
    member = np.asarray(member, dtype=bool)
    prop = log_r[member]
    if prop.size == 0:
        return np.ones(1), np.zeros(1), np.zeros(1)
    cur = prop[:: max(1, prop.size // max_pairs)]
    w = np.exp(cur - cur.max())
    w /= w.sum()
    ratio = np.minimum(1.0, np.exp(log_r[None, :] - cur[:, None]))  # (k, n)
    return w, ratio[:, member].sum(axis=1) / log_r.size, ratio.mean(axis=1)


def independence_thin(weights: np.ndarray, acceptance: np.ndarray, duplicates: float) -> int:
    """Fewest steps ``k`` with ``E[(1 − a(u))^k] ≤ duplicates``: the chance that a kept state
    is still the previous kept one (the weighted mean over states, not ``(1 − E a)^k``:
    states the chain leaves rarely dominate)."""

    def repeated(k: int) -> float:
        return float(weights @ (1.0 - acceptance) ** k)

    lo, hi = 1, 100_000  # repeated(k) decreases with k: bisect for the first k that fits
    if repeated(hi) > duplicates:
        return hi
    while lo < hi:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if repeated(mid) <= duplicates else (mid + 1, hi)
    return lo
