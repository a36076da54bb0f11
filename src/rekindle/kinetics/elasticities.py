"""Analytic elasticities: derivatives of the rate laws with respect to concentrations.

For every mechanism of :mod:`rekindle.kinetics.mechanisms` the rate law at ``V = 1`` is
``v = (N_f − N_b)/D`` with numerators ``N_f``, ``N_b`` and a denominator ``D``; here each
mechanism returns ``N_f``, ``N_b``, ``D`` and their gradients with respect to its
substrate and product concentrations, and :func:`quotient_gradient` gives
``∂(N/D) = (∂N − (N/D) ∂D)/D``. Small-molecule modifiers multiply ``v_fwd``/``v_bwd``
by monomials ``Π m^e`` whose gradients are written out (products over the other
factors, no division by a concentration, so zero concentrations are exact too).

:class:`ElasticityAssembly` evaluates the gradient of every reaction group on its own
slots only (a reaction depends on its substrates, products and modifiers), scales it
by ``V_max`` and maps the structurally non-zero entries straight into the reduced
Jacobian ``N_R ∂v/∂x L`` through one precomputed sparse matrix (the scatter index).

The engine's complex-step derivatives (:meth:`KineticSystem.rate_derivatives_complex_step
<rekindle.kinetics.system.KineticSystem.rate_derivatives_complex_step>`) are the
independent reference these are tested against (``tests/kinetics/test_fast_labelling.py``).

Shapes: ``s``/``ks`` ``(..., R, n_substrates)``, ``p``/``kp`` ``(..., R, n_products)``,
``keq``/``hill`` ``(..., R)``; gradients ``(..., R, n_substrates + n_products)`` with
substrates first. Units: concentrations µM, rates µM h⁻¹ (per unit ``V``), gradients h⁻¹.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Protocol

import numpy as np
import scipy.sparse

from rekindle.kinetics.mechanisms import present

Array = np.ndarray
_prod = np.multiply.reduce  # np.prod without its Python wrapper (same result)
Gradient = tuple[Array, Array, Array, Array, Array, Array]
"""``(N_f, N_b, D, ∂N_f, ∂N_b, ∂D)``; gradients over substrate then product slots."""


def products_except(x: Array) -> Array:
    """``out[..., i] = Π_{j≠i} x[..., j]`` without division (exact for zeros).

    Parameters
    ----------
    x
        Shape ``(..., k)``.

    Returns
    -------
    numpy.ndarray
        Shape ``(..., k)``; ones where ``k = 1``.
    """
    k = x.shape[-1]
    if k <= 1:
        return np.ones_like(x)
    if k == 2:
        return x[..., ::-1].copy()
    # prefix products x₀⋯x_{i−1} times suffix products x_{k−1}⋯x_{i+1}, each accumulated
    # left to right as a running product (the operations of a cumulative product, one
    # slot at a time: a cumulative product along a short last axis is slow)
    out = np.empty_like(x)
    out[..., 1] = x[..., 0]
    for i in range(2, k):
        np.multiply(out[..., i - 1], x[..., i - 1], out=out[..., i])
    suffix = x[..., k - 1]
    for i in range(k - 2, 0, -1):
        out[..., i] *= suffix
        suffix = suffix * x[..., i]
    out[..., 0] = suffix
    return out


def quotient_gradient(g: Gradient) -> tuple[Array, Array, Array, Array]:
    """``v_fwd = N_f/D``, ``v_bwd = N_b/D`` and their gradients from :data:`Gradient`."""
    nf, nb, d, dnf, dnb, dd = g
    fwd = nf / d
    bwd = nb / d
    inv_d = (1.0 / d)[..., None]
    dfwd = (dnf - fwd[..., None] * dd) * inv_d
    dbwd = (dnb - bwd[..., None] * dd) * inv_d
    return fwd, bwd, dfwd, dbwd


def _stack(*cols: Array) -> Array:
    return np.stack(cols, axis=-1)


def _zeros(like: Array, k: int) -> Array:
    """Zeros of shape ``(*like.shape[:-1], k)``: padding of a gradient whose operands
    broadcast (concentrations of one steady state as ``(1, R, k)`` rows against K_M
    ``(n, R, k)``), so ``like`` must be an array of the full batch shape."""
    return np.zeros((*like.shape[:-1], k), like.dtype)


def reversible_michaelis_menten(s, p, ks, kp, keq, hill, ns, np_) -> Gradient:
    """``D = 1 + s/Ks + p/Kp``, ``N_f = s/Ks``, ``N_b = p/(Ks Keq)``."""
    s0, p0, k_s, k_p = s[..., 0], p[..., 0], ks[..., 0], kp[..., 0]
    inv_ks = 1.0 / k_s
    d = 1.0 + s0 * inv_ks + p0 / k_p
    inv_bk = inv_ks / keq
    zero = np.zeros_like(d)
    return (
        s0 * inv_ks,
        p0 * inv_bk,
        d,
        _stack(inv_ks + zero, zero),
        _stack(zero, inv_bk + zero),
        _stack(inv_ks + zero, 1.0 / k_p + zero),
    )


def _pad(x: Array, n: int) -> Array:
    if x.shape[-1] == n:
        return x
    return np.concatenate([x, np.zeros((*x.shape[:-1], n - x.shape[-1]), x.dtype)], axis=-1)


def generalized_reversible_hill(s, p, ks, kp, keq, hill, ns, np_) -> Gradient:
    """``D = Π_k (1 + s_k/K_sk + p_k/K_pk)``, ``N_f = Π s/Ks``, ``N_b = Π p/(Π Ks Keq)``."""
    n_s, n_p = s.shape[-1], p.shape[-1]
    m = max(n_s, n_p)
    a = s / ks
    factors = 1.0 + _pad(present(a, ns), m) + _pad(present(p / kp, np_), m)
    others = products_except(factors)
    d = others[..., 0] * factors[..., 0]
    dd = np.concatenate([others[..., :n_s] / ks, others[..., :n_p] / kp], axis=-1)
    a_others = products_except(a)
    nf = a_others[..., 0] * a[..., 0]
    inv_b = 1.0 / (_prod(ks, axis=-1) * keq)
    p_others = products_except(p)
    nb = p_others[..., 0] * p[..., 0] * inv_b
    dnf = np.concatenate([a_others / ks, _zeros(a, n_p)], axis=-1)
    dnb = np.concatenate([_zeros(a, n_s), p_others * inv_b[..., None]], axis=-1)
    return nf, nb, d, dnf, dnb, dd


def _power_sum(x: Array, n: Array) -> tuple[Array, Array]:
    """``Σ_{a=0..n} x^a`` and its derivative ``Σ_{a=1..n} a x^{a−1}`` per element."""
    n_max = int(np.max(n)) if n.size else 0
    total = np.ones_like(x)
    deriv = np.zeros_like(x)
    power = np.ones_like(x)  # x^(a-1)
    for a in range(1, n_max + 1):
        use = n >= a
        deriv = deriv + np.where(use, a * power, 0.0)
        power = power * x
        total = total + np.where(use, power, 0.0)
    return total, deriv


def _monomial(x: Array, n: Array) -> tuple[Array, Array]:
    """``x^n`` and ``n x^{n−1}`` (``0`` where ``n = 0``), element-wise."""
    xn = x**n
    with np.errstate(divide="ignore", invalid="ignore"):
        dxn = np.where(n == 0, 0.0, n * x ** (n - 1.0))
    return xn, dxn


def convenience(s, p, ks, kp, keq, hill, ns, np_) -> Gradient:
    """Convenience kinetics: ``D = Π S_i(s_i/K_si) + Π S_j(p_j/K_pj) − 1``, ``S`` power sums."""
    a = s / ks
    b = p / kp
    sa, dsa = _power_sum(a, ns)
    sb, dsb = _power_sum(b, np_)
    sa_o = products_except(sa)
    sb_o = products_except(sb)
    d = sa_o[..., 0] * sa[..., 0] + sb_o[..., 0] * sb[..., 0] - 1.0
    dd = np.concatenate([sa_o * dsa / ks, sb_o * dsb / kp], axis=-1)
    an, dan = _monomial(a, ns)
    an_o = products_except(an)
    nf = an_o[..., 0] * an[..., 0]
    pn, dpn = _monomial(p, np_)
    pn_o = products_except(pn)
    inv_b = 1.0 / (_prod(ks**ns, axis=-1) * keq)
    nb = pn_o[..., 0] * pn[..., 0] * inv_b
    dnf = np.concatenate([an_o * dan / ks, _zeros(a, p.shape[-1])], axis=-1)
    dnb = np.concatenate([_zeros(a, s.shape[-1]), pn_o * dpn * inv_b[..., None]], axis=-1)
    return nf, nb, d, dnf, dnb, dd


def _hill_power(t: Array, h: Array) -> tuple[Array, Array]:
    """``t^h`` and ``h t^{h−1}``."""
    return t**h, h * t ** (h - 1.0)


def _hill_excess(u: Array, h: Array) -> tuple[Array, Array]:
    """``u^{h−1}`` and ``(h − 1) u^{h−2}`` (exactly ``1`` and ``0`` where ``h = 1``)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return u ** (h - 1.0), np.where(h == 1.0, 0.0, (h - 1.0) * u ** (h - 2.0))


