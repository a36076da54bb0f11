"""Training figures are written as PNG from records or CSV files."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rekindle.gan import write_metrics_csv
from rekindle.plots.training import plot_incidence_vs_kl, plot_losses, plot_training_curves


def _fake_run(seed: int, n: int = 20) -> list[dict[str, float]]:
    rng = np.random.default_rng(seed)
    epochs = np.arange(1, n + 1) * 10
    kl = np.exp(-epochs / 80) + 0.05 * rng.random(n)
    return [
        {
            "epoch": int(e),
            "d_loss": 0.6 + 0.05 * rng.random(),
            "g_loss": 1.0 + 0.1 * rng.random(),
            "d_accuracy": 0.6 + 0.2 * rng.random(),
            "incidence": float(1 - k) * 0.9,
            "kl_train": float(k),
            "kl_test": float(k) + 0.02,
            "kl_means_train": 0.5 * float(k),
            "spread_ratio": 0.6 + 0.4 * float(1 - k),
            "iqr_ratio": 0.65 + 0.4 * float(1 - k),
            "seconds": float(e),
        }
        for e, k in zip(epochs, kl, strict=True)
    ]


def _is_png(path: Path) -> bool:
    return path.exists() and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plots(tmp_path: Path) -> None:
    runs = [_fake_run(s, n=20 - s) for s in range(3)]  # repeats of different lengths
    csv = write_metrics_csv(runs[0], tmp_path / "metrics.csv")
    assert _is_png(plot_losses(csv, tmp_path / "losses.png"))
    assert _is_png(plot_losses(runs[1], tmp_path / "sub" / "losses2.png", title="run 1"))
    assert _is_png(plot_training_curves(runs, tmp_path / "curves.png"))
    assert _is_png(plot_training_curves(csv, tmp_path / "curves1.png"))
    assert _is_png(plot_incidence_vs_kl(runs, tmp_path / "scatter.png"))
    assert _is_png(plot_incidence_vs_kl([csv, runs[1]], tmp_path / "s2.png", pooled=True))
