"""Perturbed initial states of kinetic models with the reference's conserved totals.

One state per conserved moiety (the *follower*, :func:`follower_states`) is solved from
the reference totals and the others are perturbed (:func:`draw_initial_states`), so
every perturbed state lies on the reference's conservation manifold and can return to
``X_ref``. Units: µM.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from rekindle.kinetics.system import KineticSystem


PROTOCOLS: tuple[str, ...] = ("uniform", "fold", "paper")
"""Perturbation protocols.

* ``uniform`` — the paper's Methods text: ``X_ref (1 + U(−½, ½))``.
* ``fold`` — the paper's Results text read as a fold change: ``X_ref f``,
  ``ln f ~ U(ln ½, ln 2)`` (rekindle's own reading; not what the authors' code does).
* ``paper`` — what the authors' code runs (EPFL-LCSB/rekindle
  ``N6-skimpy-integrate-ODEs.py`` with SKiMpy's ``sample_initial_concentrations``, bounds
  0.5 and 2): states drawn *linearly* and uniformly on the polytope
  ``{x : G x = G X_ref, X_ref/2 ≤ x ≤ 2 X_ref}`` — every state, followers included,
  inside the box and every moiety total kept (SKiMpy samples that polytope with
  cobrapy's hit-and-run sampler; here by exact rejection, see
  :func:`draw_initial_states`).
