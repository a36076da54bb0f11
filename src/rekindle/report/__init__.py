"""Self-contained HTML reports of REKINDLE runs (see :mod:`rekindle.report.html`)."""

from rekindle.report.html import build_report

__all__ = ["build_report"]
