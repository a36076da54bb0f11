"""The rate laws of a model at one fixed steady state, for many K_M sets (ORACLE).

Within one physiology every parameter set shares one steady state — concentrations
``x_ss`` and fluxes ``v_ss`` — and only the Michaelis constants and, from them, the
maximal velocities vary across the batch. :class:`FixedState` gathers once per
physiology everything that depends on the state alone: each reaction group's slot
concentrations as a ``(1, R, n_slots)`` row, its ``K_eq`` and Hill coefficients as
``(1, R)`` rows, the small-molecule modifier factors ``Π m^e`` and their gradients, the
fluxes and the reference parameter row. The rate laws and their analytic gradients
(:mod:`rekindle.kinetics.mechanisms`, :mod:`rekindle.kinetics.elasticities`) then run
with these rows broadcast against K_M of shape ``(n, R, k)``: a term of the
concentrations alone (``Π p_j``, ``p^n``, the modifier factors) is computed once instead
of ``n`` times, nothing of size ``(n, n_metabolites)`` is gathered, and V_max scales each
group's gradient as it is written into the entries.

Every element goes through the same floating-point operations, in the same order, as in
the general engine — :meth:`~rekindle.kinetics.system.KineticSystem.reference_parameters`
with the K_M set, :meth:`~rekindle.kinetics.system.KineticSystem.back_calculate_vmax` and
:meth:`~rekindle.kinetics.system.KineticSystem.elasticity_entries`, which stay general
(the integrator evaluates rates and elasticities at a different state for every set) —
so parameters, entries, Jacobians and eigenvalues are bit-identical
(``tests/kinetics/test_fixed_state.py``).
Bit-identity matters: rounding-level changes of a Jacobian with ‖J‖ ~ 4e10 move its
rightmost eigenvalue by ~1e-10 relative (up to ~1e-6), so only identical operations
reproduce a stored population's eigenvalues.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from rekindle.kinetics.elasticities import (
    GRADIENTS,
    ElasticityAssembly,
    ModifierFactors,
    PaddedColumns,
    RateGroup,
    modifier_factors,
    quotient_gradient,
)


@dataclass(frozen=True)
class _KmColumns:
    """A group's K_M slots as columns of the K_M array ``(n, n_km)``, padding filled."""

    columns: np.ndarray  # (R, k) K_M columns (0 on padding)
    pad: np.ndarray | None  # (R, k) bool, None without padding
    fill: float

    def take(self, km: np.ndarray) -> np.ndarray:
        """K_M ``(n, R, k)`` of K_M sets ``(n, n_km)``."""
        out = km[:, self.columns]
        if self.pad is not None:
            out[:, self.pad] = self.fill
        return out


