"""Perturbation analysis of kinetic models (paper Fig. 2e; Methods, "Perturbation analysis").

Each kinetic model is integrated from perturbed initial states back towards (or away
from) its reference steady state ``X_ref``; a perturbation has *returned* when
``‖X(t_end) − X_ref‖₂ < 0.01 ‖X_ref‖₂`` (all states) at the E. coli doubling time
``t_end = 21 min``.

Layers
------
* :func:`integrate_batch` — a batched, stiff, linearly implicit integrator. Many
  trajectories advance together, each with its own time and step size; finished ones
  drop out and waiting ones take their places. It integrates the *reduced* system of
  the independent states (dependent states from the conserved totals, so every moiety
  holds to rounding error) in variables scaled by the reference state, with the
  engine's exact Jacobian (complex step) assembled by a sparse product, and one
  batched LAPACK inverse of ``I/(hγ) − J`` per step. Methods (:data:`METHODS`): the
  L-stable, stiffly accurate RODAS4(3) of Hairer & Wanner (default), and the
  Rosenbrock-W method ROS34PW2(2) of Rang & Angermann, which may reuse a Jacobian.
  Trajectories that blow up, go negative, stall or exceed a step budget get a
  :class:`Status` code; the integrator never raises on them and never hangs.
* :func:`perturbation_chunk` — a pure function of a chunk of parameter sets, their
  global index and the :class:`PerturbationSettings`: draws the perturbations
  (per-model random streams), integrates and classifies them. It can be mapped by
  threads (as :func:`perturbation_analysis` does) or by a distributed engine.
* :func:`perturbation_analysis` — the whole analysis, returning a
  :class:`PerturbationResult`; :func:`write_summary` writes summaries as CSV or JSON.

Design decisions
----------------
* **Conserved moieties.** A perturbation must keep the reference's conserved totals
  (otherwise the system relaxes to a different steady state and cannot "return").
  One state per moiety (the *follower*) is therefore solved from the reference totals
  and the others are perturbed; draws with a follower ≤ 0 are redrawn (at most
  ``max_draws`` times, acceptance rate recorded). By default the followers are the
  *largest* pools (:func:`follower_states`): for E. coli the link matrix's dependent
  states are the small pools (NADH, ubiquinol, PPi, ...), which then absorb the
  perturbations of their large partners — ubiquinol up to 640× its reference — and only
  6 % of the draws are admissible; with the largest pools as followers 100 % are, and
  every state stays within a moderate factor of its reference. ``followers="link"``
  gives the literal variant.
* **Tolerances.** :class:`IntegratorOptions` defaults to ``rtol = 1e-6``,
  ``atol = 1e-9·X_ref``; the analysis uses :data:`PERTURBATION_OPTIONS`
  (``rtol = 1e-5``, ``atol = 1e-8·X_ref``). Against this integrator at
  ``rtol = 1e-8`` (500 fold perturbations of 100 relevant fdp1 models) the final
  relative deviation differed by at most 2.4e-5 (rtol 1e-5) and 2.6e-4 (rtol 1e-4),
  against a return threshold of 1e-2, and no classification changed; against scipy's
  BDF at ``rtol = 1e-10`` (8 perturbations of 4 models) the final states agree to
  ≤ 8e-6 relative per state and ≤ 1e-6 in the L2 norm.
* **No Jacobian reuse by default.** During the transients the state moves by O(1)
  relative amounts per step; with ROS34PW2 reusing a Jacobian for 2–4 steps, 27–33 %
  of the steps were rejected and an integration cost 50 ms instead of 39 ms (exact
  Jacobian), against 27 ms for RODAS4 (40 × 10 fold perturbations, one thread).
* **Throughput** (2 cores, threads, 1 000 relevant fdp1 models × 10): uniform
  protocol 74 integrations/s, fold 62/s (about 2.5 min per protocol). One step costs
  ~100 µs per trajectory (half of it the engine's complex-step derivatives). OpenBLAS
  is held to one thread inside (:data:`single_threaded_blas`): its threading on
  44 × 44 matrices made the integrator 2–3× slower.

Units: time in hours, concentrations in µM, rates in µM h⁻¹, Jacobians in h⁻¹.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from enum import IntEnum
from functools import partial
from pathlib import Path

import numpy as np
from numpy.typing import ArrayLike

from rekindle.kinetics.physiology import Physiology
from rekindle.kinetics.system import KineticSystem
from rekindle.scale.executors import default_n_jobs, map_ordered

# --------------------------------------------------------------------------- constants

DOUBLING_TIME_HOURS: float = 21.0 / 60.0
"""E. coli doubling time (21 min), the time at which return is tested, h."""

RETURN_TOLERANCE: float = 0.01
"""Relative L2 distance to ``X_ref`` below which a perturbation has returned (paper: 1 %)."""

PROTOCOLS: tuple[str, ...] = ("uniform", "fold")
"""Perturbation protocols: ``uniform`` (Methods: ``X_ref (1 + U(−½, ½))``) and ``fold``
(Results: ``X_ref f``, ``ln f ~ U(ln ½, ln 2)``)."""

DEFAULT_MAX_BATCH = 512
"""Trajectories stepped together by the integrator (see :func:`integrate_batch`)."""


class Status(IntEnum):
    """Outcome of one integration (stored as ``int8``).

    ``SUCCESS`` reached ``t_end``. ``NONFINITE``: the state, the right-hand side or the
    Jacobian became non-finite (repeated non-finite trial steps, see
    :class:`IntegratorOptions`). ``NEGATIVE``: trial steps kept producing a concentration
    below ``−negative_tolerance·scale``. ``DIVERGED``: a concentration exceeded
    ``divergence_bound·scale``. ``STEP_UNDERFLOW``: the step size fell below
    ``min_step_ratio·t_end``. ``MAX_STEPS``: the step budget was exhausted.
    ``NO_INITIAL_STATE``: no admissible perturbed state was drawn (not integrated).
    ``NONFINITE``, ``NEGATIVE`` and ``DIVERGED`` count as *blown up* (the trajectory
    escaped); ``STEP_UNDERFLOW`` and ``MAX_STEPS`` as *failed* (numerical failure).
    """

    SUCCESS = 0
    NONFINITE = 1
    NEGATIVE = 2
    DIVERGED = 3
    STEP_UNDERFLOW = 4
    MAX_STEPS = 5
    NO_INITIAL_STATE = 6


BLOWN_UP_STATUSES = (Status.NONFINITE, Status.NEGATIVE, Status.DIVERGED)
"""Statuses of trajectories that escaped (blew up) during integration."""

FAILED_STATUSES = (Status.STEP_UNDERFLOW, Status.MAX_STEPS)
"""Statuses of integrations that failed numerically."""

_RUNNING = -1


# --------------------------------------------------------------------------- tableau


@dataclass(frozen=True, eq=False)
class RosenbrockTableau:
    """Coefficients of an embedded Rosenbrock(-W) method, in transformed form.

    A Rosenbrock method for the autonomous system ``y' = f(y)`` with a matrix ``J``
    (the Jacobian, or any matrix for a W-method) is stored in the transformed form of
    Hairer & Wanner (Solving ODEs II, §IV.7, eq. 7.25), which needs no product with
    ``J``:

    ``(I/(hγ) − J) u_i = f(y + Σ_{j<i} a_ij u_j) + Σ_{j<i} c_ij u_j / h``,
    ``y₁ = y + Σ m_i u_i``, embedded ``ŷ₁ = y + Σ m̂_i u_i``.

    The published form ``(I − hγJ) k_i = h f(y + Σ α_ij k_j) + hJ Σ γ_ij k_j``,
    ``y₁ = y + Σ b_i k_i`` maps to it through ``u = Γk``, ``Γ = (γ_ij) + γI``:
    ``a = αΓ⁻¹``, ``c = diag(1/γ) − Γ⁻¹``, ``m = bΓ⁻¹`` (:meth:`from_standard_form`,
    inverted by :meth:`standard_form`).

    Attributes
    ----------
    name
        Method name.
    gamma
        Diagonal coefficient ``γ``.
    a, c
        Strictly lower triangular, shape ``(s, s)``.
    m, m_hat
        Weights of the solution and of the embedded solution, shape ``(s,)``.
    order, embedded_order
        Classical orders of the two solutions.
    w_method
        Whether the order holds for any matrix in place of the Jacobian.
    """

    name: str
    gamma: float
    a: np.ndarray
    c: np.ndarray
    m: np.ndarray
    m_hat: np.ndarray
    order: int
    embedded_order: int
    w_method: bool = False

    @property
    def stages(self) -> int:
        """Number of stages ``s``."""
        return int(self.m.size)

    @property
    def error_weights(self) -> np.ndarray:
        """``m − m̂``: the local error estimate is ``Σ (m_i − m̂_i) u_i``, shape ``(s,)``."""
        return self.m - self.m_hat

    @classmethod
    def from_standard_form(
        cls,
        name: str,
        gamma: float,
        alpha: ArrayLike,
        gamma_offdiag: ArrayLike,
        b: ArrayLike,
        b_hat: ArrayLike,
        order: int,
        embedded_order: int,
        w_method: bool = False,
    ) -> RosenbrockTableau:
        """Build from the published ``(α_ij, γ_ij, b_i, b̂_i)`` of a method."""
        alpha = np.asarray(alpha, float)
        s = alpha.shape[0]
        inv = np.linalg.inv(np.asarray(gamma_offdiag, float) + gamma * np.eye(s))
        return cls(
            name=name,
            gamma=gamma,
            a=alpha @ inv,
            c=np.diag(np.full(s, 1.0 / gamma)) - inv,
            m=np.asarray(b, float) @ inv,
            m_hat=np.asarray(b_hat, float) @ inv,
            order=order,
            embedded_order=embedded_order,
            w_method=w_method,
        )

    def standard_form(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(α, Γ, b, b̂)`` of the published form; ``Γ`` includes the diagonal ``γ``."""
        s = self.stages
        big_gamma = np.linalg.inv(np.diag(np.full(s, 1.0 / self.gamma)) - self.c)
        return self.a @ big_gamma, big_gamma, self.m @ big_gamma, self.m_hat @ big_gamma

    def stability_function(self, z: complex, embedded: bool = False) -> complex:
        """``R(z)`` of the method (or of its embedded method) for ``y' = λy``, ``z = hλ``."""
        alpha, big_gamma, b, b_hat = self.standard_form()
        w = b_hat if embedded else b
        beta = alpha + big_gamma
        k = np.linalg.solve(np.eye(self.stages) - z * beta, np.ones(self.stages))
        return complex(1.0 + z * (w @ k))


