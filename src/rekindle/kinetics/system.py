"""The compiled, batched numerical engine of a kinetic model.

:class:`KineticSystem` compiles a :class:`~rekindle.kinetics.model.KineticModel` into
index arrays, grouping reactions that share a mechanism and arity, and evaluates for
``n`` parameter sets at once:

* rates ``v(x; p)`` — shape ``(n, n_reactions)`` in µM h⁻¹;
* the rate derivatives ``∂v/∂x`` — shape ``(n, n_reactions, n_states)`` — analytically
  (:mod:`rekindle.kinetics.elasticities`) on each group's own metabolites; the
  complex-step method (:meth:`KineticSystem.rate_derivatives_complex_step`) is kept as
  the independent reference;
* the Jacobian ``J = S ∂v/∂x`` and the reduced Jacobian ``J_red = N_R ∂v/∂x L``
  (conserved moieties removed), in h⁻¹, the latter assembled sparsely from the
  structurally non-zero elasticities;
* the maximal velocities that put a parameter set at a reference steady state.

Parameters are arrays of shape ``(n, n_parameters)`` in the model's canonical order
(:attr:`KineticModel.parameter_names`); boundary concentrations are parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np

from rekindle.kinetics.conservation import ConservationAnalysis, analyse_conservation
from rekindle.kinetics.elasticities import ElasticityAssembly
from rekindle.kinetics.fixed_state import FixedState
from rekindle.kinetics.mechanisms import MECHANISMS, Mechanism
from rekindle.kinetics.model import KineticModel
from rekindle.kinetics.physiology import Physiology, check_physiology

# Relative imaginary step of the complex-step derivative: any step with h² ≪ 1 gives the
# derivative to machine precision (no subtractive cancellation).
_COMPLEX_STEP = 1e-20


_FAMILY = {"ReversibleMichaelisMenten": "H1GeneralizedReversibleHill"}
"""Mechanisms evaluated by another one's rate law: reversible Michaelis–Menten is the
generalised reversible Hill law of one substrate–product pair (equal to rounding)."""

_KM_PAD = {"IrrevMichaelisMenten": 0.0}
"""K_M of a padded substrate slot (default 1): with the constant concentration 1 it makes
the slot's factor of the rate law 1 (``s/(s + K) = 1`` for irreversible Michaelis–Menten,
``s/K = 1`` with stoichiometry 0 elsewhere)."""

STATE_CACHE = 4
"""Physiologies whose :class:`~rekindle.kinetics.fixed_state.FixedState` a
:class:`KineticSystem` keeps (:meth:`KineticSystem.at_state`)."""

GROUP_OVERHEAD = 16
"""Cost of one more reaction group, in padded slots × reactions, for merging the groups
of one mechanism (:func:`_merge_parts`): every group costs a few dozen numpy calls per
evaluation, which dominates for small batches (the integrator's last trajectories)."""


_Part = tuple[int, int, int, list[int]]


def _merge_parts(parts: list[_Part]) -> list[_Part]:
    """Merge ``(n_substrates, n_products, n_modifiers, reactions)`` parts of one mechanism
    into padded groups where padding costs less than :data:`GROUP_OVERHEAD`."""

    def cost(q: _Part) -> int:
        return GROUP_OVERHEAD + len(q[3]) * (q[0] + q[1] + q[2])

    out: list[_Part] = []
    for q in sorted(parts, key=lambda q: (q[0] + q[1] + q[2], q[0], q[1], q[3])):
        if out:
            m = out[-1]
            merged = (max(m[0], q[0]), max(m[1], q[1]), max(m[2], q[2]), sorted(m[3] + q[3]))
            if cost(merged) <= cost(m) + cost(q):
                out[-1] = merged
                continue
        out.append(q)
    return out


@dataclass(frozen=True)
class _PaddedColumns:
    """Parameter columns of a group's K_M slots, with padded slots set to ``fill``."""

    columns: np.ndarray  # (R, k) parameter columns (0 on padding)
    pad: np.ndarray | None  # (R, k) bool, None without padding
    fill: float

    @classmethod
    def of(cls, columns: np.ndarray, fill: float) -> _PaddedColumns:
        """From columns ``(R, k)`` with ``-1`` on padded slots."""
        pad = columns < 0
        return cls(np.where(pad, 0, columns), pad if pad.any() else None, fill)

    def take(self, p: np.ndarray) -> np.ndarray:
        """The K_M of parameter sets ``p`` ``(n, n_parameters)``: ``(n, R, k)``."""
        out = p[:, self.columns]
        if self.pad is not None:
            out[:, self.pad] = self.fill
        return out


_GroupParameters = tuple[np.ndarray, np.ndarray, np.ndarray | None, np.ndarray | None, np.ndarray]
"""A group's K_M of substrates and products, K_eq, Hill coefficients and V_max, gathered
from parameter sets: shapes ``(n, R, n_substrates)``, ``(n, R, n_products)``, ``(n, R)``."""


@dataclass(frozen=True)
class PreparedParameters:
    """Parameter sets with every group's columns gathered once (:meth:`KineticSystem.
    prepare`), for repeated rate evaluations with the same parameters (an integrator's
    stages): :meth:`KineticSystem.rates` accepts them in place of the array.

    Attributes
    ----------
    values
        The parameter sets, ``(n, n_parameters)``.
    groups
        Per reaction group, its gathered columns.
    """

    values: np.ndarray
    groups: tuple[_GroupParameters, ...]


@dataclass(frozen=True)
class _Group:
    """Reactions sharing a mechanism and numbers of substrates/products/modifiers."""

    mechanism: Mechanism
    reactions: np.ndarray  # (R,) reaction columns
    slots: np.ndarray  # (R, n_slots) metabolite index; n_metabolites = constant 1
    n_substrates: int
    n_products: int
    vmax: np.ndarray  # (R,) parameter columns
    keq: np.ndarray  # (R,) parameter columns or -1
    hill: np.ndarray  # (R,) parameter columns or -1
    km_substrates: _PaddedColumns  # (R, n_substrates)
    km_products: _PaddedColumns  # (R, n_products)
    stoich_substrates: np.ndarray  # (R, n_substrates) absolute
    stoich_products: np.ndarray  # (R, n_products)
    fwd_exponents: np.ndarray  # (R, n_modifiers)
    bwd_exponents: np.ndarray  # (R, n_modifiers)

    @cached_property
    def modified(self) -> tuple[bool, bool]:
        """Whether any modifier acts on the forward / backward term."""
        return bool(self.fwd_exponents.any()), bool(
            self.mechanism.reversible and self.bwd_exponents.any()
        )

    def evaluate(
        self,
        c: np.ndarray,
        p: np.ndarray,
        unit_vmax: bool = False,
        gathered: _GroupParameters | None = None,
    ) -> np.ndarray:
        """Net rates of the group.

        Parameters
        ----------
        c
            Slot concentrations, shape ``(..., n, R, n_slots)`` (real or complex).
        p
            Parameters, shape ``(n, n_parameters)``.
        unit_vmax
            Evaluate with ``V = 1`` (for back-calculating V_max).
        gathered
            :meth:`parameters` of ``p``, if already gathered.

        Returns
        -------
        numpy.ndarray
            Shape ``(..., n, R)``.
        """
        ns, np_ = self.n_substrates, self.n_products
        s = c[..., :ns]
        prod = c[..., ns : ns + np_]
        mods = c[..., ns + np_ :]
        ks, kp, keq, hill, vmax = self.parameters(p) if gathered is None else gathered
        fwd, bwd = self.mechanism.rate_law(
            s, prod, ks, kp, keq, hill, self.stoich_substrates, self.stoich_products
        )
        fwd_modified, bwd_modified = self.modified
        if fwd_modified:
            fwd = fwd * np.multiply.reduce(mods**self.fwd_exponents, axis=-1)
        if bwd_modified:
            bwd = bwd * np.multiply.reduce(mods**self.bwd_exponents, axis=-1)
        v = fwd - bwd if self.mechanism.reversible else fwd
        return v if unit_vmax else v * vmax

    def parameters(self, p: np.ndarray) -> _GroupParameters:
        """The group's columns of parameter sets ``p`` ``(n, n_parameters)``."""
        return (
            self.km_substrates.take(p),
            self.km_products.take(p),
            p[:, self.keq] if self.mechanism.reversible else None,
            p[:, self.hill] if self.mechanism.has_hill else None,
            p[:, self.vmax],
        )


class KineticSystem:
    """Batched numerical engine of a kinetic model.

    Parameters
    ----------
    model
        The kinetic model.

    Examples
    --------
    >>> from rekindle.data import load_model, load_physiology
    >>> model = load_model("ecoli")
    >>> system = KineticSystem(model)
    >>> phys = load_physiology("ecoli", "fdp1")
    >>> x = system.steady_state_concentrations(phys)          # (n_states,)
    """

    def __init__(self, model: KineticModel) -> None:
        self.model = model
        self._met_index = {m: i for i, m in enumerate(model.metabolite_ids)}
        self._state_cols = np.array([self._met_index[m] for m in model.state_ids], dtype=int)
        self._boundary_cols = np.array([self._met_index[m] for m in model.boundary_ids], dtype=int)
        pidx = model.parameter_index
        self._boundary_params = np.array([pidx[m] for m in model.boundary_ids], dtype=int)
        self._vmax_params = np.array([pidx[f"vmax_forward_{r}"] for r in model.reaction_ids])
        self._groups = self._compile()
        # metabolite index -> state column, boundary/constant -> trash column n_states
        n_met, n_states = len(model.metabolite_ids), len(model.state_ids)
        self._state_of_met = np.full(n_met + 1, n_states, dtype=int)
        self._state_of_met[self._state_cols] = np.arange(n_states)
        # physiology id -> (physiology, FixedState): see at_state
        self._states: dict[int, tuple[Physiology, FixedState]] = {}

    # ------------------------------------------------------------------ compilation
    def _compile(self) -> list[_Group]:
        model = self.model
        by_key: dict[tuple, list[int]] = {}
        for j, r in enumerate(model.reactions):
            key = (r.mechanism, len(r.substrates), len(r.products))
            by_key.setdefault(key, []).append(j)
        families: dict[str, list[_Part]] = {}
        for (mech_name, ns, np_), cols in by_key.items():
            n_mod = max(len(model.reactions[j].modifiers) for j in cols)
            family = _FAMILY.get(mech_name, mech_name)
            families.setdefault(family, []).append((ns, np_, n_mod, cols))
        groups = []
        for family, parts in families.items():
            for ns, np_, n_mod, cols in _merge_parts(parts):
                groups.append(self._compile_group(MECHANISMS[family], ns, np_, n_mod, cols))
        return groups

    def _compile_group(
        self, spec: Mechanism, ns: int, np_: int, n_mod: int, cols: list[int]
    ) -> _Group:
        """One group: reactions ``cols`` padded to ``ns`` substrates, ``np_`` products and
        ``n_mod`` modifiers (padding: the constant 1, stoichiometry and exponent 0, K_M
        :data:`_KM_PAD`)."""
        model = self.model
        pidx = model.parameter_index
        const = len(model.metabolite_ids)
        rxns = [model.reactions[j] for j in cols]
        n_slots = ns + np_ + n_mod
        slots = np.full((len(rxns), n_slots), const, dtype=int)
        fexp = np.zeros((len(rxns), n_mod))
        bexp = np.zeros((len(rxns), n_mod))
        ks = np.full((len(rxns), ns), -1, dtype=int)
        kp = np.full((len(rxns), np_), -1, dtype=int)
        nsub = np.zeros((len(rxns), ns))
        nprod = np.zeros((len(rxns), np_))
        for i, r in enumerate(rxns):
            a, b = len(r.substrates), len(r.products)
            slots[i, :a] = [self._met_index[m] for m, _ in r.substrates]
            slots[i, ns : ns + b] = [self._met_index[m] for m, _ in r.products]
            nsub[i, :a] = [n for _, n in r.substrates]
            nprod[i, :b] = [n for _, n in r.products]
            labels = [pidx[f"km_{label}_{r.id}"] for label, _ in r.km_labels()]
            names = [label for label, _ in r.km_labels()]
            ks[i, :a] = [k for k, lab in zip(labels, names, strict=True) if lab.startswith("sub")]
            kp[i, :b] = [k for k, lab in zip(labels, names, strict=True) if lab.startswith("pro")]
            for k, mod in enumerate(r.modifiers):
                slots[i, ns + np_ + k] = self._met_index[mod.metabolite]
                n = mod.stoichiometry
                if mod.kind == "first_order" and n < 0:
                    fexp[i, k] = -n
                elif spec.reversible:
                    bexp[i, k] = n
        return _Group(
            mechanism=spec,
            reactions=np.array(cols),
            slots=slots,
            n_substrates=ns,
            n_products=np_,
            vmax=np.array([pidx[f"vmax_forward_{r.id}"] for r in rxns]),
            keq=np.array([pidx.get(f"k_equilibrium_{r.id}", -1) for r in rxns], dtype=int),
            hill=np.array([pidx.get(f"hill_coefficient_{r.id}", -1) for r in rxns], dtype=int),
            km_substrates=_PaddedColumns.of(ks, _KM_PAD.get(spec.name, 1.0)),
            km_products=_PaddedColumns.of(kp, 1.0),
            stoich_substrates=nsub,
            stoich_products=nprod,
            fwd_exponents=fexp,
            bwd_exponents=bexp,
        )

    # ------------------------------------------------------------------ structure
    @property
    def n_states(self) -> int:
        """Number of ODE states."""
        return len(self._state_cols)

    @property
    def n_reactions(self) -> int:
        """Number of reactions."""
        return len(self.model.reactions)

    @cached_property
    def stoichiometric_matrix(self) -> np.ndarray:
        """``S``, shape ``(n_states, n_reactions)``."""
        return self.model.stoichiometric_matrix

    @cached_property
    def conservation(self) -> ConservationAnalysis:
        """Conserved moieties and link matrix of ``S``."""
        return analyse_conservation(self.stoichiometric_matrix)

    @cached_property
    def reduced_stoichiometric_matrix(self) -> np.ndarray:
        """``N_R``: the independent rows of ``S``, shape ``(rank, n_reactions)``."""
        return self.stoichiometric_matrix[self.conservation.independent]

    # ------------------------------------------------------------------ helpers
    def _check_parameters(self, parameters: np.ndarray) -> np.ndarray:
        p = np.asarray(parameters, dtype=float)
        if p.ndim == 1:
            p = p[None, :]
        if p.ndim != 2 or p.shape[1] != self.model.n_parameters:
            raise ValueError(
                f"parameters must have shape (n_models, {self.model.n_parameters}) for model "
                f"{self.model.name!r}, got {np.shape(parameters)}"
            )
        return p

    def _full_concentrations(self, x: np.ndarray, p: np.ndarray) -> np.ndarray:
        """All metabolite concentrations plus a trailing constant 1, ``(n, n_met + 1)``."""
        x = np.asarray(x)
        n = p.shape[0]
        if x.ndim == 1:
            x = np.broadcast_to(x, (n, x.shape[0]))
        if x.shape != (n, self.n_states):
            raise ValueError(
                f"concentrations must have shape ({n}, {self.n_states}) or ({self.n_states},), "
                f"got {x.shape}"
            )
        c = np.ones((n, len(self.model.metabolite_ids) + 1), dtype=x.dtype)
        c[:, self._state_cols] = x
        c[:, self._boundary_cols] = p[:, self._boundary_params]
        return c

    # ------------------------------------------------------------------ evaluation
    def rates(
        self,
        concentrations: np.ndarray,
        parameters: np.ndarray | PreparedParameters,
        *,
        unit_vmax: bool = False,
    ) -> np.ndarray:
        """Net reaction rates.

        Parameters
        ----------
        concentrations
            State concentrations in µM, shape ``(n, n_states)`` or ``(n_states,)``.
        parameters
            Shape ``(n, n_parameters)``, or :meth:`prepare`'s result.
        unit_vmax
            Evaluate with every ``vmax_forward = 1``.

        Returns
        -------
        numpy.ndarray
            Rates in µM h⁻¹, shape ``(n, n_reactions)``.
        """
        if isinstance(parameters, PreparedParameters):
            p, gathered = parameters.values, parameters.groups
        else:
            p = self._check_parameters(parameters)
            gathered = (None,) * len(self._groups)
        c = self._full_concentrations(concentrations, p)
        v = np.empty((p.shape[0], self.n_reactions), dtype=c.dtype)
        for g, pg in zip(self._groups, gathered, strict=True):
            v[:, g.reactions] = g.evaluate(c[:, g.slots], p, unit_vmax, pg)
        return v

    def prepare(self, parameters: np.ndarray) -> PreparedParameters:
        """Parameter sets ``(n, n_parameters)`` with each reaction group's columns gathered
        once, for :meth:`rates` at many states with the same parameters."""
        p = self._check_parameters(parameters)
        return PreparedParameters(p, tuple(g.parameters(p) for g in self._groups))

    def elasticity_entries(self, concentrations: np.ndarray, parameters: np.ndarray) -> np.ndarray:
        """The structurally non-zero entries of ``∂v/∂x``, h⁻¹, ``(n, n_entries)``.

        In the order of :attr:`elasticities`, which maps them to ``∂v/∂x``
        (:meth:`~rekindle.kinetics.elasticities.ElasticityAssembly.derivatives`) or to
        the reduced Jacobian (:meth:`~rekindle.kinetics.elasticities.ElasticityAssembly.
        reduced_jacobian`).
        """
        p = self._check_parameters(parameters)
        c = self._full_concentrations(np.asarray(concentrations, dtype=float), p)
        return self.elasticities.entries(c, p, p[:, self._vmax_params])[1]

    def rates_and_elasticity_entries(
        self, concentrations: np.ndarray, parameters: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Rates ``(n, n_reactions)`` µM h⁻¹ and :meth:`elasticity_entries` in one pass.

        The rates are those computed with the gradient (equal to :meth:`rates` to
        rounding, not bit-identical): the integrator's right-hand side and Jacobian at
        an accepted state.
        """
        p = self._check_parameters(parameters)
        c = self._full_concentrations(np.asarray(concentrations, dtype=float), p)
        v, entries = self.elasticities.entries(c, p, p[:, self._vmax_params], with_rates="gradient")
        return v, entries

    def rate_derivatives(self, concentrations: np.ndarray, parameters: np.ndarray) -> np.ndarray:
        """Exact ``∂v/∂x``, analytic, shape ``(n, n_reactions, n_states)``, h⁻¹."""
        return self.elasticities.derivatives(self.elasticity_entries(concentrations, parameters))

    def rate_derivatives_complex_step(
        self, concentrations: np.ndarray, parameters: np.ndarray
    ) -> np.ndarray:
        """Exact ``∂v/∂x`` by complex step, shape ``(n, n_reactions, n_states)``, h⁻¹.

        The independent reference of the analytic :meth:`rate_derivatives` (slower).
        """
        p = self._check_parameters(parameters)
        c = self._full_concentrations(np.asarray(concentrations, dtype=float), p)
        n = p.shape[0]
        out = np.zeros((n, self.n_reactions, self.n_states + 1))
        for g, active in zip(self._groups, self._active_slots, strict=True):
            cs = c[:, g.slots]  # (n, R, k)
            step = _COMPLEX_STEP * cs  # relative imaginary step, (n, R, k)
            # (a, n, R, k): batch i has slot active[i] perturbed by i*step
            cz = np.repeat(cs[None].astype(complex), len(active), axis=0)
            for i, j in enumerate(active):
                cz[i, :, :, j] += 1j * step[:, :, j]
            dv = g.evaluate(cz, p).imag  # (a, n, R)
            cols = self._state_of_met[g.slots]  # (R, k)
            for i, j in enumerate(active):
                out[:, g.reactions, cols[:, j]] += dv[i] / step[:, :, j]
        return out[:, :, : self.n_states]

    @cached_property
    def elasticities(self) -> ElasticityAssembly:
        """Analytic elasticities and their scatter into ``∂v/∂x`` and the reduced Jacobian."""
        return ElasticityAssembly(
            self._groups,
            self._active_slots,
            [self._state_of_met[g.slots] for g in self._groups],
            self.n_reactions,
            self.n_states,
            self.reduced_stoichiometric_matrix,
            self.conservation.link_matrix,
        )

    def jacobian(
        self, concentrations: np.ndarray, parameters: np.ndarray, *, reduced: bool = True
    ) -> np.ndarray:
        """Jacobian of the ODEs ``dx/dt = S v(x)``.

        Parameters
        ----------
        reduced
            If ``True`` (default) return ``N_R ∂v/∂x L`` of shape ``(n, rank, rank)``, the
            Jacobian of the independent states with conserved moieties eliminated
            (its spectrum is that of the full Jacobian minus the structural zeros),
            assembled sparsely from the analytic elasticities; otherwise ``S ∂v/∂x``,
            shape ``(n, n_states, n_states)``.

        Returns
        -------
        numpy.ndarray
            In h⁻¹.
        """
        if not reduced:
            return self.stoichiometric_matrix @ self.rate_derivatives(concentrations, parameters)
        return self.elasticities.reduced_jacobian(
            self.elasticity_entries(concentrations, parameters)
        )

    def ode_rhs(self, concentrations: np.ndarray, parameters: np.ndarray) -> np.ndarray:
        """``dx/dt = S v(x)``, shape ``(n, n_states)``, µM h⁻¹."""
        return self.rates(concentrations, parameters) @ self.stoichiometric_matrix.T

    # ------------------------------------------------------------------ steady state
    def steady_state_concentrations(self, physiology: Physiology) -> np.ndarray:
        """Reference concentrations of the states, µM, shape ``(n_states,)``."""
        return physiology.concentration_vector(self.model.state_ids)

    def reference_parameters(self, physiology: Physiology, n: int = 1) -> np.ndarray:
        """A parameter array with everything but K_M and V_max set from a physiology.

        Equilibrium constants from ΔG, Hill coefficients 1, boundary concentrations
        from the physiology, volumes from the compartments; K_M and V_max are NaN.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, n_parameters)``.
        """
        check_physiology(self.model, physiology)
        model = self.model
        pidx = model.parameter_index
        p = np.full(model.n_parameters, np.nan)
        keq = physiology.equilibrium_constants(model)
        for j, r in enumerate(model.reactions):
            if r.reversible:
                p[pidx[f"k_equilibrium_{r.id}"]] = keq[j]
            if r.mechanism_spec.has_hill:
                p[pidx[f"hill_coefficient_{r.id}"]] = 1.0
        p[self._boundary_params] = physiology.concentration_vector(model.boundary_ids)
        for comp in model.compartments:
            p[pidx[f"volume_{comp.id}"]] = comp.volume
            p[pidx[f"cell_volume_{comp.id}"]] = comp.volume
        return np.repeat(p[None, :], n, axis=0)

    def back_calculate_vmax(self, parameters: np.ndarray, physiology: Physiology) -> np.ndarray:
        """Maximal velocities that make the physiology a steady state.

        ``V_max = v_ss / v(x_ss; V = 1, K_M, Keq)`` (ORACLE).

        Parameters
        ----------
        parameters
            Shape ``(n, n_parameters)``; V_max columns are ignored.

        Returns
        -------
        numpy.ndarray
            ``vmax_forward`` per reaction, µM h⁻¹, shape ``(n, n_reactions)``.
        """
        x = self.steady_state_concentrations(physiology)
        unit = self.rates(x, parameters, unit_vmax=True)
        flux = physiology.flux_vector(self.model.reaction_ids)
        with np.errstate(divide="ignore", invalid="ignore"):
            return flux[None, :] / unit

    def complete_parameters(
        self, km: np.ndarray, physiology: Physiology, *, check: bool = True
    ) -> np.ndarray:
        """Complete parameter sets from Michaelis constants (ORACLE back-calculation).

        Computed at the physiology's fixed steady state (:meth:`at_state`): bit-identical
        to :meth:`reference_parameters` with the K_M set and :meth:`back_calculate_vmax`.

        Parameters
        ----------
        km
            K_M in µM in the order of :attr:`KineticModel.km_names`,
            shape ``(n, n_km)``; must be finite and positive.
        physiology
            Reference steady state.
        check
            Raise if a back-calculated V_max is not finite and positive.

        Returns
        -------
        numpy.ndarray
            Shape ``(n, n_parameters)``.
        """
        km = self.check_km(km)
        return self.at_state(physiology)._complete(km, check)

    def complete_parameters_and_elasticities(
        self, km: np.ndarray, physiology: Physiology, *, check: bool = True
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`complete_parameters` and the elasticities at the reference state, fused.

        The rate laws are evaluated once, at ``V = 1``, for both the back-calculation
        of V_max and the elasticities (``∂v/∂x = V ∂(v/V)/∂x``), at the physiology's
        fixed steady state (:meth:`at_state`); the entries are bit-identical to
        :meth:`elasticity_entries` of the completed parameter sets.

        Returns
        -------
        parameters, entries
            Shapes ``(n, n_parameters)`` and ``(n, n_entries)``: the non-zero entries of
            ``∂v/∂x`` (h⁻¹) in the order of :attr:`elasticities`; the reduced Jacobian
            is ``system.elasticities.reduced_jacobian(entries)``.
        """
        km = self.check_km(km)
        return self.at_state(physiology)._complete_with_entries(km, check)

    def at_state(self, physiology: Physiology) -> FixedState:
        """The rate laws at the physiology's steady state, for many K_M sets.

        Built once per physiology object (the last :data:`STATE_CACHE` are kept) and
        shared by threads; see :mod:`rekindle.kinetics.fixed_state`. A physiology is a
        frozen value: one whose dictionaries were edited in place after a first use would
        be served the state built before (build a new :class:`Physiology` instead).
        """
        hit = self._states.get(id(physiology))
        if hit is not None and hit[0] is physiology:
            return hit[1]
        reference = self.reference_parameters(physiology, 1)  # checks the physiology
        x = self.steady_state_concentrations(physiology)
        state = FixedState(
            groups=self._groups,
            assembly=self.elasticities,
            reference=reference[0],
            concentrations=self._full_concentrations(x, reference),
            flux=physiology.flux_vector(self.model.reaction_ids),
            km_columns=self._km_columns,
            vmax_columns=self._vmax_params,
            check_km=self.check_km,
            check_vmax=self._check_vmax,
        )
        # copy on write (list() of a dict is one step under the GIL): a thread reading or
        # replacing the cache meanwhile sees a whole one; a lost entry is rebuilt later
        kept = list(self._states.items())[-(STATE_CACHE - 1) :]
        self._states = dict([*kept, (id(physiology), (physiology, state))])
        return state

    def check_km(self, km: np.ndarray) -> np.ndarray:
        """``km`` as a float array ``(n, n_km)``; ``ValueError`` naming the first bad value."""
        km = np.asarray(km, dtype=float)
        n_km = len(self.model.km_names)
        if km.ndim != 2 or km.shape[1] != n_km:
            raise ValueError(f"K_M must have shape (n_models, {n_km}), got {km.shape}")
        bad = ~np.isfinite(km) | (km <= 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"K_M must be finite and positive: model {i}, {self.model.km_names[j]} = "
                f"{km[i, j]!r} ({int(bad.any(axis=1).sum())} model(s) affected)"
            )
        return km

    def _check_vmax(self, vmax: np.ndarray) -> None:
        bad = ~np.isfinite(vmax) | (vmax < 0)
        if bad.any():
            i, j = np.argwhere(bad)[0]
            raise ValueError(
                f"back-calculated V_max of {self.model.reaction_ids[j]} is {vmax[i, j]!r} "
                f"for model {i}: the steady state and K_M are inconsistent"
            )

    def check_vmax(self, parameters: np.ndarray) -> None:
        """Raise ``ValueError`` naming the first model whose V_max is not finite and ≥ 0."""
        self._check_vmax(self._check_parameters(parameters)[:, self._vmax_params])

    @cached_property
    def _active_slots(self) -> list[list[int]]:
        """Per group, the slots whose derivative can be non-zero and is needed.

        Skipped: boundary metabolites and padding (constant), products of irreversible
        mechanisms (no effect) and modifiers without an exponent in any reaction.
        """
        trash = self.n_states
        out = []
        for g in self._groups:
            cols = self._state_of_met[g.slots]
            ns, np_ = g.n_substrates, g.n_products
            active = []
            for j in range(g.slots.shape[1]):
                if np.all(cols[:, j] == trash):
                    continue
                if ns <= j < ns + np_ and not g.mechanism.reversible:
                    continue
                if j >= ns + np_:
                    k = j - ns - np_
                    if not (np.any(g.fwd_exponents[:, k]) or np.any(g.bwd_exponents[:, k])):
                        continue
                active.append(j)
            out.append(active)
        return out

    @cached_property
    def _km_columns(self) -> np.ndarray:
        pidx = self.model.parameter_index
        return np.array([pidx[k] for k in self.model.km_names], dtype=int)

    def km_of(self, parameters: np.ndarray) -> np.ndarray:
        """The K_M columns of parameter sets, shape ``(n, n_km)``."""
        return self._check_parameters(parameters)[:, self._km_columns]