@dataclass(frozen=True)
class _GroupAtState:
    """One reaction group with its state-only operands gathered."""

    group: RateGroup
    c: np.ndarray  # (1, R, n_slots) slot concentrations, µM
    keq: np.ndarray  # (1, R) equilibrium constants (ones if irreversible)
    hill: np.ndarray | None  # (1, R) Hill coefficients
    km_substrates: _KmColumns
    km_products: _KmColumns
    modifiers: ModifierFactors
    flux: np.ndarray  # (1, R) µM h⁻¹
    reactant_slots: np.ndarray | None  # active substrate/product slots, None if all
    modifier_slots: np.ndarray  # active modifier slots, counted from the first modifier
    start: int  # first entry of the group
    stop: int

    def gathered(self, km: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(K_M substrates, K_M products, K_eq, Hill)`` of K_M sets ``(n, n_km)``."""
        return self.km_substrates.take(km), self.km_products.take(km), self.keq, self.hill

    def unit_rates(self, gathered: tuple) -> np.ndarray:
        """``v(x_ss; V = 1)`` ``(n, R)`` by the mechanism's rate law."""
        ks, kp, _, hill = gathered
        keq = self.keq if self.group.mechanism.reversible else None
        return self.group.evaluate(self.c, None, True, (ks, kp, keq, hill, None))


class FixedState:
    """V_max and elasticities of many K_M sets at one physiology's steady state.

    Built by :meth:`KineticSystem.at_state
    <rekindle.kinetics.system.KineticSystem.at_state>` (once per physiology object, which
    is treated as immutable) from the compiled engine's pieces.

    Parameters
    ----------
    groups
        The compiled reaction groups.
    assembly
        The engine's :class:`~rekindle.kinetics.elasticities.ElasticityAssembly` (entry
        order, active slots).
    reference
        The reference parameter row ``(n_parameters,)``: K_eq, Hill coefficients,
        boundary concentrations and volumes of the physiology; K_M and V_max NaN.
    concentrations
        All metabolite concentrations plus a trailing constant 1, µM,
        ``(1, n_metabolites + 1)``.
    flux
        Steady-state fluxes ``(n_reactions,)``, µM h⁻¹.
    km_columns, vmax_columns
        Parameter columns of the K_M (model K_M order) and of V_max (reaction order).
    check_km, check_vmax
        The engine's validation of a K_M array and of back-calculated V_max (raise
        ``ValueError`` naming the first bad model).

    Examples
    --------
    >>> from rekindle.data import load_model, load_physiology
    >>> from rekindle.kinetics import KineticSystem
    >>> system = KineticSystem(load_model("toy"))
    >>> state = system.at_state(load_physiology("toy"))
    >>> params = state.complete(np.full((3, len(system.model.km_names)), 100.0))
    >>> params.shape == (3, system.model.n_parameters)
    True
    """

    def __init__(
        self,
        *,
        groups: Sequence[RateGroup],
        assembly: ElasticityAssembly,
        reference: np.ndarray,
        concentrations: np.ndarray,
        flux: np.ndarray,
        km_columns: np.ndarray,
        vmax_columns: np.ndarray,
        check_km: Callable[[np.ndarray], np.ndarray],
        check_vmax: Callable[[np.ndarray], None],
    ) -> None:
        self.reference = reference
        self.flux = flux
        self.km_columns, self.vmax_columns = km_columns, vmax_columns
        self.check_km, self._check_vmax = check_km, check_vmax
        p_ref = reference[None, :]
        km_of_parameter = np.full(reference.size, -1, dtype=int)
        km_of_parameter[km_columns] = np.arange(km_columns.size)
        self.n_entries = assembly.n_entries
        states = []
        for g, act, start, stop in zip(
            groups, assembly.active, assembly.offsets[:-1], assembly.offsets[1:], strict=True
        ):
            cg = concentrations[:, g.slots]  # (1, R, n_slots)
            k = g.n_substrates + g.n_products
            states.append(
                _GroupAtState(
                    group=g,
                    c=cg,
                    keq=(
                        p_ref[:, g.keq]
                        if g.mechanism.reversible
                        else np.ones((1, len(g.reactions)))
                    ),
                    hill=p_ref[:, g.hill] if g.mechanism.has_hill else None,
                    km_substrates=_km_columns(g.km_substrates, km_of_parameter),
                    km_products=_km_columns(g.km_products, km_of_parameter),
                    modifiers=modifier_factors(g, cg),
                    flux=flux[None, g.reactions],
                    reactant_slots=_subset(act[act < k], k),
                    modifier_slots=act[act >= k] - k,
                    start=start,
                    stop=stop,
                )
            )
        self.groups = tuple(states)

    def _parameters(self, km: np.ndarray, vmax: np.ndarray, check: bool) -> np.ndarray:
        if check:
            self._check_vmax(vmax)
        p = np.empty((km.shape[0], self.reference.size))
        p[:] = self.reference
        p[:, self.km_columns] = km
        p[:, self.vmax_columns] = vmax
        return p

    def vmax(self, km: np.ndarray) -> np.ndarray:
        """``V_max = v_ss / v(x_ss; V = 1, K_M)`` ``(n, n_reactions)``, µM h⁻¹, of K_M
        sets ``(n, n_km)`` in µM (validated); the V_max themselves are not checked: inf,
        NaN or negative where K_M and the state are inconsistent."""
        return self._vmax(self.check_km(km))

    def _vmax(self, km: np.ndarray) -> np.ndarray:
        out = np.empty((km.shape[0], self.flux.size))
        with np.errstate(all="ignore"):
            for gs in self.groups:
                out[:, gs.group.reactions] = gs.flux / gs.unit_rates(gs.gathered(km))
        return out

    def complete(self, km: np.ndarray, *, check: bool = True) -> np.ndarray:
        """Parameter sets ``(n, n_parameters)`` from K_M ``(n, n_km)`` (µM): the reference
        row with K_M and back-calculated V_max; ``check`` raises naming the first model
        with a V_max not finite and ≥ 0."""
        return self._complete(self.check_km(km), check)

    def _complete(self, km: np.ndarray, check: bool) -> np.ndarray:
        return self._parameters(km, self._vmax(km), check)

    def complete_with_entries(
        self, km: np.ndarray, *, check: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`complete` and the elasticity entries ``(n, n_entries)`` (h⁻¹) of
        ``∂v/∂x`` at the steady state, in the order of :attr:`KineticSystem.elasticities
        <rekindle.kinetics.system.KineticSystem.elasticities>`; one pass over the rate laws
        and their gradients per reaction group."""
        return self._complete_with_entries(self.check_km(km), check)

    def _complete_with_entries(self, km: np.ndarray, check: bool) -> tuple[np.ndarray, np.ndarray]:
        n = km.shape[0]
        vmax = np.empty((n, self.flux.size))
        entries = np.empty((n, self.n_entries))
        with np.errstate(all="ignore"):
            for gs in self.groups:
                gathered = gs.gathered(km)
                vg = gs.flux / gs.unit_rates(gathered)
                vmax[:, gs.group.reactions] = vg
                dest = entries[:, gs.start : gs.stop].reshape(n, vg.shape[1], -1)
                _scaled_gradient(gs, gathered, vg[:, :, None], dest)
        return self._parameters(km, vmax, check), entries


def _km_columns(cols: PaddedColumns, km_of_parameter: np.ndarray) -> _KmColumns:
    """A group's padded parameter columns as K_M columns."""
    mapped = km_of_parameter[cols.columns]
    if cols.pad is not None:
        mapped = np.where(cols.pad, 0, mapped)
    if (mapped < 0).any():  # pragma: no cover - the compiler only makes K_M columns
        raise ValueError("a K_M slot of a reaction group is not a K_M parameter")
    return _KmColumns(mapped, cols.pad, cols.fill)


def _subset(slots: np.ndarray, k: int) -> np.ndarray | None:
    """``slots``, or ``None`` where they are all of ``0 … k−1``."""
    return None if np.array_equal(slots, np.arange(k)) else slots


def _scaled_gradient(
    gs: _GroupAtState, gathered: tuple, scale: np.ndarray, dest: np.ndarray
) -> None:
    """``V ∂(v/V)/∂c`` of the group's active slots into ``dest`` ``(n, R, n_active)``.

    The operations of :func:`~rekindle.kinetics.elasticities.group_gradient` followed by
    the scaling by ``scale`` (V_max, ``(n, R, 1)``), element by element in the same order
    (bit-identical), without its rates, its full ``(n, R, n_slots)`` gradient and the
    copy of the active slots out of it.
    """
    g = gs.group
    mech = g.mechanism
    ns, k = g.n_substrates, g.n_substrates + g.n_products
    ks, kp, keq, hill = gathered
    fwd, bwd, dfwd, dbwd = quotient_gradient(
        GRADIENTS[mech.name](
            gs.c[..., :ns],
            gs.c[..., ns:k],
            ks,
            kp,
            keq,
            hill,
            g.stoich_substrates,
            g.stoich_products,
        )
    )
    mf, dmf, mb, dmb = gs.modifiers
    # substrate and product slots: (dfwd m_f) − (dbwd m_b), factors omitted when absent
    react = dfwd
    if mf is not None:
        np.multiply(react, mf[..., None], out=react)
    if mech.reversible:
        if mb is not None:
            np.multiply(dbwd, mb[..., None], out=dbwd)
        np.subtract(react, dbwd, out=react)
    n_react = k if gs.reactant_slots is None else gs.reactant_slots.size
    if gs.reactant_slots is not None:
        react = react[..., gs.reactant_slots]
    np.multiply(react, scale, out=dest[..., :n_react])
    if gs.modifier_slots.size:
        # modifier slots: v_fwd ∂m_f − v_bwd ∂m_b, from 0 where a term has no modifier
        mods = (
            fwd[..., None] * dmf[..., gs.modifier_slots]
            if mf is not None
            else np.zeros((*fwd.shape, gs.modifier_slots.size))
        )
        if mech.reversible and mb is not None:
            np.subtract(mods, bwd[..., None] * dmb[..., gs.modifier_slots], out=mods)
        np.multiply(mods, scale, out=dest[..., n_react:])