ROS34PW2 = RosenbrockTableau.from_standard_form(
    # J. Rang & L. Angermann, "New Rosenbrock W-methods of order 3 for partial
    # differential algebraic equations of index 1", BIT Numer. Math. 45, 761–787 (2005),
    # method ROS34PW2: 4 stages, order 3 for any matrix W (a W-method), embedded order 2,
    # L-stable and stiffly accurate (the embedded method is not: R̂(∞) ≈ 0.48).
    name="ROS34PW2",
    gamma=4.3586652150845900e-01,
    alpha=[
        [0.0, 0.0, 0.0, 0.0],
        [8.7173304301691801e-01, 0.0, 0.0, 0.0],
        [8.4457060015369423e-01, -1.1299064236484185e-01, 0.0, 0.0],
        [0.0, 0.0, 1.0, 0.0],
    ],
    gamma_offdiag=[
        [0.0, 0.0, 0.0, 0.0],
        [-8.7173304301691801e-01, 0.0, 0.0, 0.0],
        [-9.0338057013044082e-01, 5.4180672388095326e-02, 0.0, 0.0],
        [2.4212380706095346e-01, -1.2232505839045147e00, 5.4526025533510214e-01, 0.0],
    ],
    b=[
        2.4212380706095346e-01,
        -1.2232505839045147e00,
        1.5452602553351020e00,
        4.3586652150845900e-01,
    ],
    b_hat=[3.7810903145819369e-01, -9.6042292212423178e-02, 0.5, 2.1793326075422950e-01],
    order=3,
    embedded_order=2,
    w_method=True,
)
"""ROS34PW2 (Rang & Angermann 2005): 4-stage L-stable Rosenbrock-W method of order 3(2)."""


def _rodas4() -> RosenbrockTableau:
    # E. Hairer & G. Wanner, Solving Ordinary Differential Equations II, 2nd ed.
    # (Springer, 1996), §VI.4, method RODAS (coefficient set 1 of the authors' code
    # RODAS), given in transformed form. Y₆ = Y₅ + u₅ and y₁ = Y₆ + u₆: the solution
    # (order 4) and the embedded solution Y₆ (order 3) are both stiffly accurate, so
    # the error estimate u₆ vanishes on equilibrated stiff components.
    a = np.zeros((6, 6))
    c = np.zeros((6, 6))
    a[1, 0] = 1.544
    a[2, :2] = 0.9466785280815826, 0.2557011698983284
    a[3, :3] = 3.314825187068521, 2.896124015972201, 0.9986419139977817
    a[4, :4] = 1.221224509226641, 6.019134481288629, 12.53708332932087, -0.6878860361058950
    a[5, :4] = a[4, :4]
    a[5, 4] = 1.0
    c[1, 0] = -5.6688
    c[2, :2] = -2.430093356833875, -0.2063599157091915
    c[3, :3] = -0.1073529058151375, -9.594562251023355, -20.47028614809616
    c[4, :4] = 7.496443313967647, -10.24680431464352, -33.99990352819905, 11.70890893206160
    c[5, :5] = (
        8.083246795921522,
        -7.981132988064893,
        -31.52159432874371,
        16.31930543123136,
        -6.058818238834054,
    )
    m = np.concatenate([a[4, :4], [1.0, 1.0]])
    m_hat = np.concatenate([a[4, :4], [1.0, 0.0]])
    return RosenbrockTableau("RODAS4", 0.25, a, c, m, m_hat, order=4, embedded_order=3)


RODAS4 = _rodas4()
"""RODAS (Hairer & Wanner 1996): 6-stage L-stable, stiffly accurate Rosenbrock method
of order 4(3) (embedded method also stiffly accurate); needs the exact Jacobian."""

METHODS: dict[str, RosenbrockTableau] = {"rodas4": RODAS4, "ros34pw2": ROS34PW2}
"""Integration methods by name."""


# --------------------------------------------------------------------------- integrator