def uni_bi_reversible_hill(s, p, ks, kp, keq, hill, ns, np_) -> Gradient:
    """Uni-bi reversible Hill (see :func:`rekindle.kinetics.mechanisms.uni_bi_reversible_hill`).

    Variables ``x = s/Ks``, ``y_k = p_k/Kp_k``, ``u = x + y₁y₂``, ``he = u^{h−1}``;
    ``D = 1 + (x+y₁)^h + (x+y₂)^h + u^h − 2x^h``, ``N_f = x he``,
    ``N_b = p₁p₂ he/(Keq Ks)``.
    """
    k_s, k1, k2 = ks[..., 0], kp[..., 0], kp[..., 1]
    p1, p2 = p[..., 0], p[..., 1]
    x = s[..., 0] / k_s
    y1 = p1 / k1
    y2 = p2 / k2
    u = x + y1 * y2
    he, dhe = _hill_excess(u, hill)
    w1, dw1 = _hill_power(x + y1, hill)
    w2, dw2 = _hill_power(x + y2, hill)
    wu, dwu = _hill_power(u, hill)
    wx, dwx = _hill_power(x, hill)
    d = 1.0 + w1 + w2 + wu - 2.0 * wx
    # derivatives in x, y1, y2
    dd = _stack(dw1 + dw2 + dwu - 2.0 * dwx, dw1 + dwu * y2, dw2 + dwu * y1)
    dhe_v = _stack(dhe, dhe * y2, dhe * y1)
    nf = x * he
    dnf = x[..., None] * dhe_v
    dnf[..., 0] += he
    c = 1.0 / (keq * k_s)
    nb = p1 * p2 * he * c
    dnb = (p1 * p2 * c)[..., None] * dhe_v
    dnb[..., 1] += p2 * he * c * k1  # ∂/∂y1 of p1 p2 = k1 p2
    dnb[..., 2] += p1 * he * c * k2
    chain = 1.0 / _stack(k_s, k1, k2)
    return nf, nb, d, dnf * chain, dnb * chain, dd * chain


