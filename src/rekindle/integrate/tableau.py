"""Rosenbrock tableaux: the coefficients of the integration methods.

A :class:`RosenbrockTableau` holds an embedded Rosenbrock(-W) method in the transformed
form of Hairer & Wanner (no product with the Jacobian). Two methods are provided, each
with its literature reference beside its constants: :data:`RODAS4` (default) and
:data:`ROS34PW2`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike


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


def resolve_method(method: str | RosenbrockTableau) -> RosenbrockTableau:
    """The tableau of ``method``: a name in :data:`METHODS` (any case) or a tableau."""
    if isinstance(method, RosenbrockTableau):
        return method
    try:
        return METHODS[method.lower()]
    except KeyError:
        raise ValueError(f"unknown method {method!r}; available: {', '.join(METHODS)}") from None
