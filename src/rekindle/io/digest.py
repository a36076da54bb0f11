"""SHA-256 of a generator payload: every entry, nested, in a canonical byte form.

A ``torch.save`` file has no checksum of its own (a flipped byte in a tensor or a
string still loads), so the writers of ``generator.pt`` store
:func:`payload_sha256` of everything else in the file and the readers recompute it.
The digest covers dicts (keys sorted), lists and tuples, strings, numbers, booleans,
``None``, numpy arrays and torch tensors (dtype, shape and bytes).
"""

from __future__ import annotations

import hashlib
import math
import struct
from collections.abc import Mapping
from typing import Any

__all__ = ["DIGEST_KEY", "digest_problem", "payload_sha256"]

DIGEST_KEY = "payload_sha256"
"""The entry of a payload that holds its digest (left out of the digest itself)."""


def payload_sha256(payload: Mapping[str, Any], exclude: tuple[str, ...] = (DIGEST_KEY,)) -> str:
    """Hex SHA-256 of ``payload`` without the keys in ``exclude``.

    Parameters
    ----------
    payload : mapping
        A ``torch.save`` dict of plain values, arrays and tensors.
    exclude : tuple of str
        Top-level keys left out (the digest's own entry).

    Raises
    ------
    TypeError
        For a value of another type (a payload must stay loadable with
        ``weights_only=True``).
    """
    h = hashlib.sha256()
    _feed(h, {k: v for k, v in payload.items() if k not in exclude})
    return h.hexdigest()


def digest_problem(payload: Mapping[str, Any]) -> str | None:
    """What is wrong with the stored digest of ``payload``, or None when it matches.

    Returns
    -------
    str or None
        ``"checksum mismatch: …"`` when the stored :data:`DIGEST_KEY` differs from
        :func:`payload_sha256` (or is absent), ``"inconsistent contents (…)"`` when an
        entry cannot be digested; None for an intact payload.
    """
    try:
        digest = payload_sha256(payload)
    except TypeError as exc:
        return f"inconsistent contents ({exc})"
    if payload.get(DIGEST_KEY) != digest:
        return "checksum mismatch: the file is corrupted (or was edited)"
    return None


def _feed(h: Any, value: Any) -> None:
    if value is None:
        h.update(b"N")
    elif isinstance(value, bool):
        h.update(b"T" if value else b"F")
    elif isinstance(value, int):
        text = str(value).encode()
        h.update(b"i" + struct.pack("<I", len(text)) + text)
    elif isinstance(value, float):
        h.update(b"f" + (b"nan" if math.isnan(value) else struct.pack("<d", value)))
    elif isinstance(value, str):
        data = value.encode("utf-8", "surrogatepass")
        h.update(b"s" + struct.pack("<Q", len(data)) + data)
    elif isinstance(value, bytes):
        h.update(b"b" + struct.pack("<Q", len(value)) + value)
    elif isinstance(value, Mapping):
        items = sorted(value.items(), key=lambda kv: str(kv[0]))
        h.update(b"d" + struct.pack("<Q", len(items)))
        for key, item in items:
            _feed(h, str(key))
            _feed(h, item)
    elif isinstance(value, list | tuple):
        h.update(b"l" + struct.pack("<Q", len(value)))
        for item in value:
            _feed(h, item)
    elif hasattr(value, "detach") and hasattr(value, "dtype"):  # torch.Tensor
        t = value.detach().cpu().contiguous()
        _array(h, str(t.dtype), tuple(t.shape), t.view(-1).view(_u8()).numpy().tobytes())
    elif hasattr(value, "dtype") and hasattr(value, "tobytes"):  # numpy array or scalar
        import numpy as np

        a = np.ascontiguousarray(value)
        _array(h, str(a.dtype), a.shape, a.tobytes())
    else:
        raise TypeError(f"cannot digest a {type(value).__name__}")


def _u8() -> Any:
    import torch

    return torch.uint8


def _array(h: Any, dtype: str, shape: tuple[int, ...], data: bytes) -> None:
    _feed(h, dtype)
    _feed(h, list(shape))
    h.update(b"a" + struct.pack("<Q", len(data)) + data)