def bi_uni_reversible_hill(s, p, ks, kp, keq, hill, ns, np_) -> Gradient:
    """Bi-uni reversible Hill (see :func:`rekindle.kinetics.mechanisms.bi_uni_reversible_hill`).

    Variables ``x_k = s_k/K_k``, ``y = p/Kp``, ``u = x₁x₂ + y``, ``he = u^{h−1}``;
    ``D = 1 + (x₁+y)^h + (x₂+y)^h + u^h − 2y^h``, ``N_f = x₁x₂ he``,
    ``N_b = p he/(Keq K₁ K₂)``.
    """
    k1, k2, k_p = ks[..., 0], ks[..., 1], kp[..., 0]
    p0 = p[..., 0]
    x1 = s[..., 0] / k1
    x2 = s[..., 1] / k2
    y = p0 / k_p
    x12 = x1 * x2
    u = x12 + y
    he, dhe = _hill_excess(u, hill)
    w1, dw1 = _hill_power(x1 + y, hill)
    w2, dw2 = _hill_power(x2 + y, hill)
    wu, dwu = _hill_power(u, hill)
    wy, dwy = _hill_power(y, hill)
    d = 1.0 + w1 + w2 + wu - 2.0 * wy
    # derivatives in x1, x2, y
    dd = _stack(dw1 + dwu * x2, dw2 + dwu * x1, dw1 + dw2 + dwu - 2.0 * dwy)
    dhe_v = _stack(dhe * x2, dhe * x1, dhe)
    nf = x12 * he
    dnf = x12[..., None] * dhe_v
    dnf[..., 0] += x2 * he
    dnf[..., 1] += x1 * he
    c = 1.0 / (keq * k1 * k2)
    nb = p0 * he * c
    dnb = (p0 * c)[..., None] * dhe_v
    dnb[..., 2] += he * c * k_p  # ∂p/∂y = Kp
    chain = 1.0 / _stack(k1, k2, k_p)
    return nf, nb, d, dnf * chain, dnb * chain, dd * chain


