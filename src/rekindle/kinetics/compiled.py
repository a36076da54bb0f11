"""Compiled rate laws: rates and elasticities of every reaction in one machine-code loop.

:class:`KineticSystem <rekindle.kinetics.system.KineticSystem>` evaluates its rate laws
with numpy, one reaction group and one array operation at a time: a few hundred numpy
calls per evaluation, whatever the number of models. That is fast for the thousands of
models of a labelling chunk, but an integrator evaluates the right-hand side six times
per step for a batch of at most a few hundred trajectories, down to one (the last slow
trajectory of a chunk), so the calls' fixed cost and the temporaries between them
dominate. :class:`CompiledRates` flattens the model into integer and index arrays once
and evaluates the same rate laws and their analytic gradients (the formulas of
:mod:`rekindle.kinetics.mechanisms` and :mod:`rekindle.kinetics.elasticities`) model by
model and reaction by reaction in functions compiled by numba (Lam, Pitrou & Seibert,
LLVM-HPC 2015), with no temporary arrays.

numba compiles these functions on their first use (several seconds, once:
``__pycache__`` keeps them for later processes).

The numpy engine stays the reference: the compiled rates and elasticity entries equal
its results to rounding (``tests/kinetics/test_compiled.py``), and the engine's
complex-step derivatives check both.

Units and shapes as in :mod:`rekindle.kinetics.system`: concentrations µM ``(n,
n_states)``, parameters ``(n, n_parameters)``, rates µM h⁻¹ ``(n, n_reactions)``,
elasticity entries h⁻¹ ``(n, n_entries)`` in the order of
:attr:`KineticSystem.elasticities <rekindle.kinetics.system.KineticSystem.elasticities>`.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
from numba import njit

if TYPE_CHECKING:
    from rekindle.kinetics.elasticities import RateGroup
    from rekindle.kinetics.system import KineticSystem

MECHANISM_CODES = {
    "H1GeneralizedReversibleHill": 0,
    "Convenience": 1,
    "UniBiReversibleHill": 2,
    "BiUniReversibleHill": 3,
    "IrrevMichaelisMenten": 4,
}
"""Code of each mechanism family in the compiled loop (reversible Michaelis–Menten is
compiled as the generalised reversible Hill law of one pair, as in the numpy engine)."""

_PADDING, _SUBSTRATE, _PRODUCT, _MODIFIER = -1, 0, 1, 2
"""What an elasticity entry of a reaction differentiates by: nothing (a padded slot of a
merged group, whose entry the Jacobian's map drops), or the concentration of its
substrate, product or modifier of a given index."""


class ReactionTables(NamedTuple):
    """The model flattened for the kernels, one row per reaction (``(n_reactions, …)``).

    Attributes
    ----------
    state_met, boundary_met, boundary_par, n_met
        Metabolite index of each state and of each boundary metabolite, the parameter
        column of the latter, and the number of metabolites (index ``n_met`` is the
        constant 1 of padded slots).
    mech, column
        Mechanism code (:data:`MECHANISM_CODES`) and rate column of each reaction.
    n_sub, n_prod, n_mod
        Numbers of substrates, products and modifier slots.
    met, km, stoich
        Metabolite index, K_M parameter column and absolute stoichiometry of each
        substrate then product, ``(n_reactions, width)``.
    mod_met, fwd_exp, bwd_exp
        Modifier metabolites and their exponents on the forward and backward terms.
    keq, hill, vmax
        Parameter columns of K_eq, the Hill coefficient (−1: none) and V_max.
    entry_start, n_active, active_kind, active_index
        Where each reaction's elasticity entries start, how many it has, and what each
        differentiates by (``_SUBSTRATE``, ``_PRODUCT``, ``_MODIFIER`` of an index, or
        ``_PADDING``).
    """

    state_met: np.ndarray
    boundary_met: np.ndarray
    boundary_par: np.ndarray
    n_met: int
    mech: np.ndarray
    column: np.ndarray
    n_sub: np.ndarray
    n_prod: np.ndarray
    n_mod: np.ndarray
    met: np.ndarray
    km: np.ndarray
    stoich: np.ndarray
    mod_met: np.ndarray
    fwd_exp: np.ndarray
    bwd_exp: np.ndarray
    keq: np.ndarray
    hill: np.ndarray
    vmax: np.ndarray
    entry_start: np.ndarray
    n_active: np.ndarray
    active_kind: np.ndarray
    active_index: np.ndarray


@njit(cache=True, error_model="numpy")
def _power(x: float, e: float) -> float:
    """``x**e``; exponents that are small integers (stoichiometries, most Hill
    coefficients) by repeated multiplication instead of ``pow``."""
    if e == 0.0:
        return 1.0
    if e == np.floor(e) and -8.0 <= e <= 8.0:
        k = int(abs(e))
        out = x
        for _ in range(k - 1):
            out *= x
        return 1.0 / out if e < 0.0 else out
    return x**e


@njit(cache=True, error_model="numpy")
def _products_except(x: np.ndarray, n: int, out: np.ndarray) -> float:
    """``out[i] = Π_{j≠i} x[j]`` for ``i < n`` (no division: exact for zeros); returns
    the whole product ``Π x[j]``."""
    run = 1.0
    for i in range(n):
        out[i] = run
        run *= x[i]
    suffix = 1.0
    for i in range(n - 1, -1, -1):
        out[i] *= suffix
        suffix *= x[i]
    return run


@njit(cache=True, error_model="numpy")
def _reversible_hill_terms(
    z1: float, z2: float, u: float, single: float, h: float
) -> tuple[float, float, float, float, float, float, float]:
    """The terms the uni-bi and bi-uni reversible Hill laws share: ``D = 1 + z1^h + z2^h
    + u^h − 2·single^h``, ``he = u^{h−1}`` and the derivatives ``dhe = (h − 1) u^{h−2}``
    (0 for ``h = 1``) and ``h·z^{h−1}`` of each power: ``(D, he, dhe, dz1, dz2, du,
    dsingle)``."""
    he = _power(u, h - 1.0)
    d = 1.0 + _power(z1, h) + _power(z2, h) + _power(u, h) - 2.0 * _power(single, h)
    dhe = 0.0 if h == 1.0 else (h - 1.0) * _power(u, h - 2.0)
    dw1 = h * _power(z1, h - 1.0)
    dw2 = h * _power(z2, h - 1.0)
    dwu = h * _power(u, h - 1.0)
    dws = h * _power(single, h - 1.0)
    return d, he, dhe, dw1, dw2, dwu, dws


@njit(cache=True, error_model="numpy", inline="always")
def _hill1_gradient(conc, k, ns, npr, keq, f, others, a, dnf, dnb, dd):
    """Generalised reversible Hill with h = 1: ``D = Π_q (1 + s_q/K_sq + p_q/K_pq)``,
    ``N_f = Π s/Ks``, ``N_b = Π p/(Π Ks · Keq)``. Returns ``(N_f, N_b, D)``; their
    gradients (substrates then products) go to ``dnf``, ``dnb``, ``dd``, which the caller
    has zeroed; ``f``, ``others``, ``a`` are scratch."""
    m = max(ns, npr)
    for q in range(m):
        fq = 1.0
        if q < ns:
            fq += conc[q] / k[q]
        if q < npr:
            fq += conc[ns + q] / k[ns + q]
        f[q] = fq
    d = _products_except(f, m, others)
    for q in range(ns):
        a[q] = conc[q] / k[q]
    nf = _products_except(a, ns, dnf)
    kprod = 1.0
    for q in range(ns):
        kprod *= k[q]
    inv_b = 1.0 / (kprod * keq)
    for q in range(npr):
        a[ns + q] = conc[ns + q]
    nb = _products_except(a[ns:], npr, dnb[ns:]) * inv_b
    for q in range(ns):
        dd[q] = others[q] / k[q]
        dnf[q] /= k[q]
    for q in range(npr):
        dd[ns + q] = others[q] / k[ns + q]
        dnb[ns + q] *= inv_b
    return nf, nb, d


@njit(cache=True, error_model="numpy", inline="always")
def _convenience_gradient(conc, k, stoich, ns, npr, keq, f, others, a, dnf, dnb, dd):
    """Convenience kinetics: ``D = Π_i S_i(s_i/K_si) + Π_j S_j(p_j/K_pj) − 1`` with the
    power sums ``S(x) = Σ_{t ≤ n} x^t``, ``N_f = Π (s/Ks)^n``, ``N_b = Π p^n/(Π Ks^n ·
    Keq)``; returns and fills as :func:`_hill1_gradient`."""
    nk = ns + npr
    for q in range(nk):
        aq = conc[q] / k[q]
        total = 1.0
        deriv = 0.0
        power = 1.0  # aq**(t − 1)
        for t in range(1, int(stoich[q]) + 1):
            deriv += t * power
            power *= aq
            total += power
        f[q] = total
        dd[q] = deriv  # dS/da, times the other factors below
        a[q] = aq
    d_sub = _products_except(f, ns, others)
    d_pro = _products_except(f[ns:], npr, others[ns:])
    for q in range(nk):
        dd[q] = others[q] * dd[q] / k[q]
    d = d_sub + d_pro - 1.0
    kprod = 1.0
    for q in range(nk):
        e = stoich[q]
        base = a[q] if q < ns else conc[q]
        f[q] = _power(base, e)
        if q < ns:
            kprod *= _power(k[q], e)
        a[q] = 0.0 if e == 0.0 else e * _power(base, e - 1.0)
    inv_b = 1.0 / (kprod * keq)
    nf = _products_except(f, ns, others)
    for q in range(ns):
        dnf[q] = others[q] * a[q] / k[q]
    nb = _products_except(f[ns:], npr, others[ns:]) * inv_b
    for q in range(ns, nk):
        dnb[q] = others[q] * a[q] * inv_b
    return nf, nb, d


@njit(cache=True, error_model="numpy", inline="always")
def _uni_bi_gradient(conc, k, keq, h, dnf, dnb, dd):
    """Uni-bi reversible Hill: ``x = s/Ks``, ``y_k = p_k/Kp_k``, ``u = x + y1 y2``,
    ``N_f = x u^{h−1}``, ``N_b = p1 p2 u^{h−1}/(Keq Ks)``; returns and fills as
    :func:`_hill1_gradient` (slots s, p1, p2)."""
    k_s, k1, k2 = k[0], k[1], k[2]
    p1, p2 = conc[1], conc[2]
    xx = conc[0] / k_s
    y1 = p1 / k1
    y2 = p2 / k2
    u = xx + y1 * y2
    d, he, dhe, dw1, dw2, dwu, dwx = _reversible_hill_terms(xx + y1, xx + y2, u, xx, h)
    cc = 1.0 / (keq * k_s)
    dd[0] = (dw1 + dw2 + dwu - 2.0 * dwx) / k_s
    dd[1] = (dw1 + dwu * y2) / k1
    dd[2] = (dw2 + dwu * y1) / k2
    dnf[0] = (xx * dhe + he) / k_s
    dnf[1] = xx * dhe * y2 / k1
    dnf[2] = xx * dhe * y1 / k2
    pc = p1 * p2 * cc
    dnb[0] = pc * dhe / k_s
    dnb[1] = (pc * dhe * y2 + p2 * he * cc * k1) / k1
    dnb[2] = (pc * dhe * y1 + p1 * he * cc * k2) / k2
    return xx * he, p1 * p2 * he * cc, d


@njit(cache=True, error_model="numpy", inline="always")
def _bi_uni_gradient(conc, k, keq, h, dnf, dnb, dd):
    """Bi-uni reversible Hill: ``x_k = s_k/K_k``, ``y = p/Kp``, ``u = x1 x2 + y``,
    ``N_f = x1 x2 u^{h−1}``, ``N_b = p u^{h−1}/(Keq K1 K2)``; returns and fills as
    :func:`_hill1_gradient` (slots s1, s2, p)."""
    k1, k2, k_p = k[0], k[1], k[2]
    p0 = conc[2]
    x1 = conc[0] / k1
    x2 = conc[1] / k2
    y = p0 / k_p
    x12 = x1 * x2
    d, he, dhe, dw1, dw2, dwu, dwy = _reversible_hill_terms(x1 + y, x2 + y, x12 + y, y, h)
    cc = 1.0 / (keq * k1 * k2)
    dd[0] = (dw1 + dwu * x2) / k1
    dd[1] = (dw2 + dwu * x1) / k2
    dd[2] = (dw1 + dw2 + dwu - 2.0 * dwy) / k_p
    dnf[0] = (x12 * dhe * x2 + x2 * he) / k1
    dnf[1] = (x12 * dhe * x1 + x1 * he) / k2
    dnf[2] = x12 * dhe / k_p
    pc = p0 * cc
    dnb[0] = pc * dhe * x2 / k1
    dnb[1] = pc * dhe * x1 / k2
    dnb[2] = (pc * dhe + he * cc * k_p) / k_p
    return x12 * he, p0 * he * cc, d


@njit(cache=True, error_model="numpy", inline="always")
def _irreversible_gradient(conc, k, ns, f, others, dnf):
    """Irreversible Michaelis–Menten: ``N_f = Π s/(s + K)``, ``D = 1``, products inert;
    returns ``(N_f, 0, 1)`` and fills ``dnf`` of the substrates."""
    for q in range(ns):
        f[q] = conc[q] / (conc[q] + k[q])
    nf = _products_except(f, ns, others)
    for q in range(ns):
        den = conc[q] + k[q]
        dnf[q] = others[q] * k[q] / (den * den)
    return nf, 0.0, 1.0


@njit(cache=True, error_model="numpy")
def _evaluate(
    x: np.ndarray,
    p: np.ndarray,
    tab: ReactionTables,
    rates: np.ndarray,
    entries: np.ndarray,
) -> None:
    """Rates ``(n, n_reactions)`` and elasticity entries ``(n, n_entries)`` of ``n``
    models at concentrations ``x`` ``(n, n_states)``, in place, model by model (the
    reactions as :class:`ReactionTables` ``tab`` lists them): each mechanism's ``N_f``,
    ``N_b``, ``D`` and gradients, then ``v = V (N_f m_f − N_b m_b)/D`` with the modifier
    monomials ``m`` and its gradient by the quotient and product rules."""
    width = tab.met.shape[1]
    # scratch: separate 1-D buffers (numba types the rows of one 2-D buffer as arrays of
    # any layout, whose loops it does not vectorise)
    conc = np.empty(width)
    k = np.empty(width)
    a = np.empty(width)
    f = np.empty(width)
    others = np.empty(width)
    dnf = np.empty(width)
    dnb = np.empty(width)
    dd = np.empty(width)
    grad = np.empty(width)
    wm = max(tab.mod_met.shape[1], 1)
    mf_pow = np.empty(wm)
    mb_pow = np.empty(wm)
    mf_oth = np.empty(wm)
    mb_oth = np.empty(wm)
    grad_mod = np.empty(wm)
    c = np.ones(tab.n_met + 1)
    for i in range(x.shape[0]):
        for q in range(tab.state_met.shape[0]):
            c[tab.state_met[q]] = x[i, q]
        for q in range(tab.boundary_met.shape[0]):
            c[tab.boundary_met[q]] = p[i, tab.boundary_par[q]]
        for j in range(tab.mech.shape[0]):
            ns = tab.n_sub[j]
            nk = ns + tab.n_prod[j]
            for q in range(nk):
                conc[q] = c[tab.met[j, q]]
                k[q] = p[i, tab.km[j, q]]
                dnf[q] = 0.0
                dnb[q] = 0.0
                dd[q] = 0.0
            code = tab.mech[j]
            keq = p[i, tab.keq[j]] if tab.keq[j] >= 0 else 1.0
            h = p[i, tab.hill[j]] if tab.hill[j] >= 0 else 1.0
            if code == 0:
                nf, nb, d = _hill1_gradient(conc, k, ns, nk - ns, keq, f, others, a, dnf, dnb, dd)
            elif code == 1:
                nf, nb, d = _convenience_gradient(
                    conc, k, tab.stoich[j], ns, nk - ns, keq, f, others, a, dnf, dnb, dd
                )
            elif code == 2:
                nf, nb, d = _uni_bi_gradient(conc, k, keq, h, dnf, dnb, dd)
            elif code == 3:
                nf, nb, d = _bi_uni_gradient(conc, k, keq, h, dnf, dnb, dd)
            else:
                nf, nb, d = _irreversible_gradient(conc, k, ns, f, others, dnf)
            fwd = nf / d
            bwd = nb / d
            # small-molecule modifiers: v_fwd·Π m^e_f, v_bwd·Π m^e_b
            nm = tab.n_mod[j]
            for q in range(nm):
                mq = c[tab.mod_met[j, q]]
                mf_pow[q] = _power(mq, tab.fwd_exp[j, q])
                mb_pow[q] = _power(mq, tab.bwd_exp[j, q])
            mf = _products_except(mf_pow, nm, mf_oth)
            mb = _products_except(mb_pow, nm, mb_oth)
            v_max = p[i, tab.vmax[j]]
            rates[i, tab.column[j]] = (fwd * mf - bwd * mb) * v_max
            inv_d = 1.0 / d
            for q in range(nk):
                dfwd = (dnf[q] - fwd * dd[q]) * inv_d
                dbwd = (dnb[q] - bwd * dd[q]) * inv_d
                grad[q] = (dfwd * mf - dbwd * mb) * v_max
            for q in range(nm):
                mq = c[tab.mod_met[j, q]]
                ef = tab.fwd_exp[j, q]
                eb = tab.bwd_exp[j, q]
                dmf = 0.0 if ef == 0.0 else mf_oth[q] * ef * _power(mq, ef - 1.0)
                dmb = 0.0 if eb == 0.0 else mb_oth[q] * eb * _power(mq, eb - 1.0)
                grad_mod[q] = (fwd * dmf - bwd * dmb) * v_max
            e0 = tab.entry_start[j]
            count = tab.n_active[j]
            _write_entries(
                tab.active_kind[j],
                tab.active_index[j],
                count,
                ns,
                grad,
                grad_mod,
                entries[i, e0 : e0 + count],
            )


@njit(cache=True, error_model="numpy", inline="always")
def _write_entries(kinds, indices, count, ns, grad, grad_mod, out):
    """A reaction's ``count`` elasticity entries into ``out`` (where they go in one
    model's row), from its gradient over substrates then products ``grad`` and over
    modifiers ``grad_mod``; ``kinds`` and ``indices`` say what each entry differentiates
    by (:class:`ReactionTables` ``active_kind``, ``active_index``)."""
    for t in range(count):
        kind = kinds[t]
        idx = indices[t]
        if kind == _SUBSTRATE:
            out[t] = grad[idx]
        elif kind == _PRODUCT:
            out[t] = grad[ns + idx]
        elif kind == _MODIFIER:
            out[t] = grad_mod[idx]
        else:
            out[t] = 0.0


@njit(cache=True, error_model="numpy")
def _vector_power(base: np.ndarray, e: float, out: np.ndarray) -> None:
    """``out = base**e`` element-wise for one exponent ``e``: small integers by repeated
    multiplication (vectorised loops), others by ``pow``."""
    n = base.shape[0]
    if e == 0.0:
        for i in range(n):
            out[i] = 1.0
    elif e == np.floor(e) and -8.0 <= e <= 8.0:
        for i in range(n):
            out[i] = base[i]
        for _ in range(int(abs(e)) - 1):
            for i in range(n):
                out[i] *= base[i]
        if e < 0.0:
            for i in range(n):
                out[i] = 1.0 / out[i]
    else:
        for i in range(n):
            out[i] = base[i] ** e


@njit(cache=True, error_model="numpy", inline="always")
def _hill1_rates(c, pt, met, km, keq, ns, npr, d, nf, nb, t1):
    """A generalised reversible Hill reaction (h = 1) for every model: ``D``, ``N_f``,
    ``N_b`` into ``d``, ``nf``, ``nb`` (set to 1 by the caller), as
    :func:`_hill1_gradient`; ``met``, ``km`` its rows of :class:`ReactionTables`, ``keq``
    its K_eq column. (Rows, not the tables: passing the tables to a function costs a
    reference count of every array in them, which a single model's call notices.)"""
    n = d.shape[0]
    for q in range(max(ns, npr)):
        for i in range(n):
            t1[i] = 1.0
        if q < ns:
            cs = c[met[q]]
            ks = pt[km[q]]
            for i in range(n):
                t1[i] += cs[i] / ks[i]
        if q < npr:
            cp = c[met[ns + q]]
            kp = pt[km[ns + q]]
            for i in range(n):
                t1[i] += cp[i] / kp[i]
        for i in range(n):
            d[i] *= t1[i]
    for q in range(ns):
        cs = c[met[q]]
        ks = pt[km[q]]
        for i in range(n):
            nf[i] *= cs[i] / ks[i]
            nb[i] /= ks[i]
    for q in range(npr):
        cp = c[met[ns + q]]
        for i in range(n):
            nb[i] *= cp[i]
    ke = pt[keq]
    for i in range(n):
        nb[i] /= ke[i]


@njit(cache=True, error_model="numpy", inline="always")
def _convenience_rates(c, pt, met, km, stoich, keq, ns, npr, d, nf, nb, t1, d_sub, d_pro):
    """A convenience-kinetics reaction for every model, as :func:`_hill1_rates`
    (``stoich`` its row of stoichiometries; ``d_sub``, ``d_pro`` scratch)."""
    n = d.shape[0]
    for i in range(n):
        d_sub[i] = 1.0
        d_pro[i] = 1.0
    for q in range(ns + npr):
        cq = c[met[q]]
        kq = pt[km[q]]
        e = stoich[q]
        # the power sum Σ_{t≤e} (c/K)^t into t1, by Horner's rule
        for i in range(n):
            t1[i] = 1.0
        for _ in range(int(e)):
            for i in range(n):
                t1[i] = 1.0 + t1[i] * (cq[i] / kq[i])
        target = d_sub if q < ns else d_pro
        for i in range(n):
            target[i] *= t1[i]
        if q < ns:
            for i in range(n):
                t1[i] = cq[i] / kq[i]
            _vector_power(t1, e, t1)
            for i in range(n):
                nf[i] *= t1[i]
            _vector_power(kq, e, t1)
            for i in range(n):
                nb[i] /= t1[i]
        else:
            _vector_power(cq, e, t1)
            for i in range(n):
                nb[i] *= t1[i]
    ke = pt[keq]
    for i in range(n):
        d[i] = d_sub[i] + d_pro[i] - 1.0
        nb[i] /= ke[i]


@njit(cache=True, error_model="numpy", inline="always")
def _two_pair_hill_rates(c, pt, met, km, keq, hill, uni_bi, d, nf, nb):
    """A uni-bi or bi-uni reversible Hill reaction for every model, as
    :func:`_hill1_rates` (the terms of :func:`_reversible_hill_terms`; ``hill`` its Hill
    coefficient's column)."""
    h = pt[hill]
    ke = pt[keq]
    k0 = pt[km[0]]
    k1 = pt[km[1]]
    k2 = pt[km[2]]
    c0 = c[met[0]]
    c1 = c[met[1]]
    c2 = c[met[2]]
    for i in range(d.shape[0]):
        a0 = c0[i] / k0[i]
        a1 = c1[i] / k1[i]
        a2 = c2[i] / k2[i]
        hi = h[i]
        if uni_bi:  # x = a0, y1 = a1, y2 = a2
            u = a0 + a1 * a2
            single = a0
            w1 = _power(a0 + a1, hi)
            w2 = _power(a0 + a2, hi)
        else:  # x1 = a0, x2 = a1, y = a2
            u = a0 * a1 + a2
            single = a2
            w1 = _power(a0 + a2, hi)
            w2 = _power(a1 + a2, hi)
        he = _power(u, hi - 1.0)
        d[i] = 1.0 + w1 + w2 + _power(u, hi) - 2.0 * _power(single, hi)
        if uni_bi:
            nf[i] = a0 * he
            nb[i] = c1[i] * c2[i] * he / (ke[i] * k0[i])
        else:
            nf[i] = a0 * a1 * he
            nb[i] = c2[i] * he / (ke[i] * k0[i] * k1[i])


@njit(cache=True, error_model="numpy", inline="always")
def _modifier_terms(c, mod_met, fwd_exp, bwd_exp, nm, t1, m_fwd, m_bwd):
    """A reaction's modifier monomials ``Π m^e`` on the forward and backward terms, for
    every model, into ``m_fwd`` and ``m_bwd`` (its rows of :class:`ReactionTables`;
    ``t1`` scratch)."""
    n = m_fwd.shape[0]
    for i in range(n):
        m_fwd[i] = 1.0
        m_bwd[i] = 1.0
    for q in range(nm):
        cm = c[mod_met[q]]
        _multiply_power(cm, fwd_exp[q], t1, m_fwd)
        _multiply_power(cm, bwd_exp[q], t1, m_bwd)


@njit(cache=True, error_model="numpy", inline="always")
def _multiply_power(base, e, scratch, target):
    """``target *= base**e`` element-wise (nothing for ``e = 0``; ``scratch`` holds the
    power)."""
    if e != 0.0:
        _vector_power(base, e, scratch)
        for i in range(target.shape[0]):
            target[i] *= scratch[i]


@njit(cache=True, error_model="numpy")
def _rates_by_reaction(
    c: np.ndarray,
    pt: np.ndarray,
    tab: ReactionTables,
    rates_t: np.ndarray,
) -> None:
    """Net rates ``rates_t`` ``(n_reactions, n)`` from the concentrations of every
    metabolite and a trailing constant 1, ``c`` ``(n_metabolites + 1, n)``, and the
    transposed parameter sets ``pt`` ``(n_parameters, n)``.

    Reaction by reaction, each formula a loop over the ``n`` models (contiguous rows:
    the compiler vectorises them), the same arithmetic as :func:`_evaluate`.
    """
    n = c.shape[1]
    d = np.empty(n)  # scratch rows over the models, separate as in _evaluate
    nf = np.empty(n)
    nb = np.empty(n)
    t1 = np.empty(n)
    t2 = np.empty(n)
    t3 = np.empty(n)
    for j in range(tab.mech.shape[0]):
        code = tab.mech[j]
        for i in range(n):
            d[i] = 1.0
            nf[i] = 1.0
            nb[i] = 1.0
        met = tab.met[j]
        km = tab.km[j]
        ns = tab.n_sub[j]
        npr = tab.n_prod[j]
        if code == 0:
            _hill1_rates(c, pt, met, km, tab.keq[j], ns, npr, d, nf, nb, t1)
        elif code == 1:
            stoich = tab.stoich[j]
            _convenience_rates(c, pt, met, km, stoich, tab.keq[j], ns, npr, d, nf, nb, t1, t2, t3)
        elif code == 2 or code == 3:
            _two_pair_hill_rates(c, pt, met, km, tab.keq[j], tab.hill[j], code == 2, d, nf, nb)
        else:  # irreversible Michaelis–Menten: N_f = Π s/(s + K), products inert
            for q in range(ns):
                cs = c[met[q]]
                ks = pt[km[q]]
                for i in range(n):
                    nf[i] *= cs[i] / (cs[i] + ks[i])
            for i in range(n):
                nb[i] = 0.0
        nm = tab.n_mod[j]
        _modifier_terms(c, tab.mod_met[j], tab.fwd_exp[j], tab.bwd_exp[j], nm, t1, t2, t3)
        vm = pt[tab.vmax[j]]
        out = rates_t[tab.column[j]]
        for i in range(n):
            out[i] = (nf[i] / d[i] * t2[i] - nb[i] / d[i] * t3[i]) * vm[i]


@dataclass(frozen=True)
class TransposedParameters:
    """Parameter sets ``values`` ``(n, n_parameters)`` and their C-contiguous transpose
    ``transposed`` ``(n_parameters, n)`` (:meth:`CompiledRates.prepare`)."""

    values: np.ndarray
    transposed: np.ndarray


def flatten_reactions(system: KineticSystem) -> ReactionTables:
    """The :class:`ReactionTables` of a compiled kinetic system: its reaction groups
    (padded to a common shape per group) unpadded into one row per reaction, in the
    order of the elasticity entries (group by group)."""
    model = system.model
    groups, active = system._groups, system._active_slots
    n = system.n_reactions
    width = max(max(len(r.substrates) + len(r.products) for r in model.reactions), 1)
    width_mod = max(max(g.fwd_exponents.shape[1] for g in groups), 1)
    width_act = max(max(len(a) for a in active), 1)
    counts = ("mech", "column", "n_sub", "n_prod", "n_mod", "vmax", "entry_start", "n_active")
    t = {name: np.zeros(n, dtype=np.int64) for name in counts}
    t |= {name: np.full(n, -1, dtype=np.int64) for name in ("keq", "hill")}
    t |= {name: np.zeros((n, width), dtype=np.int64) for name in ("met", "km")}
    t["stoich"] = np.zeros((n, width))
    t["mod_met"] = np.zeros((n, width_mod), dtype=np.int64)
    t |= {name: np.zeros((n, width_mod)) for name in ("fwd_exp", "bwd_exp")}
    t["active_kind"] = np.full((n, width_act), _PADDING, dtype=np.int64)
    t["active_index"] = np.zeros((n, width_act), dtype=np.int64)
    flat = 0
    offsets = system.elasticities.offsets[:-1]
    for g, act, offset in zip(groups, active, offsets, strict=True):
        for row, j in enumerate(g.reactions):
            reaction = model.reactions[j]
            sizes = (len(reaction.substrates), len(reaction.products))
            _flatten_reaction(t, flat, g, row, int(j), sizes, act, offset + row * len(act))
            flat += 1
    return ReactionTables(
        state_met=system._state_cols.astype(np.int64),
        boundary_met=system._boundary_cols.astype(np.int64),
        boundary_par=system._boundary_params.astype(np.int64),
        n_met=len(model.metabolite_ids),
        **t,
    )


def _flatten_reaction(
    t: dict[str, np.ndarray],
    flat: int,
    g: RateGroup,
    row: int,
    column: int,
    sizes: tuple[int, int],
    active: list[int],
    entry_start: int,
) -> None:
    """Row ``flat`` of the tables ``t``: reaction ``column``, row ``row`` of group ``g``
    with ``sizes`` = (substrates, products) of its own (the group's slots are padded) and
    its elasticity entries (the group's ``active`` slots) from ``entry_start`` on."""
    ns, npr = sizes
    big_s, big_p = g.n_substrates, g.n_products
    nm = g.fwd_exponents.shape[1]
    t["mech"][flat] = MECHANISM_CODES[g.mechanism.name]
    t["column"][flat] = column
    t["n_sub"][flat], t["n_prod"][flat], t["n_mod"][flat] = ns, npr, nm
    t["met"][flat, :ns] = g.slots[row, :ns]
    t["met"][flat, ns : ns + npr] = g.slots[row, big_s : big_s + npr]
    t["km"][flat, :ns] = g.km_substrates.columns[row, :ns]
    t["km"][flat, ns : ns + npr] = g.km_products.columns[row, :npr]
    t["stoich"][flat, :ns] = g.stoich_substrates[row, :ns]
    t["stoich"][flat, ns : ns + npr] = g.stoich_products[row, :npr]
    t["mod_met"][flat, :nm] = g.slots[row, big_s + big_p :]
    t["fwd_exp"][flat, :nm] = g.fwd_exponents[row]
    t["bwd_exp"][flat, :nm] = g.bwd_exponents[row]
    if g.mechanism.reversible:
        t["keq"][flat] = g.keq[row]
    if g.mechanism.has_hill:
        t["hill"][flat] = g.hill[row]
    t["vmax"][flat] = g.vmax[row]
    t["entry_start"][flat] = entry_start
    t["n_active"][flat] = len(active)
    for k, slot in enumerate(active):
        if slot < big_s:  # a substrate slot, padding beyond the reaction's own
            kind, idx = (_SUBSTRATE, slot) if slot < ns else (_PADDING, 0)
        elif slot < big_s + big_p:
            idx = slot - big_s
            kind = _PRODUCT if idx < npr else _PADDING
        else:
            kind, idx = _MODIFIER, slot - big_s - big_p
        t["active_kind"][flat, k], t["active_index"][flat, k] = kind, idx


_COMPILED: weakref.WeakKeyDictionary[KineticSystem, CompiledRates] = weakref.WeakKeyDictionary()


def compiled_rates(system: KineticSystem) -> CompiledRates:
    """The :class:`CompiledRates` of ``system``, flattened once per system and kept while
    the system lives."""
    found = _COMPILED.get(system)
    if found is None:
        found = _COMPILED[system] = CompiledRates(system)
    return found


class CompiledRates:
    """Rates and elasticity entries of a :class:`~rekindle.kinetics.system.KineticSystem`,
    compiled (see the module notes).

    Parameters
    ----------
    system
        The compiled kinetic system whose groups and elasticity map are flattened.
    """

    def __init__(self, system: KineticSystem) -> None:
        self._tables = flatten_reactions(system)
        self.n_entries = system.elasticities.n_entries
        self.n_reactions = system.n_reactions
        self._n_states = system.n_states
        self._n_parameters = system.model.n_parameters

    def _inputs(self, concentrations: np.ndarray, parameters: np.ndarray):
        x = np.ascontiguousarray(concentrations, dtype=np.float64)
        p = np.ascontiguousarray(parameters, dtype=np.float64)
        if x.ndim != 2 or p.ndim != 2 or x.shape[1] != self._n_states:
            raise ValueError(f"concentrations must have shape (n, {self._n_states}), got {x.shape}")
        if p.shape != (x.shape[0], self._n_parameters):
            raise ValueError(
                f"parameters must have shape ({x.shape[0]}, {self._n_parameters}), got {p.shape}"
            )
        return x, p

    def prepare(self, parameters: np.ndarray) -> TransposedParameters:
        """Parameter sets ``(n, n_parameters)`` with their transpose, for repeated
        :meth:`rates` calls with the same parameters (an integrator's stages)."""
        p = np.ascontiguousarray(parameters, dtype=np.float64)
        if p.ndim != 2 or p.shape[1] != self._n_parameters:
            raise ValueError(f"parameters must have shape (n, {self._n_parameters}), got {p.shape}")
        return TransposedParameters(p, np.ascontiguousarray(p.T))

    def rates(
        self, concentrations: np.ndarray, parameters: np.ndarray | TransposedParameters
    ) -> np.ndarray:
        """Net rates, µM h⁻¹, ``(n, n_reactions)`` (a transposed view), at concentrations
        ``(n, n_states)`` µM of parameter sets ``(n, n_parameters)`` or :meth:`prepare`'s
        result for them."""
        prepared = parameters if isinstance(parameters, TransposedParameters) else None
        x, p = self._inputs(concentrations, parameters if prepared is None else prepared.values)
        pt = np.ascontiguousarray(p.T) if prepared is None else prepared.transposed
        tab = self._tables
        c = np.ones((tab.n_met + 1, x.shape[0]))
        c[tab.state_met] = x.T
        c[tab.boundary_met] = pt[tab.boundary_par]
        rates_t = np.empty((self.n_reactions, x.shape[0]))
        _rates_by_reaction(c, pt, tab, rates_t)
        return rates_t.T

    def entries(self, concentrations: np.ndarray, parameters: np.ndarray) -> np.ndarray:
        """The elasticity entries of :meth:`rates_and_entries` alone (the rates come with
        them in the same pass)."""
        return self.rates_and_entries(concentrations, parameters)[1]

    def rates_and_entries(
        self, concentrations: np.ndarray, parameters: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`rates` and the elasticity entries ``(n, n_entries)``, h⁻¹, of ``∂v/∂x``
        (zero on entries of padded slots, which the Jacobian's map drops)."""
        x, p = self._inputs(concentrations, parameters)
        n = x.shape[0]
        rates = np.empty((n, self.n_reactions))
        entries = np.empty((n, self.n_entries))
        _evaluate(x, p, self._tables, rates, entries)
        return rates, entries
