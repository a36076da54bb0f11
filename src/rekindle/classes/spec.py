"""A class of kinetic models: a predicate on properties rekindle computes.

A :class:`ClassSpec` is a conjunction of

- bounds on the largest real part of the Jacobian's eigenvalues, ``max Re(λ)`` (1/h):
  ``eig_below`` (``max Re(λ) < eig_below``) and ``eig_above`` (``max Re(λ) > eig_above``);
- bounds on the dominant time constant ``τ = −1/max Re(λ)`` in minutes
  (``τ = 60/(−max Re(λ))`` for a stable model, ``+∞`` otherwise): ``tau_below`` and
  ``tau_above``; both are eigenvalue bounds in disguise
  (``τ < T ⇔ max Re(λ) < −60/T``);
- a perturbation-return clause (:class:`ReturnsClause`): every one of
  ``n_perturbations`` perturbed initial states returns within ``tolerance`` at
  ``t_end`` (the protocol and criterion of ``rekindle perturb``).

The eigenvalue part is cheap (one Jacobian); the return part costs ``n_perturbations``
integrations per model and is checked only where the eigenvalue part holds.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rekindle.errors import ConfigError

__all__ = ["ClassSpec", "ReturnsClause"]


@dataclass(frozen=True)
class ReturnsClause:
    """Return after perturbation: all ``n_perturbations`` integrations return.

    Attributes
    ----------
    protocol
        Perturbation protocol (``uniform``, ``fold``, ``paper``; see ``rekindle perturb``).
    criterion
        Deviation criterion (``abs-l2`` and the others of ``rekindle perturb``).
    n_perturbations
        Perturbed initial states per model (the paper's Methods: 10).
    tolerance
        Returned when the deviation at ``t_end`` is below it (the paper: 0.01).
    t_end
        Integration time, h (the paper: the doubling time, 21 min = 0.35 h).
    seed
        Seed of the perturbations.
    """

    protocol: str = "paper"
    criterion: str = "abs-l2"
    n_perturbations: int = 10
    tolerance: float = 0.01
    t_end: float = 0.35
    seed: int = 0

    def __post_init__(self) -> None:
        from rekindle.analysis.initial_states import PROTOCOLS
        from rekindle.analysis.perturbation_settings import CRITERIA

        if self.protocol not in PROTOCOLS:
            raise ConfigError(
                f"returns: unknown protocol {self.protocol!r} (known: {', '.join(PROTOCOLS)})"
            )
        if self.criterion not in CRITERIA:
            raise ConfigError(
                f"returns: unknown criterion {self.criterion!r} (known: {', '.join(CRITERIA)})"
            )
        if int(self.n_perturbations) != self.n_perturbations or self.n_perturbations < 1:
            raise ConfigError(f"returns: n must be a positive integer, got {self.n_perturbations}")
        for name in ("tolerance", "t_end"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ConfigError(f"returns: {name} must be positive, got {value}")
        if int(self.seed) != self.seed or self.seed < 0:
            raise ConfigError(f"returns: seed must be an integer ≥ 0, got {self.seed}")

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins."""
        return {
            "protocol": self.protocol,
            "criterion": self.criterion,
            "n_perturbations": int(self.n_perturbations),
            "tolerance": float(self.tolerance),
            "t_end": float(self.t_end),
            "seed": int(self.seed),
        }

    def perturbation_settings(self) -> Any:
        """The :class:`~rekindle.analysis.perturbation_settings.PerturbationSettings`."""
        from rekindle.analysis.perturbation_settings import PerturbationSettings

        return PerturbationSettings(
            protocol=self.protocol,
            n_perturbations=int(self.n_perturbations),
            seed=int(self.seed),
            t_end=float(self.t_end),
            return_tolerance=float(self.tolerance),
            criterion=self.criterion,
            n_times=2,
            store_models=0,
        )


@dataclass(frozen=True)
class ClassSpec:
    """A validated class predicate (see the module docstring).

    Raises
    ------
    ConfigError
        An empty class (no clause), a non-finite or non-positive bound, or a
        contradictory one (the eigenvalue interval is empty).
    """

    eig_below: float | None = None
    eig_above: float | None = None
    tau_below: float | None = None
    tau_above: float | None = None
    returns: ReturnsClause | None = field(default=None)

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Refuse an empty, malformed or contradictory class (one line)."""
        bounds = ("eig_below", "eig_above", "tau_below", "tau_above")
        if all(getattr(self, b) is None for b in bounds) and self.returns is None:
            raise ConfigError("empty class: give at least one of max_eig, tau_min, returns")
        for name in bounds:
            value = getattr(self, name)
            if value is None:
                continue
            if isinstance(value, bool) or not isinstance(value, int | float | np.floating):
                raise ConfigError(f"class bound {name} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigError(f"class bound {name} must be finite, got {value}")
            if name.startswith("tau") and value <= 0:
                raise ConfigError(f"class bound {name} must be a positive time (min), got {value}")
        low, high = self.eig_interval
        if not low < high:
            raise ConfigError(
                f"contradictory class: max Re(λ) must lie in ({low:g}, {high:g}) 1/h, "
                "which is empty"
            )

    @property
    def eig_interval(self) -> tuple[float, float]:
        """``(low, high)``: the class's open interval of max Re(λ), 1/h (±∞ if unbounded)."""
        from rekindle.kinetics.stability import eigenvalue_interval

        return eigenvalue_interval(self.eig_below, self.eig_above, self.tau_below, self.tau_above)

    @property
    def costly(self) -> bool:
        """Whether membership needs integrations (a return clause)."""
        return self.returns is not None

    def violation(self, max_real_eigenvalue: np.ndarray) -> np.ndarray:
        """How far each model is outside the eigenvalue part of the class, 1/h.

        ``max(λ − high, low − λ)``: negative inside the interval, ``+∞`` for NaN.
        The level function of the rare-event sampler.

        Parameters
        ----------
        max_real_eigenvalue
            Shape ``(n,)``, 1/h.

        Returns
        -------
        numpy.ndarray
            Shape ``(n,)``.
        """
        lam = np.asarray(max_real_eigenvalue, dtype=float)
        low, high = self.eig_interval
        with np.errstate(invalid="ignore"):
            v = np.maximum(lam - high, low - lam)
        return np.where(np.isnan(v), np.inf, v)

    def eig_member(self, max_real_eigenvalue: np.ndarray) -> np.ndarray:
        """Whether the eigenvalue part holds, bool ``(n,)``."""
        return self.violation(max_real_eigenvalue) < 0

    def evaluate(
        self, max_real_eigenvalue: np.ndarray, returned: np.ndarray | None = None
    ) -> np.ndarray:
        """Membership from stored properties, bool ``(n,)``.

        Parameters
        ----------
        max_real_eigenvalue
            Shape ``(n,)``, 1/h.
        returned
            Shape ``(n,)``: whether each model returned under this class's return clause;
            needed (and used) only when the class has one.

        Raises
        ------
        ConfigError
            The class has a return clause and ``returned`` is not given.
        """
        member = self.eig_member(max_real_eigenvalue)
        if self.returns is not None:
            if returned is None:
                raise ConfigError(
                    "the class has a returns clause: membership needs a perturbation "
                    "analysis, not stored eigenvalues only"
                )
            member &= np.asarray(returned, dtype=bool)
        return member

    def to_dict(self) -> dict[str, Any]:
        """Plain builtins (JSON-ready), the inverse of :meth:`from_dict`."""
        return {
            "eig_below": self.eig_below,
            "eig_above": self.eig_above,
            "tau_below": self.tau_below,
            "tau_above": self.tau_above,
            "returns": None if self.returns is None else self.returns.to_dict(),
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ClassSpec:
        """Build from :meth:`to_dict`'s output, refusing unknown keys."""
        if not isinstance(data, dict):
            raise ConfigError(f"a class must be a mapping, got {type(data).__name__}")
        known = {"eig_below", "eig_above", "tau_below", "tau_above", "returns"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ConfigError(f"unknown class key(s) {', '.join(unknown)}")
        returns = data.get("returns")
        if returns is not None:
            keys = set(ReturnsClause.__dataclass_fields__)
            bad = sorted(set(returns) - keys)
            if bad:
                raise ConfigError(f"unknown returns key(s) {', '.join(bad)}")
            returns = ReturnsClause(**returns)
        return cls(
            eig_below=data.get("eig_below"),
            eig_above=data.get("eig_above"),
            tau_below=data.get("tau_below"),
            tau_above=data.get("tau_above"),
            returns=returns,
        )
