"""README.md stays a short front page: at most 200 lines, every relative link resolves."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_readme_is_short() -> None:
    assert len(README.read_text().splitlines()) <= 200


def test_every_relative_link_resolves() -> None:
    links = LINK.findall(README.read_text())
    relative = [u for u in links if not re.match(r"[a-z]+:|#", u)]
    assert relative, "the README links into the docs"
    for url in relative:
        target = (ROOT / url.split("#")[0]).resolve()
        assert target.exists(), url
