"""Rate laws of the kinetic mechanisms, vectorised over models and reactions.

Every rate law is written for a *group* of reactions that share a mechanism and the
same number of substrates and products, evaluated for many parameter sets at once.
All functions are analytic in their inputs (no ``abs``, no branches on values), so
they accept complex arrays: the engine differentiates them exactly by the complex-step
method (Squire & Trapp, SIAM Rev. 40, 110 (1998)).

Conventions (shared with SKiMpy, see ``docs``/README):

* concentrations in µM, rates in µM h⁻¹, ``V`` is ``vmax_forward``;
* ``v = v_fwd − v_bwd``; every function here returns ``(v_fwd, v_bwd)`` for ``V = 1``;
  the caller multiplies by ``V`` and by the small-molecule modifier factors;
* shapes: ``s``/``ks`` are ``(..., R, n_substrates)``, ``p``/``kp`` are
  ``(..., R, n_products)``, ``keq``/``hill`` are ``(..., R)``; stoichiometries
  ``ns``/``np_`` are absolute values, ``(R, n_substrates)`` / ``(R, n_products)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

Array = np.ndarray
_prod = np.multiply.reduce  # np.prod without its Python wrapper (same result)
RateLaw = Callable[..., tuple[Array, Array]]


def _pad_pairs(s: Array, ks: Array, p: Array, kp: Array) -> tuple[Array, Array]:
    """Return ``s/ks`` and ``p/kp`` padded with zeros to a common last dimension."""
    a = s / ks
    b = p / kp
    n = max(a.shape[-1], b.shape[-1])
    if a.shape[-1] < n:
        a = np.concatenate([a, np.zeros((*a.shape[:-1], n - a.shape[-1]), a.dtype)], axis=-1)
    if b.shape[-1] < n:
        b = np.concatenate([b, np.zeros((*b.shape[:-1], n - b.shape[-1]), b.dtype)], axis=-1)
    return a, b


def reversible_michaelis_menten(s, p, ks, kp, keq, hill, ns, np_):
    """Uni-uni reversible Michaelis–Menten.

    ``D = 1 + s/Ks + p/Kp``; ``v_fwd = (s/Ks)/D``; ``v_bwd = (p/Ks)/(Keq D)``
    (the backward term divides by the *substrate* K_M: Haldane relation).
    """
    s0, p0, k_s, k_p = s[..., 0], p[..., 0], ks[..., 0], kp[..., 0]
    d = 1.0 + s0 / k_s + p0 / k_p
    return (s0 / k_s) / d, (p0 / k_s) / (keq * d)


def generalized_reversible_hill(s, p, ks, kp, keq, hill, ns, np_):
    """Generalised reversible Hill with h = 1 (SKiMpy ``H1GeneralizedReversibleHill``).

    ``D = Π_k (1 + s_k/K_sk + p_k/K_pk)`` with substrate *k* paired to product *k*
    (label order matters); ``v_fwd = Π s_i/K_si / D``;
    ``v_bwd = Π K_si⁻¹ Π p_j / (Keq D)``. Slots of stoichiometry 0 are padding (the
    constant 1 with K_M 1) and left out of ``D``; one pair is reversible
    Michaelis–Menten.
    """
    a, b = _pad_pairs(s, ks, p, kp)
    d = _prod(1.0 + present(a, ns) + present(b, np_), axis=-1)
    fwd = _prod(a[..., : s.shape[-1]], axis=-1)
    bwd = _prod(p, axis=-1) / _prod(ks, axis=-1)
    return fwd / d, bwd / (keq * d)


def present(x: Array, n: Array) -> Array:
    """``x`` with zeros on padded slots (stoichiometry 0) of a merged reaction group.

    ``x`` ``(..., R, m)``; ``n`` ``(R, k)`` with ``k ≤ m`` (slots beyond ``k`` are left).
    """
    if n.all():
        return x
    keep = np.ones(x.shape[-2:], dtype=bool)
    keep[:, : n.shape[-1]] = n > 0
    return np.where(keep, x, 0.0)


def _saturation_sum(x: Array, n: Array) -> Array:
    """``Σ_{a=0..n} x^a`` per element; ``n`` integer-valued, broadcast over leading axes."""
    n_max = int(np.max(n)) if n.size else 0
    total = np.ones_like(x)
    power = np.ones_like(x)
    for a in range(1, n_max + 1):
        power = power * x
        total = total + np.where(n >= a, power, 0.0)
    return total


def convenience(s, p, ks, kp, keq, hill, ns, np_):
    """Convenience kinetics (Liebermeister & Klipp, Theor. Biol. Med. Model. 3, 41 (2006)).

    ``D = Π_i Σ_{a≤|n_i|} (s_i/K_si)^a + Π_j Σ_{a≤|n_j|} (p_j/K_pj)^a − 1``;
    ``v_fwd = Π (s_i/K_si)^|n_i| / D``; ``v_bwd = Π K_si^−|n_i| Π p_j^|n_j| / (Keq D)``.
    """
    a = s / ks
    b = p / kp
    d = _prod(_saturation_sum(a, ns), axis=-1) + _prod(_saturation_sum(b, np_), axis=-1) - 1.0
    fwd = _prod(a**ns, axis=-1)
    bwd = _prod(p**np_, axis=-1) / _prod(ks**ns, axis=-1)
    return fwd / d, bwd / (keq * d)


def uni_bi_reversible_hill(s, p, ks, kp, keq, hill, ns, np_):
    """Uni-bi reversible Hill (SKiMpy ``UniBiReversibleHill``).

    ``he = (s/Ks + p1 p2/(Kp1 Kp2))^(h−1)``;
    ``D = 1 + (s/Ks + p1/Kp1)^h + (s/Ks + p2/Kp2)^h + (s/Ks + p1 p2/(Kp1 Kp2))^h − 2 (s/Ks)^h``;
    ``v_fwd = (s/Ks) he/D``; ``v_bwd = p1 p2 he/(Keq Ks D)``.
    """
    x = s[..., 0] / ks[..., 0]
    y1 = p[..., 0] / kp[..., 0]
    y2 = p[..., 1] / kp[..., 1]
    y12 = y1 * y2
    he = (x + y12) ** (hill - 1.0)
    d = 1.0 + (x + y1) ** hill + (x + y2) ** hill + (x + y12) ** hill - 2.0 * x**hill
    fwd = x * he / d
    bwd = p[..., 0] * p[..., 1] * he / (keq * ks[..., 0] * d)
    return fwd, bwd


def bi_uni_reversible_hill(s, p, ks, kp, keq, hill, ns, np_):
    """Bi-uni reversible Hill, the mirror image of :func:`uni_bi_reversible_hill`.

    ``he = (s1 s2/(K1 K2) + p/Kp)^(h−1)``;
    ``D = 1 + (s1/K1 + p/Kp)^h + (s2/K2 + p/Kp)^h + (s1 s2/(K1 K2) + p/Kp)^h − 2 (p/Kp)^h``;
    ``v_fwd = s1 s2/(K1 K2) he/D``; ``v_bwd = p he/(Keq K1 K2 D)``.
    """
    x1 = s[..., 0] / ks[..., 0]
    x2 = s[..., 1] / ks[..., 1]
    y = p[..., 0] / kp[..., 0]
    x12 = x1 * x2
    he = (x12 + y) ** (hill - 1.0)
    d = 1.0 + (x1 + y) ** hill + (x2 + y) ** hill + (x12 + y) ** hill - 2.0 * y**hill
    fwd = x12 * he / d
    bwd = p[..., 0] * he / (keq * ks[..., 0] * ks[..., 1] * d)
    return fwd, bwd


def irreversible_michaelis_menten(s, p, ks, kp, keq, hill, ns, np_):
    """Irreversible multi-substrate Michaelis–Menten: ``v = Π s_i/(s_i + K_si)``.

    Stoichiometries are ignored (a substrate consumed twice enters with power 1) and
    product K_M are parameters without effect, as in SKiMpy.
    """
    fwd = _prod(s / (s + ks), axis=-1)
    return fwd, np.zeros_like(fwd)


@dataclass(frozen=True)
class Mechanism:
    """A rate law and the shape of its parameter list.

    Attributes
    ----------
    name
        Mechanism name as used in model files (SKiMpy class names).
    rate_law
        Vectorised function returning ``(v_fwd, v_bwd)`` for ``V = 1``.
    reversible
        Whether the mechanism has a backward term (and thus a ``k_equilibrium``).
    has_hill
        Whether the mechanism has a ``hill_coefficient`` parameter.
    n_substrates, n_products
        Allowed numbers of substrates/products as ``(min, max)``.
    single_labels
        Whether parameter labels are ``substrate``/``product`` (uni-uni) instead of
        numbered ``substrate1``… (SKiMpy naming).
    stoichiometry_in_rate
        Whether stoichiometric coefficients enter the rate law (Convenience only).
    substrates_first
        Order of the K_M parameters: all substrates then all products (``True``) or
        alternating ``substrate1, product1, …`` (``False``), as in SKiMpy.
    """

    name: str
    rate_law: RateLaw
    reversible: bool
    has_hill: bool
    n_substrates: tuple[int, int]
    n_products: tuple[int, int]
    single_labels: tuple[bool, bool] = (False, False)
    stoichiometry_in_rate: bool = False
    substrates_first: bool = False


MECHANISMS: dict[str, Mechanism] = {
    m.name: m
    for m in (
        Mechanism(
            "ReversibleMichaelisMenten",
            reversible_michaelis_menten,
            True,
            False,
            (1, 1),
            (1, 1),
            (True, True),
        ),
        Mechanism(
            "H1GeneralizedReversibleHill", generalized_reversible_hill, True, False, (1, 8), (1, 8)
        ),
        Mechanism(
            "Convenience", convenience, True, False, (1, 8), (1, 8), stoichiometry_in_rate=True
        ),
        Mechanism(
            "UniBiReversibleHill", uni_bi_reversible_hill, True, True, (1, 1), (2, 2), (True, False)
        ),
        Mechanism(
            "BiUniReversibleHill",
            bi_uni_reversible_hill,
            True,
            True,
            (2, 2),
            (1, 1),
            (False, True),
            substrates_first=True,
        ),
        Mechanism(
            "IrrevMichaelisMenten", irreversible_michaelis_menten, False, False, (1, 64), (0, 64)
        ),
    )
}

MODIFIER_KINDS = ("displacement", "first_order")
"""Small-molecule modifiers.

