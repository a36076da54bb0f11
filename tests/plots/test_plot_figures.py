"""Every plotting function writes a non-blank PNG of the documented pixel size."""

from __future__ import annotations

from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from rekindle.analysis.trajectories import pca_trajectories
from rekindle.plots import _style
from rekindle.plots.dynamics import FIGSIZE as DYN_FIGSIZE
from rekindle.plots.dynamics import eigenvalue_axis_range, plot_dynamics
from rekindle.plots.interpretability import (
    DECILE_FIGSIZE,
    plot_decile_eigenvalues,
    plot_top_parameters,
    top_parameters_figsize,
)
from rekindle.plots.perturbation import (
    FRACTION_FIGSIZE,
    PAPER_RETURNED_FRACTION,
    TRAJECTORY_FIGSIZE,
    draw_pca_trajectories,
    plot_pca_trajectories,
    plot_returned_fraction,
    trajectory_frame,
)
from rekindle.plots.transfer import (
    VALIDATION_FIGSIZE,
    aggregate_transfer_rows,
    plot_transfer_incidence,
    plot_transfer_validation,
    transfer_incidence_figsize,
)


def _check_png(path: Path, figsize: tuple[float, float]) -> np.ndarray:
    assert path.is_file() and path.suffix == ".png"
    assert path.stat().st_size > 1000
    img = mpimg.imread(path)
    w, h = (round(figsize[0] * _style.DPI), round(figsize[1] * _style.DPI))
    assert img.shape[:2] == (h, w)
    rgb = img[..., :3]
    assert float(rgb.std()) > 0.01, "image is blank"
    return img


@pytest.fixture(scope="module")
def rng() -> np.random.Generator:
    return np.random.default_rng(11)


@pytest.fixture(scope="module")
def eig_populations(rng) -> dict[str, np.ndarray]:
    oracle = -np.exp(rng.normal(np.log(20.0), 0.8, 3000))
    oracle[:30] = rng.uniform(0.0, 2.0, 30)  # a few unstable models
    oracle[30:35] = np.nan
    rekindle = -np.exp(rng.normal(np.log(60.0), 0.5, 3000))
    return {"ORACLE": oracle, "REKINDLE": rekindle}


def test_plot_dynamics(tmp_path, eig_populations) -> None:
    out = plot_dynamics(eig_populations, tmp_path / "fig2d_dynamics.png", title="test")
    _check_png(out, DYN_FIGSIZE)


def test_plot_dynamics_three_populations_and_suffix(tmp_path, eig_populations) -> None:
    pops = {**eig_populations, "repeat 3": eig_populations["REKINDLE"] * 1.2}
    out = plot_dynamics(pops, tmp_path / "dyn", tau_line_min=None)
    assert out.name == "dyn.png"
    _check_png(out, DYN_FIGSIZE)
    with pytest.raises(ValueError):
        plot_dynamics({}, tmp_path / "empty.png")


def test_eigenvalue_axis_shows_the_bulk_not_the_unstable_tail(rng) -> None:
    """An ORACLE-like population with a quarter of unstable models up to 3·10⁴ 1/h."""
    stable = rng.uniform(-35.0, -5.0, 3000)
    unstable = np.exp(rng.uniform(0.0, np.log(3e4), 1000))
    lo, hi = eigenvalue_axis_range({"ORACLE": np.concatenate([stable, unstable])})
    assert -37.0 < lo < -34.0  # the 0.5th percentile, padded
    assert 0.0 < hi < 60.0  # median + 2 (median − p0.5), not the 99.5th percentile
    inside = (stable >= lo) & (stable <= hi)
    assert inside.mean() > 0.99  # the stable bulk spans the axis
    # a population without a tail keeps its 0.5–99.5 percentile range (with the threshold)
    lo2, hi2 = eigenvalue_axis_range({"G": rng.uniform(-30.0, -10.0, 2000)})
    assert hi2 == pytest.approx(-9.0 + 0.03 * (-9.0 - lo2), abs=0.5)


def _trajectories(rng) -> tuple[np.ndarray, np.ndarray]:
    n_states, t = 12, np.linspace(0.0, 0.35, 60)
    rates = np.linspace(8.0, 30.0, n_states)
    trajs, returned = [], []
    for i in range(5):
        y0 = rng.uniform(-0.5, 0.5, n_states)
        sign = -1.0 if i < 4 else 0.5
        trajs.append(y0 * np.exp(sign * np.outer(t, rates)))
        returned.append(i < 4)
    return np.array(trajs), np.array(returned)