@dataclass(frozen=True)
class IntegratorOptions:
    """Settings of :func:`integrate_batch`.

    Attributes
    ----------
    rtol
        Relative tolerance of the local error (per state, RMS over all states).
    atol
        Absolute tolerance *relative to the scale*: state *i* gets ``atol·scale_i`` µM.
        With the reference state as scale (the default in the perturbation analysis),
        ``1e-9`` asks for 1e-9·X_ref — tiny concentrations such as the proton
        (3e-2 µM) or oxygen (3e-3 µM) are resolved as accurately as large ones.
    max_steps
        Step attempts (accepted + rejected) per trajectory before ``MAX_STEPS``.
    first_step
        Initial step, h; ``None`` picks it from the initial right-hand side.
    max_step
        Largest step, h.
    jacobian_max_age
        A Jacobian is reused for at most this many accepted steps (W-methods only,
        e.g. ROS34PW2, whose order holds for *any* matrix in place of the Jacobian);
        a step rejected with an old Jacobian is retried with a fresh one. The default
        ``1`` evaluates it at every step: on the E. coli models the state moves by
        O(1) relative amounts per step during the transients, a reused Jacobian made
        ~40 % of the steps fail and cost more than it saved (see the benchmark).
    safety, min_factor, max_factor
        Step-size controller: ``h_new = h · clip(safety · err^(−1/(q+1)), min, max)``
        (``q`` the embedded order), after an accepted step the smaller of that and
        Gustafsson's predictive proposal (as in Hairer's RODAS code); a step that was
        shortened to land on an output time keeps the proposal it was shortened from.
    negative_tolerance
        A trial state with a concentration below ``−negative_tolerance·scale_i`` is
        rejected and retried with half the step; after ``max_bad_trials`` such
        consecutive trials the trajectory is flagged ``NEGATIVE``.
    divergence_bound
        A concentration above ``divergence_bound·scale_i`` flags ``DIVERGED``.
    max_bad_trials
        Consecutive non-finite or negative trial steps tolerated (the step shrinks
        by 4 or 2 each time) before ``NONFINITE`` / ``NEGATIVE``.
    min_step_ratio
        ``STEP_UNDERFLOW`` when the step falls below ``min_step_ratio·t_end``.
    """

    rtol: float = 1e-6
    atol: float = 1e-9
    max_steps: int = 5000
    first_step: float | None = None
    max_step: float = math.inf
    jacobian_max_age: int = 1
    safety: float = 0.9
    min_factor: float = 0.2
    max_factor: float = 6.0
    negative_tolerance: float = 1e-3
    divergence_bound: float = 1e8
    max_bad_trials: int = 12
    min_step_ratio: float = 1e-14

    def __post_init__(self) -> None:
        if not (self.rtol > 0 and self.atol > 0):
            raise ValueError("rtol and atol must be positive")
        if self.max_steps < 1 or self.jacobian_max_age < 1 or self.max_bad_trials < 1:
            raise ValueError("max_steps, jacobian_max_age and max_bad_trials must be ≥ 1")
        if not (0 < self.min_factor < 1 < self.max_factor) or not (0 < self.safety <= 1):
            raise ValueError("need 0 < min_factor < 1 < max_factor and 0 < safety ≤ 1")
        if not (self.negative_tolerance >= 0 and self.divergence_bound > 1):
            raise ValueError("need negative_tolerance ≥ 0 and divergence_bound > 1")
        if not (0 < self.min_step_ratio < 1 and self.max_step > 0):
            raise ValueError("need 0 < min_step_ratio < 1 and max_step > 0")


@dataclass(frozen=True)
class BatchSolution:
    """Result of :func:`integrate_batch` for ``n`` trajectories.

    Attributes
    ----------
    times
        Output times, h, shape ``(n_times,)``.
    final
        State at ``t_end`` (or at failure), µM, shape ``(n, n_states)``.
    t_final
        Time reached, h, shape ``(n,)``.
    status
        :class:`Status` codes, ``int8``, shape ``(n,)``.
    trajectories
        States at ``times`` of the stored trajectories, µM, shape
        ``(n_stored, n_times, n_states)``, NaN after a failure; ``None`` if none stored.
    stored
        Indices of the stored trajectories, shape ``(n_stored,)``.
    n_accepted, n_rejected, n_jacobians
        Per trajectory: accepted and rejected steps and Jacobian evaluations.
    """

    times: np.ndarray
    final: np.ndarray
    t_final: np.ndarray
    status: np.ndarray
    trajectories: np.ndarray | None
    stored: np.ndarray
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    n_jacobians: np.ndarray


