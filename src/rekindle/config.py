"""One base for every settings object of rekindle.

Settings are frozen dataclasses deriving from :class:`Settings`. The base gives them
one behaviour:

* :meth:`Settings.from_dict` builds an instance from a mapping and refuses unknown
  keys with a :class:`~rekindle.errors.ConfigError` naming them (lists are accepted for
  tuple-valued fields);
* :meth:`Settings.to_dict` returns plain builtins (tuples as lists, nested settings as
  dicts), safe for JSON, YAML and ``torch.load(weights_only=True)``;
* :meth:`Settings.replace` returns a validated copy with some fields changed;
* validation runs in ``__post_init__``: a subclass implements :meth:`Settings.validate`
  and raises :class:`~rekindle.errors.ConfigError` (helpers: :func:`check`,
  :func:`check_choice`, :func:`check_positive_int`);
* :meth:`Settings.default` reads a field's default, so a command-line option declares
  ``= SomeSettings.default("epochs")`` instead of repeating the literal.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Collection, Mapping
from typing import Any, TypeVar

from rekindle.errors import ConfigError

__all__ = ["Settings", "check", "check_choice", "check_positive_int", "is_int", "is_real"]

_S = TypeVar("_S", bound="Settings")


def check(cond: bool, msg: str) -> None:
    """Raise :class:`~rekindle.errors.ConfigError` with ``msg`` unless ``cond``."""
    if not cond:
        raise ConfigError(msg)


def is_int(x: Any) -> bool:
    """An ``int`` that is not a ``bool``."""
    return isinstance(x, int) and not isinstance(x, bool)


def is_real(x: Any) -> bool:
    """A finite ``int`` or ``float`` that is not a ``bool``."""
    return isinstance(x, int | float) and not isinstance(x, bool) and math.isfinite(x)


def check_positive_int(settings: Settings, *names: str, minimum: int = 1) -> None:
    """Each named field is an ``int`` ≥ ``minimum``."""
    for name in names:
        value = getattr(settings, name)
        check(
            is_int(value) and value >= minimum, f"{name} must be an int >= {minimum}, got {value!r}"
        )


def check_choice(settings: Settings, name: str, choices: Collection[Any]) -> None:
    """The named field is one of ``choices``."""
    value = getattr(settings, name)
    check(
        value in choices,
        f"unknown {name} {value!r} (known: {', '.join(map(str, choices))})",
    )


class Settings:
    """Base of the frozen settings dataclasses (subclasses add ``@dataclass(frozen=True)``)."""

    def __post_init__(self) -> None:
        self.validate()

    def validate(self) -> None:
        """Raise :class:`~rekindle.errors.ConfigError` on an invalid field (override)."""

    def to_dict(self) -> dict[str, Any]:
        """Field name → value, tuples as lists (plain builtins only)."""
        out: dict[str, Any] = {}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            if isinstance(value, Settings):
                value = value.to_dict()
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls: type[_S], data: Mapping[str, Any] | None) -> _S:
        """Build from a mapping (``None``: the defaults), refusing unknown keys.

        Raises
        ------
        ConfigError
            A key that is not a field (all such keys are named), or a value that fails
            :meth:`validate`.
        """
        if data is None:
            return cls()
        if not isinstance(data, Mapping):
            raise ConfigError(f"{cls.__name__}.from_dict expects a mapping, got {type(data)!r}")
        fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(str(k) for k in data if k not in fields)
        if unknown:
            raise ConfigError(
                f"unknown {cls.__name__} key(s): {', '.join(unknown)}; "
                f"valid keys are: {', '.join(sorted(fields))}"
            )
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            default = fields[key].default
            if (
                default is dataclasses.MISSING
                and fields[key].default_factory is not dataclasses.MISSING
            ):
                default = fields[key].default_factory()
            if isinstance(default, tuple) and isinstance(value, list | tuple):
                value = tuple(value)
            elif isinstance(default, Settings) and isinstance(value, Mapping):
                value = type(default).from_dict(value)  # nested settings
            kwargs[key] = value
        return cls(**kwargs)

    def replace(self: _S, **changes: Any) -> _S:
        """A copy with some fields changed, validated like :meth:`from_dict`."""
        merged = self.to_dict()
        merged.update(changes)
        return type(self).from_dict(merged)

    @classmethod
    def default(cls, name: str) -> Any:
        """The declared default of field ``name`` (for command-line option defaults)."""
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name == name:
                if f.default is not dataclasses.MISSING:
                    return f.default
                if f.default_factory is not dataclasses.MISSING:
                    return f.default_factory()
                raise ConfigError(f"{cls.__name__}.{name} has no default")
        raise ConfigError(f"{cls.__name__} has no field {name!r}")
