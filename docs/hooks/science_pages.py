"""MkDocs hook: every page of ``docs/science/`` is in the nav, under *The science*.

Pages listed in ``mkdocs.yml`` keep their place and title; a page that is not listed
(e.g. a result table a branch adds as ``docs/science/<branch>.md``) is appended to the
section, titled by its first ``# heading``. Adding a science page is thus adding a file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

DOCS = Path(__file__).resolve().parents[1]
SECTION = "The science"


def _listed(nav: list[Any]) -> set[str]:
    pages: set[str] = set()
    for item in nav:
        if isinstance(item, str):
            pages.add(item)
        elif isinstance(item, dict):
            for value in item.values():
                pages |= _listed(value) if isinstance(value, list) else {value}
    return pages


def title_of(path: Path) -> str:
    """The page's first level-1 heading, else its file name."""
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return path.stem


def on_config(config: Any) -> Any:
    """Append the unlisted ``science/*.md`` pages to the nav section."""
    if config.nav is None:
        return config
    listed = _listed(config.nav)
    for item in config.nav:
        if isinstance(item, dict) and isinstance(item.get(SECTION), list):
            for path in sorted((DOCS / "science").glob("*.md")):
                page = f"science/{path.name}"
                if page not in listed:
                    item[SECTION].append({title_of(path): page})
    return config
