"""Conservation analysis: conserved moieties and the link matrix.

For a stoichiometric matrix ``S`` (n_states × n_reactions) of rank r, choose r linearly
independent rows ``N_R`` (the independent metabolites) and write ``S = L · N_R`` with the
link matrix ``L`` (n_states × r) (Reder, J. Theor. Biol. 135, 175 (1988)). The
``n_states − r`` conserved moieties are the rows of ``G = [−L₀ | I]`` (rearranged to the
state order) with ``G · S = 0``: ``G · x`` is constant along every trajectory.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg


@dataclass(frozen=True)
class ConservationAnalysis:
    """Result of :func:`analyse_conservation`.

    Attributes
    ----------
    independent
        Indices of the independent states, shape ``(r,)``, increasing.
    dependent
        Indices of the dependent states, shape ``(n_states − r,)``, increasing.
    link_matrix
        ``L``, shape ``(n_states, r)``: ``S = L @ S[independent]``.
    conservation_matrix
        ``G``, shape ``(n_states − r, n_states)``: ``G @ S = 0``; row *k* expresses
        dependent state ``dependent[k]`` as ``x_dep = T_k + Σ_j L₀[k, j] x_indep[j]``.
    """

    independent: np.ndarray
    dependent: np.ndarray
    link_matrix: np.ndarray
    conservation_matrix: np.ndarray

    @property
    def rank(self) -> int:
        """Rank of ``S``: the number of independent states."""
        return int(self.independent.size)

    def dependent_from_independent(
        self, x_independent: np.ndarray, totals: np.ndarray
    ) -> np.ndarray:
        """Concentrations of the dependent states from the independent ones.

        Parameters
        ----------
        x_independent
            Shape ``(..., r)``.
        totals
            Conserved totals ``G @ x``, shape ``(..., n_states − r)``.

        Returns
        -------
        numpy.ndarray
            Shape ``(..., n_states − r)``.
        """
        l0 = self.link_matrix[self.dependent]
        return totals + x_independent @ l0.T


def _clean(a: np.ndarray, tol: float = 1e-9) -> np.ndarray:
    """Snap entries within ``tol`` of an integer to it (moieties are integer sums)."""
    r = np.round(a)
    return np.where(np.abs(a - r) < tol, r, a)


def analyse_conservation(s: np.ndarray, rtol: float = 1e-10) -> ConservationAnalysis:
    """Find independent rows of ``S``, the link matrix and the conserved moieties.

    Rows are chosen by QR with column pivoting of ``Sᵀ``; a row is dependent when its
    pivot falls below ``rtol`` times the largest one.

    Parameters
    ----------
    s
        Stoichiometric matrix, shape ``(n_states, n_reactions)``.
    rtol
        Relative rank tolerance.
    """
    s = np.asarray(s, dtype=float)
    n = s.shape[0]
    if s.size == 0:
        raise ValueError("empty stoichiometric matrix")
    _, r_factor, piv = scipy.linalg.qr(s.T, mode="economic", pivoting=True)
    diag = np.abs(np.diag(r_factor))
    rank = int(np.sum(diag > rtol * diag[0])) if diag.size and diag[0] > 0 else 0
    independent = np.sort(piv[:rank])
    dependent = np.setdiff1d(np.arange(n), independent)
    n_r = s[independent]
    link = np.zeros((n, rank))
    link[independent, np.arange(rank)] = 1.0
    if dependent.size:
        coef, *_ = np.linalg.lstsq(n_r.T, s[dependent].T, rcond=None)
        l0 = _clean(coef.T)
        link[dependent] = l0
        g = np.zeros((dependent.size, n))
        g[:, independent] = -l0
        g[np.arange(dependent.size), dependent] = 1.0
    else:
        g = np.zeros((0, n))
    return ConservationAnalysis(independent, dependent, link, g)