def test_plot_pca_trajectories(tmp_path, rng) -> None:
    trajs, returned = _trajectories(rng)
    pca = pca_trajectories(trajs)
    out = plot_pca_trajectories(pca, returned, tmp_path / "fig2e_left.png")
    _check_png(out, TRAJECTORY_FIGSIZE)
    out2 = plot_pca_trajectories(pca.scores, returned, tmp_path / "plain.png",
                                 explained_variance_ratio=pca.explained_variance_ratio)
    _check_png(out2, TRAJECTORY_FIGSIZE)
    with pytest.raises(ValueError):
        plot_pca_trajectories(pca.scores, returned[:2], tmp_path / "bad.png")
    two = plot_pca_trajectories(
        pca, returned, tmp_path / "views.png", returned_view=pca_trajectories(trajs[returned])
    )
    _check_png(two, (2 * TRAJECTORY_FIGSIZE[0], TRAJECTORY_FIGSIZE[1]))


def test_trajectory_plane_is_framed_by_the_returned_trajectories(tmp_path, rng) -> None:
    """One escaped path 1000x larger than the rest leaves the frame and is counted."""
    trajs, returned = _trajectories(rng)  # 4 returned, 1 escaped
    scale = np.abs(trajs[returned]).max()
    t = np.linspace(0.0, 1.0, trajs.shape[1])[:, None]
    trajs[~returned] = 1000.0 * scale * t * rng.uniform(0.5, 1.0, trajs.shape[2])
    pca = pca_trajectories(trajs)
    xy = pca.scores[:, :, :2]
    with _style.style():
        ax = _style.new_figure(TRAJECTORY_FIGSIZE).subplots()
        frame = draw_pca_trajectories(ax, xy, returned, pca.reference_scores)
    assert ax.get_xlim() == pytest.approx(frame.xlim) and ax.get_ylim() == pytest.approx(frame.ylim)
    inner = xy[returned].reshape(-1, 2)
    lo, hi = inner.min(axis=0), inner.max(axis=0)
    limits = np.array([frame.xlim, frame.ylim])  # (axis, low/high)
    assert np.all(limits[:, 0] <= lo) and np.all(limits[:, 1] >= hi)  # every returned point
    # the frame is the returned extent plus its margins, not the escaped path's
    assert np.all((limits[:, 1] - limits[:, 0]) / (hi - lo) < 1.0 + 2 * 0.08 + 0.05)
    escaped_extent = np.ptp(xy[~returned].reshape(-1, 2), axis=0)
    assert escaped_extent.max() > 100 * (limits[:, 1] - limits[:, 0]).max()
    assert frame.n_outside == 1
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert "escaped (n=1, 1 leaves the frame)" in labels and "returned (n=4)" in labels
    # without a returned trajectory: the 2.5–97.5 percentile range of all points
    none_back = np.zeros_like(returned)
    fallback = trajectory_frame(xy, none_back)
    q_lo, q_hi = np.percentile(xy.reshape(-1, 2), [2.5, 97.5], axis=0)
    pad = 0.08 * (q_hi - q_lo)
    assert fallback.xlim == pytest.approx((q_lo[0] - pad[0], q_hi[0] + pad[0]))
    assert fallback.ylim == pytest.approx((q_lo[1] - pad[1], q_hi[1] + pad[1]))
    assert fallback.n_outside >= 1
    out = plot_pca_trajectories(pca, returned, tmp_path / "escaped.png",
                                returned_view=pca_trajectories(trajs[returned]))
    _check_png(out, (2 * TRAJECTORY_FIGSIZE[0], TRAJECTORY_FIGSIZE[1]))


def test_plot_returned_fraction(tmp_path) -> None:
    counts = {"ORACLE": (6631, 10000), "REKINDLE": np.arange(100) < 67}
    out = plot_returned_fraction(counts, tmp_path / "fig2e_right.png",
                                 reference=PAPER_RETURNED_FRACTION)
    _check_png(out, FRACTION_FIGSIZE)
    with pytest.raises(ValueError):
        plot_returned_fraction({"x": (5, 3)}, tmp_path / "bad.png")


