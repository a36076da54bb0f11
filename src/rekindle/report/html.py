"""Build one self-contained HTML page summarising a REKINDLE run directory.

Expected run-directory layout (everything optional)
---------------------------------------------------
``summary.json``
    Arbitrary nested JSON object of numbers, strings, lists and objects.
    Well-known keys (searched at any depth, shallowest first) are shown in a
    "Key results" table next to the paper's values: ``incidence_training``,
    ``incidence_generated`` (fractions in [0, 1]; a list of per-repeat values
    is summarised by its maximum and mean), ``returned_fraction_training``,
    ``returned_fraction_generated`` (fractions in [0, 1]; values > 1 are taken
    as percentages), ``top_parameters`` (list of names, list of
    ``{"name": ..., "kl": ...}`` records, or ``{name: kl}``) and ``seconds``
    (wall-clock seconds).  The optional top-level ``metadata`` object goes to
    the provenance section.
``*.csv`` (any depth)
    Rendered as tables, truncated to :data:`MAX_CSV_ROWS` rows.
``*.png`` (any depth)
    Embedded as base64 data URIs, sorted by relative path.
``figures.json``
    Optional ``{"file name or relative path": "caption"}``; figures without an
    entry get a caption derived from the file name.

The page has no external resources and no JavaScript; it is written
atomically (temporary file in the destination directory + ``os.replace``).
"""

from __future__ import annotations

import base64
import csv
import datetime as _dt
import html
import json
import math
import platform
import struct
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rekindle import reference_values as ref
from rekindle.errors import MissingFileError
from rekindle.io.atomic import atomic_write_text

MAX_CSV_ROWS = 50
"""Rows shown per CSV table (the total count is reported)."""

MAX_CSV_COLUMNS = 40
"""Columns shown per CSV table."""

MAX_LIST_ITEMS = 20
"""Items of a list of scalars shown inline in the summary table."""

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@dataclass(frozen=True)
class KeyResult:
    """Definition of a headline quantity and the paper's reference value."""

    key: str
    label: str
    paper: str
    kind: str  # "fraction", "percent", "parameters" or "seconds"


KEY_RESULTS: tuple[KeyResult, ...] = (
    KeyResult(
        "incidence_training",
        "Incidence of relevant models, training data (ORACLE)",
        f"{ref.INCIDENCE_ORACLE_FDP1} (ORACLE, physiology 1)",
        "fraction",
    ),
    KeyResult(
        "incidence_generated",
        "Incidence of relevant models, REKINDLE-generated",
        f"up to {ref.INCIDENCE_REKINDLE_BEST_FDP1} (best repeat, physiology 1)",
        "fraction",
    ),
    KeyResult(
        "spread_ratio_median",
        "Spread of the generated K_M: std(ln K_M) over that of the relevant ORACLE data "
        "(median over the K_M; 1 = as wide, narrow models are stable by themselves)",
        "— (not reported)",
        "fraction",
    ),
    KeyResult(
        "iqr_ratio_generated",
        "Width of the generated K_M by the interquartile range of ln K_M, over that of the "
        "relevant ORACLE data (median over the K_M)",
        "— (not reported)",
        "fraction",
    ),
    KeyResult(
        "c2st_generated",
        "Classifier two-sample test, generated vs held-out relevant ORACLE models "
        "(held-out accuracy; 0.5 = indistinguishable, 1 = told apart every time)",
        "— (not reported)",
        "fraction",
    ),
    KeyResult(
        "c2st_noise_floor",
        "The same test between two halves of the held-out ORACLE models (what 0.5 looks like "
        "at this sample size)",
        "— (not reported)",
        "fraction",
    ),
    KeyResult(
        "returned_fraction_training",
        "Perturbed models returning to the steady state, training data (ORACLE)",
        f"{100 * ref.RETURNED_FRACTION_FDP1['ORACLE']:.2f} % (fdp1, perturbations 0.5–2× X_ref)",
        "percent",
    ),
    KeyResult(
        "returned_fraction_generated",
        "Perturbed models returning to the steady state, REKINDLE-generated",
        f"{100 * ref.RETURNED_FRACTION_FDP1['REKINDLE']:.2f} % (fdp1, perturbations 0.5–2× X_ref)",
        "percent",
    ),
    KeyResult(
        "top_parameters",
        "Top parameter by KL divergence (relevant vs not relevant)",
        ref.TOP_PARAMETER_FDP1,
        "parameters",
    ),
    KeyResult(
        "seconds",
        "Wall-clock time of the run",
        "— (paper: training ~15–20 min; 10⁶ models generated in ~18 s)",
        "seconds",
    ),
)
"""Headline quantities recognised in ``summary.json``."""