"""

PAPER_BOX: tuple[float, float] = (0.5, 2.0)
"""Bounds of the ``paper`` protocol, as multiples of ``X_ref`` (the authors' code)."""

FOLLOWER_CHOICES: tuple[str, ...] = ("largest", "link")
"""How the states that absorb the conserved totals are chosen (:func:`follower_states`)."""


def follower_states(
    system: KineticSystem, reference: np.ndarray, choice: str = "largest"
) -> np.ndarray:
    """States that follow the conserved totals when the others are perturbed.

    One state per conserved moiety is not perturbed but solved for from the reference
    totals, so every perturbed state lies on the reference's conservation manifold.

    * ``"largest"`` (default): the largest pools, chosen greedily by decreasing
      ``X_ref`` among states that keep the moiety matrix of the followers invertible.
      A ±50 % perturbation of a small pool (NADH 11 µM, ubiquinol 0.7 µM, PPi 0.8 µM)
      then shifts its large partner (NAD 7 939 µM, ubiquinone 904 µM, ...) by a small
      fraction, nearly every draw is admissible, and every state stays within a
      moderate factor of its reference.
    * ``"link"``: the dependent states of the engine's link matrix
      (:attr:`ConservationAnalysis.dependent`). For E. coli these are the *small*
      pools (e.g. ``q8h2 = T − q8``): perturbing ubiquinone by −50 % makes ubiquinol
      640× its reference, and only a few % of the draws have all followers positive.

    Parameters
    ----------
    system
        Compiled model.
    reference
        Reference state, µM, shape ``(n_states,)``.
    choice
        ``"largest"`` or ``"link"``.

    Returns
    -------
    numpy.ndarray
        Indices of the follower states, shape ``(n_moieties,)``, increasing.
    """
    cons = system.conservation
    if choice == "link":
        return cons.dependent.copy()
    if choice != "largest":
        raise ValueError(f"followers must be one of {FOLLOWER_CHOICES}, got {choice!r}")
    g = cons.conservation_matrix
    chosen: list[int] = []
    for i in np.argsort(-np.asarray(reference), kind="stable"):
        if len(chosen) == g.shape[0]:
            break
        if not np.any(g[:, i]):
            continue
        trial = [*chosen, int(i)]
        if np.linalg.matrix_rank(g[:, trial]) == len(trial):
            chosen = trial
    return np.sort(np.asarray(chosen, dtype=int))


def draw_initial_states(
    system: KineticSystem,
    reference: np.ndarray,
    n: int,
    protocol: str,
    rng: np.random.Generator,
    *,
    followers: np.ndarray | None = None,
    max_draws: int = 100,
) -> tuple[np.ndarray, int]:
    """Perturbed initial states of one model with the reference conserved totals.

    Every state but the followers (one per conserved moiety, :func:`follower_states`)
    is perturbed, ``x_i = X_ref,i · f_i`` with ``f_i`` from the protocol (``uniform``:
    ``1 + U(−½, ½)``; ``fold``: ``exp U(ln ½, ln 2)``; ``paper``: ``U(½, 2)``); the
    followers are solved from the *reference* totals ``G x = G X_ref``, so the perturbed
    state lies on the reference's conservation manifold and can return to ``X_ref``.
    A draw is redrawn, at most ``max_draws`` times per perturbation, when a follower is
    ≤ 0 (``uniform``, ``fold``) or outside ``[X_ref/2, 2 X_ref]`` (``paper``).

    For ``paper`` this rejection is exact: the perturbed states are uniform on the box
    and the followers a linear function of them, so the accepted draws are uniform on
    the polytope ``{G x = G X_ref, X_ref/2 ≤ x ≤ 2 X_ref}`` whichever states follow
    (the choice only changes the acceptance rate: E. coli, largest pools as
    followers: 0.91 for fdp1, 0.83 for fdp4; the link matrix's small pools: ~0).

    Parameters
    ----------
    system
        Compiled model.
    reference
        Reference state ``X_ref``, µM, shape ``(n_states,)``.
    n
        Number of perturbations.
    protocol
        One of :data:`PROTOCOLS`.
    rng
        Random generator (consumed).
    followers
        Follower state indices (default ``follower_states(system, reference)``).
    max_draws
        Draws per perturbation before giving up (its row is then NaN).

    Returns
    -------
    x0, n_draws
        Initial states, µM, shape ``(n, n_states)`` (NaN rows where no admissible draw
        was found), and the number of draws made (admissible / ``n_draws`` is the
        acceptance rate).
    """
    if protocol not in PROTOCOLS:
        raise ValueError(f"protocol must be one of {PROTOCOLS}, got {protocol!r}")
    reference = np.asarray(reference, dtype=float)
    g = system.conservation.conservation_matrix
    fol = follower_states(system, reference) if followers is None else np.asarray(followers)
    per = np.setdiff1d(np.arange(reference.size), fol)
    # x_F = G_F⁻¹ (T − G_P x_P)
    g_f_inv = np.linalg.inv(g[:, fol]) if fol.size else np.zeros((0, 0))
    base = g_f_inv @ (g @ reference)
    coupling = g_f_inv @ g[:, per]  # (n_followers, n_perturbed)
    ref_fol = reference[fol]
    x0 = np.full((n, reference.size), np.nan)
    todo = np.arange(n)
    n_draws = 0
    for _ in range(max_draws):
        if todo.size == 0:
            break
        f = _factors(protocol, rng, (todo.size, per.size))
        n_draws += todo.size
        x_per = reference[per] * f
        x_fol = base - x_per @ coupling.T
        if protocol == "paper":
            lo, hi = PAPER_BOX
            ok = np.all((x_fol >= lo * ref_fol) & (x_fol <= hi * ref_fol), axis=1)
        else:
            ok = np.all(x_fol > 0, axis=1)
        rows = todo[ok]
        x0[rows[:, None], per[None, :]] = x_per[ok]
        x0[rows[:, None], fol[None, :]] = x_fol[ok]
        todo = todo[~ok]
    return x0, n_draws


def _factors(protocol: str, rng: np.random.Generator, size: tuple[int, int]) -> np.ndarray:
    """Perturbation factors ``x/X_ref`` of the perturbed states, shape ``size``."""
    if protocol == "uniform":
        return 1.0 + rng.uniform(-0.5, 0.5, size=size)
    if protocol == "fold":
        return np.exp(rng.uniform(math.log(0.5), math.log(2.0), size=size))
    return rng.uniform(*PAPER_BOX, size=size)
