"""A learned screen for a costly class: integrate the likely members, audit the rest.

Membership of a class with a return clause (:class:`~rekindle.classes.spec.ReturnsClause`)
costs ``n_perturbations`` integrations per *candidate* (a set in the class's eigenvalue
part). ORACLE + filter integrates every candidate. The screen learns
``P(returns | features)`` from the candidates integrated so far, with features known
before integrating (the saturations σ and the stored max Re(λ)), by L2-regularised
logistic regression, and integrates a candidate only when its score clears a cut chosen
to keep a target fraction (``recall``) of the members.

What is exact and what is approximate:

- every delivered member is verified by integration: *membership is exact*;
- the first ``warmup`` candidates are all integrated (ORACLE + filter, exactly);
- a candidate the screen turns away is never integrated, so its membership is never
  known and a member among them is lost: after the warm-up, the delivered population is
  the prior restricted to ``class ∩ {score ≥ cut}`` (plus the audit's members below the
  cut), *not* the class. The loss is measured, not assumed: a fraction ``audit`` of the
  candidates is integrated whatever its score, and among the audit's members the
  fraction scored below the cut (``miss_rate``) estimates the class mass missing from
  the delivered population (target ``1 − recall``);
- the cut is the ``(1 − recall)``-quantile of the out-of-fold scores of the members among
  the candidates integrated whatever their score (warm-up and audit: an unbiased sample
  of the candidates), recomputed at every refit.

A screen that does not separate members from non-members (out-of-fold AUC near 0.5)
saves nothing: the cut then turns away about ``1 − recall`` of all candidates and the
cost per member falls by that fraction only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy.optimize import minimize

__all__ = ["ReturnScreen", "ScreenFit", "fit_logistic", "roc_auc"]


def fit_logistic(x: np.ndarray, y: np.ndarray, l2: float) -> np.ndarray:
    """L2-regularised logistic regression by L-BFGS.

    Parameters
    ----------
    x
        Shape ``(n, k)``: features.
    y
        Shape ``(n,)``: 0/1 labels.
    l2
        Penalty on the weights (not the intercept).

    Returns
    -------
    numpy.ndarray
        Shape ``(k + 1,)``: weights, then the intercept.
    """
    xb = np.c_[x, np.ones(x.shape[0])]
    yf = np.asarray(y, dtype=float)

    def loss(w: np.ndarray) -> tuple[float, np.ndarray]:
        z = xb @ w
        # log(1 + e^z) − y z, stable for large |z|
        value = float(np.sum(np.logaddexp(0.0, z) - yf * z) + 0.5 * l2 * np.sum(w[:-1] ** 2))
        grad = xb.T @ (0.5 * (1.0 + np.tanh(0.5 * z)) - yf)
        grad[:-1] += l2 * w[:-1]
        return value, grad

    return minimize(loss, np.zeros(xb.shape[1]), jac=True, method="L-BFGS-B").x


def roc_auc(score: np.ndarray, y: np.ndarray) -> float:
    """Area under the ROC curve (Mann–Whitney, ties averaged); NaN with one class only."""
    from scipy.stats import rankdata

    y = np.asarray(y, dtype=bool)
    n1, n0 = int(y.sum()), int((~y).sum())
    if n1 == 0 or n0 == 0:
        return float("nan")
    r = rankdata(score)
    return float((r[y].sum() - n1 * (n1 + 1) / 2) / (n1 * n0))


@dataclass
class ScreenFit:
    """The current classifier: weights, feature scaling, cut and its out-of-fold AUC."""

    weights: np.ndarray
    lam_mean: float
    lam_std: float
    cut: float
    auc_out_of_fold: float
    n_train: int


@dataclass
class ReturnScreen:
    """Decides which candidates of a costly class to integrate (see the module docstring).

    Attributes
    ----------
    recall
        Fraction of the members the cut is set to keep, in (0, 1].
    audit
        Fraction of candidates integrated whatever their score, in (0, 1].
    warmup
        Candidates integrated (all) before the first fit.
    l2
        Logistic-regression penalty.
    refit_every
        Integrated candidates between two refits.
    folds
        Folds of the out-of-fold scores that set the cut.
    seed
        Seed of the audit draws.
    """

    recall: float = 0.95
    audit: float = 0.1
    warmup: int = 200
    l2: float = 10.0
    refit_every: int = 200
    folds: int = 5
    seed: int = 0
    fit: ScreenFit | None = None
    _x: list[np.ndarray] = field(default_factory=list, repr=False)
    _y: list[np.ndarray] = field(default_factory=list, repr=False)
    _free: list[np.ndarray] = field(default_factory=list, repr=False)
    _since_fit: int = 0
    _counts: dict[str, int] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self._rng = np.random.default_rng(self.seed)
        self._counts = dict.fromkeys(
            (
                "candidates_warmup",
                "candidates_screened",
                "integrated_above_cut",
                "integrated_screened",
                "audit_integrated",
                "audit_members",
                "audit_members_below_cut",
                "turned_away",
                "refits",
            ),
            0,
        )

    @staticmethod
    def features(sigma: np.ndarray, lam: np.ndarray) -> np.ndarray:
        """``[σ, max Re(λ)]``, shape ``(m, d + 1)`` (λ scaled at fit time)."""
        return np.c_[np.asarray(sigma, dtype=float), np.asarray(lam, dtype=float)]

    def _design(self, feats: np.ndarray, fit: ScreenFit) -> np.ndarray:
        x = feats.copy()
        x[:, -1] = (x[:, -1] - fit.lam_mean) / fit.lam_std
        return x

    def score(self, feats: np.ndarray) -> np.ndarray:
        """Logit of ``P(returns)`` of each candidate, ``(m,)`` (+∞ before the first fit)."""
        if self.fit is None:
            return np.full(feats.shape[0], np.inf)
        w = self.fit.weights
        return self._design(feats, self.fit) @ w[:-1] + w[-1]

    def select(self, feats: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Which candidates to integrate.

        Parameters
        ----------
        feats
            Shape ``(m, d + 1)``: :meth:`features` of the candidates.

        Returns
        -------
        integrate, free, score
            Bool ``(m,)``: integrate; bool ``(m,)``: integrated whatever the score
            (warm-up or audit); the scores ``(m,)`` at selection time.
        """
        m = feats.shape[0]
        s = self.score(feats)
        if self.fit is None:
            self._counts["candidates_warmup"] += m
            ones = np.ones(m, bool)
            return ones, ones, s
        free = self._rng.random(m) < self.audit
        above = s >= self.fit.cut
        self._counts["candidates_screened"] += m
        self._counts["integrated_above_cut"] += int(above.sum())
        self._counts["audit_integrated"] += int(free.sum())
        self._counts["integrated_screened"] += int((above | free).sum())
        self._counts["turned_away"] += int((~above & ~free).sum())
        return above | free, free, s

    def update(
        self, feats: np.ndarray, returned: np.ndarray, free: np.ndarray, score: np.ndarray
    ) -> None:
        """Learn from integrated candidates.

        Parameters
        ----------
        feats
            Shape ``(k, d + 1)``: the integrated candidates' features.
        returned
            Bool ``(k,)``: their verified return.
        free
            Bool ``(k,)``: integrated whatever their score (warm-up or audit).
        score
            Shape ``(k,)``: their scores at selection time (+∞ in the warm-up).
        """
        returned = np.asarray(returned, dtype=bool)
        free = np.asarray(free, dtype=bool)
        if self.fit is not None:  # the audit: out-of-sample scores against the cut in force
            audited = free & returned
            self._counts["audit_members"] += int(audited.sum())
            self._counts["audit_members_below_cut"] += int((audited & (score < self.fit.cut)).sum())
        self._x.append(np.asarray(feats, dtype=float))
        self._y.append(returned)
        self._free.append(free)
        self._since_fit += feats.shape[0]
        n = sum(x.shape[0] for x in self._x)
        if (self.fit is None and n >= self.warmup) or (
            self.fit is not None and self._since_fit >= self.refit_every
        ):
            self._refit()

    def _refit(self) -> None:
        x_raw = np.concatenate(self._x)
        y = np.concatenate(self._y)
        free = np.concatenate(self._free)
        if y.all() or not y.any():
            return  # one class only: nothing to learn yet
        lam = x_raw[:, -1]
        probe = ScreenFit(np.zeros(0), float(lam.mean()), float(lam.std() or 1.0), 0.0, 0.0, 0)
        x = self._design(x_raw, probe)
        # out-of-fold scores of the free candidates: an unbiased sample of the candidates
        idx = np.flatnonzero(free)
        oof = np.empty(idx.size)
        for part in np.array_split(self._rng.permutation(idx.size), self.folds):
            held = idx[part]
            train = np.ones(y.size, bool)
            train[held] = False
            w = fit_logistic(x[train], y[train], self.l2)
            oof[part] = x[held] @ w[:-1] + w[-1]
        members = y[idx]
        cut = float(np.quantile(oof[members], 1.0 - self.recall)) if members.any() else -math.inf
        w = fit_logistic(x, y, self.l2)
        self.fit = ScreenFit(w, probe.lam_mean, probe.lam_std, cut, roc_auc(oof, members), y.size)
        self._since_fit = 0
        self._counts["refits"] += 1

    def diagnostics(self) -> dict[str, Any]:
        """Settings, counts and the audit's miss rate (plain builtins, JSON-ready)."""
        c = dict(self._counts)
        members = c["audit_members"]
        return {
            "used": True,
            "method": "L2 logistic regression on (σ, max Re(λ)); cut at the target recall "
            "of out-of-fold scores of unscreened candidates",
            "recall_target": self.recall,
            "audit_fraction": self.audit,
            "warmup": self.warmup,
            "l2": self.l2,
            **c,
            "miss_rate": c["audit_members_below_cut"] / members if members else None,
            "cut": None if self.fit is None else self.fit.cut,
            "auc_out_of_fold": None if self.fit is None else self.fit.auc_out_of_fold,
            "n_train": None if self.fit is None else self.fit.n_train,
        }
