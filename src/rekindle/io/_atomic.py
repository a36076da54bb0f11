"""Deprecated alias of :mod:`rekindle.io.atomic` (kept while branches move over)."""

from rekindle.io.atomic import atomic_path, atomic_write_bytes, atomic_write_text

__all__ = ["atomic_path", "atomic_write_bytes", "atomic_write_text"]