def test_plot_top_parameters(tmp_path, rng) -> None:
    n_params = 25
    rel = 10 ** rng.normal(0.0, 1.0, (500, n_params))
    irr = 10 ** rng.normal(0.0, 1.0, (400, n_params))
    irr[:, :3] /= 10.0
    kl = rng.uniform(0.0, 0.05, n_params)
    kl[:3] = (0.9, 0.6, 0.4)
    names = [f"km_{i}" for i in range(n_params)]
    out = plot_top_parameters(rel, irr, names, kl, tmp_path / "fig3a.png")
    _check_png(out, top_parameters_figsize(10, 5))
    out = plot_top_parameters(np.log10(rel), np.log10(irr), names, kl, tmp_path / "fig3a_4.png",
                              top_k=4, ncols=2, values_are_log10=True)
    _check_png(out, top_parameters_figsize(4, 2))
    with pytest.raises(ValueError):
        plot_top_parameters(rel, irr, names[:-1], kl, tmp_path / "bad.png")


def test_plot_decile_eigenvalues(tmp_path, rng) -> None:
    km = 10 ** rng.normal(-1.0, 0.6, 5000)
    eig = -15.0 - 12.0 * np.log10(km) * -1.0 - 20 * np.log10(km) + rng.normal(0, 5, 5000)
    out = plot_decile_eigenvalues(km, eig, tmp_path / "fig3b.png")
    _check_png(out, DECILE_FIGSIZE)


def _transfer_rows(rng) -> list[dict[str, object]]:
    phys = ["physiology 1", "physiology 2", "physiology 3"]
    rows: list[dict[str, object]] = []
    for tgt in phys:
        for n in (10, 50, 100, 500, 1000):
            for rep in range(3):
                rows.append({"source": None, "target": tgt, "n_sets": n, "mode": "scratch",
                             "repeat": rep, "incidence": min(1.0, n / 1200 + rng.uniform(0, .05))})
                for src in phys:
                    if src != tgt:
                        rows.append({"source": src, "target": tgt, "n_sets": str(n),
                                     "mode": "transfer", "repeat": rep,
                                     "incidence": str(0.7 + 0.05 * np.log10(n))})
    return rows


def test_aggregate_transfer_rows(rng) -> None:
    rows = [
        {"source": "p1", "target": "p2", "n_sets": 10, "mode": "transfer", "repeat": 0,
         "incidence": 0.5},
        {"source": "p1", "target": "p2", "n_sets": 10, "mode": "transfer", "repeat": 1,
         "incidence": 0.9},
        {"source": "", "target": "p2", "n_sets": "10", "mode": "Scratch", "repeat": 0,
         "incidence": "0.1"},
    ]
    agg = aggregate_transfer_rows(rows)
    assert len(agg) == 2
    scratch = next(r for r in agg if r["mode"] == "scratch")
    transfer = next(r for r in agg if r["mode"] == "transfer")
    assert scratch["source"] is None and scratch["mean"] == pytest.approx(0.1)
    assert transfer["n_repeats"] == 2
    assert (transfer["mean"], transfer["min"], transfer["max"]) == pytest.approx((0.7, 0.5, 0.9))
    with pytest.raises(ValueError):
        aggregate_transfer_rows([{"target": "p1", "n_sets": 1, "mode": "x", "incidence": 0}])
    with pytest.raises(ValueError):
        aggregate_transfer_rows([{"target": "p1", "mode": "scratch"}])


def test_plot_transfer_incidence(tmp_path, rng) -> None:
    out = plot_transfer_incidence(_transfer_rows(rng), tmp_path / "fig4b.png")
    _check_png(out, transfer_incidence_figsize(3))


def test_plot_transfer_validation(tmp_path, rng) -> None:
    eig = {"transfer": -np.exp(rng.normal(3.5, 0.4, 2000)),
           "scratch": -np.exp(rng.normal(3.6, 0.5, 2000))}
    out = plot_transfer_validation({"transfer": (700, 1000), "scratch": (650, 1000)}, eig,
                                   tmp_path / "fig4c.png")
    _check_png(out, VALIDATION_FIGSIZE)


def test_colors_are_consistent() -> None:
    cols = _style.colors_for(["REKINDLE", "ORACLE", "other", "another"])
    assert cols["ORACLE"] == _style.NAMED_COLORS["oracle"]
    assert cols["REKINDLE"] == _style.NAMED_COLORS["rekindle"]
    assert len(set(cols.values())) == 4
