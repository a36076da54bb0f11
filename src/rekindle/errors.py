"""One error hierarchy for everything a user can get wrong.

Every error that means *the input is wrong* (a file, a setting, an argument) derives
from :class:`RekindleError`. The command line catches exactly this base: it prints the
message as one plain line and exits with status 2. Anything else is a bug in rekindle
and keeps its traceback.

The concrete classes also derive from :class:`ValueError`, so code written against
the earlier ``except ValueError`` keeps working.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = [
    "CheckpointError",
    "ConfigError",
    "DatasetError",
    "GenerationError",
    "GeneratorFileError",
    "MissingFileError",
    "ModelError",
    "ParameterFileError",
    "PhysiologyError",
    "RekindleError",
    "UnknownNameError",
    "UsageError",
]


class RekindleError(Exception):
    """Base of every error caused by the user's input; the message names the culprit."""


class UsageError(RekindleError, ValueError):
    """An argument or option is invalid or out of range."""


class MissingFileError(RekindleError, FileNotFoundError):
    """An input file or folder does not exist (also a :class:`FileNotFoundError`)."""


class UnknownNameError(RekindleError, KeyError):
    """An unknown embedded model, physiology or other name (also a :class:`KeyError`)."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0]) if self.args else ""


class ConfigError(RekindleError, ValueError):
    """An invalid or unknown configuration entry."""


class ModelError(RekindleError, ValueError):
    """A model definition is inconsistent; the message names the culprit."""


class PhysiologyError(RekindleError, ValueError):
    """A steady state is inconsistent with its model; the message names the culprit."""


class DatasetError(RekindleError, ValueError):
    """A dataset file is missing, malformed, incomplete or inconsistent."""


class ParameterFileError(RekindleError, ValueError):
    """A parameter population file is malformed; the message names the culprit."""


class CheckpointError(RekindleError, ValueError):
    """A checkpoint cannot be used to resume this training run."""


class GeneratorFileError(RekindleError, ValueError):
    """A generator artefact is corrupted, truncated, of another version or inconsistent."""

    def __init__(self, path: str | os.PathLike[str], problem: str) -> None:
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"cannot load generator file '{self.path}': {problem}")


class GenerationError(RekindleError, RuntimeError):
    """A generator cannot make what was asked (e.g. a class its guide almost never keeps)."""
