"""Class-conditional normalising-flow generator (an alternative to the cGAN).

Public entry point: :class:`KineticFlow` (fit, generate, save, load), with the interface of
:class:`rekindle.gan.KineticGAN` so that generation, validation and the CLI take either;
:class:`GuideConfig` sets up its relevance guide (Bayes-rule generation of a class,
:mod:`rekindle.flow.guide`). The settings import without torch; the rest on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

from .config import FlowConfig, GuideConfig

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FlowConfig",
    "GuideConfig",
    "KineticFlow",
    "RelevanceGuide",
]

_LAZY = {
    "FORMAT_NAME": ".model",
    "FORMAT_VERSION": ".model",
    "KineticFlow": ".model",
    "RelevanceGuide": ".guide",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
