"""MkDocs hook: one API reference page per public module of ``src/rekindle``.

At build time every module under ``src/rekindle`` whose dotted path has no component
starting with an underscore gets the page ``reference/api/<dotted.name>.md`` holding
``::: <dotted.name>`` (rendered by mkdocstrings from the numpydoc docstrings), and the
nav entry ``Python API`` is filled with them, grouped by sub-package. A new module thus
appears in the site without any file or nav edit; nothing here is committed per module.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from mkdocs.structure.files import File, Files

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "src" / "rekindle"
API_DIR = "reference/api"
NAV_TITLE = "Python API"
# Sphinx roles in the docstrings (:func:`x`, :class:`~a.B`) reach the HTML as
# ":func:<code>x</code>"; the role is dropped (and a leading "~" shortened to the last name).
_ROLE = re.compile(
    r":(?:py:)?(?:func|class|mod|meth|attr|data|obj|exc|const):<code>(~?)([^<]*)</code>"
)


def public_modules(package: Path = PACKAGE) -> list[str]:
    """Dotted names of the public modules and packages under ``package``, sorted."""
    names = []
    for path in sorted(package.rglob("*.py")):
        parts = list(path.relative_to(package.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts = parts[:-1]
        if any(p.startswith("_") for p in parts):
            continue
        names.append(".".join(parts))
    return sorted(set(names))


def page_path(module: str) -> str:
    """Docs-relative path of the page of ``module``."""
    return f"{API_DIR}/{module}.md"


def page_content(module: str) -> str:
    """Markdown of the page of ``module``: a title and the mkdocstrings directive."""
    return f"# `{module}`\n\n::: {module}\n    options:\n      show_root_heading: false\n"


def api_nav(modules: list[str]) -> list[Any]:
    """Nav entries: the API index, then one section per top-level sub-package."""
    groups: dict[str, list[str]] = {}
    for module in modules:
        parts = module.split(".")
        key = ".".join(parts[:2])
        groups.setdefault(key, []).append(module)
    nav: list[Any] = [f"{API_DIR}/index.md"]
    for key, members in groups.items():
        if len(members) == 1:
            nav.append({key: page_path(key)})
        else:
            nav.append({key: [{m: page_path(m)} for m in members]})
    return nav


def _fill(nav: list[Any], entries: list[Any]) -> bool:
    for item in nav:
        if not isinstance(item, dict):
            continue
        for title, value in item.items():
            if title == NAV_TITLE:
                item[title] = entries
                return True
            if isinstance(value, list) and _fill(value, entries):
                return True
    return False


def on_config(config: Any) -> Any:
    """Put the generated pages into the nav under ``Python API``."""
    if config.nav is not None and not _fill(config.nav, api_nav(public_modules())):
        raise ValueError(f"mkdocs.yml: no nav entry titled {NAV_TITLE!r}")
    return config


def on_files(files: Files, config: Any) -> Files:
    """Add the generated API pages to the site's files."""
    for module in public_modules():
        files.append(File.generated(config, page_path(module), content=page_content(module)))
    return files


def _drop_role(match: re.Match[str]) -> str:
    name = match.group(2)
    return f"<code>{name.rsplit('.', 1)[-1] if match.group(1) else name}</code>"


def on_page_content(html: str, page: Any, config: Any, files: Files) -> str:
    """API pages: show Sphinx roles of the docstrings as plain code."""
    if page.file.src_uri.startswith(API_DIR + "/"):
        return _ROLE.sub(_drop_role, html)
    return html
