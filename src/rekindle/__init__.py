"""rekindle: kinetic models of metabolism generated with deep generative networks."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("rekindle")
except PackageNotFoundError:  # pragma: no cover - running from a source tree
    __version__ = "0+unknown"

__all__ = ["__version__"]
