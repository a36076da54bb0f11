"""Writing a learning curve (:func:`rekindle.analysis.learning_curve.learning_curve`) to files."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

__all__ = ["write_learning_curve"]


def write_learning_curve(rows: Sequence[dict[str, Any]], output: str | Path) -> dict[str, Path]:
    """Write the learning curve as ``learning_curve.csv``, ``.json`` and ``.png`` in ``output``."""
    from rekindle.analysis.learning_curve import LEARNING_CURVE_FIELDS
    from rekindle.gan.monitoring import write_metrics_csv
    from rekindle.io.atomic import write_json
    from rekindle.plots.fidelity import plot_learning_curve

    out = Path(output)
    out.mkdir(parents=True, exist_ok=True)
    table = [{k: row.get(k) for k in LEARNING_CURVE_FIELDS} for row in rows]
    csv_path = write_metrics_csv(table, out / "learning_curve.csv")
    json_path = write_json(out / "learning_curve.json", list(rows))
    return {
        "csv": csv_path,
        "json": json_path,
        "figure": plot_learning_curve(rows, out / "learning_curve.png"),
    }