def irreversible_michaelis_menten(s, p, ks, kp, keq, hill, ns, np_) -> Gradient:
    """``N_f = Π s_i/(s_i + K_si)``, ``D = 1``, ``N_b = 0`` (products without effect)."""
    denom = s + ks
    t = s / denom
    t_o = products_except(t)
    nf = t_o[..., 0] * t[..., 0]
    zero = np.zeros_like(nf)
    grad = np.concatenate([t_o * ks / (denom * denom), _zeros(denom, p.shape[-1])], axis=-1)
    return nf, zero, zero + 1.0, grad, np.zeros_like(grad), np.zeros_like(grad)


GRADIENTS: dict[str, Callable[..., Gradient]] = {
    "ReversibleMichaelisMenten": reversible_michaelis_menten,
    "H1GeneralizedReversibleHill": generalized_reversible_hill,
    "Convenience": convenience,
    "UniBiReversibleHill": uni_bi_reversible_hill,
    "BiUniReversibleHill": bi_uni_reversible_hill,
    "IrrevMichaelisMenten": irreversible_michaelis_menten,
}
"""Analytic :data:`Gradient` of each mechanism, keyed by mechanism name."""


ASSEMBLY_BLOCK = 32
"""Models per sparse product in :meth:`ElasticityAssembly.reduced_jacobian` (measured:
blocks of 32 assemble 1 000 E. coli Jacobians 2–3× faster than one product)."""


class PaddedColumns(Protocol):
    """What :func:`group_gradient` (``take``) and :class:`~rekindle.kinetics.fixed_state.
    FixedState` (the columns) read of a group's K_M columns."""

    columns: np.ndarray  # (R, k) parameter columns, 0 on padding
    pad: np.ndarray | None  # (R, k) padded slots, None without padding
    fill: float  # K_M of a padded slot

    def take(self, p: np.ndarray) -> np.ndarray:
        """K_M ``(n, R, k)`` of parameter sets ``(n, n_parameters)``."""
        ...


class RateGroup(Protocol):
    """What :func:`group_gradient` reads of a compiled reaction group."""

    mechanism: object
    reactions: np.ndarray
    slots: np.ndarray
    n_substrates: int
    n_products: int
    vmax: np.ndarray
    keq: np.ndarray
    hill: np.ndarray
    km_substrates: PaddedColumns
    km_products: PaddedColumns
    stoich_substrates: np.ndarray
    stoich_products: np.ndarray
    fwd_exponents: np.ndarray
    bwd_exponents: np.ndarray

    @property
    def modified(self) -> tuple[bool, bool]:
        """Whether any modifier acts on the forward / backward term."""
        ...

    def evaluate(
        self,
        c: np.ndarray,
        p: np.ndarray | None,
        unit_vmax: bool = False,
        gathered: tuple | None = None,
    ) -> np.ndarray:
        """Net rates ``(n, R)`` by the mechanism's rate law (``gathered``: the K_M,
        K_eq, Hill and V_max columns instead of ``p``)."""
        ...


