"""Shared figure style and helpers for :mod:`rekindle.plots` (internal).

All figures are created with :func:`new_figure`, which binds a
:class:`~matplotlib.figure.Figure` to an Agg canvas without touching pyplot, and
saved with :func:`save_figure` at :data:`DPI` without tight bounding boxes, so
the PNG size in pixels is exactly ``figsize * DPI``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from rekindle.io import atomic

DPI = 150
"""Resolution of every saved figure (dots per inch)."""

RC_PARAMS: dict[str, object] = {
    "font.size": 10,
    "axes.titlesize": 11,
    "axes.labelsize": 10,
    "legend.fontsize": 9,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": False,
    "legend.frameon": False,
    "savefig.facecolor": "white",
    "figure.facecolor": "white",
    "lines.linewidth": 1.6,
}
"""rcParams applied while a figure is built and saved."""

#: Colours for well-known population names (case-insensitive lookup).
NAMED_COLORS: dict[str, str] = {
    "oracle": "#4d4d4d",
    "training": "#4d4d4d",
    "rekindle": "#e66101",
    "generated": "#e66101",
    "transfer": "#1b7837",
    "scratch": "#5e3c99",
    "relevant": "#0571b0",
    "not relevant": "#ca0020",
    "irrelevant": "#ca0020",
}

#: Fallback qualitative palette (colour-blind friendly, Okabe-Ito order).
PALETTE: tuple[str, ...] = (
    "#E69F00",
    "#0072B2",
    "#CC79A7",
    "#009E73",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
)

THRESHOLD_COLOR = "#b2182b"
"""Colour of the relevance threshold (-9 /h) and the 7-min line."""

PAPER_MARKER_COLOR = "#000000"
"""Colour of markers that show the paper's reference values."""


@contextlib.contextmanager
def style() -> Iterator[None]:
    """Apply :data:`RC_PARAMS` for the duration of a ``with`` block."""
    with rc_context(RC_PARAMS):
        yield


def new_figure(figsize: tuple[float, float]) -> Figure:
    """Create a constrained-layout figure bound to an Agg canvas.

    Parameters
    ----------
    figsize : tuple of float
        Width and height in inches; the saved PNG is ``figsize * DPI`` pixels.

    Returns
    -------
    matplotlib.figure.Figure
    """
    fig = Figure(figsize=figsize, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    return fig


def save_figure(fig: Figure, path: str | Path) -> Path:
    """Save ``fig`` as a PNG at :data:`DPI` and return the path.

    Parent directories are created and the file is written atomically
    (:func:`rekindle.io.atomic.save_figure`).  The bounding box is *not* tightened,
    so the pixel size is deterministic.

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        Figure to save.
    path : str or pathlib.Path
        Destination; a ``.png`` suffix is added if missing.

    Returns
    -------
    pathlib.Path
        The written file.
    """
    out = Path(path)
    if out.suffix.lower() != ".png":
        out = out.with_name(out.name + ".png")
    return atomic.save_figure(fig, out, dpi=DPI, format="png")


def colors_for(names: Sequence[str]) -> dict[str, str]:
    """Assign a consistent colour to each population name.

    Well-known names (ORACLE, REKINDLE, transfer, scratch, ...) get fixed
    colours from :data:`NAMED_COLORS`; others cycle through :data:`PALETTE`.

    Parameters
    ----------
    names : sequence of str
        Population labels, in display order.

    Returns
    -------
    dict
        Mapping label -> hex colour.
    """
    out: dict[str, str] = {}
    used: set[str] = set()
    for name in names:
        color = NAMED_COLORS.get(name.strip().lower())
        if color is not None and color not in used:
            out[name] = color
            used.add(color)
    cycle = (c for c in PALETTE if c not in used)
    for name in names:
        if name not in out:
            out[name] = next(cycle, PALETTE[len(out) % len(PALETTE)])
    return out


def finite(values: object) -> np.ndarray:
    """Return the finite entries of ``values`` as a flat float array.

    Parameters
    ----------
    values : array_like
        Any numeric array.

    Returns
    -------
    numpy.ndarray, shape (m,)
        Finite values only (NaN and +/-inf removed).
    """
    arr = np.asarray(values, dtype=float).ravel()
    return arr[np.isfinite(arr)]


def density_step(
    ax: Axes,
    values: np.ndarray,
    bins: np.ndarray,
    color: str,
    label: str,
    *,
    log_bins: bool = False,
    fill_alpha: float = 0.18,
    note: str = "",
) -> None:
    """Draw a normalised histogram as a filled step outline.

    The density is normalised by the total number of samples, including any
    outside ``bins``, so clipped tails lower the visible area instead of
    inflating it.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Target axes.
    values : numpy.ndarray, shape (m,)
        Finite samples.
    bins : numpy.ndarray, shape (b + 1,)
        Common bin edges, so that populations are comparable.
    color : str
        Line and fill colour.
    label : str
        Legend label (the sample size is appended).
    log_bins : bool, optional
        If True, the density is per decade (bin widths measured in log10),
        which is the natural normalisation for a logarithmic axis.
    fill_alpha : float, optional
        Opacity of the fill under the outline.
    note : str, optional
        Extra text appended to the legend entry.
    """
    if values.size == 0:
        ax.plot([], [], color=color, label=f"{label} (n=0)")
        return
    counts, edges = np.histogram(values, bins=bins)
    widths = np.diff(np.log10(edges)) if log_bins else np.diff(edges)
    density = counts / (values.size * widths)
    extra = f"; {note}" if note else ""
    ax.stairs(density, edges, color=color, linewidth=1.6,
              label=f"{label} (n={values.size:,}{extra})")
    ax.stairs(density, edges, color=color, alpha=fill_alpha, fill=True, linewidth=0)


def percent_formatter(ax: Axes, axis: str = "y") -> None:
    """Format an axis whose data are fractions in [0, 1] as percentages."""
    from matplotlib.ticker import PercentFormatter

    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))


def as_counts(value: object) -> tuple[int, int]:
    """Interpret a returned-fraction input as ``(successes, trials)``.

    Parameters
    ----------
    value : tuple of int or array_like of bool
        Either a ``(n_returned, n_total)`` pair or a boolean/0-1 array with
        one entry per perturbation (True = returned).

    Returns
    -------
    tuple of int
        ``(successes, trials)``.
    """
    if isinstance(value, tuple) and len(value) == 2:
        k, n = int(value[0]), int(value[1])
    else:
        arr = np.asarray(value).ravel()
        k, n = int(np.count_nonzero(arr)), int(arr.size)
    if n < 0 or k < 0 or k > n:
        raise ValueError(f"invalid counts: {k} successes out of {n} trials")
    return k, n


def headroom(ax: Axes, factor: float = 1.4) -> None:
    """Extend the upper y limit so that a legend fits above the data."""
    lo, hi = ax.get_ylim()
    ax.set_ylim(lo, lo + (hi - lo) * factor)


def log_ticks_plain(ax: Axes, axis: str = "x") -> None:
    """Label a logarithmic axis at 1-2-5 steps with plain numbers (no powers)."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    target = ax.xaxis if axis == "x" else ax.yaxis
    target.set_major_locator(LogLocator(base=10.0, subs=(1.0, 2.0, 5.0)))
    target.set_major_formatter(FuncFormatter(lambda v, _pos: f"{v:g}"))
    target.set_minor_formatter(NullFormatter())
