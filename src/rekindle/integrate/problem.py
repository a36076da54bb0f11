"""The problem integrated: the reduced, scaled kinetic system (:class:`ReducedProblem`)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike

from rekindle.kinetics.compiled import CompiledRates, TransposedParameters, compiled_rates

if TYPE_CHECKING:
    from rekindle.kinetics.system import KineticSystem, PreparedParameters


class NumpyRates:
    """The numpy engine (:class:`~rekindle.kinetics.system.KineticSystem`) behind the
    interface of :class:`~rekindle.kinetics.compiled.CompiledRates`: the reference the
    compiled kernels are tested against."""

    def __init__(self, system: KineticSystem) -> None:
        self.system = system

    def prepare(self, parameters: np.ndarray) -> PreparedParameters:
        """:meth:`KineticSystem.prepare <rekindle.kinetics.system.KineticSystem.prepare>`."""
        return self.system.prepare(parameters)

    def rates(self, concentrations: np.ndarray, parameters: Any) -> np.ndarray:
        """:meth:`KineticSystem.rates <rekindle.kinetics.system.KineticSystem.rates>`."""
        return self.system.rates(concentrations, parameters)

    def entries(self, concentrations: np.ndarray, parameters: np.ndarray) -> np.ndarray:
        """:meth:`KineticSystem.elasticity_entries
        <rekindle.kinetics.system.KineticSystem.elasticity_entries>`."""
        return self.system.elasticity_entries(concentrations, parameters)

    def rates_and_entries(
        self, concentrations: np.ndarray, parameters: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`KineticSystem.rates_and_elasticity_entries
        <rekindle.kinetics.system.KineticSystem.rates_and_elasticity_entries>`."""
        return self.system.rates_and_elasticity_entries(concentrations, parameters)


class ReducedProblem:
    """Reduced, scaled right-hand side and Jacobian of a kinetic system.

    Variables: ``y = x_I / s_I`` (independent states over their scale); the full scaled
    state is ``z = z₀ + y Lzᵀ`` with ``Lz = diag(1/s) L diag(s_I)`` (identity on the
    independent rows) and ``z₀`` the conserved totals on the dependent rows.
    The scaled Jacobian ``diag(1/s_I) N_R ∂v/∂x L diag(s_I)`` is assembled from the
    analytic, structurally non-zero entries of ``∂v/∂x`` (a reaction depends only on its
    substrates, products and modifiers; :mod:`rekindle.kinetics.elasticities`) by a
    sparse product.

    The rates and elasticities come from the system's compiled rate laws
    (:class:`~rekindle.kinetics.compiled.CompiledRates`: one machine-code loop, no numpy
    call per reaction group, which matters for the integrator's small batches), or with
    ``compiled=False`` from the numpy engine (the reference; equal to rounding).

    Parameters
    ----------
    system
        Compiled kinetic model.
    scale
        Per-state scale ``s``, µM, shape ``(n_states,)``.
    compiled
        Evaluate the rate laws by the compiled kernels (default) or by numpy.
    """

    def __init__(self, system: KineticSystem, scale: np.ndarray, *, compiled: bool = True) -> None:
        cons = system.conservation
        self.system = system
        self.rate_laws: CompiledRates | NumpyRates = (
            compiled_rates(system) if compiled else NumpyRates(system)
        )
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
        # the analytic elasticities' scatter into the scaled reduced Jacobian
        self.jac_map = system.elasticities.scaled_map(1.0 / s_ind, s_ind)  # (r², n_entries)
        # the same map onto the transposed Jacobian (row i·r + j of it is row j·r + i of J)
        r = s_ind.size
        self.jac_map_t = self.jac_map[np.arange(r * r).reshape(r, r).T.ravel()].tocsr()

    @property
    def n_reduced(self) -> int:
        """Number of independent states ``r``."""
        return int(self.ind.size)

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

    @property
    def kernels(self) -> CompiledRates | None:
        """The compiled rate laws, or None where the numpy engine evaluates them."""
        return self.rate_laws if isinstance(self.rate_laws, CompiledRates) else None

    def prepare(self, p: np.ndarray) -> TransposedParameters | PreparedParameters:
        """Parameter sets ``(n, n_parameters)`` readied for repeated :meth:`rhs` calls (the
        stages of a step): with their transpose for the compiled kernels
        (:meth:`CompiledRates.prepare <rekindle.kinetics.compiled.CompiledRates.prepare>`),
        every group's columns gathered for the numpy engine (:meth:`KineticSystem.prepare
        <rekindle.kinetics.system.KineticSystem.prepare>`)."""
        return self.rate_laws.prepare(p)

    def rhs(
        self, z: np.ndarray, p: np.ndarray | TransposedParameters | PreparedParameters
    ) -> np.ndarray:
        """Scaled ``dy/dt`` (n, r), h⁻¹, at full scaled states ``z``; ``p`` parameter sets
        ``(n, n_parameters)`` or :meth:`prepare`'s result for them."""
        return self.rate_laws.rates(z * self.scale, p) @ self.f_map

    def jacobian(self, z: np.ndarray, p: np.ndarray, *, transposed: bool = False) -> np.ndarray:
        """Scaled reduced Jacobian (n, r, r), h⁻¹, at full scaled states ``z``; with
        ``transposed`` its transpose ``Jᵀ`` (as cheap: the same sums into other slots)."""
        entries = self.rate_laws.entries(z * self.scale, p)  # (n, n_entries)
        scatter = self.jac_map_t if transposed else self.jac_map
        return self.system.elasticities.reduced_jacobian(entries, scatter)

    def rhs_and_jacobian(
        self,
        z: np.ndarray,
        p: np.ndarray,
        *,
        out: np.ndarray | None = None,
        rows: np.ndarray | None = None,
        transposed: bool = False,
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`rhs` ``(n, r)`` and :meth:`jacobian` ``(n, r, r)`` in one pass over the
        rate laws (the right-hand side equal to :meth:`rhs` to rounding).

        With ``out`` ``(N, r, r)`` and ``rows`` ``(n,)`` the Jacobians are written to
        ``out[rows]`` and ``out`` is returned in their place; with ``transposed`` they are
        ``Jᵀ``."""
        v, entries = self.rate_laws.rates_and_entries(z * self.scale, p)
        scatter = self.jac_map_t if transposed else self.jac_map
        jac = self.system.elasticities.reduced_jacobian(entries, scatter, out=out, rows=rows)
        return v @ self.f_map, jac


def derivative_pattern(system: KineticSystem) -> np.ndarray:
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


def check_parameters(system: KineticSystem, parameters: ArrayLike) -> np.ndarray:
    """``parameters`` as a float array of shape ``(n_models, n_parameters)`` (else ValueError)."""
    p = np.asarray(parameters, dtype=float)
    n_par = system.model.n_parameters
    if p.ndim != 2 or p.shape[1] != n_par:
        raise ValueError(f"parameters must have shape (n_models, {n_par}), got {p.shape}")
    return p
