"""Metric records (one dict per row, e.g. one per training epoch) as CSV.

Both generators write their training history with :func:`write_metrics_csv`; the
plots read it back with :func:`read_metrics_csv`. (Also importable from
:mod:`rekindle.gan.monitoring`, its earlier home.)
"""

from __future__ import annotations

import csv
import math
import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from rekindle.io.atomic import write_csv

__all__ = ["read_metrics_csv", "write_metrics_csv"]


def write_metrics_csv(records: Iterable[Mapping[str, float]], path: str | os.PathLike[str]) -> Path:
    """Write metric records (one dict per row) to CSV atomically.

    Columns are the union of the keys in first-seen order; missing values are
    written empty. Returns the path.
    """
    rows = list(records)
    columns: list[str] = []
    for row in rows:
        for key in row:
            if key not in columns:
                columns.append(key)
    return write_csv(path, ([row.get(c, "") for c in columns] for row in rows), header=columns)


def read_metrics_csv(path: str | os.PathLike[str]) -> list[dict[str, float]]:
    """Read a CSV written by :func:`write_metrics_csv`.

    Returns
    -------
    list of dict
        One dict per row; ``epoch`` as ``int``, other numeric columns as
        ``float`` (empty cells -> NaN), non-numeric cells kept as strings.
    """
    out: list[dict[str, float]] = []
    with open(path, newline="") as fh:
        for row in csv.DictReader(fh):
            rec: dict = {}
            for key, value in row.items():
                if value is None or value == "":
                    rec[key] = math.nan
                    continue
                try:
                    num = float(value)
                except ValueError:
                    rec[key] = value
                    continue
                rec[key] = int(num) if key == "epoch" else num
            out.append(rec)
    return out