class _ReducedProblem:
    """Reduced, scaled right-hand side and Jacobian of a kinetic system.

    Variables: ``y = x_I / s_I`` (independent states over their scale); the full scaled
    state is ``z = z₀ + y Lzᵀ`` with ``Lz = diag(1/s) L diag(s_I)`` (identity on the
    independent rows) and ``z₀`` the conserved totals on the dependent rows.
    The scaled Jacobian ``diag(1/s_I) N_R ∂v/∂x L diag(s_I)`` is assembled from the
    structurally non-zero entries of ``∂v/∂x`` (a reaction depends only on its
    substrates, products and modifiers) by one sparse product.
    """

    def __init__(self, system: KineticSystem, scale: np.ndarray) -> None:
        import scipy.sparse

        cons = system.conservation
        self.system = system
        self.scale = scale
        self.ind = cons.independent
        self.dep = cons.dependent
        s_ind = scale[self.ind]
        self.s_ind = s_ind
        link = cons.link_matrix
        self.lz = link * s_ind[None, :] / scale[:, None]  # (n_states, r)
        self.lz_dep_t = np.ascontiguousarray(self.lz[self.dep].T)  # (r, n_dependent)
        n_r = system.reduced_stoichiometric_matrix
        self.f_map = np.ascontiguousarray((n_r / s_ind[:, None]).T)  # (n_reactions, r)
        left = n_r / s_ind[:, None]  # (r, n_reactions)
        right = link * s_ind[None, :]  # (n_states, r)
        rows, cols = np.nonzero(_derivative_pattern(system))
        self.flat = rows * system.n_states + cols  # into ∂v/∂x.reshape(n, -1)
        r = self.ind.size
        dense = np.einsum("ik,kl->ilk", left[:, rows], right[cols, :]).reshape(r * r, -1)
        self.jac_map = scipy.sparse.csr_matrix(dense)  # (r², nnz)

    def offsets(self, x0: np.ndarray) -> np.ndarray:
        """``z₀`` of full states ``x0`` (n, n_states) µM: totals on the dependent rows."""
        g = self.system.conservation.conservation_matrix
        z0 = np.zeros_like(x0)
        if self.dep.size:
            z0[:, self.dep] = (x0 @ g.T) / self.scale[self.dep]
        return z0

    def full(self, y: np.ndarray, z0: np.ndarray) -> np.ndarray:
        """Full scaled state ``z`` (n, n_states) from ``y`` (n, r)."""
        z = z0.copy()
        z[:, self.ind] = y
        if self.dep.size:
            z[:, self.dep] += y @ self.lz_dep_t
        return z

    def rhs(self, z: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Scaled ``dy/dt`` (n, r), h⁻¹, at full scaled states ``z``."""
        return self.system.rates(z * self.scale, p) @ self.f_map

    def jacobian(self, z: np.ndarray, p: np.ndarray) -> np.ndarray:
        """Scaled reduced Jacobian (n, r, r), h⁻¹, at full scaled states ``z``."""
        e = self.system.rate_derivatives(z * self.scale, p)  # (n, n_reactions, n_states)
        n = e.shape[0]
        e_nz = e.reshape(n, -1)[:, self.flat]
        r = self.ind.size
        return np.ascontiguousarray((self.jac_map @ e_nz.T).T).reshape(n, r, r)


def _derivative_pattern(system: KineticSystem) -> np.ndarray:
    """Where ``∂v_j/∂x_i`` can be non-zero, shape ``(n_reactions, n_states)`` bool.

    A superset of the engine's non-zeros: reaction *j* depends only on the states among
    its substrates, products and modifiers.
    """
    model = system.model
    col = {m: i for i, m in enumerate(model.state_ids)}
    out = np.zeros((system.n_reactions, system.n_states), dtype=bool)
    for j, r in enumerate(model.reactions):
        mets = [m for m, _ in r.substrates] + [m for m, _ in r.products]
        mets += [mod.metabolite for mod in r.modifiers]
        for m in mets:
            if m in col:
                out[j, col[m]] = True
    return out


def _parameters(system: KineticSystem, parameters: ArrayLike) -> np.ndarray:
    p = np.asarray(parameters, dtype=float)
    n_par = system.model.n_parameters
    if p.ndim != 2 or p.shape[1] != n_par:
        raise ValueError(f"parameters must have shape (n_models, {n_par}), got {p.shape}")
    return p


def _tableau(method: str | RosenbrockTableau) -> RosenbrockTableau:
    if isinstance(method, RosenbrockTableau):
        return method
    try:
        return METHODS[method.lower()]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(METHODS)}") from None


def _rms(a: np.ndarray) -> np.ndarray:
    return np.sqrt(np.mean(a * a, axis=1))


# --------------------------------------------------------------------------- BLAS threads


class _BlasThreadLimiter:
    """Process-wide, re-entrant limit of OpenBLAS to one thread while integrating.

    The integrator works on many small matrices (44 × 44) and thin products; OpenBLAS
    threading on such sizes is slower than one thread (measured 2–3× slower on 2 cores)
    and oversubscribes the cores when chunks already run in threads. The first entrant
    saves the thread count and sets 1, the last one out restores it. Uses
    ``threadpoolctl`` when installed, else the ``*openblas*set_num_threads*`` symbols of
    the OpenBLAS libraries loaded in the process (Linux); a no-op elsewhere.
    """

    _GET = (
        "openblas_get_num_threads",
        "openblas_get_num_threads64_",
        "scipy_openblas_get_num_threads",
        "scipy_openblas_get_num_threads64_",
    )

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._restore: list[Callable[[], None]] = []

    def _limit(self) -> list[Callable[[], None]]:
        try:
            from threadpoolctl import threadpool_limits  # type: ignore[import-not-found]
        except ImportError:
            pass
        else:
            ctl = threadpool_limits(limits=1, user_api="blas")
            return [ctl.restore_original_limits]
        restore: list[Callable[[], None]] = []
        try:
            import ctypes

            with open("/proc/self/maps") as fh:
                paths = {
                    line.split()[-1]
                    for line in fh
                    if "openblas" in line.lower() and line.split()[-1].startswith("/")
                }
            for path in sorted(paths):
                lib = ctypes.CDLL(path)
                for get_name in self._GET:
                    get = getattr(lib, get_name, None)
                    put = getattr(lib, get_name.replace("_get_", "_set_"), None)
                    if get is None or put is None:
                        continue
                    put.argtypes = [ctypes.c_int]
                    old = int(get())
                    put(1)
                    restore.append(lambda put=put, old=old: put(old))
        except (OSError, AttributeError, ValueError):  # pragma: no cover - platform specific
            pass
        return restore

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._restore = self._limit()
            self._depth += 1

    def __exit__(self, *exc: object) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0:
                for undo in self._restore:
                    undo()
                self._restore = []


single_threaded_blas = _BlasThreadLimiter()
"""Context manager: OpenBLAS runs on one thread inside (re-entrant, thread-safe)."""


def integrate_batch(
    system: KineticSystem,
    parameters: np.ndarray,
    x0: np.ndarray,
    t_end: float,
    *,
    times: ArrayLike | None = None,
    store: ArrayLike | None = None,
    scale: ArrayLike | None = None,
    options: IntegratorOptions | None = None,
    method: str | RosenbrockTableau = "rodas4",
    max_batch: int = DEFAULT_MAX_BATCH,
    on_finish: Callable[[int], None] | None = None,
) -> BatchSolution:
    """Integrate ``dx/dt = S v(x; p)`` for many parameter sets and initial states at once.

    The reduced system of the independent states is integrated; the dependent states
    follow from the conserved totals of ``x0`` (``x_dep = T + L₀ x_I``), so every
    conserved moiety holds to rounding error. Each trajectory has its own time and
    step size; all advance together as one batch and finished ones drop out.

    Parameters
    ----------
    system
        Compiled kinetic model.
    parameters
        Parameter sets, shape ``(n, n_parameters)`` (one per trajectory).
    x0
        Initial states, µM, shape ``(n, n_states)``.
    t_end
        Final time, h (> 0).
    times
        Output times in ``[0, t_end]``, h, increasing (default ``[0, t_end]``). The
        stored trajectories step exactly onto them (no interpolation).
    store
        Indices of the trajectories whose states at ``times`` are returned.
    scale
        Per-state scale, µM, shape ``(n_states,)``: variables are ``x/scale`` and
        ``atol`` is relative to it (default: the largest ``|x0|`` of each state).
    options
        Tolerances and limits (:class:`IntegratorOptions`).
    method
        A name in :data:`METHODS` or a :class:`RosenbrockTableau` (default
        :data:`RODAS4`).
    max_batch
        Trajectories stepped together; when some finish, waiting ones take their
        places. Results do not depend on it (up to rounding).
    on_finish
        Called with the number of trajectories that just finished (any status).

    Returns
    -------
    BatchSolution
        Final states, status codes, step statistics and stored trajectories.
    """
    opts = options or IntegratorOptions()
    tableau = _tableau(method)
    if opts.jacobian_max_age > 1 and not tableau.w_method:
        raise ValueError(
            f"{tableau.name} needs the exact Jacobian at every step: jacobian_max_age > 1 "
            "requires a W-method (e.g. 'ros34pw2')"
        )
    p_all = _parameters(system, parameters)
    x0 = np.asarray(x0, dtype=float)
    n, n_states = p_all.shape[0], system.n_states
    if x0.shape != (n, n_states):
        raise ValueError(f"x0 must have shape ({n}, {n_states}), got {x0.shape}")
    if not t_end > 0:
        raise ValueError(f"t_end must be positive, got {t_end}")
    t_out = np.array([0.0, t_end]) if times is None else np.asarray(times, dtype=float)
    if t_out.ndim != 1 or t_out.size == 0 or np.any(np.diff(t_out) <= 0):
        raise ValueError("times must be a non-empty increasing 1-D array")
    if t_out[0] < 0 or t_out[-1] > t_end:
        raise ValueError("times must lie in [0, t_end]")
    stored = np.unique(np.asarray([] if store is None else store, dtype=int))
    if stored.size and (stored[0] < 0 or stored[-1] >= n):
        raise ValueError("store indices out of range")
    if scale is None:
        sc = np.abs(x0).max(axis=0) if n else np.ones(n_states)
        sc = np.where(sc > 0, sc, 1.0)
    else:
        sc = np.asarray(scale, dtype=float)
        if sc.shape != (n_states,) or np.any(~np.isfinite(sc)) or np.any(sc <= 0):
            raise ValueError(f"scale must be positive and finite, shape ({n_states},)")

    with single_threaded_blas:
        return _integrate(
            system,
            p_all,
            x0,
            t_end,
            t_out,
            stored,
            sc,
            opts,
            tableau,
            max(1, int(max_batch)),
            on_finish,
        )


def _integrate(
    system: KineticSystem,
    p_all: np.ndarray,
    x0: np.ndarray,
    t_end: float,
    t_out: np.ndarray,
    stored: np.ndarray,
    sc: np.ndarray,
    opts: IntegratorOptions,
    tableau: RosenbrockTableau,
    max_batch: int,
    on_finish: Callable[[int], None] | None,
) -> BatchSolution:
    """The stepping loop of :func:`integrate_batch` (inputs validated).

    At most ``max_batch`` trajectories are active; whenever trajectories finish, waiting
    ones join, so the batch stays full until the queue is empty (no long tail of
    nearly empty iterations per batch). Trajectories never interact: the result of
    each is independent of the batch it is stepped in.
    """
    n, n_states = x0.shape
    prob = _ReducedProblem(system, sc)
    a_t, c_t, m_w, e_w = tableau.a, tableau.c, tableau.m, tableau.error_weights
    gam = tableau.gamma
    n_stages = tableau.stages
    expo = -1.0 / (tableau.embedded_order + 1)
    r = prob.ind.size
    eye = np.eye(r)
    h_min = opts.min_step_ratio * t_end
    big_age = np.iinfo(np.int64).max // 2

    # ---- per-trajectory outputs
    status = np.full(n, _RUNNING, dtype=np.int8)
    final = np.full((n, n_states), np.nan)
    t_final = np.zeros(n)
    n_acc = np.zeros(n, dtype=np.int64)
    n_rej = np.zeros(n, dtype=np.int64)
    n_jac = np.zeros(n, dtype=np.int64)
    traj = np.full((stored.size, t_out.size, n_states), np.nan) if stored.size else None
    slot_of = np.full(n, -1, dtype=np.int64)
    slot_of[stored] = np.arange(stored.size)

    def start(new: np.ndarray) -> list[np.ndarray]:
        """Working arrays of trajectories ``new`` at t = 0 (those that fail are finished)."""
        p = p_all[new]
        z0 = prob.offsets(x0[new])
        y = x0[new][:, prob.ind] / prob.s_ind
        with np.errstate(all="ignore"):
            z = prob.full(y, z0)
            f0 = prob.rhs(z, p)
            tol = opts.atol + opts.rtol * np.abs(z)
            if opts.first_step is None:
                d0 = _rms(z / tol)
                d1 = _rms((f0 @ prob.lz.T) / tol)
                h = np.where((d0 > 1e-5) & (d1 > 1e-5), 0.01 * d0 / d1, 1e-6 * t_end)
            else:
                h = np.full(new.size, float(opts.first_step))
        h = np.minimum(np.minimum(np.nan_to_num(h, nan=1e-6 * t_end), opts.max_step), t_end)
        out_i = np.zeros(new.size, dtype=np.int64)
        if traj is not None and t_out[0] == 0.0:
            has = slot_of[new] >= 0
            traj[slot_of[new[has]], 0] = z[has] * sc
            out_i[has] = 1
        bad = ~np.isfinite(f0).all(axis=1) | ~np.isfinite(z).all(axis=1)
        if bad.any():
            g = new[bad]
            status[g] = Status.NONFINITE
            final[g] = z[bad] * sc
            if on_finish:
                on_finish(int(bad.sum()))
        ok = ~bad
        m = int(ok.sum())
        return [
            new[ok],
            p[ok],
            z0[ok],
            y[ok],
            z[ok],
            np.zeros(m),  # t
            f0[ok],
            h[ok],
            np.zeros((m, r, r)),  # Jacobian
            np.full(m, big_age),  # Jacobian age: force one at the first step
            np.zeros(m, dtype=np.int64),  # consecutive bad trials
            np.zeros(m, dtype=np.int64),  # attempts
            out_i[ok],
            np.full(m, np.nan),  # last accepted step (predictive controller)
            np.full(m, np.nan),  # its error
        ]

    queue = np.arange(n)
    state = start(queue[:max_batch])
    queue = queue[max_batch:]
    idx = state[0]
    running = np.ones(idx.size, dtype=bool)

    while True:
        # ---- drop finished trajectories and top the batch up from the queue
        n_run = int(running.sum())
        free = max_batch - n_run
        refill = queue.size > 0 and (free >= max(1, max_batch // 8) or n_run == 0)
        if refill or n_run < running.size:
            keep = np.flatnonzero(running)
            state = [a[keep] for a in state]
            if refill:
                new_state = start(queue[:free])
                queue = queue[free:]
                state = [np.concatenate([a, b]) for a, b in zip(state, new_state, strict=True)]
        idx, p, z0, y, z, t, f0, h, jac, age, bad_trials, attempts, out_i, h_acc, err_acc = state
        m = idx.size
        if m == 0:
            if queue.size:
                continue
            break
        # ---- next stop: an output time (stored trajectories) or t_end
        slots = slot_of[idx]
        stop = np.full(m, t_end)
        has_out = (slots >= 0) & (out_i < t_out.size)
        stop[has_out] = t_out[out_i[has_out]]
        clipped = h >= stop - t  # this step lands exactly on the stop
        h_try = np.where(clipped, stop - t, h)
        # ---- Jacobians
        need = age >= opts.jacobian_max_age
        if need.any():
            rows = np.flatnonzero(need)
            with np.errstate(all="ignore"):
                jac[rows] = prob.jacobian(z[rows], p[rows])
            age[rows] = 0
            n_jac[idx[rows]] += 1
        # ---- stages
        with np.errstate(all="ignore"):
            w = eye / (h_try * gam)[:, None, None] - jac
            finite_w = np.isfinite(w).all(axis=(1, 2))
            if not finite_w.all():
                w[~finite_w] = eye
            w_inv = np.linalg.inv(w)
            u = np.empty((n_stages, m, r))
            inv_h = 1.0 / h_try
            rhs = f0
            for i in range(n_stages):
                if i > 0:
                    yi = y + np.einsum("j,jmr->mr", a_t[i, :i], u[:i])
                    rhs = prob.rhs(prob.full(yi, z0), p)
                    rhs += inv_h[:, None] * np.einsum("j,jmr->mr", c_t[i, :i], u[:i])
                u[i] = np.matmul(w_inv, rhs[:, :, None])[:, :, 0]
            y_new = y + np.einsum("j,jmr->mr", m_w, u)
            err_y = np.einsum("j,jmr->mr", e_w, u)
            z_new = prob.full(y_new, z0)
            err_z = err_y @ prob.lz.T
            tol_z = opts.atol + opts.rtol * np.maximum(np.abs(z), np.abs(z_new))
            err = _rms(err_z / tol_z)
        attempts += 1
        nonfinite = ~np.isfinite(err) | ~np.isfinite(z_new).all(axis=1) | ~finite_w
        negative = ~nonfinite & (z_new < -opts.negative_tolerance).any(axis=1)
        accept = ~nonfinite & ~negative & (err <= 1.0)
        # ---- step-size proposal
        with np.errstate(all="ignore"):
            e_c = np.maximum(err, 1e-10)
            fac = opts.safety * np.power(e_c, expo)
            # Gustafsson's predictive controller after accepted steps (as in RODAS)
            gus = fac * (h_try / h_acc) * np.power(err_acc / e_c, -expo)
            fac = np.where(accept & np.isfinite(gus), np.minimum(fac, gus), fac)
        fac = np.clip(np.nan_to_num(fac, nan=opts.min_factor), opts.min_factor, opts.max_factor)
        fac = np.where(accept, fac, np.minimum(fac, 1.0))
        h_acc[:] = np.where(accept, h_try, h_acc)
        err_acc[:] = np.where(accept, np.maximum(err, 1e-2), err_acc)
        fac[negative] = 0.5
        fac[nonfinite] = 0.25
        h_new = h_try * fac
        # a step shortened to land on a stop keeps the proposal it was shortened from
        h_new = np.where(accept & clipped, np.maximum(h_new, h), h_new)
        h[:] = np.minimum(h_new, opts.max_step)
        bad_trials[:] = np.where(nonfinite | negative, bad_trials + 1, 0)
        # a step rejected with an old Jacobian is retried with a fresh one
        age[:] = np.where(~accept & (age > 0), big_age, age)
        n_rej[idx[~accept]] += 1
        # ---- accepted steps
        if accept.any():
            rows = np.flatnonzero(accept)
            t[rows] = np.where(clipped[rows], stop[rows], t[rows] + h_try[rows])
            y[rows] = y_new[rows]
            z[rows] = z_new[rows]
            with np.errstate(all="ignore"):
                f0[rows] = prob.rhs(z_new[rows], p[rows])
            age[rows] += 1
            n_acc[idx[rows]] += 1
            hit = rows[has_out[rows] & clipped[rows]]
            if traj is not None and hit.size:
                traj[slots[hit], out_i[hit]] = z[hit] * sc
                out_i[hit] += 1
        # ---- termination
        done = accept & (t >= t_end)
        with np.errstate(invalid="ignore"):
            f_bad = accept & ~np.isfinite(f0).all(axis=1)
            diverged = accept & (z > opts.divergence_bound).any(axis=1)
        running = np.ones(m, dtype=bool)
        for mask, code in (
            (done, Status.SUCCESS),
            (f_bad, Status.NONFINITE),
            (diverged, Status.DIVERGED),
            (nonfinite & (bad_trials >= opts.max_bad_trials), Status.NONFINITE),
            (negative & (bad_trials >= opts.max_bad_trials), Status.NEGATIVE),
            (h < h_min, Status.STEP_UNDERFLOW),
            (attempts >= opts.max_steps, Status.MAX_STEPS),
        ):
            rows = np.flatnonzero(mask & running)
            if rows.size:
                g = idx[rows]
                status[g] = code
                t_final[g] = t[rows]
                final[g] = z[rows] * sc
                running[rows] = False
        if on_finish and not running.all():
            on_finish(int(m - running.sum()))

    return BatchSolution(
        times=t_out,
        final=final,
        t_final=t_final,
        status=status,
        trajectories=traj,
        stored=stored,
        n_accepted=n_acc,
        n_rejected=n_rej,
        n_jacobians=n_jac,
    )


# --------------------------------------------------------------------------- perturbations


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
    ``1 + U(−½, ½)``; ``fold``: ``exp U(ln ½, ln 2)``); the followers are solved from
    the *reference* totals ``G x = G X_ref``, so the perturbed state lies on the
    reference's conservation manifold and can return to ``X_ref``. A draw with a
    follower concentration ≤ 0 is redrawn, at most ``max_draws`` times per perturbation.

    Parameters
    ----------
    system
        Compiled model.
    reference
        Reference state ``X_ref``, µM, shape ``(n_states,)``.
    n
        Number of perturbations.
    protocol
        ``"uniform"`` or ``"fold"``.
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
    x0 = np.full((n, reference.size), np.nan)
    todo = np.arange(n)
    n_draws = 0
    for _ in range(max_draws):
        if todo.size == 0:
            break
        if protocol == "uniform":
            f = 1.0 + rng.uniform(-0.5, 0.5, size=(todo.size, per.size))
        else:
            f = np.exp(rng.uniform(math.log(0.5), math.log(2.0), size=(todo.size, per.size)))
        n_draws += todo.size
        x_per = reference[per] * f
        x_fol = base - x_per @ coupling.T
        ok = np.all(x_fol > 0, axis=1)
        rows = todo[ok]
        x0[rows[:, None], per[None, :]] = x_per[ok]
        x0[rows[:, None], fol[None, :]] = x_fol[ok]
        todo = todo[~ok]
    return x0, n_draws


def time_grid(t_end: float, n_times: int, spacing: str = "linear") -> np.ndarray:
    """Output times, h, shape ``(n_times,)``, from 0 to ``t_end``.

    ``linear``: evenly spaced; ``log``: 0 followed by ``n_times − 1`` points
    geometrically spaced from ``1e-6 t_end`` to ``t_end`` (resolves fast transients).
    """
    if n_times < 2:
        raise ValueError(f"n_times must be ≥ 2, got {n_times}")
    if spacing == "linear":
        return np.linspace(0.0, t_end, n_times)
    if spacing == "log":
        return np.concatenate([[0.0], np.geomspace(1e-6 * t_end, t_end, n_times - 1)])
    raise ValueError(f"spacing must be 'linear' or 'log', got {spacing!r}")


@dataclass(frozen=True)
class PerturbationSettings:
    """Everything but the parameter sets that defines a perturbation analysis.

    Attributes
    ----------
    protocol
        ``"uniform"`` (Methods: ``X_ref (1 + U(−½, ½))``) or ``"fold"`` (Results:
        ``X_ref f``, ``ln f ~ U(ln ½, ln 2)``).
    n_perturbations
        Perturbations per model (paper: 10 in Methods, 100 in Results).
    seed
        Model *i* draws from ``SeedSequence(seed, spawn_key=(i, protocol index))``, so
        results do not depend on chunking or threads.
    t_end
        Integration time, h (paper: the doubling time, 21 min).
    return_tolerance
        Returned when ``‖X(t_end) − X_ref‖₂ < return_tolerance · ‖X_ref‖₂``.
    times
        Output times of the stored trajectories, h, in ``[0, t_end]``; empty (the
        default) means ``(0, t_end)``.
    store_models
        Trajectories of the models with index ``< store_models`` are stored.
    max_draws
        Draws per perturbation to find admissible follower states.
    followers
        Which states absorb the conserved totals (:func:`follower_states`).
    method
        Integration method (:data:`METHODS`).
    options
        Integrator tolerances and limits.
    """

    protocol: str = "uniform"
    n_perturbations: int = 10
    seed: int = 0
    t_end: float = DOUBLING_TIME_HOURS
    return_tolerance: float = RETURN_TOLERANCE
    times: tuple[float, ...] = ()
    store_models: int = 0
    max_draws: int = 100
    followers: str = "largest"
    method: str = "rodas4"
    options: IntegratorOptions = field(default_factory=lambda: PERTURBATION_OPTIONS)

    def __post_init__(self) -> None:
        if self.protocol not in PROTOCOLS:
            raise ValueError(f"protocol must be one of {PROTOCOLS}, got {self.protocol!r}")
        if self.n_perturbations < 1:
            raise ValueError(f"n_perturbations must be ≥ 1, got {self.n_perturbations}")
        if not self.t_end > 0:
            raise ValueError(f"t_end must be positive, got {self.t_end}")
        if not self.return_tolerance > 0:
            raise ValueError("return_tolerance must be positive")
        if self.followers not in FOLLOWER_CHOICES:
            raise ValueError(f"followers must be one of {FOLLOWER_CHOICES}, got {self.followers!r}")
        _tableau(self.method)


PERTURBATION_OPTIONS = IntegratorOptions(rtol=1e-5, atol=1e-8)
"""Default integrator settings of the perturbation analysis: ``rtol = 1e-5``,
``atol = 1e-8·X_ref``, at most 5 000 steps (see the module notes for the accuracy)."""


@dataclass(frozen=True)
class PerturbationChunk:
    """Result of :func:`perturbation_chunk` for ``n`` models × ``k`` perturbations.

    Attributes
    ----------
    start
        Global index of the chunk's first model.
    status
        :class:`Status` codes, ``int8``, shape ``(n, k)``.
    relative_deviation
        ``‖X(t_end) − X_ref‖₂ / ‖X_ref‖₂``, shape ``(n, k)``; NaN unless ``SUCCESS``.
    initial_deviation
        The same for the perturbed initial state, shape ``(n, k)``.
    n_accepted, n_rejected
        Steps per integration, shape ``(n, k)``.
    n_draws
        Perturbation draws made (accepted ones: ``n·k`` minus ``NO_INITIAL_STATE``).
    trajectories
        ``X/X_ref − 1`` at the output times of the stored models, shape
        ``(n_stored, k, n_times, n_states)``, or ``None``.
    """

    start: int
    status: np.ndarray
    relative_deviation: np.ndarray
    initial_deviation: np.ndarray
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    n_draws: int
    trajectories: np.ndarray | None


def perturbation_chunk(
    system: KineticSystem,
    reference: np.ndarray,
    parameters: np.ndarray,
    start: int,
    settings: PerturbationSettings,
    on_finish: Callable[[int], None] | None = None,
) -> PerturbationChunk:
    """Perturb, integrate and classify a chunk of models: a pure function.

    Parameters
    ----------
    system
        Compiled model.
    reference
        Reference steady state ``X_ref``, µM, shape ``(n_states,)``.
    parameters
        The chunk's parameter sets, shape ``(n, n_parameters)``.
    start
        Global index of the first model (selects its random streams).
    settings
        Protocol, seed, tolerances (:class:`PerturbationSettings`).
    on_finish
        Called with the number of integrations that just finished.

    Returns
    -------
    PerturbationChunk
    """
    p = _parameters(system, parameters)
    n, k, n_states = p.shape[0], settings.n_perturbations, system.n_states
    proto = PROTOCOLS.index(settings.protocol)
    x0 = np.empty((n, k, n_states))
    n_draws = 0
    followers = follower_states(system, reference, settings.followers)
    for i in range(n):
        rng = np.random.default_rng(
            np.random.SeedSequence(settings.seed, spawn_key=(start + i, proto))
        )
        x0[i], d = draw_initial_states(
            system,
            reference,
            k,
            settings.protocol,
            rng,
            followers=followers,
            max_draws=settings.max_draws,
        )
        n_draws += d
    x0 = x0.reshape(n * k, n_states)
    ok = np.isfinite(x0).all(axis=1)
    rows = np.flatnonzero(ok)
    times = settings.times or (0.0, settings.t_end)
    n_store = min(max(settings.store_models - start, 0), n)
    store_flat = np.flatnonzero(ok[: n_store * k])  # positions among all n*k rows
    sol = integrate_batch(
        system,
        np.repeat(p, k, axis=0)[rows],
        x0[rows],
        settings.t_end,
        times=times,
        store=np.searchsorted(rows, store_flat),
        scale=reference,
        options=settings.options,
        method=settings.method,
        on_finish=on_finish,
    )
    status = np.full(n * k, Status.NO_INITIAL_STATE, dtype=np.int8)
    status[rows] = sol.status
    norm_ref = float(np.linalg.norm(reference))
    dev = np.full(n * k, np.nan)
    success = sol.status == Status.SUCCESS
    dev[rows[success]] = np.linalg.norm(sol.final[success] - reference, axis=1) / norm_ref
    dev0 = np.linalg.norm(x0 - reference, axis=1) / norm_ref
    n_acc = np.zeros(n * k, dtype=np.int64)
    n_rej = np.zeros(n * k, dtype=np.int64)
    n_acc[rows], n_rej[rows] = sol.n_accepted, sol.n_rejected
    traj = None
    if n_store:
        traj = np.full((n_store * k, len(times), n_states), np.nan)
        if sol.trajectories is not None:
            traj[store_flat] = sol.trajectories / reference - 1.0
        traj = traj.reshape(n_store, k, len(times), n_states)
    return PerturbationChunk(
        start=start,
        status=status.reshape(n, k),
        relative_deviation=dev.reshape(n, k),
        initial_deviation=dev0.reshape(n, k),
        n_accepted=n_acc.reshape(n, k),
        n_rejected=n_rej.reshape(n, k),
        n_draws=n_draws,
        trajectories=traj,
    )


@dataclass(frozen=True)
class PerturbationResult:
    """Outcome of :func:`perturbation_analysis` for ``n`` models × ``k`` perturbations.

    Attributes
    ----------
    settings
        The analysis settings.
    returned
        ``True`` where the integration reached ``t_end`` within the return tolerance of
        ``X_ref``, shape ``(n, k)``.
    status
        :class:`Status` codes, ``int8``, shape ``(n, k)``.
    relative_deviation
        ``‖X(t_end) − X_ref‖₂ / ‖X_ref‖₂``, shape ``(n, k)``; NaN unless ``SUCCESS``.
    initial_deviation
        The same for the perturbed initial states, shape ``(n, k)``.
    times
        Output times, h, shape ``(n_times,)``.
    trajectories
        ``X/X_ref − 1`` of the first ``settings.store_models`` models, shape
        ``(n_stored, k, n_times, n_states)`` (NaN after a failure), or ``None``.
    n_accepted, n_rejected
        Integration steps, shape ``(n, k)``.
    n_draws
        Perturbation draws made in total.
    wall_time
        Seconds for the whole analysis.
    n_jobs, chunk_size
        Threads and models per chunk used.
    """

    settings: PerturbationSettings
    returned: np.ndarray
    status: np.ndarray
    relative_deviation: np.ndarray
    initial_deviation: np.ndarray
    times: np.ndarray
    trajectories: np.ndarray | None
    n_accepted: np.ndarray
    n_rejected: np.ndarray
    n_draws: int
    wall_time: float
    n_jobs: int
    chunk_size: int

    @property
    def n_models(self) -> int:
        """Number of models."""
        return int(self.status.shape[0])

    @property
    def n_integrations(self) -> int:
        """Integrations attempted (perturbations with an admissible initial state)."""
        return int(np.sum(self.status != Status.NO_INITIAL_STATE))

    @property
    def n_completed(self) -> int:
        """Integrations that reached ``t_end``."""
        return int(np.sum(self.status == Status.SUCCESS))

    @property
    def n_returned(self) -> int:
        """Integrations that returned to the reference state."""
        return int(self.returned.sum())

    @property
    def n_blown_up(self) -> int:
        """Integrations flagged non-finite, negative or diverged (trajectory escaped)."""
        return int(np.isin(self.status, BLOWN_UP_STATUSES).sum())

    @property
    def n_failed(self) -> int:
        """Integrations that failed numerically (step underflow or step budget)."""
        return int(np.isin(self.status, FAILED_STATUSES).sum())

    @property
    def n_no_initial_state(self) -> int:
        """Perturbations without an admissible initial state (not integrated)."""
        return int(np.sum(self.status == Status.NO_INITIAL_STATE))

    @property
    def fraction_returned(self) -> float:
        """Returned / completed integrations (NaN if none completed)."""
        return self.n_returned / self.n_completed if self.n_completed else math.nan

    @property
    def fraction_returned_all(self) -> float:
        """Returned / attempted integrations: every blow-up or failure counts as not
        returned (NaN if none attempted)."""
        return self.n_returned / self.n_integrations if self.n_integrations else math.nan

    @property
    def acceptance_rate(self) -> float:
        """Admissible perturbations / draws (dependent states positive)."""
        accepted = self.status.size - self.n_no_initial_state
        return accepted / self.n_draws if self.n_draws else math.nan

    @property
    def integrations_per_second(self) -> float:
        """Attempted integrations per wall-clock second."""
        return self.n_integrations / self.wall_time if self.wall_time > 0 else math.nan

    def fraction_returned_per_model(self) -> np.ndarray:
        """Fraction of each model's completed integrations that returned, shape ``(n,)``."""
        done = (self.status == Status.SUCCESS).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where(done > 0, self.returned.sum(axis=1) / done, np.nan)

    def stored_trajectories(self) -> tuple[np.ndarray, np.ndarray]:
        """Stored trajectories flattened for the PCA plot (Fig. 2e, left).

        Returns
        -------
        trajectories, returned
            ``X/X_ref − 1`` of shape ``(n_stored · k, n_times, n_states)`` (for
            :func:`rekindle.analysis.trajectories.pca_trajectories`) and whether each
            returned, shape ``(n_stored · k,)``.
        """
        if self.trajectories is None:
            return np.empty((0, self.times.size, 0)), np.empty(0, dtype=bool)
        m, k, n_t, n_s = self.trajectories.shape
        return self.trajectories.reshape(m * k, n_t, n_s), self.returned[:m].reshape(m * k)

    def status_counts(self) -> dict[str, int]:
        """Number of integrations per :class:`Status` name."""
        return {s.name.lower(): int(np.sum(self.status == s)) for s in Status}

    def summary(self) -> dict[str, object]:
        """Flat summary (numbers and strings) for reports and :func:`write_summary`."""
        st = self.settings
        out: dict[str, object] = {
            "protocol": st.protocol,
            "n_models": self.n_models,
            "n_perturbations": st.n_perturbations,
            "n_integrations": self.n_integrations,
            "n_completed": self.n_completed,
            "n_returned": self.n_returned,
            "fraction_returned": self.fraction_returned,
            "fraction_returned_all": self.fraction_returned_all,
            "n_blown_up": self.n_blown_up,
            "n_failed": self.n_failed,
            "n_no_initial_state": self.n_no_initial_state,
            "acceptance_rate": self.acceptance_rate,
            "followers": st.followers,
            "median_relative_deviation": _nanmedian(self.relative_deviation),
            "mean_steps": float(np.mean(self.n_accepted + self.n_rejected))
            if self.n_accepted.size
            else math.nan,
            "wall_time_s": self.wall_time,
            "integrations_per_s": self.integrations_per_second,
            "t_end_h": st.t_end,
            "return_tolerance": st.return_tolerance,
            "seed": st.seed,
            "method": st.method,
            "rtol": st.options.rtol,
            "atol": st.options.atol,
            "max_steps": st.options.max_steps,
            "n_jobs": self.n_jobs,
            "chunk_size": self.chunk_size,
        }
        out.update({f"status_{k}": v for k, v in self.status_counts().items()})
        return out


def _nanmedian(a: np.ndarray) -> float:
    a = a[np.isfinite(a)]
    return float(np.median(a)) if a.size else math.nan


def _perturbation_task(
    system: KineticSystem,
    reference: np.ndarray,
    settings: PerturbationSettings,
    chunk: tuple[int, np.ndarray],
) -> PerturbationChunk:
    """:func:`perturbation_chunk` of ``(start, parameters)``: picklable for executors."""
    start, parameters = chunk
    return perturbation_chunk(system, reference, parameters, start, settings)


def perturbation_analysis(
    system: KineticSystem,
    physiology: Physiology,
    parameters: np.ndarray,
    n_perturbations: int = 10,
    protocol: str = "uniform",
    seed: int = 0,
    t_end_hours: float = DOUBLING_TIME_HOURS,
    return_tolerance: float = RETURN_TOLERANCE,
    n_times: int = 50,
    *,
    time_spacing: str = "linear",
    store_models: int = 5,
    options: IntegratorOptions | None = None,
    method: str = "rodas4",
    max_draws: int = 100,
    followers: str = "largest",
    chunk_size: int | None = None,
    n_jobs: int | None = None,
    progress: Callable[[int], None] | None = None,
    executor: Executor | None = None,
) -> PerturbationResult:
    """Perturbation analysis of kinetic models (paper Methods and Fig. 2e).

    For every parameter set, ``n_perturbations`` perturbed initial states are drawn
    (:func:`draw_initial_states`), integrated for ``t_end_hours`` and classified as
    returned when ``‖X(t_end) − X_ref‖₂ < return_tolerance · ‖X_ref‖₂`` over all states.

    Parameters
    ----------
    system
        Compiled model.
    physiology
        Reference steady state ``X_ref`` (the parameter sets must make it a steady state).
    parameters
        Shape ``(n_models, n_parameters)``.
    n_perturbations
        Perturbations per model ``k``.
    protocol
        ``"uniform"`` (Methods) or ``"fold"`` (Results), see :data:`PROTOCOLS`.
    seed
        Seed of the perturbations (results are independent of chunking and threads).
    t_end_hours
        Integration time, h (default 21 min).
    return_tolerance
        Relative L2 return criterion (default 0.01).
    n_times
        Output times of the stored trajectories.
    time_spacing
        ``"linear"`` or ``"log"`` output times (:func:`time_grid`).
    store_models
        Store the trajectories of the first ``store_models`` models (for the PCA plot).
    options
        Integrator settings (default :data:`PERTURBATION_OPTIONS`).
    method
        Integration method (:data:`METHODS`).
    max_draws
        Draws per perturbation to find positive follower states.
    followers
        ``"largest"`` or ``"link"``: which state of each conserved moiety absorbs the
        reference total (:func:`follower_states`).
    chunk_size
        Models per chunk (default: the models split evenly over the threads). Each
        chunk streams its ``chunk_size × k`` integrations through one batch of
        :data:`DEFAULT_MAX_BATCH`; the few slowest integrations of a chunk finish in
        nearly empty, overhead-bound iterations, so few large chunks are fastest.
    n_jobs
        Threads (default: available CPUs).
    progress
        Called with the number of models done (finished integrations ÷ ``k``, rounded
        down) as integrations finish, from the worker threads; first with 0. With an
        ``executor``, after each chunk.
    executor
        Map the chunks with this :class:`concurrent.futures.Executor` (a process pool,
        a Dask cluster: :mod:`rekindle.scale`) instead of ``n_jobs`` local threads;
        ``chunk_size`` then defaults to ``ceil(n_models / 16)``. Results are the same.

    Returns
    -------
    PerturbationResult
    """
    p = _parameters(system, parameters)
    if chunk_size is not None and chunk_size < 1:
        raise ValueError(f"chunk_size must be ≥ 1, got {chunk_size}")
    reference = system.steady_state_concentrations(physiology)
    times = time_grid(t_end_hours, n_times, time_spacing)
    settings = PerturbationSettings(
        protocol=protocol,
        n_perturbations=n_perturbations,
        seed=seed,
        t_end=t_end_hours,
        return_tolerance=return_tolerance,
        times=tuple(float(t) for t in times),
        store_models=store_models,
        max_draws=max_draws,
        followers=followers,
        method=method,
        options=options or PERTURBATION_OPTIONS,
    )
    jobs = n_jobs or default_n_jobs()
    n = p.shape[0]
    size = chunk_size or max(1, -(-n // (jobs if executor is None else 16)))
    k = n_perturbations
    lock = threading.Lock()
    finished = [0, 0]  # integrations finished, models reported

    def on_finish(count: int) -> None:
        if progress is None:
            return
        with lock:
            finished[0] += count
            done = min(finished[0] // k, n)
            if done > finished[1]:
                finished[1] = done
                progress(done)

    t0 = time.perf_counter()
    chunks: list[PerturbationChunk] = []
    if progress:
        progress(0)
    if executor is None:
        with single_threaded_blas:
            chunks.extend(
                map_ordered(
                    lambda s: perturbation_chunk(
                        system, reference, p[s : s + size], s, settings, on_finish
                    ),
                    range(0, n, size),
                    n_jobs=jobs,
                )
            )
    else:
        work = partial(_perturbation_task, system, reference, settings)
        for res in map_ordered(
            work, ((s, p[s : s + size]) for s in range(0, n, size)), executor=executor
        ):
            chunks.append(res)
            on_finish(res.status.size)
    with lock:
        if progress and finished[1] < n:
            finished[1] = n
            progress(n)
    wall = time.perf_counter() - t0

    def cat(name: str, dtype: type, fill: float) -> np.ndarray:
        if not chunks:
            return np.full((0, k), fill, dtype=dtype)
        return np.concatenate([getattr(c, name) for c in chunks])

    status = cat("status", np.int8, 0)
    dev = cat("relative_deviation", float, np.nan)
    stored = [c.trajectories for c in chunks if c.trajectories is not None]
    with np.errstate(invalid="ignore"):
        returned = (status == Status.SUCCESS) & (dev < return_tolerance)
    return PerturbationResult(
        settings=settings,
        returned=returned,
        status=status,
        relative_deviation=dev,
        initial_deviation=cat("initial_deviation", float, np.nan),
        times=times,
        trajectories=np.concatenate(stored) if stored else None,
        n_accepted=cat("n_accepted", np.int64, 0),
        n_rejected=cat("n_rejected", np.int64, 0),
        n_draws=sum(c.n_draws for c in chunks),
        wall_time=wall,
        n_jobs=jobs,
        chunk_size=size,
    )


# --------------------------------------------------------------------------- writers


def write_summary(
    results: PerturbationResult | Mapping[str, PerturbationResult], path: str | Path
) -> Path:
    """Write the summary of one or several analyses as CSV or JSON (by suffix).

    Parameters
    ----------
    results
        One result, or a mapping label → result (e.g. ``{"ORACLE fold": r}``).
    path
        ``.csv`` (one row per result, a ``label`` column first) or ``.json``
        (``{label: summary}``); written atomically.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    from rekindle.io._atomic import atomic_write_text

    path = Path(path)
    if isinstance(results, PerturbationResult):
        results = {results.settings.protocol: results}
    rows = {str(label): r.summary() for label, r in results.items()}
    suffix = path.suffix.lower()
    if suffix == ".json":
        clean = {k: {f: _json_value(v) for f, v in s.items()} for k, s in rows.items()}
        return atomic_write_text(path, json.dumps(clean, indent=2, allow_nan=False) + "\n")
    if suffix == ".csv":
        fields = ["label", *next(iter(rows.values())).keys()] if rows else ["label"]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=fields, lineterminator="\n")
        writer.writeheader()
        for label, s in rows.items():
            writer.writerow({"label": label, **s})
        return atomic_write_text(path, buf.getvalue())
    raise ValueError(f"unsupported summary format {path.suffix!r}; use .csv or .json")


def _json_value(v: object) -> object:
    """NaN/inf become ``None`` in JSON."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    return v
