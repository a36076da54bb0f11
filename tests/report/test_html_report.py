"""Tests for rekindle.report.html, including a real headless-Chromium render."""

from __future__ import annotations

import base64
import json
import os
import re
import shutil
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image as mpimg
import numpy as np
import pytest

from rekindle.plots.dynamics import plot_dynamics
from rekindle.plots.perturbation import PAPER_RETURNED_FRACTION, plot_returned_fraction
from rekindle.report import build_report
from rekindle.report.html import package_version

MARKER_RGB = (1.0, 0.0, 1.0)  # pure magenta, absent from the page's own palette
MARKER_SHAPE = (120, 400)  # rows, columns


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data) -> None:
        self.text.append(data)


def _parse(html_text: str) -> _Collector:
    p = _Collector()
    p.feed(html_text)
    return p


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """A run directory with summary.json, figures.json, CSVs and PNGs (one nested)."""
    d = tmp_path_factory.mktemp("run")
    rng = np.random.default_rng(5)
    marker = np.zeros((*MARKER_SHAPE, 3))
    marker[...] = MARKER_RGB
    mpimg.imsave(d / "a_marker.png", marker)
    plot_returned_fraction({"ORACLE": (66, 100), "REKINDLE": (67, 100)},
                           d / "figures" / "fig2e_returned_fraction.png",
                           reference=PAPER_RETURNED_FRACTION)
    plot_dynamics({"ORACLE": -np.exp(rng.normal(3, 0.7, 500)),
                   "REKINDLE": -np.exp(rng.normal(4, 0.4, 500))},
                  d / "figures" / "fig2d_dynamics.png")
    (d / "not_really.png").write_bytes(b"this is not a png")
    summary = {
        "incidence_training": 0.61,
        "incidence_generated": [0.91, 0.95, 0.97],
        "returned_fraction_training": 0.655,
        "returned_fraction_generated": 0.672,
        "top_parameters": [{"name": "km_atp_ACS", "kl": 0.41}, {"name": "km_pep_PYK", "kl": 0.2}],
        "seconds": 754.2,
        "note": "<script>alert('x')</script> & friends",
        "gan": {"epochs": 1000, "lr": 0.0002, "losses": [0.7, 0.69, float("nan")]},
        "per_physiology": [{"physiology": "fdp1", "incidence": 0.97},
                           {"physiology": "fdp2", "incidence": 0.93, "extra": "y"}],
        "metadata": {"git": "abc123", "seed": 42, "host": {"cpus": 2}},
    }
    (d / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    (d / "figures.json").write_text(
        json.dumps({"fig2d_dynamics.png": "Dynamics of <ORACLE> vs REKINDLE"}), encoding="utf-8")
    with (d / "dynamics.csv").open("w") as fh:
        fh.write("population,fraction_relevant\nORACLE,0.5880000000000001\nREKINDLE,0.977\n")
    (d / "tables").mkdir()
    with (d / "tables" / "long.csv").open("w") as fh:
        fh.write("i,value\n")
        for i in range(120):
            fh.write(f"{i},{i * 0.5}\n")
    return d


@pytest.fixture(scope="module")
def report(run_dir) -> Path:
    return build_report(run_dir)


def test_report_is_self_contained(report, run_dir) -> None:
    assert report == run_dir / "report.html"
    text = report.read_text(encoding="utf-8")
    parsed = _parse(text)
    imgs = [a for t, a in parsed.tags if t == "img"]
    assert len(imgs) == 3  # the invalid PNG is skipped
    for attrs in imgs:
        src = attrs["src"] or ""
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1])[:8] == b"\x89PNG\r\n\x1a\n"
    assert not any(t == "script" for t, _ in parsed.tags)
    assert not any(t == "link" for t, _ in parsed.tags)
    assert re.search(r"(src|href)=\"(https?:|//)", text) is None
    assert "not_really.png" in text  # reported as skipped
    # no temporary files left behind
    assert not [p for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_report_escapes_text(report) -> None:
    text = report.read_text(encoding="utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(&#x27;x&#x27;)&lt;/script&gt; &amp; friends" in text
    assert "Dynamics of &lt;ORACLE&gt; vs REKINDLE" in text  # caption from figures.json


def test_report_key_results_and_tables(report) -> None:
    text = report.read_text(encoding="utf-8")
    body = " ".join(_parse(text).text)
    assert "Key results" in body
    assert "0.610" in body and "0.588" in body
    assert "max 0.970, mean 0.943 (n=3)" in body and "0.977" in body
    assert "65.50 %" in body and "66.31 %" in body
    assert "67.20 %" in body and "66.85 %" in body
    assert "km_atp_ACS (KL 0.41)" in body and "K_M,atp of ACS" in body
    assert "754.2 s (12.6 min)" in body
    # nested scalars, list-of-dict table, CSV truncation, provenance
    assert "gan.epochs" in body and "gan.losses" in body and "NaN" in body
    assert "per_physiology" in body and "fdp2" in body
    assert "120 rows × 2 columns; first 50 rows shown" in body
    assert "0.588" in body and "0.5880000000000001" not in body
    assert "metadata.git" in body and "abc123" in body and "metadata.host.cpus" in body
    assert package_version() in body
    assert "Fig2d dynamics" not in body  # overridden caption
    assert "Fig2e returned fraction" in body  # derived caption


def test_report_custom_output_and_missing_summary(tmp_path, run_dir) -> None:
    empty = tmp_path / "empty_run"
    empty.mkdir()
    out = build_report(empty, tmp_path / "out" / "r.html", title="Empty <run>")
    text = out.read_text(encoding="utf-8")
    assert "Empty &lt;run&gt;" in text and "No summary.json" in text
    assert "No PNG figures found" in text
    # rebuilding over an existing file replaces it atomically
    out2 = build_report(empty, out)
    assert out2 == out and out.read_text(encoding="utf-8").count("<html") == 1
    with pytest.raises(FileNotFoundError):
        build_report(tmp_path / "missing")


def test_report_bad_summary_json(tmp_path) -> None:
    d = tmp_path / "bad"
    d.mkdir()
    (d / "summary.json").write_text("{not json", encoding="utf-8")
    text = build_report(d).read_text(encoding="utf-8")
    assert "summary.json could not be read" in text


def test_report_of_a_flow_run_shows_no_cgan_settings(tmp_path) -> None:
    """A flow run's summary: the cGAN's settings are not shown, even in an old summary."""
    from rekindle.pipeline import RunConfig, generator_settings

    flow, cgan = RunConfig.from_profile("default"), RunConfig.from_profile("smoke")
    for name, settings in (
        ("new", generator_settings(flow)),
        ("old", flow.to_dict()),  # written before settings were grouped: all of them
    ):
        d = tmp_path / name
        d.mkdir()
        summary = {"generator": "flow", "epochs": 30, "repeats": 5, "profile_settings": settings}
        (d / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
        body = " ".join(_parse(build_report(d).read_text(encoding="utf-8")).text)
        assert "profile_settings.flow" in body or "profile_settings.flow_transforms" in body
        for key in ("epochs", "repeats", "batch_size", "recipe", "min_spread_ratio", "cgan"):
            # a cGAN setting as a word of its own (the flow's flow_guide_epochs is not one)
            assert not re.search(rf"(?<![A-Za-z_]){key}\b", body), (name, key)
    d = tmp_path / "cgan"
    d.mkdir()
    summary = {"generator": "cgan", "epochs": 6, "profile_settings": generator_settings(cgan)}
    (d / "summary.json").write_text(json.dumps(summary), encoding="utf-8")
    body = " ".join(_parse(build_report(d).read_text(encoding="utf-8")).text)
    assert "profile_settings.cgan.epochs" in body and "flow_transforms" not in body


# --------------------------------------------------------------------------- browser
def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        found = shutil.which(name)
        if found:
            return found
    return None


def _run_chromium(binary: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [binary, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars",
           "--no-first-run", "--disable-extensions", f"--user-data-dir={profile}", *args]
    env = {**os.environ, "HOME": str(profile)}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=90, env=env, check=False)


@pytest.mark.skipif(_chromium() is None, reason="no chromium binary found (apt-get install "
                    "chromium) - headless browser render not tested")
def test_report_renders_in_headless_chromium(report, tmp_path) -> None:
    binary = _chromium()
    assert binary is not None
    url = report.resolve().as_uri()

    dom = _run_chromium(binary, tmp_path / "p1", "--dump-dom", url)
    assert dom.returncode == 0, dom.stderr[-2000:]
    parsed = _parse(dom.stdout)
    imgs = [a for t, a in parsed.tags if t == "img"]
    assert len(imgs) == 3
    assert all((a.get("src") or "").startswith("data:image/png;base64,") for a in imgs)
    assert any(t == "section" and a.get("id") == "key-results" for t, a in parsed.tags)

    shot = tmp_path / "screenshot.png"
    res = _run_chromium(binary, tmp_path / "p2", f"--screenshot={shot}",
                        "--window-size=1200,2000", url)
    assert res.returncode == 0, res.stderr[-2000:]
    assert shot.is_file() and shot.stat().st_size > 0
    img = mpimg.imread(shot)[..., :3]
    assert img.shape[:2] == (2000, 1200)
    flat = img.reshape(-1, 3)
    assert np.ptp(flat, axis=0).max() > 0.5, "screenshot is blank (one colour)"
    assert len(np.unique((flat * 255).round().astype(np.uint8), axis=0)) > 50
    # The magenta marker figure is only visible if the data-URI PNG was decoded.
    magenta = np.all(np.abs(flat - np.array(MARKER_RGB)) < 0.02, axis=1)
    assert magenta.sum() > 0.5 * MARKER_SHAPE[0] * MARKER_SHAPE[1]
