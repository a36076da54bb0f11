"""The ``--where`` grammar: a class written as a sentence.

Clauses joined by ``and`` (case-insensitive)::

    max_eig < X            max Re(λ) below X (1/h)
    max_eig > X            max Re(λ) above X
    X < max_eig < Y        a band (also written with >: Y > max_eig > X)
    tau_min < T            dominant time constant below T minutes (also > and bands)
    relevant               max Re(λ) below the paper's threshold (−9 1/h)
    returns                every perturbation returns (the paper's protocol: 10
                           perturbations, ``paper`` protocol, abs-l2 within 1 % at 21 min)
    returns(protocol=paper, criterion=abs-l2, n=10, tol=0.01, t_end=0.35, seed=0)

Anything else is refused with one line naming the culprit (:class:`ConfigError`).
"""

from __future__ import annotations

import math
import re

from rekindle.classes.spec import ClassSpec, ReturnsClause
from rekindle.errors import ConfigError
from rekindle.reference_values import RELEVANCE_THRESHOLD_PER_H

__all__ = ["format_where", "parse_where"]

_TOKEN = re.compile(
    r"\s*(?:(?P<num>[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|(?P<op><|>)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_\-]*)|(?P<punct>[(),=]))"
)
_VARIABLES = {"max_eig": ("eig_below", "eig_above"), "tau_min": ("tau_below", "tau_above")}
_RETURNS_KEYS = {
    "protocol": "protocol",
    "criterion": "criterion",
    "n": "n_perturbations",
    "tol": "tolerance",
    "t_end": "t_end",
    "seed": "seed",
}


def _tokens(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.strip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if m is None or m.end() == pos:
            raise ConfigError(f"--where: cannot read {text[pos:].strip()[:20]!r}")
        kind = m.lastgroup
        assert kind is not None
        out.append((kind, m.group(kind)))
        pos = m.end()
        while pos < len(text) and text[pos].isspace():
            pos += 1
    return out


def _split_and(tokens: list[tuple[str, str]]) -> list[list[tuple[str, str]]]:
    clauses: list[list[tuple[str, str]]] = [[]]
    depth = 0
    for kind, value in tokens:
        if kind == "punct" and value == "(":
            depth += 1
        elif kind == "punct" and value == ")":
            depth -= 1
        if kind == "name" and value.lower() == "and" and depth == 0:
            clauses.append([])
        else:
            clauses[-1].append((kind, value))
    for clause in clauses:
        if not clause:
            raise ConfigError("--where: an empty clause around 'and'")
    return clauses


def _text(clause: list[tuple[str, str]]) -> str:
    return " ".join(v for _, v in clause)


def _bound(clause: list[tuple[str, str]], found: dict) -> None:
    """``VAR op NUM``, ``NUM op VAR`` or ``NUM op VAR op NUM``."""
    kinds = [k for k, _ in clause]
    values = [v for _, v in clause]
    var = next((v for k, v in clause if k == "name"), None)
    if var not in _VARIABLES:
        raise ConfigError(
            f"--where: unknown property {var!r} in {_text(clause)!r} "
            "(known: max_eig, tau_min, relevant, returns)"
        )
    below, above = _VARIABLES[var]
    pairs: list[tuple[str, float]] = []  # (field, value)
    if kinds == ["name", "op", "num"]:
        pairs.append((below if values[1] == "<" else above, float(values[2])))
    elif kinds == ["num", "op", "name"]:
        pairs.append((above if values[1] == "<" else below, float(values[0])))
    elif kinds == ["num", "op", "name", "op", "num"] and values[1] == values[3]:
        lo_first = values[1] == "<"
        pairs.append((above if lo_first else below, float(values[0])))
        pairs.append((below if lo_first else above, float(values[4])))
    else:
        raise ConfigError(
            f"--where: cannot read the clause {_text(clause)!r} "
            f"(write e.g. '{var} < -30' or '-40 < {var} < -30')"
        )
    for name, value in pairs:
        if not math.isfinite(value):
            raise ConfigError(f"--where: {value} is not a finite bound in {_text(clause)!r}")
        if name in found:
            raise ConfigError(f"--where: {var} bounded twice on the same side ({_text(clause)!r})")
        found[name] = value


def _returns(clause: list[tuple[str, str]]) -> ReturnsClause:
    if len(clause) == 1:
        return ReturnsClause()
    if clause[1] != ("punct", "(") or clause[-1] != ("punct", ")"):
        raise ConfigError(f"--where: cannot read {_text(clause)!r} (write returns(n=10, tol=0.01))")
    inner = clause[2:-1]
    kwargs: dict[str, object] = {}
    items: list[list[tuple[str, str]]] = [[]]
    for token in inner:
        if token == ("punct", ","):
            items.append([])
        else:
            items[-1].append(token)
    for item in items:
        if not item:
            continue
        if len(item) != 3 or item[0][0] != "name" or item[1] != ("punct", "="):
            raise ConfigError(f"--where: cannot read {_text(item)!r} in returns(...)")
        key, value = item[0][1], item[2][1]
        if key not in _RETURNS_KEYS:
            raise ConfigError(
                f"--where: unknown returns option {key!r} (known: {', '.join(_RETURNS_KEYS)})"
            )
        field = _RETURNS_KEYS[key]
        if field in ("protocol", "criterion"):
            kwargs[field] = value
        else:
            try:
                number = float(value)
            except ValueError:
                raise ConfigError(f"--where: returns {key}={value!r} is not a number") from None
            kwargs[field] = int(number) if field in ("n_perturbations", "seed") else number
    return ReturnsClause(**kwargs)  # type: ignore[arg-type]


def parse_where(text: str) -> ClassSpec:
    """Parse a ``--where`` sentence into a validated :class:`ClassSpec`.

    Raises
    ------
    ConfigError
        One line naming the unreadable part, unknown property or contradiction.
    """
    if not isinstance(text, str) or not text.strip():
        raise ConfigError("--where: empty class")
    found: dict[str, object] = {}
    for clause in _split_and(_tokens(text)):
        head = clause[0]
        if head[0] == "name" and head[1].lower() == "relevant" and len(clause) == 1:
            if "eig_below" in found:
                raise ConfigError("--where: max_eig bounded twice on the same side ('relevant')")
            found["eig_below"] = float(RELEVANCE_THRESHOLD_PER_H)
        elif head[0] == "name" and head[1].lower() == "returns":
            if "returns" in found:
                raise ConfigError("--where: returns given twice")
            found["returns"] = _returns(clause)
        else:
            _bound(clause, found)
    return ClassSpec(**found)  # type: ignore[arg-type]


def _num(x: float) -> str:
    return repr(float(x))


def format_where(spec: ClassSpec) -> str:
    """The ``--where`` sentence of ``spec``: ``parse_where(format_where(s)) == s``."""
    parts = []
    for var, below, above in (
        ("max_eig", spec.eig_below, spec.eig_above),
        ("tau_min", spec.tau_below, spec.tau_above),
    ):
        if below is not None and above is not None:
            parts.append(f"{_num(above)} < {var} < {_num(below)}")
        elif below is not None:
            parts.append(f"{var} < {_num(below)}")
        elif above is not None:
            parts.append(f"{var} > {_num(above)}")
    if spec.returns is not None:
        r = spec.returns
        parts.append(
            f"returns(protocol={r.protocol}, criterion={r.criterion}, n={r.n_perturbations}, "
            f"tol={_num(r.tolerance)}, t_end={_num(r.t_end)}, seed={r.seed})"
        )
    return " and ".join(parts)