``displacement`` (SKiMpy ``DisplacementSmallMoleculeModifier``, stoichiometry n, metabolite
m): ``v_bwd ← v_bwd · m^n``. ``first_order`` (``FirstOrderSmallMoleculeModifier``):
``n < 0``: ``v_fwd ← v_fwd · m^|n|``; ``n > 0``: ``v_bwd ← v_bwd · m^n``. Both act on
the backward term only of reversible reactions when n > 0; on an irreversible reaction
(``v_bwd = 0``) only a first-order modifier with n < 0 has an effect.
"""


def label_names(mechanism: Mechanism, n_substrates: int, n_products: int) -> list[str]:
    """Names of the K_M labels of a reaction, in SKiMpy parameter order.

    Substrates and products alternate (``substrate1, product1, substrate2, …``) unless
    the mechanism lists substrates first; a single label is written without its number.

    Returns
    -------
    list of str
        e.g. ``["substrate1", "product1", "substrate2"]``.
    """
    subs = (
        ["substrate"]
        if mechanism.single_labels[0] and n_substrates == 1
        else [f"substrate{i + 1}" for i in range(n_substrates)]
    )
    prods = (
        ["product"]
        if mechanism.single_labels[1] and n_products == 1
        else [f"product{i + 1}" for i in range(n_products)]
    )
    if mechanism.substrates_first:
        return subs + prods
    out: list[str] = []
    for i in range(max(len(subs), len(prods))):
        if i < len(subs):
            out.append(subs[i])
        if i < len(prods):
            out.append(prods[i])
    return out
