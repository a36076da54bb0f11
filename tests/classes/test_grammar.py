"""The --where grammar: round trips, and refusals in one line naming the culprit."""

from __future__ import annotations

import numpy as np
import pytest

from rekindle.classes import ClassSpec, ReturnsClause, format_where, parse_where
from rekindle.errors import ConfigError


@pytest.mark.parametrize(
    "text",
    [
        "max_eig < -33",
        "max_eig > -50",
        "-40 < max_eig < -30",
        "-30 > max_eig > -40",
        "tau_min < 2",
        "1 < tau_min < 5 and max_eig < -20",
        "relevant and returns",
        "max_eig < -9 and returns(protocol=uniform, criterion=abs-l2, n=3, tol=0.05, t_end=0.2)",
    ],
)
def test_round_trip(text: str) -> None:
    spec = parse_where(text)
    assert parse_where(format_where(spec)) == spec
    assert ClassSpec.from_dict(spec.to_dict()) == spec


def test_meaning() -> None:
    band = parse_where("-40 < max_eig < -30")
    assert band.eig_interval == (-40.0, -30.0)
    lam = np.array([-45.0, -40.0, -35.0, -30.0, -20.0, np.nan])
    assert band.evaluate(lam).tolist() == [False, False, True, False, False, False]
    # τ = 60/(−λ) minutes: τ < 2 min ⇔ λ < −30 1/h
    assert parse_where("tau_min < 2").eig_interval == (-np.inf, -30.0)
    assert parse_where("relevant").eig_interval == (-np.inf, -9.0)
    r = parse_where("returns").returns
    assert r == ReturnsClause(protocol="paper", n_perturbations=10, tolerance=0.01, t_end=0.35)


@pytest.mark.parametrize(
    ("text", "culprit"),
    [
        ("", "empty"),
        ("max_eg < 3", "max_eg"),
        ("max_eig < -3 or tau_min < 2", "or"),
        ("max_eig < -40 and max_eig > -30", "contradictory"),
        ("max_eig < -3 and max_eig < -5", "twice"),
        ("tau_min < 0", "tau_below"),
        ("returns(foo=1)", "foo"),
        ("returns(protocol=nope)", "nope"),
        ("returns(n=0)", "n must"),
        ("max_eig < -3 and", "empty clause"),
        ("max_eig ! 3", "!"),
    ],
)
def test_refusals_name_the_culprit(text: str, culprit: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_where(text)
    message = str(info.value)
    assert "\n" not in message
    assert culprit in message


def test_from_dict_refuses_unknown_keys() -> None:
    with pytest.raises(ConfigError, match="wibble"):
        ClassSpec.from_dict({"eig_below": -3.0, "wibble": 1})
    with pytest.raises(ConfigError, match="empty class"):
        ClassSpec()
