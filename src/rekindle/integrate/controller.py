"""Step-size control: the integrator's tolerances and limits (:class:`IntegratorOptions`),
the error norm, the first step and the step-size proposal after each trial step."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rekindle.config import Settings
from rekindle.errors import ConfigError
from rekindle.integrate.state import ActiveState


@dataclass(frozen=True)
class IntegratorOptions(Settings):
    """Settings of :func:`~rekindle.integrate.loop.integrate_batch`.

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

    def validate(self) -> None:
        if not (self.rtol > 0 and self.atol > 0):
            raise ConfigError("rtol and atol must be positive")
        if self.max_steps < 1 or self.jacobian_max_age < 1 or self.max_bad_trials < 1:
            raise ConfigError("max_steps, jacobian_max_age and max_bad_trials must be ≥ 1")
        if not (0 < self.min_factor < 1 < self.max_factor) or not (0 < self.safety <= 1):
            raise ConfigError("need 0 < min_factor < 1 < max_factor and 0 < safety ≤ 1")
        if not (self.negative_tolerance >= 0 and self.divergence_bound > 1):
            raise ConfigError("need negative_tolerance ≥ 0 and divergence_bound > 1")
        if not (0 < self.min_step_ratio < 1 and self.max_step > 0):
            raise ConfigError("need 0 < min_step_ratio < 1 and max_step > 0")


def rms_norm(a: np.ndarray) -> np.ndarray:
    """Root mean square over the states, shape ``(n, k)`` → ``(n,)``."""
    return np.sqrt(np.mean(a * a, axis=1))


def initial_step_size(
    z: np.ndarray,
    dz_dt: np.ndarray,
    options: IntegratorOptions,
    t_end: float,
) -> np.ndarray:
    """First step of each trajectory, h, shape ``(n,)``.

    ``0.01 ‖z‖/‖dz/dt‖`` in the tolerance-weighted RMS norm (Hairer's first guess),
    ``1e-6 t_end`` where either norm is ≤ 1e-5, or ``options.first_step``; at most
    ``max_step`` and ``t_end``. ``z`` and ``dz_dt`` are full scaled states and their
    time derivatives, shape ``(n, n_states)``.
    """
    with np.errstate(all="ignore"):
        if options.first_step is None:
            tol = options.atol + options.rtol * np.abs(z)
            d0 = rms_norm(z / tol)
            d1 = rms_norm(dz_dt / tol)
            h = np.where((d0 > 1e-5) & (d1 > 1e-5), 0.01 * d0 / d1, 1e-6 * t_end)
        else:
            h = np.full(z.shape[0], float(options.first_step))
    return np.minimum(np.minimum(np.nan_to_num(h, nan=1e-6 * t_end), options.max_step), t_end)


def adapt_step_size(
    state: ActiveState,
    h_try: np.ndarray,
    lands: np.ndarray,
    err: np.ndarray,
    accept: np.ndarray,
    negative: np.ndarray,
    nonfinite: np.ndarray,
    options: IntegratorOptions,
    embedded_order: int,
) -> None:
    """Propose the next step of every active trajectory (updates ``state`` in place).

    ``h_new = h · clip(safety · err^(−1/(q+1)), min_factor, max_factor)``; after an
    accepted step the smaller of that and Gustafsson's predictive proposal (as in
    Hairer's RODAS code); never larger after a rejected step; halved after a negative
    and quartered after a non-finite trial. A step shortened to land on a stop
    (``lands``) keeps the proposal it was shortened from. Sets ``state.h``,
    ``state.h_accepted`` and ``state.err_accepted``.

    Parameters
    ----------
    h_try, lands
        The step tried, h, and whether it was shortened to land on a stop, ``(m,)``.
    err
        Its weighted RMS local error (≤ 1 accepts), ``(m,)``.
    accept, negative, nonfinite
        Outcome masks of the trial, ``(m,)``.
    """
    expo = -1.0 / (embedded_order + 1)
    h_acc, err_acc = state.h_accepted, state.err_accepted
    with np.errstate(all="ignore"):
        e_c = np.maximum(err, 1e-10)
        fac = options.safety * np.power(e_c, expo)
        # Gustafsson's predictive controller after accepted steps (as in RODAS)
        gus = fac * (h_try / h_acc) * np.power(err_acc / e_c, -expo)
        fac = np.where(accept & np.isfinite(gus), np.minimum(fac, gus), fac)
    lo, hi = options.min_factor, options.max_factor
    fac = np.clip(np.nan_to_num(fac, nan=lo), lo, hi)
    fac = np.where(accept, fac, np.minimum(fac, 1.0))
    h_acc[:] = np.where(accept, h_try, h_acc)
    err_acc[:] = np.where(accept, np.maximum(err, 1e-2), err_acc)
    fac[negative] = 0.5
    fac[nonfinite] = 0.25
    h_new = h_try * fac
    # a step shortened to land on a stop keeps the proposal it was shortened from
    h_new = np.where(accept & lands, np.maximum(h_new, state.h), h_new)
    state.h[:] = np.minimum(h_new, options.max_step)