def group_gradient(
    group: RateGroup,
    c: Array,
    p: Array | None,
    *,
    gathered: tuple[Array, Array, Array, Array | None] | None = None,
    modifiers: ModifierFactors | None = None,
) -> tuple[Array, Array]:
    """Unit-``V`` net rates and their gradient over the group's slots.

    Parameters
    ----------
    group
        A compiled group of reactions sharing a mechanism (``KineticSystem`` internals).
    c
        Slot concentrations, µM, shape ``(n, R, n_slots)`` (real), or ``(1, R, n_slots)``
        (one steady state for all ``n`` parameter sets: every term that depends on the
        concentrations alone is then computed once; the results are bit-identical).
    p
        Parameters, shape ``(n, n_parameters)``; ``None`` with ``gathered``.
    gathered
        ``(K_M substrates (n, R, n_substrates), K_M products (n, R, n_products),
        K_eq (n or 1, R), Hill coefficients (n or 1, R) or None)`` instead of ``p``.
    modifiers
        :func:`modifier_factors` of the group at ``c`` (when ``c`` is one state's row,
        computed once per state).

    Returns
    -------
    rates, gradient
        ``v/V`` of shape ``(n, R)`` (µM h⁻¹ per unit ``V``) and ``∂(v/V)/∂c`` of shape
        ``(n, R, n_slots)`` (h⁻¹ per unit ``V``; zero on constant/padding slots only
        through the caller's scatter, which skips them).
    """
    mech = group.mechanism
    ns, np_ = group.n_substrates, group.n_products
    k = ns + np_
    s = c[..., :ns]
    prod = c[..., ns:k]
    if gathered is None:
        ks = group.km_substrates.take(p)
        kp = group.km_products.take(p)
        keq = p[:, group.keq] if mech.reversible else np.ones((p.shape[0], len(group.reactions)))
        hill = p[:, group.hill] if mech.has_hill else None
    else:
        ks, kp, keq, hill = gathered
    fwd, bwd, dfwd, dbwd = quotient_gradient(
        GRADIENTS[mech.name](
            s, prod, ks, kp, keq, hill, group.stoich_substrates, group.stoich_products
        )
    )
    if modifiers is None:
        modifiers = modifier_factors(group, c)
    mf, dmf, mb, dmb = modifiers
    grad = np.empty((*fwd.shape, c.shape[-1]))
    if mf is not None:
        grad[..., :k] = dfwd * mf[..., None]
        grad[..., k:] = fwd[..., None] * dmf
        v = fwd * mf
    else:
        grad[..., :k] = dfwd
        grad[..., k:] = 0.0
        v = fwd
    if mech.reversible:
        if mb is not None:
            grad[..., :k] -= dbwd * mb[..., None]
            grad[..., k:] -= bwd[..., None] * dmb
            v = v - bwd * mb
        else:
            grad[..., :k] -= dbwd
            v = v - bwd
    return v, grad


ModifierFactors = tuple[Array | None, Array | None, Array | None, Array | None]
"""``(m_f, ∂m_f, m_b, ∂m_b)``: the forward and backward modifier factors ``Π m^e``
``(..., R)`` of a group and their gradients ``(..., R, n_modifiers)``; ``None`` for a
term without modifiers."""


def modifier_factors(group: RateGroup, c: Array) -> ModifierFactors:
    """The group's :data:`ModifierFactors` at slot concentrations ``c`` ``(..., R, n_slots)``."""
    mods = c[..., group.n_substrates + group.n_products :]
    fwd_modified, bwd_modified = group.modified
    mf, dmf = _modifier_factor(mods, group.fwd_exponents) if fwd_modified else (None, None)
    mb, dmb = (
        _modifier_factor(mods, group.bwd_exponents)
        if group.mechanism.reversible and bwd_modified
        else (None, None)
    )
    return mf, dmf, mb, dmb


def _modifier_factor(m: Array, e: Array) -> tuple[Array, Array]:
    """``Π_k m_k^{e_k}`` ``(n, R)`` and its gradient ``(n, R, n_mod)``."""
    mk, dmk = _monomial(m, e)
    others = products_except(mk)
    return others[..., 0] * mk[..., 0], others * dmk


