"""Class-conditional normalising-flow generator (an alternative to the cGAN).

Public entry point: :class:`KineticFlow` (fit, generate, save, load), with the interface of
:class:`rekindle.gan.KineticGAN` so that generation, validation and the CLI take either;
:class:`GuideConfig` sets up its relevance guide (Bayes-rule generation of a class,
:mod:`rekindle.flow.guide`).
"""

from .guide import GuideConfig, RelevanceGuide
from .model import FORMAT_NAME, FORMAT_VERSION, KineticFlow
from .training import FlowConfig

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "FlowConfig",
    "GuideConfig",
    "KineticFlow",
    "RelevanceGuide",
]
