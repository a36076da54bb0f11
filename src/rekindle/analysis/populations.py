"""Names of the populations an analysis compares: unique, readable, chosen or derived.

``rekindle dynamics runA/oracle.h5 runB/oracle.h5`` compares two populations; naming
them by file stem alone would merge them into one. :func:`population_names` keeps the
stem where it is unique and otherwise adds as many parent folders as it takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from rekindle.errors import UsageError


def population_names(paths: Sequence[Path], labels: Sequence[str] = ()) -> list[str]:
    """One unique name per dataset path.

    Parameters
    ----------
    paths
        Dataset files, in the order of the analysis.
    labels
        Names given by the user (``--label``), one per path, or none.

    Returns
    -------
    list of str
        ``labels`` if given, else the file stems, lengthened by their parent folders
        (``runA/oracle``) where two stems are equal.

    Raises
    ------
    UsageError
        Labels not one per path, a label repeated, or the same file given twice.
    """
    if labels:
        if len(labels) != len(paths):
            raise UsageError(f"{len(labels)} --label for {len(paths)} datasets; give one each")
        _require_unique(list(labels), "--label")
        return list(labels)
    resolved = [Path(p).resolve() for p in paths]
    _require_unique([str(p) for p in resolved], "dataset")
    depth = [1] * len(paths)
    while True:
        names = [
            "/".join([*p.parent.parts[len(p.parent.parts) - d + 1 :], p.stem])
            for p, d in zip(resolved, depth, strict=True)
        ]
        clashing = {n for n in names if names.count(n) > 1}
        if not clashing:
            return names
        depth = [d + 1 if n in clashing else d for n, d in zip(names, depth, strict=True)]


def _require_unique(values: list[str], what: str) -> None:
    repeated = sorted({v for v in values if values.count(v) > 1})
    if repeated:
        raise UsageError(f"{what} {repeated[0]} given twice")