CSS = """
:root { --fg:#1d2329; --muted:#5b6670; --line:#d6dbe0; --accent:#c0392b; --bg:#ffffff;
        --soft:#f4f6f8; }
* { box-sizing: border-box; }
body { margin:0; background:var(--bg); color:var(--fg);
       font: 15px/1.5 -apple-system, "Segoe UI", "DejaVu Sans", Helvetica, Arial, sans-serif; }
main { max-width: 1120px; margin: 0 auto; padding: 24px 28px 64px; }
header { border-bottom: 3px solid var(--accent); margin-bottom: 18px; padding-bottom: 8px; }
h1 { font-size: 26px; margin: 0 0 4px; }
h2 { font-size: 20px; margin: 34px 0 10px; border-bottom: 1px solid var(--line);
     padding-bottom: 4px; }
h3 { font-size: 16px; margin: 22px 0 6px; }
.sub, .note, figcaption .path { color: var(--muted); font-size: 13px; }
nav { background: var(--soft); border: 1px solid var(--line); border-radius: 6px;
      padding: 8px 14px; font-size: 14px; }
nav a { margin-right: 16px; color: var(--fg); }
table { border-collapse: collapse; font-size: 13.5px; margin: 6px 0 4px; }
th, td { border: 1px solid var(--line); padding: 4px 9px; text-align: left;
         vertical-align: top; }
th { background: var(--soft); font-weight: 600; }
td.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
table.kv td:first-child { font-family: "DejaVu Sans Mono", Menlo, Consolas, monospace;
                          font-size: 12.5px; }
table.key td.ours { font-weight: 700; }
.scroll { overflow-x: auto; max-width: 100%; }
figure { margin: 18px 0 26px; padding: 10px; border: 1px solid var(--line);
         border-radius: 6px; background: #fff; }
figure img { display: block; max-width: 100%; height: auto; margin: 0 auto; }
figcaption { margin-top: 8px; font-size: 14px; }
.warn { background: #fff4e5; border: 1px solid #f0b46a; padding: 8px 12px;
        border-radius: 6px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""


# --------------------------------------------------------------------------- helpers
def _e(value: object) -> str:
    """HTML-escape the string form of ``value`` (quotes included)."""
    return html.escape(str(value), quote=True)


def _fmt_number(value: float | int) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return f"{value:,}" if abs(value) >= 10_000 else str(value)
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "∞" if value > 0 else "−∞"
    if value != 0 and (abs(value) >= 1e6 or abs(value) < 1e-4):
        return f"{value:.4e}"
    return f"{value:.6g}"


def _fmt_scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool | int | float):
        return _fmt_number(value)
    return str(value)


def _is_scalar(value: object) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _num_cell(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _td(text: str) -> str:
    cls = ' class="num"' if _num_cell(text) else ""
    return f"<td{cls}>{_e(text)}</td>"


def _table(header: Sequence[str] | None, rows: Sequence[Sequence[str]], cls: str = "") -> str:
    cls_attr = f' class="{_e(cls)}"' if cls else ""
    parts = [f'<div class="scroll"><table{cls_attr}>']
    if header is not None:
        parts.append("<thead><tr>" + "".join(f"<th>{_e(h)}</th>" for h in header) + "</tr></thead>")
    parts.append("<tbody>")
    for row in rows:
        parts.append("<tr>" + "".join(_td(c) for c in row) + "</tr>")
    parts.append("</tbody></table></div>")
    return "".join(parts)


def _find_key(obj: Any, key: str) -> tuple[str, Any] | None:
    """Breadth-first search for ``key`` in nested dicts; returns (dotted path, value)."""
    queue: list[tuple[str, Any]] = [("", obj)]
    while queue:
        prefix, node = queue.pop(0)
        if isinstance(node, Mapping):
            if key in node:
                return (f"{prefix}{key}", node[key])
            for k, v in node.items():
                if k != "metadata" and isinstance(v, Mapping):
                    queue.append((f"{prefix}{k}.", v))
    return None


# --------------------------------------------------------------------------- key results
def _fmt_fraction(value: float, percent: bool) -> str:
    if not math.isfinite(value):
        return _fmt_number(value)
    if percent:
        pct = value * 100.0 if abs(value) <= 1.0 else value
        return f"{pct:.2f} %"
    return f"{value:.3f}"


def _fmt_key_value(value: Any, kind: str) -> str:
    if kind in ("fraction", "percent"):
        pct = kind == "percent"
        if _is_number(value):
            return _fmt_fraction(float(value), pct)
        if isinstance(value, list) and value and all(_is_number(v) for v in value):
            vals = [float(v) for v in value]
            fin = [v for v in vals if math.isfinite(v)] or [math.nan]
            return (
                f"max {_fmt_fraction(max(fin), pct)}, mean "
                f"{_fmt_fraction(sum(fin) / len(fin), pct)} (n={len(vals)})"
            )
        if isinstance(value, Mapping):
            return "; ".join(f"{k}: {_fmt_key_value(v, kind)}" for k, v in value.items())
    if kind == "parameters":
        return _fmt_top_parameters(value)
    if kind == "seconds" and _is_number(value):
        sec = float(value)
        if sec >= 120:
            return f"{sec:,.1f} s ({sec / 60:.1f} min)"
        return f"{sec:.2f} s"
    if _is_scalar(value):
        return _fmt_scalar(value)
    return json.dumps(value, default=str)[:300]


def _param_record(item: Any) -> tuple[str, str]:
    """(name, score text) of one top-parameter entry."""
    if isinstance(item, Mapping):
        name = next((str(item[k]) for k in ("name", "parameter", "param") if k in item), None)
        if name is None:
            name = next((str(v) for v in item.values() if isinstance(v, str)), "?")
        score = next(
            (item[k] for k in ("kl", "kl_divergence", "score", "value") if k in item), None
        )
        if score is None:
            score = next((v for v in item.values() if _is_number(v)), None)
        return name, "" if score is None else _fmt_scalar(score)
    if isinstance(item, list | tuple) and item:
        return str(item[0]), _fmt_scalar(item[1]) if len(item) > 1 else ""
    return str(item), ""


def _fmt_top_parameters(value: Any) -> str:
    if isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: -float(kv[1]) if _is_number(kv[1]) else 0.0)
        entries = [(str(k), _fmt_scalar(v)) for k, v in items]
    elif isinstance(value, list):
        entries = [_param_record(v) for v in value]
    else:
        return _fmt_scalar(value)
    if not entries:
        return "(empty)"
    name, score = entries[0]
    text = name + (f" (KL {score})" if score else "")
    if len(entries) > 1:
        text += f"; next: {', '.join(n for n, _ in entries[1:4])}"
        text += f" … ({len(entries)} listed)" if len(entries) > 4 else ""
    return text


def _key_results_section(summary: Mapping[str, Any]) -> str:
    rows = []
    for spec in KEY_RESULTS:
        found = _find_key(summary, spec.key)
        if found is None:
            continue
        where, value = found
        rows.append(
            f'<tr><td>{_e(spec.label)}<br><span class="note">{_e(where)}</span></td>'
            f'<td class="ours">{_e(_fmt_key_value(value, spec.kind))}</td>'
            f"<td>{_e(spec.paper)}</td></tr>"
        )
    body = (
        '<p class="note">Paper values: REKINDLE paper (Table 1, Figs. 2-3), '
        "physiology 1 unless stated.</p>"
    )
    if not rows:
        return body + '<p class="note">No known headline keys found in summary.json.</p>'
    return (
        body + '<div class="scroll"><table class="key"><thead><tr><th>Quantity</th>'
        "<th>This run</th><th>Paper</th></tr></thead><tbody>"
        + "".join(rows)
        + "</tbody></table></div>"
    )


# --------------------------------------------------------------------------- summary
def _generator_view(summary: Mapping[str, Any]) -> Mapping[str, Any]:
    """A flow run's summary without the cGAN's settings.

    Runs record only their generator's settings
    (:func:`rekindle.pipeline.generator_settings`); summaries written before then
    recorded the cGAN's epochs, repeats, … for a flow run too, and they are hidden here.
    """
    if summary.get("generator") != "flow":
        return summary
    from rekindle.gan.config import CGAN_SETTINGS

    shown = {k: v for k, v in summary.items() if k not in ("epochs", "repeats")}
    settings = shown.get("profile_settings")
    if isinstance(settings, Mapping):
        shown["profile_settings"] = {
            k: v for k, v in settings.items() if k not in CGAN_SETTINGS and k != "cgan"
        }
    return shown


def _walk(
    obj: Any, prefix: str, scalars: list[tuple[str, str]], tables: list[tuple[str, str]]
) -> None:
    """Collect scalar rows and sub-tables from nested JSON."""
    if isinstance(obj, Mapping):
        if not obj:
            scalars.append((prefix or "(root)", "{}"))
        for k, v in obj.items():
            _walk(v, f"{prefix}.{k}" if prefix else str(k), scalars, tables)
        return
    if isinstance(obj, list):
        if obj and all(isinstance(v, Mapping) for v in obj):
            cols: list[str] = []
            for rec in obj:
                cols.extend(str(c) for c in rec if str(c) not in cols)
            rows = [[_cell(rec.get(c, "")) for c in cols] for rec in obj]
            tables.append((prefix, _table(cols, rows)))
        elif obj and all(isinstance(v, list) for v in obj):
            rows = [[_cell(c) for c in row] for row in obj]
            tables.append((prefix, _table(None, rows)))
        else:
            shown = ", ".join(_cell(v) for v in obj[:MAX_LIST_ITEMS])
            if len(obj) > MAX_LIST_ITEMS:
                shown += f", … ({len(obj)} items)"
            scalars.append((prefix, f"[{shown}]"))
        return
    scalars.append((prefix, _fmt_scalar(obj)))


def _cell(value: Any) -> str:
    if _is_scalar(value):
        return _fmt_scalar(value)
    return json.dumps(value, default=str)


def _summary_section(summary: Mapping[str, Any]) -> str:
    scalars: list[tuple[str, str]] = []
    tables: list[tuple[str, str]] = []
    _walk({k: v for k, v in summary.items() if k != "metadata"}, "", scalars, tables)
    parts = []
    if scalars:
        parts.append(_table(["key", "value"], scalars, cls="kv"))
    for name, tab in tables:
        parts.append(f"<h3>{_e(name)}</h3>{tab}")
    return "".join(parts) or '<p class="note">summary.json is empty.</p>'


# --------------------------------------------------------------------------- CSV
def _csv_table(path: Path) -> str:
    rows: list[list[str]] = []
    n_rows = 0
    with path.open(newline="", encoding="utf-8", errors="replace") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        for row in reader:
            n_rows += 1
            if len(rows) < MAX_CSV_ROWS:
                rows.append(row)
    if header is None:
        return '<p class="note">(empty file)</p>'
    n_cols = len(header)
    cut = n_cols > MAX_CSV_COLUMNS
    header = header[:MAX_CSV_COLUMNS]
    shown = [[_short_number(c) for c in r[:MAX_CSV_COLUMNS]] for r in rows]
    note = f"{n_rows:,} rows × {n_cols} columns"
    if n_rows > MAX_CSV_ROWS:
        note += f"; first {MAX_CSV_ROWS} rows shown"
    if cut:
        note += f"; first {MAX_CSV_COLUMNS} columns shown"
    return f'<p class="note">{_e(note)}</p>' + _table(header, shown)


def _short_number(text: str) -> str:
    """Shorten long float literals to 6 significant digits; other text unchanged."""
    if len(text) <= 10 or not _num_cell(text):
        return text
    try:
        int(text)
    except ValueError:
        return _fmt_number(float(text))
    return text


# --------------------------------------------------------------------------- figures
def _png_size(data: bytes) -> tuple[int, int] | None:
    if len(data) < 24 or not data.startswith(PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return None
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


def _png_dpi(data: bytes) -> float | None:
    """Resolution from the PNG ``pHYs`` chunk (dots per inch), if present."""
    pos = 8
    while pos + 8 <= len(data):
        length, ctype = struct.unpack(">I4s", data[pos : pos + 8])
        if ctype == b"pHYs" and length == 9:
            ppx, _ppy, unit = struct.unpack(">IIB", data[pos + 8 : pos + 17])
            return ppx * 0.0254 if unit == 1 and ppx > 0 else None
        if ctype in (b"IDAT", b"IEND"):
            return None
        pos += 12 + length
    return None


def _display_size(data: bytes, size: tuple[int, int]) -> tuple[int, int]:
    """CSS size that shows the figure at its physical size (96 CSS px per inch).

    Figures saved at different dpi then show text at the same size; without a
    ``pHYs`` chunk the pixel size is used.  CSS caps the width at the column.
    """
    dpi = _png_dpi(data)
    if dpi is None or not 20.0 <= dpi <= 2000.0:
        return size
    scale = 96.0 / dpi
    return max(1, round(size[0] * scale)), max(1, round(size[1] * scale))


def _default_caption(path: Path) -> str:
    words = path.stem.replace("_", " ").replace("-", " ").split()
    text = " ".join(words) or path.name
    return text[0].upper() + text[1:]


def _load_captions(run_dir: Path) -> dict[str, str]:
    cap_file = run_dir / "figures.json"
    if not cap_file.is_file():
        return {}
    try:
        data = json.loads(cap_file.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    if not isinstance(data, Mapping):
        return {}
    return {str(k): str(v) for k, v in data.items()}


def _figures_section(run_dir: Path, pngs: Sequence[Path]) -> tuple[str, int]:
    captions = _load_captions(run_dir)
    parts: list[str] = []
    skipped: list[str] = []
    n = 0
    for png in pngs:
        rel = png.relative_to(run_dir).as_posix()
        data = png.read_bytes()
        size = _png_size(data)
        if size is None:
            skipped.append(rel)
            continue
        n += 1
        caption = captions.get(rel) or captions.get(png.name) or _default_caption(png)
        uri = "data:image/png;base64," + base64.b64encode(data).decode("ascii")
        css_w, css_h = _display_size(data, size)
        parts.append(
            f'<figure id="fig-{n}"><img src="{uri}" alt="{_e(caption)}" width="{css_w}" '
            f'height="{css_h}"><figcaption><b>Figure {n}.</b> {_e(caption)} '
            f'<span class="path">({_e(rel)}, {size[0]}×{size[1]} px)</span>'
            "</figcaption></figure>"
        )
    if skipped:
        parts.append(
            '<p class="warn">Not valid PNG files, skipped: ' + _e(", ".join(skipped)) + "</p>"
        )
    if not parts:
        parts.append('<p class="note">No PNG figures found.</p>')
    return "".join(parts), n


# --------------------------------------------------------------------------- provenance
def package_version() -> str:
    """Version of ``rekindle`` (``rekindle.__version__``)."""
    from rekindle import __version__

    return __version__


def _provenance_section(run_dir: Path, summary: Mapping[str, Any] | None, created: str) -> str:
    rows = [
        ("rekindle version", package_version()),
        ("report created (UTC)", created),
        ("run directory", str(run_dir.resolve())),
        ("python", platform.python_version()),
        ("platform", platform.platform(terse=True)),
    ]
    out = _table(["item", "value"], rows, cls="kv")
    meta = summary.get("metadata") if isinstance(summary, Mapping) else None
    if meta is not None:
        scalars: list[tuple[str, str]] = []
        tables: list[tuple[str, str]] = []
        _walk(meta, "metadata", scalars, tables)
        out += "<h3>summary.json metadata</h3>"
        if scalars:
            out += _table(["key", "value"], scalars, cls="kv")
        for name, tab in tables:
            out += f"<h3>{_e(name)}</h3>{tab}"
    return out


# --------------------------------------------------------------------------- public
def _iter_files(run_dir: Path, suffix: str, exclude: Path | None) -> Iterator[Path]:
    for p in sorted(run_dir.rglob(f"*{suffix}"), key=lambda q: q.relative_to(run_dir).as_posix()):
        if p.is_file() and (exclude is None or p.resolve() != exclude):
            yield p


def build_report(
    run_dir: str | Path, output: str | Path | None = None, *, title: str | None = None
) -> Path:
    """Write a self-contained HTML report of a run directory.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        Directory with (optionally) ``summary.json``, ``figures.json``, CSV and
        PNG files at any depth; see the module docstring for the layout.
    output : str or pathlib.Path, optional
        Destination HTML file; default ``run_dir / "report.html"``.
    title : str, optional
        Page title; default ``"REKINDLE run report: <run_dir name>"``.

    Returns
    -------
    pathlib.Path
        The written HTML file.  It embeds every PNG as a base64 data URI,
        uses only inline CSS, contains no scripts and no external references,
        and is replaced atomically.

    Raises
    ------
    FileNotFoundError
        If ``run_dir`` is not a directory.
    """
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise MissingFileError(f"run directory not found: {run_dir}")
    out = Path(output) if output is not None else run_dir / "report.html"
    created = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0).isoformat()
    page_title = title or f"REKINDLE run report: {run_dir.resolve().name}"

    summary: Mapping[str, Any] | None = None
    summary_note = ""
    sfile = run_dir / "summary.json"
    if sfile.is_file():
        try:
            loaded = json.loads(sfile.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            summary_note = f"summary.json could not be read: {exc}"
        else:
            if isinstance(loaded, Mapping):
                summary = _generator_view(loaded)
            else:
                summary = {"summary": loaded}
    else:
        summary_note = "No summary.json in the run directory."

    exclude = out.resolve()
    pngs = list(_iter_files(run_dir, ".png", exclude))
    csvs = list(_iter_files(run_dir, ".csv", exclude))
    fig_html, n_figs = _figures_section(run_dir, pngs)

    sections: list[tuple[str, str, str]] = []
    if summary is not None:
        sections.append(("key-results", "Key results", _key_results_section(summary)))
    sections.append(("figures", f"Figures ({n_figs})", fig_html))
    if summary is not None:
        sections.append(("summary", "Summary (summary.json)", _summary_section(summary)))
    elif summary_note:
        sections.append(("summary", "Summary", f'<p class="warn">{_e(summary_note)}</p>'))
    if csvs:
        tabs = "".join(
            f"<h3>{_e(p.relative_to(run_dir).as_posix())}</h3>{_csv_table(p)}" for p in csvs
        )
        sections.append(("tables", f"Tables ({len(csvs)})", tabs))
    sections.append(("provenance", "Provenance", _provenance_section(run_dir, summary, created)))

    nav = "".join(f'<a href="#{sid}">{_e(name)}</a>' for sid, name, _ in sections)
    body = "".join(
        f'<section id="{sid}"><h2>{_e(name)}</h2>{content}</section>'
        for sid, name, content in sections
    )
    page = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{_e(page_title)}</title><style>{CSS}</style></head><body><main>"
        f'<header><h1>{_e(page_title)}</h1><div class="sub">created {_e(created)} · '
        f"rekindle {_e(package_version())}</div></header><nav>{nav}</nav>{body}"
        "<footer>Generated by rekindle.report.html; self-contained page (inline CSS, embedded "
        "images, no scripts).</footer></main></body></html>\n"
    )
    atomic_write_text(out, page)
    return out
