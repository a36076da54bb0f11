"""Tests for rekindle.integrate.tableau: order conditions and stability of the methods."""

from __future__ import annotations

import numpy as np
import pytest

from rekindle.integrate import METHODS, RODAS4, ROS34PW2, RosenbrockTableau, resolve_method


def _order_conditions(alpha, big_gamma, b):
    """Residuals of the Rosenbrock order conditions up to order 4 (Hairer–Wanner IV.7)."""
    s = b.size
    g = big_gamma[0, 0]
    beta = alpha + big_gamma - g * np.eye(s)  # α_ij + γ_ij, strictly lower
    a = alpha.sum(axis=1)
    bp = beta.sum(axis=1)
    return np.array(
        [
            b.sum() - 1,
            b @ bp - (0.5 - g),
            b @ a**2 - 1 / 3,
            b @ beta @ bp - (1 / 6 - g + g**2),
            b @ a**3 - 1 / 4,
            b @ (a * (alpha @ bp)) - (1 / 8 - g / 3),
            b @ beta @ a**2 - (1 / 12 - g / 3),
            b @ beta @ beta @ bp - (1 / 24 - g / 2 + 1.5 * g**2 - g**3),
        ]
    )


def test_rodas4_has_order_4_and_stiffly_accurate_embedded_method() -> None:
    alpha, big_gamma, b, b_hat = RODAS4.standard_form()
    np.testing.assert_allclose(_order_conditions(alpha, big_gamma, b), 0, atol=1e-12)
    np.testing.assert_allclose(_order_conditions(alpha, big_gamma, b_hat)[:4], 0, atol=1e-12)
    assert abs(_order_conditions(alpha, big_gamma, b_hat)[4:]).max() > 1e-3  # order 3 only
    assert abs(RODAS4.stability_function(-1e12)) < 1e-9  # L-stable
    assert abs(RODAS4.stability_function(-1e12, embedded=True)) < 1e-9
    ys = np.linspace(-1e3, 1e3, 2001)
    assert max(abs(RODAS4.stability_function(1j * y)) for y in ys) <= 1 + 1e-12


def test_ros34pw2_has_order_3_and_is_a_w_method() -> None:
    alpha, big_gamma, b, b_hat = ROS34PW2.standard_form()
    np.testing.assert_allclose(_order_conditions(alpha, big_gamma, b)[:4], 0, atol=1e-12)
    np.testing.assert_allclose(_order_conditions(alpha, big_gamma, b_hat)[:2], 0, atol=1e-12)
    # W-method conditions to order 2 (any matrix in place of J): Σ b α_i = ½, Σ b γ_i = −γ
    g = ROS34PW2.gamma
    gam_off = big_gamma - g * np.eye(4)
    for w in (b, b_hat):
        assert w @ alpha.sum(axis=1) == pytest.approx(0.5, abs=1e-12)
        assert w @ gam_off.sum(axis=1) == pytest.approx(-g, abs=1e-12)
    assert abs(ROS34PW2.stability_function(-1e12)) < 1e-9
    assert ROS34PW2.w_method and not RODAS4.w_method


def test_standard_form_round_trips() -> None:
    alpha, big_gamma, b, b_hat = ROS34PW2.standard_form()
    g = ROS34PW2.gamma
    again = RosenbrockTableau.from_standard_form(
        "copy", g, alpha, big_gamma - g * np.eye(4), b, b_hat, 3, 2, w_method=True
    )
    for name in ("a", "c", "m", "m_hat"):
        np.testing.assert_allclose(getattr(again, name), getattr(ROS34PW2, name), atol=1e-13)
    assert ROS34PW2.stages == 4 and RODAS4.stages == 6


def test_stability_function_matches_one_step_of_the_method() -> None:
    """R(z) from the tableau equals one step of y' = λy computed from the transformed form."""
    lam, h = -3.0, 0.2
    for tab in METHODS.values():
        u = np.zeros(tab.stages)
        for i in range(tab.stages):
            yi = 1.0 + tab.a[i, :i] @ u[:i]
            rhs = lam * yi + tab.c[i, :i] @ u[:i] / h
            u[i] = rhs / (1.0 / (h * tab.gamma) - lam)
        y1 = 1.0 + tab.m @ u
        assert y1 == pytest.approx(tab.stability_function(h * lam).real, rel=1e-12)
        # order p: |R(z) − e^z| = O(z^{p+1})
        assert abs(y1 - np.exp(h * lam)) < (h * abs(lam)) ** (tab.order + 1)


def test_resolve_method() -> None:
    assert resolve_method("RODAS4") is RODAS4 and resolve_method(ROS34PW2) is ROS34PW2
    with pytest.raises(ValueError, match="unknown method"):
        resolve_method("euler")