class ElasticityAssembly:
    """Scatter index from group gradients to ``∂v/∂x`` and to the reduced Jacobian.

    Every group contributes its *active* slots (states whose derivative can be
    non-zero); entry ``e`` is ``∂v_j/∂x_c`` of one (reaction ``j``, state ``c``) pair of
    one slot. A state in two slots of a reaction gives two entries that add up.

    Parameters
    ----------
    groups
        Compiled reaction groups.
    active
        Active slot indices of each group.
    state_of_slot
        Per group, the state column of each slot, ``(R, n_slots)``, ``n_states`` for
        constants.
    n_reactions, n_states
        Sizes of ``∂v/∂x``.
    left, right
        ``N_R`` ``(r, n_reactions)`` and ``L`` ``(n_states, r)``: the reduced Jacobian is
        ``left ∂v/∂x right``.
    """

    def __init__(
        self,
        groups: Sequence[RateGroup],
        active: Sequence[Sequence[int]],
        state_of_slot: Sequence[np.ndarray],
        n_reactions: int,
        n_states: int,
        left: np.ndarray,
        right: np.ndarray,
    ) -> None:
        self.groups = list(groups)
        self.active = [np.asarray(a, dtype=int) for a in active]
        rows, cols, offsets = [], [], [0]
        for g, act, st in zip(self.groups, self.active, state_of_slot, strict=True):
            # entries in (reaction-major, active slot) order, trash ones kept (mapped to 0)
            rows.append(np.repeat(g.reactions, act.size))
            cols.append(st[:, act].reshape(-1))
            offsets.append(offsets[-1] + g.reactions.size * act.size)
        self.offsets = offsets
        self.entry_reaction = np.concatenate(rows) if rows else np.zeros(0, int)
        self.entry_state = np.concatenate(cols) if cols else np.zeros(0, int)
        self.n_entries = int(offsets[-1])
        self.n_reactions, self.n_states = n_reactions, n_states
        real = self.entry_state < n_states
        e_idx = np.flatnonzero(real)
        # ∂v/∂x flat (reaction-major) position of each real entry
        flat = self.entry_reaction[real] * n_states + self.entry_state[real]
        self.to_derivatives = scipy.sparse.csr_matrix(
            (np.ones(e_idx.size), (e_idx, flat)), shape=(self.n_entries, n_reactions * n_states)
        )
        r = left.shape[0]
        self.n_reduced = r
        # entry e adds left[:, j] ⊗ right[c, :] to J (r × r, row-major)
        lcol = left[:, self.entry_reaction[real]].T  # (n_real, r)
        rrow = right[self.entry_state[real]]  # (n_real, r)
        contrib = (lcol[:, :, None] * rrow[:, None, :]).reshape(e_idx.size, r * r)
        nz = np.nonzero(contrib)
        self.to_reduced = scipy.sparse.csr_matrix(
            (contrib[nz], (e_idx[nz[0]], nz[1])), shape=(self.n_entries, r * r)
        )
        self._to_reduced_t = self.to_reduced.T.tocsr()
        # the structurally non-zero positions of J and their rows of the map (row order
        # and each row's terms kept: the same sums, bit-identical)
        self._nonzero = np.flatnonzero(np.diff(self._to_reduced_t.indptr))
        self._to_nonzero = self._to_reduced_t[self._nonzero]

    def entries(
        self,
        c_full: Array,
        p: Array,
        vmax: Array | None = None,
        *,
        with_rates: bool | str = False,
    ) -> tuple[Array | None, Array]:
        """Elasticity entries ``(n, n_entries)`` and, on request, unit-``V`` rates.

        Parameters
        ----------
        c_full
            Concentrations of all metabolites plus a trailing constant 1, µM,
            ``(n, n_metabolites + 1)``.
        p
            Parameters, ``(n, n_parameters)``.
        vmax
            ``V_max`` per reaction ``(n, n_reactions)``; if given, the entries are those
            of ``∂v/∂x`` (else of ``∂(v/V)/∂x``).
        with_rates
            ``True``: also return ``v/V`` ``(n, n_reactions)``, evaluated by the
            mechanisms' own rate laws (bit-identical to :meth:`KineticSystem.rates
            <rekindle.kinetics.system.KineticSystem.rates>` with ``unit_vmax``);
            ``"gradient"``: the rates that come with the gradient at no cost (equal to
            rounding), times ``vmax`` when given; ``False``: ``None``.
        """
        n = p.shape[0]
        rates = np.empty((n, self.n_reactions)) if with_rates else None
        out = np.empty((n, self.n_entries))
        for g, act, o0, o1 in zip(
            self.groups, self.active, self.offsets[:-1], self.offsets[1:], strict=True
        ):
            cg = c_full[:, g.slots]
            v, grad = group_gradient(g, cg, p)
            if with_rates == "gradient":
                rates[:, g.reactions] = v if vmax is None else v * vmax[:, g.reactions]
            elif rates is not None:
                rates[:, g.reactions] = g.evaluate(cg, p, True)
            ga = grad if act.size == grad.shape[-1] else grad[:, :, act]
            dest = out[:, o0:o1].reshape(n, g.reactions.size, act.size)  # a view of out
            if vmax is not None:
                np.multiply(ga, vmax[:, g.reactions, None], out=dest)
            else:
                dest[...] = ga
        return rates, out

    def derivatives(self, entries: Array) -> Array:
        """Dense ``∂v/∂x`` ``(n, n_reactions, n_states)`` from entries ``(n, n_entries)``."""
        n = entries.shape[0]
        return (self.to_derivatives.T @ entries.T).T.reshape(n, self.n_reactions, self.n_states)

    def scaled_map(self, row_scale: Array, col_scale: Array) -> scipy.sparse.csr_matrix:
        """The map to ``diag(row_scale) N_R ∂v/∂x L diag(col_scale)`` (for
        :meth:`reduced_jacobian`'s ``scatter``), shapes ``(r,)`` and ``(r,)``."""
        factor = (np.asarray(row_scale)[:, None] * np.asarray(col_scale)[None, :]).reshape(-1)
        return scipy.sparse.csr_matrix(scipy.sparse.diags(factor) @ self._to_reduced_t)

    def reduced_jacobian(
        self,
        entries: Array,
        scatter: scipy.sparse.csr_matrix | None = None,
        *,
        out: Array | None = None,
        rows: Array | None = None,
    ) -> Array:
        """``N_R ∂v/∂x L`` ``(n, r, r)``, h⁻¹, from entries ``(n, n_entries)`` of ``∂v/∂x``.

        One sparse product per block of :data:`ASSEMBLY_BLOCK` models, so that the
        transposition of its result stays in cache; without ``scatter`` and ``out``, the
        product gives the structurally non-zero positions only, written into zeros (the
        same sums: bit-identical to the whole map's product). ``scatter`` replaces the map (a
        :meth:`scaled_map`). With ``out`` ``(N, r, r)`` (C-contiguous) and ``rows``
        ``(n,)``, the Jacobians are written to ``out[rows]`` (no intermediate copy) and
        ``out`` is returned.
        """
        n, r = entries.shape[0], self.n_reduced
        if scatter is None and out is None:
            # into zeros, only the structurally non-zero positions: 817 of 1936 for E. coli
            flat = np.zeros((n, r * r))
            nz, m = self._nonzero, self._to_nonzero
            for i in range(0, n, ASSEMBLY_BLOCK):
                block = np.ascontiguousarray(entries[i : i + ASSEMBLY_BLOCK].T)
                flat[i : i + ASSEMBLY_BLOCK, nz] = (m @ block).T
            return flat.reshape(n, r, r)
        m = self._to_reduced_t if scatter is None else scatter
        if out is None:
            flat = np.empty((n, r * r))
            rows = None
        else:
            flat = out.reshape(out.shape[0], r * r)
            if not np.shares_memory(flat, out):
                raise ValueError("out must be C-contiguous")
        for i in range(0, n, ASSEMBLY_BLOCK):
            block = np.ascontiguousarray(entries[i : i + ASSEMBLY_BLOCK].T)
            if rows is None:
                flat[i : i + ASSEMBLY_BLOCK] = (m @ block).T
            else:
                flat[rows[i : i + ASSEMBLY_BLOCK]] = (m @ block).T
        return flat.reshape(-1, r, r) if out is None else out
